/**
 * The in-cluster half of provisioning: apply the manifests, wait until the cluster serves chat with a
 * GPU, then keep following the model pulls. `Ready` is recorded once Open WebUI and Ollama serve and the
 * first model answered the smoke test; the other models keep pulling, each with its own state.
 */
import type {
  JobRef,
  Failure,
  ModelReport,
  Readiness,
  ReadinessCheck,
  Result,
  SmokeReport,
} from '../activities/contract.js';
import type { ModelState, PlatformSpec } from '../platform/types.js';
import {
  call,
  callUntilAnswered,
  recordPower,
  sleep,
  type Context,
  type Flow,
  type Progress,
} from './flow.js';
import { nextWaitMs, POLL } from './policy.js';

/** The readiness gates, in the order they can be met. */
const GATES: { step: string; check: ReadinessCheck }[] = [
  { step: 'nodesReady', check: 'nodes' },
  { step: 'gpuNode', check: 'gpu' },
  { step: 'volumesBound', check: 'volumes' },
  { step: 'workloadsReady', check: 'workloads' },
  { step: 'endpoints', check: 'endpoints' },
  { step: 'metricsApi', check: 'metricsApi' },
];

/** Until the cluster answers, "not there yet" (404, proxy 503) means wait, not fail. */
const WAITABLE = new Set<Failure['kind']>(['notFound', 'transient', 'throttled', 'busy']);

/** Polls one readiness check until it holds, fails for good, or passes its deadline (shared by start). */
export function* waitUntilReady(
  context: Context,
  platformId: string,
  check: ReadinessCheck,
  job?: JobRef,
): Flow<Result<Readiness>> {
  const policy = POLL.kubernetes;
  const deadline = context.df.currentUtcDateTime.getTime() + policy.deadlineMs;
  let last: string;
  for (let attempt = 0; ; attempt++) {
    const result = (yield* call(context, 'checkPlatformReadiness', {
      platformId,
      check,
      ...(job ? { job } : {}),
    })) as Result<Readiness>;
    if (result.ok && result.value.ready) return result;
    if (!result.ok && !WAITABLE.has(result.kind)) return result;
    last = result.ok ? result.value.detail : `${result.code}: ${result.message}`;
    if (context.df.currentUtcDateTime.getTime() >= deadline) {
      return {
        ok: false,
        kind: 'timeout',
        code: 'StepDeadlineExceeded',
        message: `Not ready after ${Math.round(policy.deadlineMs / 60_000)} minutes: ${last}`,
      };
    }
    yield* sleep(context, nextWaitMs(policy, attempt));
  }
}

/**
 * Applies the manifests stage by stage: a stage that ends with a Job (database setup, then migrations) waits
 * for it to complete before the next. rerunJobs runs those Jobs again (after the wipe re-created the database).
 * A failure fails the flow (Progress.fail throws).
 */
export function* applyManifests(
  context: Context,
  platformId: string,
  progress: Progress,
  options: { rerunJobs?: boolean } = {},
): Flow<void> {
  const policy = POLL.kubernetes;
  let stages = 1;
  for (let stage = 0; stage < stages; stage++) {
    const deadline = context.df.currentUtcDateTime.getTime() + policy.deadlineMs;
    const step = stage === 0 ? 'kubernetesApply' : `kubernetesApply${stage + 1}`;
    const applied = yield* progress.step(
      step,
      callUntilAnswered(
        context,
        'applyPlatformManifests',
        { platformId, stage, ...(options.rerunJobs ? { rerunJobs: true } : {}) },
        policy,
        deadline,
      ),
    );
    if (!applied.ok) return yield* progress.fail(step, applied);
    stages = applied.value.stages;
    const job = applied.value.waitFor;
    if (job) {
      const jobStepName = jobStep(job.name);
      const done = yield* progress.step(jobStepName, waitUntilReady(context, platformId, 'job', job));
      if (!done.ok) return yield* progress.fail(jobStepName, done);
    }
  }
}

