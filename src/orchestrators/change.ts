/**
 * updatePlatform and wipePlatform: the two flows that change a Ready platform and return it to Ready.
 *
 * An update runs only the steps its change touches: a larger PostgreSQL SKU when more Open WebUI replicas
 * need more connections, a larger model share when models are added, removing models from Ollama, then
 * the manifests (the preload Job with the new list, replicas, HPA bounds and quota, the HTTPS entry's
 * allowed source ranges, which roll its pod) and the pulls of the new models. A wipe stops Open WebUI, removes its files from its share, drops and re-creates the openwebui
 * database, runs the database setup and migration Jobs again and scales Open WebUI back up: users, chats,
 * documents and embeddings are gone, infrastructure and models stay. Open WebUI's replica count belongs to
 * its HPA: the wipe scales it through the scale subresource, never by applying a count.
 */
import * as df from 'durable-functions';
import type { PostgresChild, Readiness, Result } from '../activities/contract.js';
import { OPENWEBUI_DATABASE } from '../platform/naming.js';
import { choosePostgresSku } from '../platform/sizing.js';
import type { PlatformChange } from '../platform/types.js';
import { applyManifests, followModels, gate, waitUntilReady } from './configure.js';
import {
  call,
  callUntilAnswered,
  ensureResource,
  Progress,
  type Context,
  type Flow,
  type StepClock,
} from './flow.js';
import { ORCHESTRATORS, type LifecycleInput, type UpdateInput } from './names.js';

function* updatePlatform(context: Context) {
  const { platformId, change } = context.df.getInput<UpdateInput>();
  const ref = { platformId };
  const spec = yield* call(context, 'getPlatformSpec', ref);
  const progress = new Progress(context, platformId, 'Updating');
  yield* progress.setPhase('Updating');

  // More replicas need the larger SKU before they start; fewer release it only once they are gone.
  const resize = skuChange(change);
  if (resize === 'grow') yield* resizePostgres(context, progress, platformId);
  if (change.addedModels.length > 0)
    yield* progress.run('fileShares', (step) => callUntilAnswered(context, step, 'ensureFileShares', ref));
  if (change.removedModels.length > 0)
    yield* progress.run('modelsRemove', (step) =>
      callUntilAnswered(context, step, 'deleteOllamaModels', { platformId, models: change.removedModels }),
    );

  yield* applyManifests(context, platformId, progress);
  yield* gate(context, progress, platformId, 'workloadsReady');
  if (resize === 'shrink') yield* resizePostgres(context, progress, platformId);

  // A model that cannot be pulled is a warning, as at provisioning: the platform serves the others.
  if (change.addedModels.length > 0)
    yield* progress.run('models', (step) => followModels(context, step, spec));
  yield* progress.setPhase('Ready');
  return { platformId, phase: 'Ready' };
}

function skuChange(change: PlatformChange): 'grow' | 'shrink' | undefined {
  if (!change.replicas) return undefined;
  const [from, to] = [choosePostgresSku(change.replicas.from), choosePostgresSku(change.replicas.to)];
  if (from.name === to.name) return undefined;
  return to.userConnections > from.userConnections ? 'grow' : 'shrink';
}

/** The server converges to the spec's SKU (its table entry reconciles a Ready server on another SKU). */
function* resizePostgres(context: Context, progress: Progress, platformId: string): Flow<void> {
  yield* progress.run('postgresResize', (step) =>
    ensureResource(context, step, 'beginAzureResource', { platformId, kind: 'postgresServer' }),
  );
}

function* wipePlatform(context: Context) {
  const { platformId } = context.df.getInput<LifecycleInput>();
  const ref = { platformId };
  const progress = new Progress(context, platformId, 'Updating');
  yield* progress.setPhase('Updating');

  // Nothing may write to the database while it is dropped, and nothing may serve a half-empty one.
  yield* progress.run('webuiStop', (step) => callUntilAnswered(context, step, 'stopOpenWebui', ref));
  yield* progress.run('webuiStopped', (step) =>
    waitUntilReady(context, { ...step, name: 'webuiStopped' }, platformId),
  );

  // Uploaded files and their caches live on Open WebUI's share, beside the database: a Job removes them.
  yield* progress.run('webuiDataWipe', (step) => wipeFiles(context, step, platformId));

  yield* progress.run('databaseDrop', (step) =>
    ensureResource(context, step, 'beginPostgresDatabaseDelete', ref),
  );
  const database: PostgresChild = { kind: 'database', name: OPENWEBUI_DATABASE };
  yield* progress.run('databaseCreate', (step) =>
    ensureResource(context, step, 'ensurePostgresChild', { platformId, child: database }),
  );

  // The setup Job creates the vector extension and grants in the new database, the migration its schema;
  // then Open WebUI is scaled back to its HPA's minimum (the manifests leave its replicas to the HPA).
  yield* applyManifests(context, platformId, progress, { rerunJobs: true });
  yield* progress.run('webuiStart', (step) => callUntilAnswered(context, step, 'startOpenWebui', ref));
  yield* gate(context, progress, platformId, 'workloadsReady');
  yield* progress.setPhase('Ready');
  return { platformId, phase: 'Ready' };
}

function* wipeFiles(context: Context, step: StepClock, platformId: string): Flow<Result<Readiness>> {
  const job = yield* callUntilAnswered(context, step, 'startWebuiDataWipe', { platformId });
  if (!job.ok) return job;
  return yield* waitUntilReady(context, { ...step, name: 'webuiDataWipe' }, platformId, job.value);
}

df.app.orchestration(ORCHESTRATORS.update, updatePlatform);
df.app.orchestration(ORCHESTRATORS.wipe, wipePlatform);
