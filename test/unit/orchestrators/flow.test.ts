/**
 * The flow discipline of src/orchestrators/flow.ts, seen through one step (stopPlatform's aksStop): how an
 * ARM operation is followed, how refusals are retried, and when a step gives up.
 */
import { describe, expect, it } from 'vitest';
import type { OperationStatus, Result } from '../../../src/activities/contract.js';
import { ORCHESTRATORS } from '../../../src/orchestrators/names.js';
import { STEPS } from '../../../src/platform/steps.js';
import { POLL } from '../../../src/platform/polling.js';
import {
  MINUTES,
  ok,
  refused,
  runOrchestrator,
  type Finished,
  type Stubs,
} from '../../support/orchestrator.js';
import { failure, PLATFORM, stepEnded, succeeded } from './fixtures.js';

const SECONDS = 1_000;
const stop = (stubs: Stubs) => runOrchestrator(ORCHESTRATORS.stop, { platformId: PLATFORM }, stubs);

/** AKS's stop accepted (with Azure's Retry-After), its operation read through `reads` in turn. */
function aksStop(accepted: { retryAfterMs?: number }, reads: () => Promise<Result<OperationStatus>>): Stubs {
  return {
    beginAksClusterPower: async () =>
      ok({ provisioningState: 'Stopping', mutated: true, operationUrl: 'aks/stop', ...accepted }),
    getArmOperationStatus: reads,
    beginPostgresServerPower: async () => ok(succeeded),
    getPowerStates: async () => ok({ aks: 'Stopped', postgres: 'Stopped' }),
  };
}

/** Answers the statuses in turn, then Succeeded. */
const statuses = (...answers: OperationStatus[]) => {
  let n = 0;
  return async () => ok<OperationStatus>(answers[n++] ?? { status: 'Succeeded' });
};

const readTimes = (run: Finished) => run.callsOf('getArmOperationStatus').map((c) => c.at);
const gaps = (times: number[]) => times.slice(1).map((t, i) => t - times[i]!);

describe('following an ARM operation', () => {
  it('reads the operation no sooner than the Retry-After of the accept, then of each read, even past the backoff cap', async () => {
    const run = await stop(
      aksStop(
        { retryAfterMs: 60 * SECONDS },
        statuses(
          { status: 'InProgress', retryAfterMs: 100 * SECONDS },
          { status: 'InProgress', retryAfterMs: 300 * SECONDS },
        ),
      ),
    );
    expect(run.runtimeStatus).toBe('Completed');
    expect(300 * SECONDS).toBeGreaterThan(POLL.aksPower.maxMs);
    expect(readTimes(run)).toEqual([60 * SECONDS, 160 * SECONDS, 460 * SECONDS]);
  });

  it('without a Retry-After, reads at once and then backs off by the step’s policy up to its cap', async () => {
    const { initialMs, factor, maxMs } = POLL.aksPower;
    const run = await stop(
      aksStop({}, statuses(...Array.from({ length: 6 }, () => ({ status: 'InProgress' as const })))),
    );
    expect(run.runtimeStatus).toBe('Completed');
    const times = readTimes(run);
    expect(times[0]).toBe(0);
    // The reads start one step up the backoff (the accept was the first request).
    expect(gaps(times)).toEqual([1, 2, 3, 4, 5, 6].map((n) => Math.min(maxMs, initialMs * factor ** n)));
    expect(gaps(times).at(-1)).toBe(maxMs);
  });

  it('a Retry-After shorter than the backoff does not make it read sooner', async () => {
    const run = await stop(aksStop({}, statuses({ status: 'InProgress', retryAfterMs: 1 * SECONDS })));
    expect(gaps(readTimes(run))).toEqual([POLL.aksPower.initialMs * POLL.aksPower.factor]);
  });

  it('an operation that ends Failed fails the step with Azure’s code', async () => {
    const run = await stop(
      aksStop({}, statuses({ status: 'Failed', error: { code: 'OperationNotAllowed', message: 'no' } })),
    );
    expect(run.runtimeStatus).toBe('Failed');
    expect(failure(run)).toMatchObject({ step: 'aksStop', code: 'OperationNotAllowed' });
    expect(run.callsOf('beginPostgresServerPower')).toEqual([]);
  });
});

