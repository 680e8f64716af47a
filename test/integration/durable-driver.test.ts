/**
 * The sandbox durable driver runs orchestrations through durable-functions' own replay engine (the handler
 * `df.app.orchestration` registers) and produces the history the Durable extension would. The functions
 * below are registered through the real `df.app.*` / `app.http` APIs against the host emulation.
 */
import { app } from '@azure/functions';
import * as df from 'durable-functions';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { VirtualClock } from '../../sandbox/clock.js';
import { DurableDriver, type DriverEvent } from '../../sandbox/durable/driver.js';
import {
  ActionType,
  HistoryEventType as H,
  OrchestrationStatus,
  type HistoryEvent,
} from '../../sandbox/durable/history.js';
import { DurableRpcServer, InstanceStore } from '../../sandbox/durable/rpc.js';
import { FunctionsHost, getRegistrations, installFunctionsCore } from '../../sandbox/host.js';
import { ScaledClock } from '../../sandbox/clock.js';
import { startTestApp } from '../support/harness.js';

installFunctionsCore();

const MIN = 60_000;
const DAY = 24 * 60 * MIN;

// ------------------------------------------------------------------ test activities

const echoed: unknown[] = [];
const counts = new Map<string, number>();
const bump = (key: string) => counts.set(key, (counts.get(key) ?? 0) + 1).get(key)!;
const gates = new Map<string, ((value: unknown) => void)[]>();
const release = (key: string, value: unknown) => {
  for (const resolve of gates.get(key)?.splice(0) ?? []) resolve(value);
};

df.app.activity('test_echo', {
  handler: (input: Record<string, unknown>) => {
    echoed.push(input);
    return { ...input, echoed: true };
  },
});
df.app.activity('test_count', { handler: (key: string) => (bump(key), key.split(':').pop()) });
df.app.activity('test_flaky', {
  handler: (key: string) => {
    if (bump(key) <= 2) throw new Error(`flaky failure ${counts.get(key)}`);
    return `ok after ${counts.get(key)}`;
  },
});
df.app.activity('test_alwaysFails', {
  handler: (key: string) => {
    bump(key);
    throw new Error('nope');
  },
});
df.app.activity('test_slow', {
  handler: (key: string) =>
    new Promise((resolve) => {
      bump(key);
      gates.set(key, [...(gates.get(key) ?? []), resolve]);
    }),
});

/** A blocking call that takes simulated time (as the simulated Ollama's model load does). */
let activityClock: VirtualClock | undefined;
df.app.activity('test_takesTime', {
  handler: async (ms: number) => {
    await activityClock!.wait(activityClock!.now() + ms);
    return activityClock!.now();
  },
});

// ------------------------------------------------------------------ test orchestrations

const isoNow = (context: df.OrchestrationContext) => context.df.currentUtcDateTime.toISOString();
const after = (context: df.OrchestrationContext, ms: number) =>
  new Date(context.df.currentUtcDateTime.getTime() + ms);

df.app.orchestration('test_sequence', function* (context) {
  const t0 = isoNow(context);
  const a = yield context.df.callActivity('test_echo', { step: 1, at: t0 });
  yield context.df.createTimer(after(context, 10 * MIN));
  const t1 = isoNow(context);
  context.df.setCustomStatus({ afterTimer: t1 });
  const b = yield context.df.callActivity('test_echo', { step: 2, at: t1 });
  return { steps: [a.step, b.step], t0, t1 };
});

df.app.orchestration('test_fanout', function* (context) {
  const run = context.df.getInput<{ gate: string }>().gate;
  const all = yield context.df.Task.all([1, 2, 3].map((n) => context.df.callActivity('test_echo', { n })));
  const fast = context.df.callActivity('test_echo', { n: 4 });
  const timeout = context.df.createTimer(after(context, 5 * MIN));
  const first = yield context.df.Task.any([fast, timeout]);
  if (first === fast) timeout.cancel();
  const slow = context.df.callActivity('test_slow', run);
  const timeout2 = context.df.createTimer(after(context, 5 * MIN));
  const second = yield context.df.Task.any([slow, timeout2]);
  return {
    all: all.map((r: { n: number }) => r.n),
    first: first === fast ? 'activity' : 'timer',
    second: second === slow ? 'activity' : 'timer',
    at: isoNow(context),
  };
});