export function* configurePlatform(context: Context, spec: PlatformSpec, progress: Progress): Flow<void> {
  const platformId = spec.prefix;
  yield* progress.setPhase('Configuring');
  const policy = POLL.kubernetes;
  yield* applyManifests(context, platformId, progress);

  for (const gate of GATES) {
    const result = yield* progress.step(gate.step, waitUntilReady(context, platformId, gate.check));
    if (!result.ok) return yield* progress.fail(gate.step, result);
    if (result.value.endpoints)
      yield* call(context, 'recordProgress', { platformId, endpoints: result.value.endpoints });
  }

  // Ready needs one model to chat with: wait for the first requested model that arrives.
  const first = yield* progress.step('firstModel', waitForFirstModel(context, spec));
  if (!first.ok) return yield* progress.fail('firstModel', first);
  const model = first.value;
  const smoke = yield* progress.step(
    'smokeTest',
    callUntilAnswered(
      context,
      'runSmokeTest',
      { platformId, model },
      policy,
      context.df.currentUtcDateTime.getTime() + policy.deadlineMs,
    ),
  );
  if (!smoke.ok) return yield* progress.fail('smokeTest', smoke);
  const report = smoke.value as SmokeReport;
  const warnings = report.onGpu
    ? []
    : [
        `${report.model} runs on the CPU, not the GPU: check the NVIDIA device plugin and the Ollama pod's nvidia.com/gpu limit.`,
      ];
  yield* call(context, 'recordProgress', { platformId, warnings, smokeTest: report });
  yield* recordPower(context, platformId);
  yield* progress.setPhase('Ready');

  // The rest keep pulling; each model's state is recorded as it changes.
  yield* followModels(context, spec);
}

/** Step names for the Jobs the apply waits on. */
function jobStep(job: string): string {
  if (job.startsWith('database-setup')) return 'databaseSetup';
  if (job.includes('migrate')) return 'databaseMigration';
  return `job:${job}`;
}

function* waitForFirstModel(context: Context, spec: PlatformSpec): Flow<Result<string>> {
  const policy = POLL.models;
  const deadline = context.df.currentUtcDateTime.getTime() + policy.deadlineMs;
  for (let attempt = 0; ; attempt++) {
    const report = (yield* call(context, 'getModelReport', {
      platformId: spec.prefix,
    })) as Result<ModelReport>;
    if (report.ok) {
      yield* call(context, 'recordProgress', {
        platformId: spec.prefix,
        models: modelStates(spec, report.value),
      });
      const first = spec.models.find((m) => report.value.ready.includes(m));
      if (first) return { ok: true, value: first };
      if (report.value.preloadFinished)
        return {
          ok: false,
          kind: 'invalid',
          code: 'ModelPullFailed',
          message: `No requested model could be pulled: ${report.value.failed.join(', ')}.`,
        };
    } else if (!WAITABLE.has(report.kind)) return report;
    if (context.df.currentUtcDateTime.getTime() >= deadline)
      return {
        ok: false,
        kind: 'timeout',
        code: 'StepDeadlineExceeded',
        message: 'No model was pulled in time.',
      };
    yield* sleep(context, nextWaitMs(policy, attempt));
  }
}

/** Follows the pulls until every model of the spec is ready or failed (a failed one shows as a warning). */
export function* followModels(context: Context, spec: PlatformSpec): Flow<void> {
  const policy = POLL.models;
  const deadline = context.df.currentUtcDateTime.getTime() + policy.deadlineMs;
  for (let attempt = 0; context.df.currentUtcDateTime.getTime() < deadline; attempt++) {
    const report = (yield* call(context, 'getModelReport', {
      platformId: spec.prefix,
    })) as Result<ModelReport>;
    if (report.ok) {
      const done = report.value.ready.length + report.value.failed.length === spec.models.length;
      yield* call(context, 'recordProgress', {
        platformId: spec.prefix,
        models: modelStates(spec, report.value),
      });
      if (done) return;
    }
    yield* sleep(context, nextWaitMs(policy, attempt));
  }
}

function modelStates(spec: PlatformSpec, report: ModelReport): Record<string, ModelState> {
  return Object.fromEntries(
    spec.models.map(
      (m) =>
        [m, report.ready.includes(m) ? 'ready' : report.failed.includes(m) ? 'failed' : 'pulling'] as const,
    ),
  );
}