describe('operations that send the flow back to the begin activity', () => {
  const BUSY = { code: 'ServerBusy', message: 'busy processing another operation', kind: 'busy' as const };

  /** PostgreSQL's stop: each write is accepted, its operation read through `outcomes` in turn. */
  function pgStop(outcomes: (() => Result<OperationStatus>)[]): Stubs {
    let write = 0;
    return {
      beginAksClusterPower: async () => ok(succeeded),
      beginPostgresServerPower: async () =>
        ok({ provisioningState: 'Accepted', mutated: true, operationUrl: `pg/stop/${++write}` }),
      getArmOperationStatus: async ({ operationUrl }) => {
        const n = Number(operationUrl.split('/').at(-1));
        return (outcomes[n - 1] ?? (() => ok<OperationStatus>({ status: 'Succeeded' })))();
      },
      getPowerStates: async () => ok({ aks: 'Stopped', postgres: 'Stopped' }),
    };
  }

  it('an operation that ends Failed as busy (ServerBusy) is waited out: the write is sent again, the step succeeds', async () => {
    const busy = () => ok<OperationStatus>({ status: 'Failed', error: BUSY });
    const run = await stop(pgStop([busy, busy]));
    expect(run.runtimeStatus).toBe('Completed');
    const begins = run.callsOf('beginPostgresServerPower').map((c) => c.at);
    expect(begins).toHaveLength(3);
    // Each new write waits the step's backoff after the busy outcome, never at once.
    for (const gap of gaps(begins)) expect(gap).toBeGreaterThanOrEqual(POLL.postgresPower.initialMs);
    expect(stepEnded(run, 'postgresStop')).toMatchObject({ state: 'succeeded' });
  });

  it('a busy outcome that never clears fails the step at its deadline with Azure’s code, not sooner and not much later', async () => {
    const run = await stop(
      pgStop(Array.from({ length: 1000 }, () => () => ok({ status: 'Failed', error: BUSY }))),
    );
    expect(run.runtimeStatus).toBe('Failed');
    expect(failure(run)).toMatchObject({ step: 'postgresStop', code: 'ServerBusy' });
    const started = run.callsOf('beginPostgresServerPower')[0]!.at;
    const failedAt = run.callsOf('recordProgress').find((c) => c.input.phase === 'Failed')!.at;
    expect(failedAt - started).toBeGreaterThanOrEqual(POLL.postgresPower.deadlineMs);
    expect(failedAt - started).toBeLessThan(
      POLL.postgresPower.deadlineMs + POLL.postgresPower.maxMs + MINUTES,
    );
  });

  it('an operation URL that answers 404 is not a failure: the resource is read again through the begin activity', async () => {
    const run = await stop(
      pgStop([
        () => refused('notFound', 'OperationNotFound'),
        () => ok<OperationStatus>({ status: 'Succeeded' }),
      ]),
    );
    expect(run.runtimeStatus).toBe('Completed');
    expect(run.callsOf('beginPostgresServerPower')).toHaveLength(2);
    expect(stepEnded(run, 'postgresStop')).toMatchObject({ state: 'succeeded' });
  });

  it('an operation that ends Failed for another reason still fails the step at once', async () => {
    const run = await stop(
      pgStop([
        () =>
          ok<OperationStatus>({ status: 'Failed', error: { code: 'InternalServerError', message: 'no' } }),
      ]),
    );
    expect(run.runtimeStatus).toBe('Failed');
    expect(run.callsOf('beginPostgresServerPower')).toHaveLength(1);
    expect(failure(run)).toMatchObject({ step: 'postgresStop', code: 'InternalServerError' });
  });
});

