/**
 * The in-cluster half of provisioning: apply the manifests, wait until the cluster serves chat with a
 * GPU, then keep following the model pulls. `Ready` is recorded once Open WebUI and Ollama serve and the
 * first model answered the smoke test; the other models keep pulling, each with its own state.
 */
import type { JobRef, Failure, ModelReport, Readiness, Result } from '../activities/contract.js';
import { APPLY_STAGES, PROVISION_GATES, STEPS, type ReadinessStep } from '../platform/steps.js';
import type { ModelState, PlatformSpec } from '../platform/types.js';
import { refusalWaitMs } from '../platform/polling.js';
import {
  call,
  callUntilAnswered,
  poll,
  recordPower,
  type Context,
  type Flow,
  type Probe,
  type Progress,
  stepClock,
  type StepClock,
} from './flow.js';

/** Until the cluster answers, "not there yet" (404, proxy 503) means wait, not fail. */
const WAITABLE = new Set<Failure['kind']>(['notFound', 'transient', 'throttled', 'busy']);

/** Polls the readiness check of a readiness step until it holds, fails for good, or passes its deadline. */
export function* waitUntilReady(
  context: Context,
  step: StepClock & { name: ReadinessStep },
  platformId: string,
  job?: JobRef,
): Flow<Result<Readiness>> {
  const check = STEPS[step.name].check;
  return yield* poll(context, step, function* (): Flow<Probe<Readiness>> {
    const result = yield* call(context, 'checkPlatformReadiness', {
      platformId,
      check,
      ...(job ? { job } : {}),
    });
    if (result.ok) return result.value.ready ? { done: result.value } : { wait: result.value.detail };
    if (!WAITABLE.has(result.kind)) return result;
    // A throttled read (the cluster's credentials come from AKS's budget of one a second per subscription,
    // azure-real-behaviours §3.2) is read again no sooner than Azure asked; like every throttled wait, it
    // does not count toward the deadline (poll).
    if (result.kind === 'throttled')
      return {
        wait: `${result.code}: ${result.message}`,
        retryAfterMs: result.retryAfterMs,
        throttled: true,
      };
    // Busy or transient: Azure's wait too, but never past the deadline.
    const retryAfterMs = refusalWaitMs(
      result.retryAfterMs,
      step.deadline - context.df.currentUtcDateTime.getTime(),
    );
    return { wait: `${result.code}: ${result.message}`, ...(retryAfterMs ? { retryAfterMs } : {}) };
  });
}

/**
 * Shown with a quota or capacity failure of a spot GPU pool: when AKS cannot create it (aksCluster), or when
 * the cluster autoscaler cannot add its node (gpuNode, the pool starting at zero nodes).
 */
export const SPOT_HINT =
  'The spot GPU pool could not be allocated (quota or capacity); retry later, in another region, or with "gpu": { "spot": false }.';

export function spotHint(spec: PlatformSpec): (failure: Failure) => string | undefined {
  return (failure) => (failure.kind === 'quota' && spec.gpu.spot ? SPOT_HINT : undefined);
}

/** Runs a readiness step and records the endpoints it found, if any. */
export function* gate(
  context: Context,
  progress: Progress,
  platformId: string,
  name: ReadinessStep,
  hint?: (failure: Failure) => string | undefined,
): Flow<void> {
  const ready = yield* progress.run(
    name,
    (step) => waitUntilReady(context, { ...step, name }, platformId),
    hint,
  );
  if (ready.endpoints) yield* call(context, 'recordProgress', { platformId, endpoints: ready.endpoints });
}

/**
 * Applies the manifests stage by stage (named by what they apply): a stage that ends with a Job (database
 * setup, then migrations) waits for it to complete before the next. rerunJobs runs those Jobs again (after
 * the wipe re-created the database). A failure fails the flow.
 */
