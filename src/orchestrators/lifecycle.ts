/**
 * stopPlatform, startPlatform and teardownPlatform. Order matters: stop AKS before PostgreSQL (the
 * workloads hold database connections), start PostgreSQL before AKS (Open WebUI needs its database when it
 * starts), and a teardown deletes the resource group, which takes everything in it, then the secrets.
 */
import * as df from 'durable-functions';
import type { Result } from '../activities/contract.js';
import { START_GATES } from '../platform/steps.js';
import { gate, waitUntilReady } from './configure.js';
import {
  call,
  callUntilAnswered,
  ensureResource,
  Progress,
  recordPower,
  stepClock,
  type Context,
  type Flow,
} from './flow.js';
import { ORCHESTRATORS, WAKE_GPU_TIER, type LifecycleInput } from './names.js';

/** AKS asks to wait 15–30 minutes after a stop before starting again ("Stop and start an AKS cluster"). */
export const START_AFTER_STOP_MS = 15 * 60_000;

function* stopPlatform(context: Context) {
  const { platformId } = context.df.getInput<LifecycleInput>();
  const progress = new Progress(context, platformId, 'Stopping');
  yield* progress.setPhase('Stopping');
  yield* progress.run('aksStop', (step) =>
    ensureResource(context, step, 'beginAksClusterPower', { platformId, action: 'stop' }),
  );
  yield* recordPower(context, platformId);
  yield* progress.run('postgresStop', (step) =>
    ensureResource(context, step, 'beginPostgresServerPower', { platformId, action: 'stop' }),
  );
  yield* recordPower(context, platformId);
  yield* progress.setPhase('Stopped');
  return { platformId, phase: 'Stopped' };
}

function* startPlatform(context: Context) {
  const { platformId } = context.df.getInput<LifecycleInput>();
  const progress = new Progress(context, platformId, 'Starting');
  yield* progress.setPhase('Starting');
  const stoppedAt = yield* call(context, 'getLastStopTime', { platformId });
  const earliest = stoppedAt ? Date.parse(stoppedAt) + START_AFTER_STOP_MS : 0;
  if (earliest > context.df.currentUtcDateTime.getTime()) {
    // A start soon after a stop waits as Azure asks instead of failing.
    yield* progress.run('waitAfterStop', () => waitUntil(context, earliest));
  }
  yield* progress.run('postgresStart', (step) =>
    ensureResource(context, step, 'beginPostgresServerPower', { platformId, action: 'start' }),
  );
  yield* recordPower(context, platformId);
  yield* progress.run('aksStart', (step) =>
    ensureResource(context, step, 'beginAksClusterPower', { platformId, action: 'start' }),
  );
  yield* recordPower(context, platformId);
  // A platform stopped with its GPU tier released comes back whole: a start (pre-warm's too) is for use.
  yield* progress.run('gpuWake', (step) => callUntilAnswered(context, step, 'startOllama', { platformId }));
  yield* call(context, 'recordProgress', { platformId, gpu: null });
  // Standalone pods are gone and nodes come back one by one: ready again means the same gates as provisioning.
  for (const name of START_GATES) yield* gate(context, progress, platformId, name);
  yield* progress.setPhase('Ready');
  return { platformId, phase: 'Ready' };
}

function* teardownPlatform(context: Context) {
  const { platformId } = context.df.getInput<LifecycleInput>();
  const progress = new Progress(context, platformId, 'Deleting');
  yield* progress.setPhase('Deleting');
  // The resource group holds every resource of the table (AKS takes its node group with it); a flow terminated
  // half-way may still have had a create in flight, so the group is read again until it is really gone.
  yield* progress.run('resourceGroupDelete', (step) =>
    ensureResource(context, step, 'beginResourceGroupDelete', { platformId }),
  );
  const { softDeleted } = yield* progress.run('secretsPurge', (step) =>
    callUntilAnswered(context, step, 'purgePlatformSecrets', { platformId }),
  );
  // Purge protection keeps them soft-deleted until their scheduled purge date: the teardown still ends, and
  // the record says which and until when (recorded only then, so a teardown without them replays unchanged).
  if (softDeleted.length > 0)
    yield* call(context, 'recordProgress', { platformId, softDeletedSecrets: softDeleted });
  yield* progress.setPhase('Deleted');
  // Its room is free now: platforms queued for it are admitted (a failure here is the sweep's to retry).
  yield* call(context, 'admitQueuedPlatforms', {});
  return { platformId, phase: 'Deleted' };
}

/**
 * The GPU tier's wake: Ollama back to one (its HPA on again), then the GPU node (the autoscaler starts the
 * deallocated one first) and Ollama ready. The platform stays Ready throughout and the timeline is not
 * touched: the record's `gpu` says waking, then nothing (running), with the wake as the last use so the GPU
 * limit counts from it. A wake that cannot finish (no spot capacity, a deadline) stays `waking` with the
 * reason; Ollama's pod stays pending, so the autoscaler keeps trying.
 */
function* wakeGpuTier(context: Context) {
  const { platformId } = context.df.getInput<LifecycleInput>();
  const since = context.df.currentUtcDateTime.toISOString();
  const woke = yield* callUntilAnswered(context, stepClock(context, 'gpuWake'), 'startOllama', {
    platformId,
  });
  let result: Result<unknown> = woke;
  for (const name of ['gpuNode', 'workloadsReady'] as const) {
    if (!result.ok) break;
    result = yield* waitUntilReady(context, { ...stepClock(context, name), name }, platformId);
  }
  yield* call(
    context,
    'recordProgress',
    result.ok
      ? { platformId, gpu: null, lastActiveAt: context.df.currentUtcDateTime.toISOString() }
      : { platformId, gpu: { state: 'waking', since, error: `${result.code}: ${result.message}` } },
  );
  return { platformId, gpu: result.ok ? 'running' : 'waking' };
}

function* waitUntil(context: Context, at: number): Flow<Result<{ waitedUntil: string }>> {
  yield context.df.createTimer(new Date(at));
  return { ok: true, value: { waitedUntil: new Date(at).toISOString() } };
}

df.app.orchestration(ORCHESTRATORS.stop, stopPlatform);
df.app.orchestration(ORCHESTRATORS.start, startPlatform);
df.app.orchestration(ORCHESTRATORS.delete, teardownPlatform);
df.app.orchestration(WAKE_GPU_TIER, wakeGpuTier);
