/**
 * Building blocks shared by the orchestrations: typed activity calls, waiting out retryable refusals with
 * durable timers, polling an ARM operation, and recording steps. Pure generator code: time comes only
 * from `context.df.currentUtcDateTime`, waits only from `createTimer`.
 */
import type * as df from 'durable-functions';
import type {
  ActivityInput,
  ActivityName,
  ActivityOutput,
  Failure,
  OperationStatus,
  ResourceState,
  Result,
} from '../activities/contract.js';
import { RETRYABLE_KINDS } from '../activities/contract.js';
import type { Phase, StepRecord } from '../platform/types.js';
import { activityRetry, MAX_RETRYABLE_REFUSALS, nextWaitMs, type PollPolicy } from './policy.js';

export type Context = df.OrchestrationContext;
// Generators that yield durable tasks and return T.
export type Flow<T> = Generator<df.Task, T, unknown>;

const now = (context: Context) => context.df.currentUtcDateTime.getTime();

/** One typed activity call; thrown faults are retried by the runtime with the named policy. */
export function* call<N extends ActivityName>(
  context: Context,
  name: N,
  input: ActivityInput<N>,
): Flow<ActivityOutput<N>> {
  return (yield context.df.callActivityWithRetry(name, activityRetry(), input)) as ActivityOutput<N>;
}

export function* sleep(context: Context, ms: number): Flow<void> {
  yield context.df.createTimer(new Date(now(context) + ms));
}

/**
 * Calls an activity until it answers with something other than a retryable refusal (throttled, busy,
 * transient), waiting between attempts as Azure asked (Retry-After) or with bounded backoff.
 */
export function* callUntilAnswered<N extends ActivityName>(
  context: Context,
  name: N,
  input: ActivityInput<N>,
  policy: PollPolicy,
  deadline: number,
): Flow<ActivityOutput<N>> {
  for (let attempt = 0; ; attempt++) {
    const result = (yield* call(context, name, input)) as ActivityOutput<N>;
    const failure = result as Partial<Failure> | undefined;
    if (!failure || failure.ok !== false || !RETRYABLE_KINDS.has(failure.kind!)) return result;
    if (attempt + 1 >= MAX_RETRYABLE_REFUSALS || now(context) >= deadline) return result;
    yield* sleep(context, nextWaitMs(policy, attempt, failure.retryAfterMs));
  }
}

/**
 * Starts (or finds) a resource with a begin-activity, then follows Azure's operation until it ends,
 * sleeping between reads as long as Retry-After asks (never less), within the step's deadline.
 */
export function* ensureResource<N extends ActivityName>(
  context: Context,
  begin: N,
  input: ActivityInput<N>,
  policy: PollPolicy,
): Flow<Result<ResourceState>> {
  const deadline = now(context) + policy.deadlineMs;
  const timeout = (): Failure => ({
    ok: false,
    kind: 'timeout',
    code: 'StepDeadlineExceeded',
    message: `Azure did not finish within ${Math.round(policy.deadlineMs / 60_000)} minutes.`,
  });
  for (let attempt = 0; ; attempt++) {
    const started = (yield* callUntilAnswered(
      context,
      begin,
      input,
      policy,
      deadline,
    )) as Result<ResourceState>;
    if (!started.ok) return started;
    const { provisioningState, operationUrl, mutated } = started.value;
    if (operationUrl)
      return yield* followOperation(context, operationUrl, mutated, policy, deadline, timeout);
    if (provisioningState === 'Succeeded') return started;
    if (provisioningState === 'Failed' || provisioningState === 'Canceled') {
      return {
        ok: false,
        kind: 'invalid',
        code: `Provisioning${provisioningState}`,
        message: `The resource is in provisioning state ${provisioningState}.`,
      };
    }
    // Found mid-operation (started by an earlier attempt whose answer was lost): the begin activity only reads
    // an existing resource, so calling it again is how its state is polled.
    if (now(context) >= deadline) return timeout();
    yield* sleep(context, nextWaitMs(policy, attempt));
  }
}