export function* applyManifests(
  context: Context,
  platformId: string,
  progress: Progress,
  options: { rerunJobs?: boolean } = {},
): Flow<void> {
  for (const stage of APPLY_STAGES) {
    const applied = yield* progress.run(stage.apply, (step) =>
      callUntilAnswered(context, step, 'applyPlatformManifests', {
        platformId,
        stage: stage.stage,
        ...(options.rerunJobs ? { rerunJobs: true } : {}),
      }),
    );
    const job = applied.waitFor;
    if ('job' in stage && job) {
      yield* progress.run(stage.job, (step) =>
        waitUntilReady(context, { ...step, name: stage.job }, platformId, job),
      );
    }
  }
}

export function* configurePlatform(context: Context, spec: PlatformSpec, progress: Progress): Flow<void> {
  const platformId = spec.prefix;
  yield* progress.setPhase('Configuring');
  yield* applyManifests(context, platformId, progress);
  for (const name of PROVISION_GATES) yield* gate(context, progress, platformId, name, spotHint(spec));

  // Ready needs one model to chat with: wait for the first requested model that arrives.
  const model = yield* progress.run('firstModel', (step) => waitForFirstModel(context, step, spec));
  const report = yield* progress.run('smokeTest', (step) =>
    callUntilAnswered(context, step, 'runSmokeTest', { platformId, model }),
  );
  const warnings = report.onGpu
    ? []
    : [
        `${report.model} runs on the CPU, not the GPU: check the NVIDIA device plugin and the Ollama pod's nvidia.com/gpu limit.`,
      ];
  yield* call(context, 'recordProgress', { platformId, warnings, smokeTest: report });
  yield* recordPower(context, platformId);
  yield* progress.setPhase('Ready');

  // The rest keep pulling; each model's state is recorded as it changes (within the models step's deadline).
  yield* followModels(context, stepClock(context, 'models'), spec);
}

function* waitForFirstModel(context: Context, step: StepClock, spec: PlatformSpec): Flow<Result<string>> {
  return yield* poll(context, step, function* (): Flow<Probe<string>> {
    const report = yield* call(context, 'getModelReport', { platformId: spec.prefix });
    if (!report.ok) return WAITABLE.has(report.kind) ? { wait: `${report.code}: ${report.message}` } : report;
    yield* call(context, 'recordProgress', {
      platformId: spec.prefix,
      models: modelStates(spec, report.value),
    });
    const first = spec.models.find((m) => report.value.ready.includes(m));
    if (first) return { done: first };
    if (report.value.preloadFinished)
      return {
        ok: false,
        kind: 'invalid',
        code: 'ModelPullFailed',
        message: `No requested model could be pulled: ${report.value.failed.join(', ')}.`,
      };
    return { wait: 'no requested model pulled yet' };
  });
}

/**
 * Follows the pulls until every model of the spec is ready or failed, or the step's deadline passes. It never
 * fails: a model that cannot be pulled is a warning in the status, the platform serves the others.
 */
export function* followModels(context: Context, step: StepClock, spec: PlatformSpec): Flow<Result<null>> {
  yield* poll(context, step, function* (): Flow<Probe<null>> {
    const report = yield* call(context, 'getModelReport', { platformId: spec.prefix });
    if (!report.ok) return { wait: `${report.code}: ${report.message}` };
    yield* call(context, 'recordProgress', {
      platformId: spec.prefix,
      models: modelStates(spec, report.value),
    });
    const settled = report.value.ready.length + report.value.failed.length === spec.models.length;
    return settled ? { done: null } : { wait: 'models still pulling' };
  });
  return { ok: true, value: null };
}

function modelStates(spec: PlatformSpec, report: ModelReport): Record<string, ModelState> {
  return Object.fromEntries(
    spec.models.map(
      (m) =>
        [m, report.ready.includes(m) ? 'ready' : report.failed.includes(m) ? 'failed' : 'pulling'] as const,
    ),
  );
}
