/**
 * Registers every activity with the Durable runtime. Handlers resolve their clients from the composition
 * root on first use, so registration itself does no I/O and reads no settings.
 */
import * as df from 'durable-functions';
import { getServices } from '../composition.js';
import type { InvocationContext } from '@azure/functions';
import { ApiError } from '../services/errors.js';
import { orchestrationsFromDurableClient } from '../services/orchestrations.js';
import type { ActivityInput, ActivityName, ActivityOutput } from './contract.js';

// A record over every activity name: a new activity in the contract that is not registered fails the type-check.
const REGISTERED: Record<Exclude<ActivityName, 'requestPlatformStop'>, true> = {
  recordProgress: true,
  getPlatformSpec: true,
  getLastStopTime: true,
  ensureResourceGroup: true,
  ensurePlatformSecrets: true,
  beginAksClusterCreate: true,
  getArmOperationStatus: true,
  getAksOutboundIps: true,
  beginPostgresServerCreate: true,
  ensurePostgresChild: true,
  beginStorageAccountCreate: true,
  ensureFileShares: true,
  beginAksClusterPower: true,
  beginPostgresServerPower: true,
  getPowerStates: true,
  beginResourceGroupDelete: true,
  purgePlatformSecrets: true,
  listSweepCandidates: true,
  probeOllama: true,
  applyPlatformManifests: true,
  checkPlatformReadiness: true,
  getModelReport: true,
  runSmokeTest: true,
  deleteOllamaModels: true,
  stopOpenWebui: true,
  startWebuiDataWipe: true,
  beginPostgresServerResize: true,
  beginPostgresDatabaseDelete: true,
};
const NAMES = Object.keys(REGISTERED) as (keyof typeof REGISTERED)[];

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