df.app.orchestration('test_retry', function* (context) {
  const { key, always } = context.df.getInput<{ key: string; always: boolean }>();
  if (!always) return yield context.df.callActivityWithRetry('test_flaky', new df.RetryOptions(500, 5), key);
  const options = new df.RetryOptions(1000, 3);
  options.backoffCoefficient = 2;
  options.maxRetryIntervalInMilliseconds = 3000;
  try {
    yield context.df.callActivityWithRetry('test_alwaysFails', options, key);
    return 'unexpected success';
  } catch (e) {
    return { caught: (e as Error).message, at: isoNow(context) };
  }
});

df.app.orchestration('test_child', function* (context) {
  const input = context.df.getInput<{ x: number }>();
  const v = yield context.df.callActivity('test_echo', input);
  return v.x * 10;
});

df.app.orchestration('test_parent', function* (context) {
  const first = yield context.df.callSubOrchestrator('test_child', { x: 2 });
  const second = yield context.df.callSubOrchestrator(
    'test_child',
    { x: 5 },
    `${context.df.instanceId}-child`,
  );
  let failure = '';
  try {
    yield context.df.callSubOrchestrator('test_failing', {});
  } catch (e) {
    failure = (e as Error).message;
  }
  return { results: [first, second], failure, parentSeenByChild: null };
});

df.app.orchestration('test_loop', function* (context) {
  const { i, total } = context.df.getInput<{ i: number; total: number }>();
  const v = yield context.df.callActivity('test_echo', { i });
  if (i < 4) {
    context.df.continueAsNew({ i: i + 1, total: total + v.i });
    return undefined;
  }
  return total + v.i;
});

df.app.orchestration('test_approval', function* (context) {
  context.df.setCustomStatus('waiting');
  const timeout = context.df.createTimer(after(context, DAY));
  const approval = context.df.waitForExternalEvent('approve');
  const winner = yield context.df.Task.any([approval, timeout]);
  if (winner !== approval) return 'timed out';
  timeout.cancel();
  return { approvedBy: (approval.result as { by: string }).by, at: isoNow(context) };
});

df.app.orchestration('test_failing', function* (context) {
  yield context.df.callActivity('test_echo', { step: 'before failure' });
  throw new Error('boom in orchestrator');
});

df.app.orchestration('test_timed', function* (context) {
  const answeredAt = (yield context.df.callActivity('test_takesTime', 45 * MIN)) as number;
  return { answeredAt, resumedAt: context.df.currentUtcDateTime.getTime() };
});

df.app.orchestration('test_blocked', function* (context) {
  yield context.df.createTimer(after(context, 30 * MIN));
  return yield context.df.callActivity('test_slow', context.df.getInput<string>());
});

df.app.orchestration('test_unknown', function* (context) {
  const messages: string[] = [];
  try {
    yield context.df.callActivity('test_doesNotExist', 1);
  } catch (e) {
    messages.push((e as Error).message);
  }
  try {
    yield context.df.callSubOrchestrator('test_noSuchOrchestrator', 1);
  } catch (e) {
    messages.push((e as Error).message);
  }
  return messages;
});

df.app.orchestration('test_crashy', function* (context) {
  const run = context.df.getInput<string>();
  const a = yield context.df.callActivity('test_count', `${run}:a`);
  const bc = yield context.df.Task.all([
    context.df.callActivity('test_count', `${run}:b`),
    context.df.callActivity('test_count', `${run}:c`),
  ]);
  yield context.df.createTimer(after(context, MIN));
  const child = yield context.df.callSubOrchestrator('test_child', { x: 7 });
  const d = yield context.df.callActivity('test_count', `${run}:d`);
  return [a, ...bc, child, d];
});

df.app.orchestration('test_inflight', function* (context) {
  const run = context.df.getInput<string>();
  const x = yield context.df.callActivity('test_count', `${run}:x`);
  const yz = yield context.df.Task.all([
    context.df.callActivity('test_slow', `${run}:y`),
    context.df.callActivity('test_count', `${run}:z`),
  ]);
  return [x, ...yz];
});

df.app.orchestration('test_long_timer', function* (context) {
  yield context.df.createTimer(after(context, 7 * DAY));
  return isoNow(context);
});

let variant: 'a' | 'b' = 'a';
df.app.orchestration('test_variant', function* (context) {
  yield context.df.callActivity(
    variant === 'a' ? 'test_echo' : 'test_count',
    variant === 'a' ? { v: 1 } : 'v',
  );
  yield context.df.createTimer(after(context, MIN));
  return variant;
});

