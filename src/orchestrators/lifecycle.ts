/**
 * stopPlatform, startPlatform and teardownPlatform. Order matters: stop AKS before PostgreSQL (the
 * workloads hold database connections), start PostgreSQL before AKS (Open WebUI needs its database when it
 * starts), and a teardown deletes the resource group, which takes everything in it, then the secrets.
 */
import * as df from 'durable-functions';
import type { Result } from '../activities/contract.js';
import { START_GATES } from '../platform/steps.js';
import { gate } from './configure.js';
import {
  call,
  callUntilAnswered,
  ensureResource,
  Progress,
  recordPower,
  type Context,
  type Flow,
} from './flow.js';
import { ORCHESTRATORS, type LifecycleInput } from './names.js';

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
  return { platformId, phase: 'Deleted' };
}

function* waitUntil(context: Context, at: number): Flow<Result<{ waitedUntil: string }>> {
  yield context.df.createTimer(new Date(at));
  return { ok: true, value: { waitedUntil: new Date(at).toISOString() } };
}

df.app.orchestration(ORCHESTRATORS.stop, stopPlatform);
df.app.orchestration(ORCHESTRATORS.start, startPlatform);
df.app.orchestration(ORCHESTRATORS.delete, teardownPlatform);