describe('refusals', () => {
  it('a busy refusal is waited out until the step’s deadline, each wait its Retry-After; then the step fails with Azure’s code', async () => {
    const run = await stop({
      ...aksStop({}, statuses()),
      beginAksClusterPower: async () => refused('busy', 'OperationNotAllowed', 20 * SECONDS),
    });
    expect(run.runtimeStatus).toBe('Failed');
    const begins = run.callsOf('beginAksClusterPower').map((c) => c.at);
    for (const gap of gaps(begins)) {
      expect(gap).toBeGreaterThanOrEqual(20 * SECONDS);
      expect(gap).toBeLessThanOrEqual(POLL.aksPower.maxMs);
    }
    // The deadline, not a count, ends the wait: the last call is within one wait of it.
    expect(begins.at(-1)).toBeGreaterThanOrEqual(POLL.aksPower.deadlineMs - POLL.aksPower.maxMs);
    const failedAt = run.callsOf('recordProgress').find((c) => c.input.phase === 'Failed')!.at;
    expect(failedAt).toBeGreaterThanOrEqual(POLL.aksPower.deadlineMs);
    expect(failedAt).toBeLessThanOrEqual(POLL.aksPower.deadlineMs + POLL.aksPower.maxMs);
    expect(failure(run)).toMatchObject({ step: 'aksStop', code: 'OperationNotAllowed' });
    expect(stepEnded(run, 'aksStop')).toMatchObject({
      state: 'failed',
      error: { code: 'OperationNotAllowed' },
    });
    expect(run.callsOf('beginPostgresServerPower')).toEqual([]);
  });

  it('a stop refused through a 30-minute AKS upgrade is waited out within the step’s deadline and the flow goes on', async () => {
    // AKS answers 409 OperationNotAllowed to every write while an upgrade runs, which can outlast 20 minutes.
    let calls = 0;
    const run = await stop({
      ...aksStop({}, statuses()),
      beginAksClusterPower: async () =>
        ++calls <= 20
          ? refused('busy', 'OperationNotAllowed', 60 * SECONDS)
          : ok({ provisioningState: 'Stopping', mutated: true, operationUrl: 'aks/stop' }),
    });
    expect(run.runtimeStatus).toBe('Completed');
    const begins = run.callsOf('beginAksClusterPower').map((c) => c.at);
    expect(begins).toHaveLength(21);
    expect(begins.at(-1)).toBeGreaterThan(30 * MINUTES);
    expect(begins.at(-1)).toBeLessThan(POLL.aksPower.deadlineMs);
    expect(run.callsOf('beginPostgresServerPower')).toHaveLength(1);
  });

  it('a Retry-After longer than the step has left: the last call falls on the deadline, not after it', async () => {
    const run = await stop({
      ...aksStop({}, statuses()),
      beginAksClusterPower: async () => refused('busy', 'OperationNotAllowed', 10 * 60 * MINUTES),
    });
    expect(run.runtimeStatus).toBe('Failed');
    expect(run.callsOf('beginAksClusterPower').map((c) => c.at)).toEqual([0, POLL.aksPower.deadlineMs]);
    expect(failure(run)).toMatchObject({ step: 'aksStop', code: 'OperationNotAllowed' });
  });

  it('a throttled refusal that clears is retried and the flow goes on', async () => {
    let calls = 0;
    const run = await stop({
      ...aksStop({}, statuses()),
      beginAksClusterPower: async () =>
        ++calls < 3 ? refused('throttled', 'TooManyRequests', 5 * SECONDS) : ok(succeeded),
    });
    expect(run.runtimeStatus).toBe('Completed');
    expect(run.callsOf('beginAksClusterPower')).toHaveLength(3);
    expect(run.callsOf('beginPostgresServerPower')).toHaveLength(1);
  });

  it("throttled calls never fail the step: Azure's whole Retry-After is waited, past the deadline, and that time does not count", async () => {
    let calls = 0;
    const throttledFor = 7;
    const run = await stop({
      ...aksStop({}, statuses({ status: 'InProgress' })),
      // Ten minutes a refusal, seventy in all: longer than aksStop's 60-minute deadline.
      beginAksClusterPower: async () =>
        ++calls <= throttledFor
          ? refused('throttled', 'TooManyRequests', 10 * MINUTES)
          : ok({ provisioningState: 'Stopping', mutated: true, operationUrl: 'aks/stop' }),
    });
    expect(10 * MINUTES * throttledFor).toBeGreaterThan(POLL.aksPower.deadlineMs);
    expect(run.runtimeStatus).toBe('Completed');
    expect(run.callsOf('beginAksClusterPower').map((c) => c.at)).toEqual(
      Array.from({ length: throttledFor + 1 }, (_, i) => i * 10 * MINUTES),
    );
    expect(run.callsOf('beginPostgresServerPower')).toHaveLength(1);
  });

  it('a non-retryable refusal fails the step at the first answer', async () => {
    const run = await stop({
      ...aksStop({}, statuses()),
      beginAksClusterPower: async () => refused('conflict', 'ResourceNotOwned'),
    });
    expect(run.runtimeStatus).toBe('Failed');
    expect(run.callsOf('beginAksClusterPower')).toHaveLength(1);
    expect(failure(run)).toMatchObject({ step: 'aksStop', code: 'ResourceNotOwned' });
  });
});

describe('deadlines', () => {
  it('a step still waiting past its deadline fails as StepDeadlineExceeded naming the step’s title', async () => {
    const run = await stop(aksStop({}, async () => ok<OperationStatus>({ status: 'InProgress' })));
    expect(run.runtimeStatus).toBe('Failed');
    const error = failure(run)!;
    expect(error).toMatchObject({ step: 'aksStop', code: 'StepDeadlineExceeded' });
    expect(error.message).toContain(STEPS.aksStop.title);
    const failedAt = run.callsOf('recordProgress').find((c) => c.input.phase === 'Failed')!.at;
    expect(failedAt).toBeGreaterThanOrEqual(POLL.aksPower.deadlineMs);
    expect(failedAt).toBeLessThan(POLL.aksPower.deadlineMs + POLL.aksPower.maxMs + MINUTES);
  });
});

describe('the harness', () => {
  it('fails a run that calls an activity no stub stands in for, naming it', async () => {
    await expect(stop({})).rejects.toThrow(/without a stub: beginAksClusterPower/);
  });
});
