/**
 * Building blocks shared by the orchestrations: typed activity calls, one poll loop (waits with durable
 * timers, Retry-After honoured, bounded backoff, the step's deadline), following an ARM operation, and
 * recording steps. Pure generator code: time comes only from `context.df.currentUtcDateTime`, waits only
 * from `createTimer`. This is the only module that touches `callActivity`: everything else goes through
 * the typed helpers below (a lint rule keeps it so).
 */
import type * as df from 'durable-functions';
import type {
  ActivityInput,
  ActivityName,
  ActivityOutput,
  Answer,
  BeginActivity,
  Failure,
  ResourceState,
  Result,
  ResultActivity,
} from '../activities/contract.js';
import { RETRYABLE_KINDS } from '../activities/contract.js';
import { stepPolicy, STEPS, type StepName } from '../platform/steps.js';
import { nextWaitMs, refusalWaitMs, type PollPolicy } from '../platform/polling.js';
import type { Phase, StepRecord } from '../platform/types.js';
import { activityRetry } from './policy.js';

export type Context = df.OrchestrationContext;
// Generators that yield durable tasks and return T.
export type Flow<T> = Generator<df.Task, T, unknown>;
/** A durable task whose result has the type T (the runtime hands results back untyped). */
export type TypedTask<T> = df.Task & { readonly __result?: T };

const now = (context: Context) => context.df.currentUtcDateTime.getTime();

/** One typed activity task, not yet yielded (for fan-out); thrown faults are retried by the runtime. */
export function task<N extends ActivityName>(
  context: Context,
  name: N,
  input: ActivityInput<N>,
): TypedTask<ActivityOutput<N>> {
  return context.df.callActivityWithRetry(name, activityRetry(), input);
}

/** Yields tasks together and hands back their results, in order. */
export function* all<T>(context: Context, tasks: TypedTask<T>[]): Flow<T[]> {
  return (yield context.df.Task.all(tasks)) as T[];
}

/** Yields one task and hands back its result. */
export function* awaited<T>(task: TypedTask<T>): Flow<T> {
  return (yield task) as T;
}

/** A sub-orchestration's task, typed by what the child returns. */
export function child<T>(context: Context, name: string, input: unknown, instanceId: string): TypedTask<T> {
  return context.df.callSubOrchestrator(name, input, instanceId);
}

/** One typed activity call. */
export function* call<N extends ActivityName>(
  context: Context,
  name: N,
  input: ActivityInput<N>,
): Flow<ActivityOutput<N>> {
  return (yield task(context, name, input)) as ActivityOutput<N>;
}

export function* sleep(context: Context, ms: number): Flow<void> {
  yield context.df.createTimer(new Date(now(context) + ms));
}

/** The clock of one running step: its name, how it is paced, and when it runs out. */
export interface StepClock {
  name: StepName;
  policy: PollPolicy;
  /** Epoch milliseconds (orchestration time) at which the step fails as a timeout. */
  deadline: number;
}

export function stepClock(context: Context, name: StepName): StepClock {
  const policy = stepPolicy(name);
  return { name, policy, deadline: now(context) + policy.deadlineMs };
}

/**
 * One reading of whatever a poll waits for: done (with its value), not yet (with what is missing, Azure's
 * Retry-After, and the failure to report should the wait run out), or a failure that ends the wait.
 */
export type Probe<T> =
  { done: T } | { wait: string; retryAfterMs?: number; failure?: Failure; throttled?: boolean } | Failure;

/**
 * The poll loop: probes until done or failed; between probes sleeps as long as Azure asked (Retry-After,
 * never less) or the step's bounded backoff. Past the step's deadline the wait ends with its last failure,
 * or a timeout naming what was still missing. A throttled reading is Azure pacing the caller, not the step
 * failing to converge: it never ends the wait, and its sleep moves the step's deadline by as much (a burst
 * of platforms in one subscription queues on ARM's and AKS's token buckets for minutes: azure-real-behaviours
 * §3.1, §3.2).
 */
export function* poll<T>(
  context: Context,
  step: StepClock,
  probe: (attempt: number) => Flow<Probe<T>>,
  options: { firstWaitMs?: number; firstAttempt?: number } = {},
): Flow<Result<T>> {
  if (options.firstWaitMs) yield* sleep(context, options.firstWaitMs);
  for (let attempt = options.firstAttempt ?? 0; ; attempt++) {
    const reading = yield* probe(attempt);
    if ('done' in reading) return { ok: true, value: reading.done };
    if ('ok' in reading) return reading;
    if (!reading.throttled && now(context) >= step.deadline)
      return reading.failure ?? timeout(step, reading.wait);
    const waitMs = nextWaitMs(step.policy, attempt, reading.retryAfterMs);
    if (reading.throttled) step.deadline += waitMs;
    yield* sleep(context, waitMs);
  }
}

function timeout(step: StepClock, missing: string): Failure {
  const minutes = Math.round(step.policy.deadlineMs / 60_000);
  return {
    ok: false,
    kind: 'timeout',
    code: 'StepDeadlineExceeded',
    message: `${STEPS[step.name].title}: not done after ${minutes} minutes (${missing}).`,
  };
}

/**
 * Calls a Result activity until it answers with something other than a retryable refusal (throttled, busy,
 * transient), for as long as the step's deadline allows (throttled waits do not count: see poll); the last
 * refusal is the answer then. A count would not do: AKS refuses every write while an upgrade runs, and an
 * upgrade outlasts any fixed number of short waits (azure-real-behaviours, F4;
 * https://learn.microsoft.com/azure/aks/planned-maintenance). Between calls it waits Azure's Retry-After
 * (never less) or the step's bounded backoff, and never past the deadline (a throttled call excepted): the
 * last call falls on it.
 */
