/**
 * Registers every activity with the Durable runtime. Handlers resolve their clients from the composition
 * root on first use, so registration itself does no I/O and reads no settings.
 */
import * as df from 'durable-functions';
import { getServices } from '../composition.js';
import type { InvocationContext } from '@azure/functions';
import { ApiError } from '../services/platforms.js';
import { orchestrationsFromDurableClient } from '../services/orchestrations.js';
import type { ActivityInput, ActivityName, ActivityOutput } from './contract.js';

const NAMES: readonly Exclude<ActivityName, 'requestPlatformStop'>[] = [
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
  'listSweepCandidates',
  'probeOllama',
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

/**
 * The idle sweep's stop goes through the same service as POST /platforms/{id}/stop (the same phase guard
 * and instance ids), so it needs the durable client binding.
 */
df.app.activity('requestPlatformStop', {
  extraInputs: [df.input.durableClient()],
  handler: async (input: unknown, context: InvocationContext) => {
    const { platformId, restop } = input as ActivityInput<'requestPlatformStop'>;
    try {
      const accepted = await getServices().platforms.transition(
        platformId,
        'stop',
        orchestrationsFromDurableClient(df.getClient(context)),
        { restop },
      );
      return { ok: true, value: { phase: accepted.phase } } satisfies ActivityOutput<'requestPlatformStop'>;
    } catch (e) {
      if (e instanceof ApiError)
        return {
          ok: false,
          kind: e.type === 'not-found' ? 'notFound' : 'conflict',
          code: e.type,
          message: e.message,
        } satisfies ActivityOutput<'requestPlatformStop'>;
      throw e;
    }
  },
});