function* followOperation(
  context: Context,
  operationUrl: string,
  mutated: boolean,
  policy: PollPolicy,
  deadline: number,
  timeout: () => Failure,
): Flow<Result<ResourceState>> {
  for (let attempt = 1; ; attempt++) {
    if (now(context) >= deadline) return timeout();
    const status = (yield* callUntilAnswered(
      context,
      'getArmOperationStatus',
      { operationUrl },
      policy,
      deadline,
    )) as Result<OperationStatus>;
    if (!status.ok) return status;
    if (status.value.status === 'Succeeded')
      return { ok: true, value: { provisioningState: 'Succeeded', mutated } };
    if (status.value.status === 'Failed' || status.value.status === 'Canceled') {
      const error = status.value.error ?? {
        code: `Operation${status.value.status}`,
        message: `The Azure operation ended ${status.value.status}.`,
      };
      return {
        ok: false,
        kind: classifyOperationError(error.code),
        code: error.code,
        message: error.message,
      };
    }
    yield* sleep(context, nextWaitMs(policy, attempt, status.value.retryAfterMs));
  }
}

const QUOTA = /quota|allocation|capacity|SkuNotAvailable/i;
function classifyOperationError(code: string): Failure['kind'] {
  return QUOTA.test(code) ? 'quota' : 'invalid';
}

/** Reads AKS's and PostgreSQL's power state from Azure and records it for the status (never fails a flow). */
export function* recordPower(context: Context, platformId: string): Flow<void> {
  const power = (yield* call(context, 'getPowerStates', { platformId })) as Result<{
    aks: string;
    postgres: string;
  }>;
  if (power.ok)
    yield* call(context, 'recordProgress', {
      platformId,
      power: { ...power.value, observedAt: context.df.currentUtcDateTime.toISOString() },
    });
}

/** Records steps and phases in the registry and keeps a compact custom status (well under 16 KB). */
export class Progress {
  private readonly done: string[] = [];

  constructor(
    private readonly context: Context,
    private readonly platformId: string,
    private phase: Phase,
  ) {}

  *setPhase(phase: Phase): Flow<void> {
    this.phase = phase;
    this.publish(undefined);
    // Becoming Ready counts as activity: the idle clock starts now, not at some older use.
    const lastActiveAt = phase === 'Ready' ? this.context.df.currentUtcDateTime.toISOString() : undefined;
    yield* call(this.context, 'recordProgress', {
      platformId: this.platformId,
      phase,
      ...(lastActiveAt ? { lastActiveAt } : {}),
    });
  }

  /** Runs one named step, recording running → succeeded/failed with Azure's error. */
  *step<T>(name: string, body: Flow<Result<T>>): Flow<Result<T>> {
    const startedAt = this.context.df.currentUtcDateTime.toISOString();
    this.publish(name);
    yield* this.record({ name, state: 'running', startedAt });
    const result = yield* body;
    const endedAt = this.context.df.currentUtcDateTime.toISOString();
    if (result.ok) {
      this.done.push(name);
      yield* this.record({ name, state: 'succeeded', startedAt, endedAt });
    } else {
      yield* this.record({
        name,
        state: 'failed',
        startedAt,
        endedAt,
        error: { code: result.code, message: result.message },
      });
    }
    return result;
  }

  /** Marks the platform Failed at `step` with Azure's error; the orchestration then ends Failed. */
  *fail(step: string, failure: Failure, hint?: string): Flow<never> {
    const message = hint ? `${failure.message} ${hint}` : failure.message;
    this.phase = 'Failed';
    this.publish(step);
    yield* call(this.context, 'recordProgress', {
      platformId: this.platformId,
      phase: 'Failed',
      lastError: { step, code: failure.code, message },
    });
    throw new Error(`${step} failed: ${failure.code}: ${message}`);
  }

  private *record(step: StepRecord): Flow<void> {
    yield* call(this.context, 'recordProgress', { platformId: this.platformId, step });
  }

  private publish(current: string | undefined) {
    this.context.df.setCustomStatus({
      phase: this.phase,
      step: current ?? null,
      completed: this.done.length,
    });
  }
}