// An HTTP function with a durable client input: the real DurableClient talks HTTP to the sandbox's extension API.
app.http('test_client', {
  route: 'test/{action}/{id}',
  methods: ['GET', 'POST'],
  authLevel: 'anonymous',
  extraInputs: [df.input.durableClient()],
  handler: async (request, context) => {
    const client = df.getClient(context);
    const id = request.params.id!;
    const body = request.method === 'POST' ? ((await request.json()) as Record<string, unknown>) : {};
    switch (request.params.action) {
      case 'start':
        await client.startNew(String(body.name), { instanceId: id, input: body.input });
        return { status: 202 };
      case 'raise':
        await client.raiseEvent(id, String(body.event), body.data);
        return { status: 202 };
      case 'terminate':
        await client.terminate(id, String(body.reason));
        return { status: 202 };
      default:
        return { jsonBody: await client.getStatus(id) };
    }
  },
});

// ------------------------------------------------------------------ fixture

interface Fixture {
  clock: VirtualClock;
  store: InstanceStore;
  driver: DurableDriver;
  events: DriverEvent[];
  start: number;
  status(id: string): string | undefined;
  output(id: string): unknown;
  types(id: string): number[];
}

const fixtures: Fixture[] = [];
afterEach(() => {
  for (const f of fixtures.splice(0)) {
    f.driver.detach();
    // The driver's mirror of the extension must never disagree with durable-functions' own task ids.
    expect(f.events.filter((e) => e.type === 'protocol-drift' || e.type === 'error')).toEqual([]);
  }
});

function setup(
  options: { unknownOrchestrator?: 'fail' | 'pending'; autoRun?: boolean; stallMs?: number } = {},
): Fixture {
  const clock = new VirtualClock();
  const store = new InstanceStore(() => new Date(clock.now()));
  const events: DriverEvent[] = [];
  const driver = new DurableDriver({
    store,
    clock,
    registrations: getRegistrations(),
    onEvent: (e) => events.push(e),
    ...options,
  });
  driver.attach();
  const fixture: Fixture = {
    clock,
    store,
    driver,
    events,
    start: clock.now(),
    status: (id) => store.instances.get(id)?.runtimeStatus,
    output: (id) => store.instances.get(id)?.output,
    types: (id) => driver.history(id).map((e) => e.EventType),
  };
  fixtures.push(fixture);
  return fixture;
}

const iso = (ms: number) => new Date(ms).toISOString();
const ofType = (history: HistoryEvent[], type: number) => history.filter((e) => e.EventType === type);
/** Episodes as lists of event types, split at OrchestratorStarted. */
const episodes = (types: number[]) =>
  types.reduce<number[][]>(
    (acc, t) => (t === H.OrchestratorStarted ? [...acc, [t]] : (acc.at(-1)!.push(t), acc)),
    [],
  );

// ------------------------------------------------------------------ tests

