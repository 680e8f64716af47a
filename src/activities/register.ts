/**
 * Registers every activity with the Durable runtime. Handlers resolve their clients from the composition
 * root on first use, so registration itself does no I/O and reads no settings.
 */
import * as df from 'durable-functions';
import { getServices } from '../composition.js';
import type { ActivityName } from './contract.js';

const NAMES: readonly ActivityName[] = [
  'recordProgress',
  'getPlatformSpec',
  'getLastStopTime',
  'ensureResourceGroup',
  'ensurePlatformSecrets',
  'beginAksClusterCreate',
  'getArmOperationStatus',
  'getAksOutboundIps',
  'beginPostgresServerCreate',
  'ensurePostgresChild',
  'beginStorageAccountCreate',
  'ensureFileShares',
  'beginAksClusterPower',
  'beginPostgresServerPower',
  'getPowerStates',
  'beginResourceGroupDelete',
  'purgePlatformSecrets',
  'applyPlatformManifests',
  'checkPlatformReadiness',
  'getModelReport',
  'runSmokeTest',
];

for (const name of NAMES) {
  df.app.activity(name, {
    handler: (input: unknown) => (getServices().activities[name] as (i: unknown) => Promise<unknown>)(input),
  });
}
