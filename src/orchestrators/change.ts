/**
 * updatePlatform and wipePlatform: the two flows that change a Ready platform and return it to Ready.
 *
 * An update runs only the steps its change touches: a larger PostgreSQL SKU when more Open WebUI replicas
 * need more connections, a larger model share when models are added, removing models from Ollama, then
 * the manifests (the preload Job with the new list, replicas, HPA bounds and quota) and the pulls of the
 * new models. A wipe stops Open WebUI, removes its files from its share, drops and re-creates the openwebui
 * database, runs the database setup and migration Jobs again and starts Open WebUI: users, chats, documents
 * and embeddings are gone, infrastructure and models stay.
 */
import * as df from 'durable-functions';
import type { PostgresChild, Readiness, Result } from '../activities/contract.js';
import { OPENWEBUI_DATABASE } from '../platform/naming.js';
import { choosePostgresSku } from '../platform/sizing.js';
import type { PlatformChange, PlatformSpec } from '../platform/types.js';
import { applyManifests, followModels, waitUntilReady } from './configure.js';
import { call, callUntilAnswered, ensureResource, Progress, type Context, type Flow } from './flow.js';
import { ORCHESTRATORS, type LifecycleInput, type UpdateInput } from './names.js';
import { POLL } from './policy.js';

function* updatePlatform(context: Context) {
  const { platformId, change } = context.df.getInput<UpdateInput>();
  const ref = { platformId };
  const spec = (yield* call(context, 'getPlatformSpec', ref)) as PlatformSpec;
  const progress = new Progress(context, platformId, 'Updating');
  yield* progress.setPhase('Updating');
  const quick = POLL.storageAccount;
  const deadline = () => context.df.currentUtcDateTime.getTime() + quick.deadlineMs;

  // More replicas need the larger SKU before they start; fewer release it only once they are gone.
  const resize = skuChange(change);
  if (resize === 'grow') yield* resizePostgres(context, progress, platformId);
  if (change.addedModels.length > 0) {
    const shares = yield* progress.step(
      'fileShares',
      callUntilAnswered(context, 'ensureFileShares', ref, quick, deadline()),
    );
    if (!shares.ok) return yield* progress.fail('fileShares', shares);
  }
  if (change.removedModels.length > 0) {
    const removed = yield* progress.step(
      'modelsRemove',
      callUntilAnswered(
        context,
        'deleteOllamaModels',
        { platformId, models: change.removedModels },
        POLL.kubernetes,
        deadline(),
      ),
    );
    if (!removed.ok) return yield* progress.fail('modelsRemove', removed);
  }

  yield* applyManifests(context, platformId, progress);
  const ready = yield* progress.step('workloadsReady', waitUntilReady(context, platformId, 'workloads'));
  if (!ready.ok) return yield* progress.fail('workloadsReady', ready);
  if (resize === 'shrink') yield* resizePostgres(context, progress, platformId);

  if (change.addedModels.length > 0) {
    // A model that cannot be pulled is a warning, as at provisioning: the platform serves the others.
    yield* progress.step('models', followNewModels(context, spec));
  }
  yield* progress.setPhase('Ready');
  return { platformId, phase: 'Ready' };
}

function skuChange(change: PlatformChange): 'grow' | 'shrink' | undefined {
  if (!change.replicas) return undefined;
  const [from, to] = [choosePostgresSku(change.replicas.from), choosePostgresSku(change.replicas.to)];
  if (from.name === to.name) return undefined;
  return to.userConnections > from.userConnections ? 'grow' : 'shrink';
}

function* resizePostgres(context: Context, progress: Progress, platformId: string): Flow<void> {
  const resized = yield* progress.step(
    'postgresResize',
    ensureResource(context, 'beginPostgresServerResize', { platformId }, POLL.postgresServer),
  );
  if (!resized.ok) yield* progress.fail('postgresResize', resized);
}

function* followNewModels(context: Context, spec: PlatformSpec): Flow<Result<null>> {
  yield* followModels(context, spec);
  return { ok: true, value: null };
}

function* wipePlatform(context: Context) {
  const { platformId } = context.df.getInput<LifecycleInput>();
  const ref = { platformId };
  const progress = new Progress(context, platformId, 'Updating');
  yield* progress.setPhase('Updating');
  const policy = POLL.postgresChild;
  const deadline = context.df.currentUtcDateTime.getTime() + policy.deadlineMs;

  // Nothing may write to the database while it is dropped, and nothing may serve a half-empty one.
  const stop = yield* progress.step(
    'webuiStop',
    callUntilAnswered(context, 'stopOpenWebui', ref, POLL.kubernetes, deadline),
  );
  if (!stop.ok) return yield* progress.fail('webuiStop', stop);
  const stopped = yield* progress.step('webuiStopped', waitUntilReady(context, platformId, 'webuiStopped'));
  if (!stopped.ok) return yield* progress.fail('webuiStopped', stopped);

  // Uploaded files and their caches live on Open WebUI's share, beside the database: a Job removes them.
  const files = yield* progress.step('webuiDataWipe', wipeFiles(context, platformId));
  if (!files.ok) return yield* progress.fail('webuiDataWipe', files);

  const dropped = yield* progress.step(
    'databaseDrop',
    ensureResource(context, 'beginPostgresDatabaseDelete', ref, policy),
  );
  if (!dropped.ok) return yield* progress.fail('databaseDrop', dropped);
  const database: PostgresChild = { kind: 'database', name: OPENWEBUI_DATABASE };
  const created = yield* progress.step(
    'databaseCreate',
    ensureResource(context, 'ensurePostgresChild', { platformId, child: database }, policy),
  );
  if (!created.ok) return yield* progress.fail('databaseCreate', created);

  // The setup Job creates the vector extension and grants in the new database, the migration its schema;
  // the last stage brings Open WebUI back with its replicas.
  yield* applyManifests(context, platformId, progress, { rerunJobs: true });
  const ready = yield* progress.step('workloadsReady', waitUntilReady(context, platformId, 'workloads'));
  if (!ready.ok) return yield* progress.fail('workloadsReady', ready);
  yield* progress.setPhase('Ready');
  return { platformId, phase: 'Ready' };
}

function* wipeFiles(context: Context, platformId: string): Flow<Result<Readiness>> {
  const deadline = context.df.currentUtcDateTime.getTime() + POLL.kubernetes.deadlineMs;
  const job = yield* callUntilAnswered(
    context,
    'startWebuiDataWipe',
    { platformId },
    POLL.kubernetes,
    deadline,
  );
  if (!job.ok) return job;
  return yield* waitUntilReady(context, platformId, 'job', job.value);
}

df.app.orchestration(ORCHESTRATORS.update, updatePlatform);
df.app.orchestration(ORCHESTRATORS.wipe, wipePlatform);
