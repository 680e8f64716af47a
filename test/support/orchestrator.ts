/**
 * Runs the real orchestrators (src/orchestrators/*.ts) on the sandbox's durable driver and a virtual clock,
 * with stub activities typed by the contract: no Azurite, no simulated ARM or cluster, no host HTTP. Every
 * activity call is recorded with its orchestration time, so a test asserts on what a flow asked for, in what
 * order and when. The shape of Temporal's workflow tests with mocked activities.
 */
import type {
  ActivityHandlers,
  ActivityInput,
  ActivityName,
  Failure,
  FailureKind,
} from '../../src/activities/contract.js';
import { VirtualClock } from '../../sandbox/clock.js';
import { DurableDriver } from '../../sandbox/durable/driver.js';
import { InstanceStore, type RuntimeStatus } from '../../sandbox/durable/rpc.js';
import { getRegistrations, installFunctionsCore, type Registration } from '../../sandbox/host.js';

export const MINUTES = 60_000;
export type Stubs = Partial<ActivityHandlers>;

/** One recorded call; over every name, a union narrowed by `name`. */
export type ActivityCall<N extends ActivityName = ActivityName> = N extends ActivityName
  ? {
      name: N;
      input: ActivityInput<N>;
      /** Orchestration time of the call, in ms since the run started. */
      at: number;
      /** The instance that called it (a sub-orchestration has its own). */
      instanceId: string;
    }
  : never;

export interface Finished {
  runtimeStatus: RuntimeStatus;
  output: unknown;
  customStatus: unknown;
  calls: ActivityCall[];
  /** Fire times of the durable timers that fired, in ms since the run started, in firing order. */
  timers: { instanceId: string; at: number }[];
  /** The calls of one activity, typed by the contract. */
  callsOf<N extends ActivityName>(name: N): ActivityCall<N>[];
}

// Registering an orchestration needs the host emulation in place first, hence the late imports; the
// activities (src/activities/register.ts) are never loaded: the stubs stand in for them.
let loaded: Promise<unknown> | undefined;
const loadOrchestrators = () => {
  installFunctionsCore();
  return (loaded ??= Promise.all([
    import('../../src/orchestrators/provision.js'),
    import('../../src/orchestrators/lifecycle.js'),
    import('../../src/orchestrators/change.js'),
    import('../../src/orchestrators/sweep.js'),
  ]));
};

const FINISHED: ReadonlySet<RuntimeStatus> = new Set(['Completed', 'Failed', 'Terminated', 'Canceled']);

/**
 * Starts `orchestrator` with `input` and runs it (and the sub-orchestrations it starts) to its end, jumping
 * the clock from timer to timer. `recordProgress` answers nothing unless stubbed; any other activity without
 * a stub throws, and the run then throws naming it.
 */
export async function runOrchestrator(
  orchestrator: string,
  input: unknown,
  stubs: Stubs,
  options: { instanceId?: string; maxSimulatedMs?: number } = {},
): Promise<Finished> {
  await loadOrchestrators();
  const clock = new VirtualClock();
  const start = clock.now();
  const store = new InstanceStore(() => new Date(clock.now()));
  const calls: ActivityCall[] = [];
  const timers: Finished['timers'] = [];
  const missing = new Set<string>();
  const handlers: Stubs = {
    recordProgress: async () => {},
    // The queue's admission after a delete and at the sweep: nothing queued unless a test says otherwise.
    admitQueuedPlatforms: async () => ({ ok: true, value: { admitted: [], failed: [] } }),
    ...stubs,
  };

  const activity = (name: string): Registration => {
    const trigger = { type: 'activityTrigger', direction: 'in' as const, name: 'input' };
    const handler = async (input: unknown) => {
      // The driver invokes the handler right after announcing which instance started the activity.
      const instanceId = lastStarted;
      calls.push({ name, input, at: clock.now() - start, instanceId } as ActivityCall);
      const stub = handlers[name as ActivityName] as ((input: unknown) => Promise<unknown>) | undefined;
      if (!stub) {
        missing.add(name);
        throw new Error(`no stub for activity ${name}`);
      }
      return stub(input);
    };
    return { name, bindings: { input: trigger }, trigger, handler: handler as Registration['handler'] };
  };
  // The driver resolves every function by name: orchestrations are the real ones, any other name is a stub.
  const orchestrations = getRegistrations();
  const registrations = new (class extends Map<string, Registration> {
    override get(name: string) {
      return orchestrations.get(name) ?? activity(name);
    }
  })(orchestrations);

  let lastStarted = '';
  const driver = new DurableDriver({
    store,
    clock,
    registrations,
    autoRun: false,
    onEvent: (event) => {
      if (event.type === 'activity-started') lastStarted = event.instanceId;
      if (event.type === 'timer-fired')
        timers.push({ instanceId: event.instanceId, at: Date.parse(event.fireAt) - start });
    },
  });
  driver.attach();
  try {
    const id = driver.startNew(orchestrator, input, options.instanceId ?? 'p1');
    const done = () => FINISHED.has(store.instances.get(id)?.runtimeStatus ?? 'Pending');
    const ended = await driver.runUntil(done, {
      maxSimulatedMs: options.maxSimulatedMs ?? 24 * 60 * MINUTES,
    });
    if (missing.size) throw new Error(`activities called without a stub: ${[...missing].join(', ')}`);
    if (!ended) throw new Error(`${orchestrator} did not finish: ${JSON.stringify(store.instances.get(id))}`);
    const instance = store.instances.get(id)!;
    return {
      runtimeStatus: instance.runtimeStatus,
      output: instance.output,
      customStatus: instance.customStatus,
      calls,
      timers,
      callsOf: <N extends ActivityName>(name: N) =>
        calls.filter((c): c is ActivityCall<N> => c.name === name),
    };
  } finally {
    driver.detach();
  }
}

/** The instant every run starts at (the virtual clock's default), for stubs that answer absolute times. */
export const RUN_START = new VirtualClock().now();

export const ok = <T>(value: T) => ({ ok: true as const, value });
/** Azure's refusal as an activity answers it. */
export const refused = (kind: FailureKind, code: string, retryAfterMs?: number): Failure => ({
  ok: false,
  kind,
  code,
  message: `${code} (stub)`,
  ...(retryAfterMs ? { retryAfterMs } : {}),
});