describe('DurableDriver', () => {
  it('runs two activities around a 10-minute durable timer that fires at the right simulated time', async () => {
    const f = setup();
    f.driver.startNew('test_sequence', null, 'seq');
    await f.driver.runUntilIdle();
    expect(f.status('seq')).toBe('Running');
    expect(f.clock.now()).toBe(f.start);
    expect(f.clock.nextTimerAt()).toBe(f.start + 10 * MIN);
    expect(ofType(f.driver.history('seq'), H.TimerCreated)).toEqual([
      expect.objectContaining({ EventId: 1, FireAt: iso(f.start + 10 * MIN) }),
    ]);

    expect(await f.driver.runUntil(() => f.status('seq') === 'Completed')).toBe(true);
    expect(f.clock.now()).toBe(f.start + 10 * MIN);
    expect(f.output('seq')).toEqual({ steps: [1, 2], t0: iso(f.start), t1: iso(f.start + 10 * MIN) });
    expect(f.store.instances.get('seq')!.customStatus).toEqual({ afterTimer: iso(f.start + 10 * MIN) });
    expect(echoed).toEqual(
      expect.arrayContaining([
        { step: 1, at: iso(f.start) },
        { step: 2, at: iso(f.start + 10 * MIN) },
      ]),
    );
    expect(episodes(f.types('seq'))).toEqual([
      [H.OrchestratorStarted, H.ExecutionStarted, H.TaskScheduled, H.OrchestratorCompleted],
      [H.OrchestratorStarted, H.TaskCompleted, H.TimerCreated, H.OrchestratorCompleted],
      [H.OrchestratorStarted, H.TimerFired, H.TaskScheduled, H.OrchestratorCompleted],
      [H.OrchestratorStarted, H.TaskCompleted, H.ExecutionCompleted, H.OrchestratorCompleted],
    ]);
    const history = f.driver.history('seq');
    expect(ofType(history, H.TaskCompleted)[0]).toMatchObject({
      TaskScheduledId: 0,
      Result: expect.any(String),
    });
    expect(ofType(history, H.TimerFired)[0]).toMatchObject({
      TimerId: 1,
      Timestamp: iso(f.start + 10 * MIN),
    });
    expect(ofType(history, H.ExecutionCompleted)[0]!.OrchestrationStatus).toBe(OrchestrationStatus.Completed);
    // Each episode replays the history so far plus its new events: 2, 4 + 2, 8 + 2, 12 + 2.
    const cost = f.driver.costs.get('test_sequence')!;
    expect(cost).toMatchObject({ episodes: 4, historyEvents: 2 + 6 + 10 + 14 });
    expect(cost.handlerMs).toBeGreaterThan(0);
    expect(cost.driverMs).toBeGreaterThan(0);
  });

  it('Task.all of three activities, then Task.any picks the activity, then the timer', async () => {
    const f = setup();
    f.driver.startNew('test_fanout', { gate: 'fanout-gate' }, 'fan');
    expect(await f.driver.runUntil(() => f.status('fan') === 'Completed')).toBe(true);
    expect(f.output('fan')).toEqual({
      all: [1, 2, 3],
      first: 'activity',
      second: 'timer',
      at: iso(f.start + 5 * MIN),
    });
    const history = f.driver.history('fan');
    // Children of Task.all take ids in array order; the results come back by TaskScheduledId.
    expect(
      ofType(history, H.TaskScheduled)
        .slice(0, 3)
        .map((e) => [e.EventId, JSON.parse(e.Input!)[0].n]),
    ).toEqual([
      [0, 1],
      [1, 2],
      [2, 3],
    ]);
    // The cancelled timer (id 4) still exists and fires; the slow activity (5) never answered.
    expect(ofType(history, H.TimerCreated).map((e) => e.EventId)).toEqual([4, 6]);
    expect(
      ofType(history, H.TimerFired)
        .map((e) => e.TimerId)
        .sort(),
    ).toEqual([4, 6]);
    expect(ofType(history, H.TaskCompleted).map((e) => e.TaskScheduledId)).not.toContain(5);

    release('fanout-gate', 'too late');
    await f.driver.runUntilIdle();
    expect(f.events).toContainEqual(
      expect.objectContaining({ type: 'activity-discarded', instanceId: 'fan', taskId: 5 }),
    );
    expect(f.status('fan')).toBe('Completed');
  });

  it('callActivityWithRetry: two failures then success complete the task', async () => {
    const f = setup();
    f.driver.startNew('test_retry', { key: 'flaky-1', always: false }, 'retry-ok');
    expect(await f.driver.runUntil(() => f.status('retry-ok') === 'Completed')).toBe(true);
    expect(f.output('retry-ok')).toBe('ok after 3');
    expect(counts.get('flaky-1')).toBe(3);
    const history = f.driver.history('retry-ok');
    // attempt 0, timer 1, attempt 2, timer 3, attempt 4: a retry timer takes the next id, the new attempt the one after.
    expect(ofType(history, H.TaskScheduled).map((e) => e.EventId)).toEqual([0, 2, 4]);
    expect(ofType(history, H.TaskFailed).map((e) => e.TaskScheduledId)).toEqual([0, 2]);
    expect(ofType(history, H.TimerCreated).map((e) => e.EventId)).toEqual([1, 3]);
    expect(ofType(history, H.TaskFailed)[0]!.Reason).toBe(
      "Activity function 'test_flaky' failed: flaky failure 1",
    );
    expect(f.clock.now()).toBe(f.start + 1000);
  });

  it('callActivityWithRetry: an always-failing activity surfaces its error after maxNumberOfAttempts, with the retry timers at the configured intervals', async () => {
    const f = setup();
    f.driver.startNew('test_retry', { key: 'always-1', always: true }, 'retry-fail');
    expect(await f.driver.runUntil(() => f.status('retry-fail') === 'Completed')).toBe(true);
    expect(counts.get('always-1')).toBe(3);
    const history = f.driver.history('retry-fail');
    // Delay from the episode that saw the failure: 1000 × 2^n, capped at 3000 ms. A timer follows the last attempt too.
    const delays = history.flatMap((e, i) => {
      if (e.EventType !== H.TimerCreated) return [];
      const started = history.slice(0, i).findLast((p) => p.EventType === H.OrchestratorStarted)!;
      return [Date.parse(e.FireAt!) - Date.parse(started.Timestamp)];
    });
    expect(delays).toEqual([1000, 2000, 3000]);
    expect(ofType(history, H.TimerFired)).toHaveLength(3);
    expect(f.output('retry-fail')).toEqual({
      caught: expect.stringContaining("Activity function 'test_alwaysFails' failed: nope"),
      at: iso(f.start + 6000),
    });
  });

  it('returns a sub-orchestration result to the parent, and a failing child as a catchable error', async () => {
    const f = setup();
    f.driver.startNew('test_parent', null, 'parent');
    expect(await f.driver.runUntil(() => f.status('parent') === 'Completed')).toBe(true);
    expect(f.output('parent')).toMatchObject({
      results: [20, 50],
      failure: expect.stringContaining("Orchestrator function 'test_failing' failed: boom in orchestrator"),
    });
    const history = f.driver.history('parent');
    const created = ofType(history, H.SubOrchestrationInstanceCreated);
    expect(created.map((e) => e.InstanceId)).toEqual([
      expect.stringMatching(/^[0-9a-f]{32}:0$/),
      'parent-child',
      expect.any(String),
    ]);
    expect(
      ofType(history, H.SubOrchestrationInstanceCompleted).map((e) => [e.TaskScheduledId, e.Result]),
    ).toEqual([
      [0, '20'],
      [1, '50'],
    ]);
    expect(ofType(history, H.SubOrchestrationInstanceFailed)).toHaveLength(1);
    // Each child has its own instance and history, linked to the parent.
    expect(f.status(created[0]!.InstanceId!)).toBe('Completed');
    expect(f.status('parent-child')).toBe('Completed');
    expect(f.driver.history('parent-child')[1]).toMatchObject({
      EventType: H.ExecutionStarted,
      ParentInstance: { OrchestrationInstance: { InstanceId: 'parent' }, TaskScheduleId: 1 },
    });
  });

  it('continueAsNew restarts with the new input, passes through ContinuedAsNew, and keeps the history bounded', async () => {
    const f = setup();
    f.driver.startNew('test_loop', { i: 0, total: 0 }, 'loop');
    expect(await f.driver.runUntil(() => f.status('loop') === 'Completed')).toBe(true);
    expect(f.output('loop')).toBe(10);
    expect(f.store.instances.get('loop')!.input).toEqual({ i: 4, total: 6 });
    const statuses = f.events
      .filter((e) => e.type === 'status' && e.instanceId === 'loop')
      .map((e) => (e as { runtimeStatus: string }).runtimeStatus);
    expect(statuses).toEqual([
      'Running',
      ...Array.from({ length: 4 }, () => ['ContinuedAsNew', 'Running']).flat(),
      'Completed',
    ]);
    // Only the last execution's history is kept.
    expect(f.types('loop')).toEqual([
      H.OrchestratorStarted,
      H.ExecutionStarted,
      H.TaskScheduled,
      H.OrchestratorCompleted,
      H.OrchestratorStarted,
      H.TaskCompleted,
      H.ExecutionCompleted,
      H.OrchestratorCompleted,
    ]);
    expect(JSON.parse(f.driver.history('loop')[1]!.Input!)).toEqual({ i: 4, total: 6 });
  });

  it('waitForExternalEvent completes when the event is raised through the real DurableClient over HTTP', async () => {
    const f = setup();
    const rpc = new DurableRpcServer(f.store);
    await rpc.listen();
    try {
      const host = new FunctionsHost({ functionKey: 'k', durableClientData: () => rpc.clientData() });
      const call = async (method: string, path: string, body?: unknown) => {
        const res = await host.http({
          method,
          url: `http://127.0.0.1:7071${path}`,
          headers: body === undefined ? {} : { 'content-type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        return { status: res.status, json: res.body ? JSON.parse(res.body) : undefined };
      };
      expect(
        (await call('POST', '/test/start/approval-1', { name: 'test_approval', input: { doc: 7 } })).status,
      ).toBe(202);
      await f.driver.runUntilIdle();
      expect((await call('GET', '/test/status/approval-1')).json).toMatchObject({
        runtimeStatus: 'Running',
        customStatus: 'waiting',
        input: { doc: 7 },
      });

      expect(
        (await call('POST', '/test/raise/approval-1', { event: 'approve', data: { by: 'ana' } })).status,
      ).toBe(202);
      await f.driver.runUntilIdle();
      expect((await call('GET', '/test/status/approval-1')).json).toMatchObject({
        runtimeStatus: 'Completed',
        output: { approvedBy: 'ana', at: iso(f.start) },
      });
      expect(ofType(f.driver.history('approval-1'), H.EventRaised)).toEqual([
        expect.objectContaining({ Name: 'approve', Input: JSON.stringify({ by: 'ana' }) }),
      ]);
      expect(f.store.instances.get('approval-1')!.pendingEvents).toEqual([]);

      // Terminate over the same path stops a waiting instance: no more episodes, its timer is cancelled.
      await call('POST', '/test/start/approval-2', { name: 'test_approval' });
      await f.driver.runUntilIdle();
      expect(f.clock.nextTimerAt()).toBe(f.start + DAY);
      expect((await call('POST', '/test/terminate/approval-2', { reason: 'not needed' })).status).toBe(202);
      expect((await call('GET', '/test/status/approval-2')).json).toMatchObject({
        runtimeStatus: 'Terminated',
        output: 'not needed',
      });
      await call('POST', '/test/raise/approval-2', { event: 'approve', data: { by: 'late' } });
      expect(await f.driver.runUntil(() => false, { maxSimulatedMs: 2 * DAY })).toBe(false);
      expect(f.status('approval-2')).toBe('Terminated');
      expect(f.types('approval-2').slice(-4)).toEqual([
        H.OrchestratorStarted,
        H.ExecutionTerminated,
        H.ExecutionCompleted,
        H.OrchestratorCompleted,
      ]);
    } finally {
      await rpc.close();
    }
  });

  it('a failing orchestrator ends Failed with the error in its output', async () => {
    const f = setup();
    f.driver.startNew('test_failing', null, 'failing');
    await f.driver.runUntilIdle();
    expect(f.status('failing')).toBe('Failed');
    expect(f.output('failing')).toBe("Orchestrator function 'test_failing' failed: boom in orchestrator");
    expect(episodes(f.types('failing')).at(-1)).toEqual([
      H.OrchestratorStarted,
      H.TaskCompleted,
      H.ExecutionCompleted,
      H.OrchestratorCompleted,
    ]);
    expect(ofType(f.driver.history('failing'), H.ExecutionCompleted)[0]!.OrchestrationStatus).toBe(
      OrchestrationStatus.Failed,
    );
  });

  it('moves the virtual clock at once when every running activity waits for simulated time', async () => {
    // With a stall of an hour of real time, only the clock's count of waits can let the run finish.
    const f = setup({ stallMs: 3_600_000 });
    activityClock = f.clock;
    f.driver.startNew('test_timed', null, 'timed');
    expect(await f.driver.runUntil(() => f.status('timed') === 'Completed')).toBe(true);
    expect(f.output('timed')).toEqual({ answeredAt: f.start + 45 * MIN, resumedAt: f.start + 45 * MIN });
    expect(f.clock.sleeping).toBe(0);
  });

  it('runUntil waits for an activity slower than stallMs when no timer is left, instead of giving up', async () => {
    // A loaded machine: the activity answers after 200 real ms, ten times the stall; nothing else can move.
    const f = setup({ stallMs: 20 });
    f.driver.startNew('test_blocked', 'late-gate', 'late');
    setTimeout(() => release('late-gate', 'answered'), 200);
    expect(await f.driver.runUntil(() => f.status('late') === 'Completed')).toBe(true);
    expect(f.output('late')).toBe('answered');
  });

  it('terminate stops an instance and ignores the late result of its running activity', async () => {
    const f = setup();
    f.driver.startNew('test_blocked', 'blocked-gate', 'blocked');
    await f.driver.runUntil(() => counts.get('blocked-gate') === 1);
    expect(f.status('blocked')).toBe('Running');
    expect(f.store.terminate('blocked', 'operator said so')).toBe('ok');
    release('blocked-gate', 'late');
    await f.driver.runUntilIdle();
    expect(f.status('blocked')).toBe('Terminated');
    expect(f.output('blocked')).toBe('operator said so');
    expect(ofType(f.driver.history('blocked'), H.TaskCompleted)).toEqual([]);
    expect(f.events).toContainEqual(
      expect.objectContaining({ type: 'activity-discarded', instanceId: 'blocked' }),
    );
  });

  it('an unknown activity or sub-orchestrator fails that task with the extension’s message; an unknown orchestrator fails the instance', async () => {
    const f = setup();
    f.driver.startNew('test_unknown', null, 'unknown');
    expect(await f.driver.runUntil(() => f.status('unknown') === 'Completed')).toBe(true);
    expect(f.output('unknown')).toEqual([
      expect.stringMatching(
        /^Activity function 'test_doesNotExist' failed: The function 'test_doesNotExist' doesn't exist, is disabled, or is not an activity function\. Additional info: The following are the known activity functions: .*'test_echo'/,
      ),
      expect.stringContaining(
        "The function 'test_noSuchOrchestrator' doesn't exist, is disabled, or is not an orchestrator function.",
      ),
    ]);
    f.driver.startNew('test_neverRegistered', null, 'ghost');
    await f.driver.runUntilIdle();
    expect(f.status('ghost')).toBe('Failed');
    expect(f.output('ghost')).toMatch(
      /^Orchestrator function 'test_neverRegistered' failed: The function 'test_neverRegistered' doesn't exist/,
    );

    const lenient = setup({ unknownOrchestrator: 'pending' });
    lenient.driver.startNew('test_neverRegistered', null, 'ghost');
    await lenient.driver.runUntilIdle();
    expect(lenient.status('ghost')).toBe('Pending');
  });

  it('with autoRun off, a started instance waits until the runtime is stepped; with it on, it runs by itself', async () => {
    const manual = setup({ autoRun: false });
    manual.driver.startNew('test_sequence', null, 'stepped');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(manual.status('stepped')).toBe('Pending');
    expect(manual.driver.history('stepped')).toEqual([]);
    await manual.driver.runUntilIdle();
    expect(manual.status('stepped')).toBe('Running');
    expect(await manual.driver.runUntil(() => manual.status('stepped') === 'Completed')).toBe(true);

    const auto = setup();
    auto.driver.startNew('test_sequence', null, 'by-itself');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(auto.types('by-itself')).toContain(H.TimerCreated);
    expect(auto.status('by-itself')).toBe('Running');
  });

  it('startSandboxApp attaches a driver: stepped under its VirtualClock, on its own under a ScaledClock', async () => {
    const virtual = await startTestApp();
    try {
      const started = await virtual.call('POST', '/test/start/wired-1', {
        body: { name: 'test_sequence' },
        key: null,
      });
      expect(started.status).toBe(202);
      expect(virtual.instances.instances.get('wired-1')!.runtimeStatus).toBe('Pending');
      const done = () => virtual.instances.instances.get('wired-1')!.runtimeStatus === 'Completed';
      expect(await virtual.driver.runUntil(done)).toBe(true);
      expect(virtual.instances.instances.get('wired-1')).toMatchObject({
        output: { steps: [1, 2] },
        lastUpdatedTime: iso(virtual.clock.now()),
      });
    } finally {
      await virtual.close();
    }
    const scaled = await startTestApp({ clock: new ScaledClock(6000) }); // 10 simulated minutes in 0.1 s
    try {
      await scaled.call('POST', '/test/start/wired-2', { body: { name: 'test_sequence' }, key: null });
      await vi.waitFor(
        () => expect(scaled.instances.instances.get('wired-2')!.runtimeStatus).toBe('Completed'),
        {
          timeout: 5000,
        },
      );
    } finally {
      await scaled.close();
    }
  });

  it('splits a 7-day timer into sub-timers as the extension does, and durable-functions resumes only at the end', async () => {
    const f = setup();
    f.driver.startNew('test_long_timer', null, 'long');
    expect(await f.driver.runUntil(() => f.status('long') === 'Completed')).toBe(true);
    expect(f.output('long')).toBe(iso(f.start + 7 * DAY));
    expect(ofType(f.driver.history('long'), H.TimerCreated).map((e) => e.FireAt)).toEqual([
      iso(f.start + 3 * DAY),
      iso(f.start + 6 * DAY),
      iso(f.start + 7 * DAY),
    ]);
  });

  it('crash-and-replay: crashing after every episode gives the same output and history shape, activities at least once', async () => {
    const plain = setup();
    plain.driver.startNew('test_crashy', 'plain', 'crashy');
    expect(await plain.driver.runUntil(() => plain.status('crashy') === 'Completed')).toBe(true);

    const crashing = setup();
    crashing.driver.crashAfterEveryEpisode = true;
    crashing.driver.startNew('test_crashy', 'crashing', 'crashy');
    expect(await crashing.driver.runUntil(() => crashing.status('crashy') === 'Completed')).toBe(true);

    expect(crashing.output('crashy')).toEqual(plain.output('crashy'));
    expect(plain.output('crashy')).toEqual(['a', 'b', 'c', 70, 'd']);
    expect(crashing.types('crashy')).toEqual(plain.types('crashy'));
    expect(crashing.events.filter((e) => e.type === 'crash').length).toBeGreaterThan(5);
    for (const key of ['a', 'b', 'c', 'd']) {
      expect(counts.get(`plain:${key}`)).toBe(1);
      expect(counts.get(`crashing:${key}`)).toBeGreaterThanOrEqual(1);
    }
    // Once an activity's completion is recorded it never runs again, crash or not.
    const recorded = new Set<string>();
    for (const e of crashing.events) {
      if (e.type === 'activity-recorded') recorded.add(`${e.instanceId}/${e.taskId}`);
      if (e.type === 'activity-started') expect(recorded.has(`${e.instanceId}/${e.taskId}`)).toBe(false);
    }
  });

  it('crash-and-replay: an in-flight activity runs again and its stale result is ignored; recorded ones run exactly once', async () => {
    const f = setup();
    f.driver.startNew('test_inflight', 'inflight', 'inflight');
    await f.driver.runUntil(() => counts.get('inflight:y') === 1 && counts.get('inflight:z') === 1);
    await f.driver.runUntilIdle();
    // x completed and was recorded; z completed and was recorded; y is running.
    expect(
      ofType(f.driver.history('inflight'), H.TaskCompleted)
        .map((e) => e.TaskScheduledId)
        .sort(),
    ).toEqual([0, 2]);
    f.driver.crash('inflight');
    await f.driver.runUntilIdle();
    expect(counts.get('inflight:y')).toBe(2);
    release('inflight:y', 'Y');
    expect(await f.driver.runUntil(() => f.status('inflight') === 'Completed')).toBe(true);
    expect(f.output('inflight')).toEqual(['x', 'Y', 'z']);
    expect(counts.get('inflight:x')).toBe(1);
    expect(counts.get('inflight:z')).toBe(1);
    expect(
      ofType(f.driver.history('inflight'), H.TaskCompleted)
        .map((e) => e.TaskScheduledId)
        .sort(),
    ).toEqual([0, 1, 2]);
    expect(f.events.filter((e) => e.type === 'activity-discarded')).toEqual([
      expect.objectContaining({ instanceId: 'inflight', taskId: 1, name: 'test_slow' }),
    ]);
  });

  it('determinism guard: replaying a completed instance gives the same actions and isDone; a changed orchestrator does not', async () => {
    const f = setup();
    variant = 'a';
    f.driver.startNew('test_variant', null, 'variant-1');
    expect(await f.driver.runUntil(() => f.status('variant-1') === 'Completed')).toBe(true);
    const recorded = f.driver.lastState('variant-1')!;
    const replayed = await f.driver.replay('variant-1');
    expect(replayed.isDone).toBe(true);
    expect(replayed.actions).toEqual(recorded.actions);
    expect(replayed.output).toBe('a');
    expect(replayed.actions[0]!.map((a) => a.actionType)).toEqual([
      ActionType.CallActivity,
      ActionType.CreateTimer,
    ]);

    variant = 'b';
    expect((await f.driver.replay('variant-1')).actions[0]![0]).toMatchObject({ functionName: 'test_count' });

    // A running instance whose code changes under it fails, as DurableTask.Core does on replay.
    variant = 'a';
    f.driver.startNew('test_variant', null, 'variant-2');
    await f.driver.runUntilIdle();
    variant = 'b';
    await f.driver.runUntil(() => f.status('variant-2') !== 'Running');
    expect(f.status('variant-2')).toBe('Failed');
    expect(f.output('variant-2')).toMatch(
      /^Non-Deterministic workflow detected: TaskScheduledEvent: 0 test_echo/,
    );
    variant = 'a';
  });
});
