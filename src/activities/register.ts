/**
 * Registers every activity with the Durable runtime. Handlers resolve their clients from the composition
 * root on first use, so registration itself does no I/O and reads no settings.
 */
import * as df from 'durable-functions';
import { getServices, type Services } from '../composition.js';
import type { InvocationContext } from '@azure/functions';
import { APP_ITSELF } from '../platform/access.js';
import { ApiError } from '../services/errors.js';
import { orchestrationsFromDurableClient } from '../services/orchestrations.js';
import type { ActivityInput, PlatformRef } from './contract.js';
import type { Result } from '../platform/result.js';

/** Every activity the composition root implements (the sweep's stop and start need the durable client: below). */
type Implemented = keyof Services['activities'];

// A record over every implemented name: an activity the contract adds but nobody registers fails the type-check.
const REGISTERED: Record<Implemented, true> = {
  recordProgress: true,
  getPlatformSpec: true,
  getLastStopTime: true,
  ensureResourceGroup: true,
  ensurePlatformSecrets: true,
  beginAzureResource: true,
  getArmOperationStatus: true,
  getAksOutboundIps: true,
  ensureAksMaintenanceWindow: true,
  ensureClusterAccess: true,
  ensurePostgresChild: true,
  ensureFileShares: true,
  beginAksClusterPower: true,
  beginPostgresServerPower: true,
  getPowerStates: true,
  beginResourceGroupDelete: true,
  purgePlatformSecrets: true,
  listSweepCandidates: true,
  probeOllama: true,
  probeGpuTier: true,
  applyPlatformManifests: true,
  checkPlatformReadiness: true,
  getModelReport: true,
  runSmokeTest: true,
  deleteOllamaModels: true,
  stopOpenWebui: true,
  startOpenWebui: true,
  releaseGpuTier: true,
  startOllama: true,
  startWebuiDataWipe: true,
  beginPostgresDatabaseDelete: true,
};

/** The runtime hands the input over as JSON; the contract says what it is. */
function register<N extends Implemented>(name: N) {
  df.app.activity(name, {
    handler: (input: ActivityInput<N>) => getServices().activities[name](input),
  });
}
for (const name of Object.keys(REGISTERED) as Implemented[]) register(name);

/**
 * The idle sweep's stop, and its learned pre-warm, go through the same service as POST /platforms/{id}/stop
 * and /wake (the same phase guards and instance ids), so they need the durable client binding. Pre-warm is
 * the wake: a Stopped platform is started, a released GPU tier is woken.
 */
function transitionActivity(operation: 'stop' | 'wake') {
  return async (
    { platformId, restop }: PlatformRef & { restop?: boolean },
    context: InvocationContext,
  ): Promise<Result<{ phase: string }>> => {
    try {
      const orchestrations = orchestrationsFromDurableClient(df.getClient(context));
      const platforms = getServices().platforms;
      const accepted =
        operation === 'wake'
          ? await platforms.wake(APP_ITSELF, platformId, orchestrations)
          : await platforms.transition(APP_ITSELF, platformId, operation, orchestrations, {
              restop: !!restop,
            });
      return { ok: true, value: { phase: accepted.phase } };
    } catch (e) {
      if (e instanceof ApiError)
        return {
          ok: false,
          kind: e.type === 'not-found' ? 'notFound' : 'conflict',
          code: e.type,
          message: e.message,
        };
      throw e;
    }
  };
}
df.app.activity('requestPlatformStop', {
  extraInputs: [df.input.durableClient()],
  handler: transitionActivity('stop'),
});
// Its name predates the GPU tier (durable histories name it): it wakes, which starts a Stopped platform.
df.app.activity('requestPlatformStart', {
  extraInputs: [df.input.durableClient()],
  handler: transitionActivity('wake'),
});

/** Admitting a queued platform starts its provisioning: the durable client again. */
df.app.activity('admitQueuedPlatforms', {
  extraInputs: [df.input.durableClient()],
  handler: async (
    _input: ActivityInput<'admitQueuedPlatforms'>,
    context: InvocationContext,
  ): Promise<Result<{ admitted: string[]; failed: string[] }>> => {
    try {
      const orchestrations = orchestrationsFromDurableClient(df.getClient(context));
      return { ok: true, value: await getServices().platforms.admitQueued(orchestrations) };
    } catch (e) {
      // The registry did not answer: the queue stays as it is and the next pass (the sweep) admits.
      return {
        ok: false,
        kind: 'transient',
        code: 'QueueAdmissionFailed',
        message: e instanceof Error ? e.message : String(e),
      };
    }
  },
});
