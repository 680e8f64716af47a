/**
 * stopPlatform, startPlatform and teardownPlatform. Order matters: stop AKS before PostgreSQL (the
 * workloads hold database connections), start PostgreSQL before AKS (Open WebUI needs its database when it
 * starts), and a teardown deletes the resource group, which takes everything in it, then the secrets.
 */
import * as df from 'durable-functions';
import type { Result } from '../activities/contract.js';
import { waitUntilReady } from './configure.js';
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
import { POLL } from './policy.js';

/** AKS asks to wait 15–30 minutes after a stop before starting again ("Stop and start an AKS cluster"). */
export const START_AFTER_STOP_MS = 15 * 60_000;

function* stopPlatform(context: Context) {
  const { platformId } = context.df.getInput<LifecycleInput>();
  const progress = new Progress(context, platformId, 'Stopping');
  yield* progress.setPhase('Stopping');
  const aks = yield* progress.step(
    'aksStop',
    ensureResource(context, 'beginAksClusterPower', { platformId, action: 'stop' }, POLL.aksPower),
  );
  if (!aks.ok) return yield* progress.fail('aksStop', aks);
  yield* recordPower(context, platformId);
  const pg = yield* progress.step(
    'postgresStop',
    ensureResource(context, 'beginPostgresServerPower', { platformId, action: 'stop' }, POLL.postgresPower),
  );
  if (!pg.ok) return yield* progress.fail('postgresStop', pg);
  yield* recordPower(context, platformId);
  yield* progress.setPhase('Stopped');
  return { platformId, phase: 'Stopped' };
}

function* startPlatform(context: Context) {
  const { platformId } = context.df.getInput<LifecycleInput>();
  const progress = new Progress(context, platformId, 'Starting');
  yield* progress.setPhase('Starting');
  const stoppedAt = (yield* call(context, 'getLastStopTime', { platformId })) as string | null;
  const earliest = stoppedAt ? Date.parse(stoppedAt) + START_AFTER_STOP_MS : 0;
  if (earliest > context.df.currentUtcDateTime.getTime()) {
    // A start soon after a stop waits as Azure asks instead of failing.
    yield* progress.step('waitAfterStop', waitUntil(context, earliest));
  }
  const pg = yield* progress.step(
    'postgresStart',
    ensureResource(context, 'beginPostgresServerPower', { platformId, action: 'start' }, POLL.postgresPower),
  );
  if (!pg.ok) return yield* progress.fail('postgresStart', pg);
  yield* recordPower(context, platformId);
  const aks = yield* progress.step(
    'aksStart',
    ensureResource(context, 'beginAksClusterPower', { platformId, action: 'start' }, POLL.aksPower),
  );
  if (!aks.ok) return yield* progress.fail('aksStart', aks);
  yield* recordPower(context, platformId);
  // Standalone pods are gone and nodes come back one by one: ready again means the same gates as provisioning.
  for (const [step, check] of [
    ['nodesReady', 'nodes'],
    ['workloadsReady', 'workloads'],
    ['endpoints', 'endpoints'],
  ] as const) {
    const ready = yield* progress.step(step, waitUntilReady(context, platformId, check));
    if (!ready.ok) return yield* progress.fail(step, ready);
    if (ready.value.endpoints)
      yield* call(context, 'recordProgress', { platformId, endpoints: ready.value.endpoints });
  }
  yield* progress.setPhase('Ready');
  return { platformId, phase: 'Ready' };
}

function* teardownPlatform(context: Context) {
  const { platformId } = context.df.getInput<LifecycleInput>();
  const progress = new Progress(context, platformId, 'Deleting');
  yield* progress.setPhase('Deleting');
  // The resource group holds everything (AKS takes its node group with it); a flow terminated half-way may
  // still have had a create in flight, so the group is read again until it is really gone.
  const group = yield* progress.step(
    'resourceGroupDelete',
    ensureResource(context, 'beginResourceGroupDelete', { platformId }, POLL.resourceGroupDelete),
  );
  if (!group.ok) return yield* progress.fail('resourceGroupDelete', group);
  const secrets = yield* progress.step('secretsPurge', purgeSecrets(context, platformId));
  if (!secrets.ok) return yield* progress.fail('secretsPurge', secrets);
  yield* progress.setPhase('Deleted');
  return { platformId, phase: 'Deleted' };
}

function* purgeSecrets(context: Context, platformId: string): Flow<Result<{ purged: string[] }>> {
  const policy = POLL.keyVault;
  const deadline = context.df.currentUtcDateTime.getTime() + policy.deadlineMs;
  return yield* callUntilAnswered(context, 'purgePlatformSecrets', { platformId }, policy, deadline);
}

function* waitUntil(context: Context, at: number): Flow<Result<{ waitedUntil: string }>> {
  yield context.df.createTimer(new Date(at));
  return { ok: true, value: { waitedUntil: new Date(at).toISOString() } };
}

df.app.orchestration(ORCHESTRATORS.stop, stopPlatform);
df.app.orchestration(ORCHESTRATORS.start, startPlatform);
df.app.orchestration(ORCHESTRATORS.delete, teardownPlatform);