export function* callUntilAnswered<N extends ResultActivity>(
  context: Context,
  step: StepClock,
  name: N,
  input: ActivityInput<N>,
): Flow<Result<Answer<N>>> {
  return yield* poll<Answer<N>>(context, step, function* () {
    // The runtime hands results back untyped; a Result activity answers a Result of its Answer.
    const result = (yield* call(context, name, input)) as Result<Answer<N>>;
    if (result.ok) return { done: result.value };
    if (!RETRYABLE_KINDS.has(result.kind)) return result;
    // Throttled: Azure's whole Retry-After, whatever the step has left (the wait moves the deadline, see poll).
    if (result.kind === 'throttled')
      return {
        wait: `${result.code}: ${result.message}`,
        retryAfterMs: result.retryAfterMs,
        failure: result,
        throttled: true,
      };
    return {
      wait: `${result.code}: ${result.message}`,
      retryAfterMs: refusalWaitMs(result.retryAfterMs, step.deadline - now(context)),
      failure: result,
    };
  });
}

/**
 * Starts (or finds) a resource with a begin-activity, then follows Azure's operation until it ends,
 * sleeping between reads as long as Retry-After asks (never less), within the step's deadline. Two ends of
 * an operation send the flow back to the begin-activity (which reads the resource, reports its state or
 * writes again) after a wait, until the step's deadline: an operation that failed because the resource was
 * busy, and an operation URL Azure no longer knows (404: operation records expire; the ARM async-operation
 * guidance is to read the resource itself).
 */
export function* ensureResource<N extends BeginActivity>(
  context: Context,
  step: StepClock,
  begin: N,
  input: ActivityInput<N>,
): Flow<Result<ResourceState>> {
  return yield* poll(context, step, function* (): Flow<Probe<ResourceState>> {
    const started = yield* callUntilAnswered<BeginActivity>(context, step, begin, input);
    if (!started.ok) return started;
    const { provisioningState, operationUrl, mutated, retryAfterMs } = started.value;
    if (operationUrl) {
      const followed = yield* followOperation(context, step, operationUrl, mutated, retryAfterMs);
      if (followed.ok) return { done: followed.value };
      if (followed.kind === 'busy' || followed.code === OPERATION_NOT_FOUND)
        return { wait: `${followed.code}: ${followed.message}`, failure: followed };
      return followed;
    }
    if (provisioningState === 'Succeeded') return { done: started.value };
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
    return { wait: `provisioning state ${provisioningState}` };
  });
}

/** What getArmOperationStatus answers when the operation URL is 404. */
const OPERATION_NOT_FOUND = 'OperationNotFound';

/** Reads an ARM asynchronous operation until it ends; the first read waits for the accept's Retry-After. */
function* followOperation(
  context: Context,
  step: StepClock,
  operationUrl: string,
  mutated: boolean,
  acceptedRetryAfterMs: number | undefined,
): Flow<Result<ResourceState>> {
  return yield* poll(
    context,
    step,
    function* (): Flow<Probe<ResourceState>> {
      const status = yield* callUntilAnswered(context, step, 'getArmOperationStatus', { operationUrl });
      if (!status.ok) return status;
      const { status: state, error, retryAfterMs } = status.value;
      if (state === 'Succeeded') return { done: { provisioningState: 'Succeeded', mutated } };
      if (state === 'Failed' || state === 'Canceled') {
        const {
          code,
          message,
          kind = 'invalid',
        } = error ?? {
          code: `Operation${state}`,
          message: `The Azure operation ended ${state}.`,
        };
        return { ok: false, kind, code, message };
      }
      return { wait: `Azure operation ${state}`, ...(retryAfterMs ? { retryAfterMs } : {}) };
    },
    // Reads start right after the accept (or its Retry-After); the backoff between them starts one step up.
    { firstAttempt: 1, ...(acceptedRetryAfterMs ? { firstWaitMs: acceptedRetryAfterMs } : {}) },
  );
}

/** Reads AKS's and PostgreSQL's power state from Azure and records it for the status (never fails a flow). */
export function* recordPower(context: Context, platformId: string): Flow<void> {
  // A throttled or failed read is waited out (a bounded wait of its own): recording nothing would leave the
  // status showing the power state from before the step that just changed it.
  const power = yield* callUntilAnswered(context, stepClock(context, 'powerState'), 'getPowerStates', {
    platformId,
  });
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

  /**
   * Runs one named step (paced and bounded by its catalogue policy), recording running → succeeded; a
   * failure is recorded with Azure's error and fails the flow (with `hint` appended to the message).
   */
  *run<T>(
    name: StepName,
    body: (step: StepClock) => Flow<Result<T>>,
    hint?: (failure: Failure) => string | undefined,
  ): Flow<T> {
    const result = yield* this.attempt(name, body);
    if (!result.ok) return yield* this.fail(name, result, hint?.(result));
    return result.value;
  }

  /** Runs one named step like `run`, but hands a failure back (recorded on the step) instead of failing. */
  *attempt<T>(name: StepName, body: (step: StepClock) => Flow<Result<T>>): Flow<Result<T>> {
    const startedAt = this.context.df.currentUtcDateTime.toISOString();
    this.publish(name);
    yield* this.record({ name, state: 'running', startedAt });
    const result = yield* body(stepClock(this.context, name));
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
  *fail(step: StepName, failure: Failure, hint?: string): Flow<never> {
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
