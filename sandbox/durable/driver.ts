/**
 * The sandbox's Durable Task runtime: runs orchestrations through durable-functions' OWN replay engine, the
 * way the Durable extension does for out-of-process JavaScript workers.
 *
 * Per episode (one "orchestrator work item"): append `OrchestratorStarted(clock.now())` and the queued
 * messages to the instance's history, call the handler that `df.app.orchestration` registered
 * (`createOrchestrator(fn)`, i.e. `Orchestrator.handle(trigger, context)`) with the trigger payload the
 * extension builds (OrchestrationTriggerAttributeBindingProvider.OrchestrationContextToString: history,
 * input, instanceId, isReplaying, parentInstanceId, upperSchemaVersion 1 (V2) + upperSchemaVersionNew 2 (V3),
 * maximumShortTimerDuration "6.00:00:00", longRunningTimerIntervalDuration "3.00:00:00",
 * defaultHttpAsyncRequestSleepTimeMillseconds 30000) and a fresh InvocationContext, then turn the returned
 * actions into history the way the extension's .NET side does. That side is mirrored, not guessed:
 *
 * - OutOfProcOrchestrationShim.ProcessAsyncActionsV2 replays the CUMULATIVE action list from the start on
 *   every episode and awaits the actions one after another (swallowing their failures); WhenAll/WhenAny map
 *   to Task.WhenAll/Task.WhenAny over their compoundActions in order. DurableTask.Core gives every scheduled
 *   activity, timer and sub-orchestration the next sequence number (EventId) when it is scheduled, matches
 *   scheduling events already in history by that number (a mismatch is "Non-Deterministic workflow
 *   detected"), and whatever is left over becomes new TaskScheduled / TimerCreated /
 *   SubOrchestrationInstanceCreated events. `Replay` (replay.ts) is that state machine; it therefore
 *   processes the new tail of the actions without having to count them, and ids agree with durable-functions' own
 *   numbering (TaskOrchestrationExecutor.trackOpenTask), which is cross-checked after every episode
 *   (DriverEvent `protocol-drift`).
 * - callActivityWithRetry / callSubOrchestratorWithRetry follow DurableTask.Core's RetryInterceptor: each
 *   failed attempt is followed by a retry timer (delay = first × backoff^n, capped by maxRetryInterval,
 *   default 6 days; none once retryTimeout has expired) and the re-scheduled attempt takes the next id.
 *   A timer follows the LAST failed attempt too, which is what RetryableTask.js waits for.
 * - createTimer beyond maximumShortTimerDuration is split like DurableOrchestrationContext.CreateTimer<T>:
 *   intervals of longRunningTimerIntervalDuration until less than one interval remains; durable-functions'
 *   LongTimerTask only mirrors the ids of those sub-timers (its one CreateTimer action carries the final time).
 * - Activities receive `input` as the worker would (the extension stores `[input]`; a string is passed
 *   through tryJsonParse, which is why durable-functions JSON-encodes string inputs); their return value is
 *   JSON-serialised into TaskCompleted.Result; a throw becomes TaskFailed with
 *   Reason "Activity function 'x' failed: <message>" and Details (the library builds `Error(reason \n details)`).
 * - Failed orchestrations end with output "Orchestrator function 'x' failed: <error>", as the extension reports.
 *
 * Deliberate deviations: an unknown activity or sub-orchestrator name yields TaskScheduled + TaskFailed
 * (or SubOrchestrationInstanceCreated + ...Failed) with the extension's "doesn't exist" message (the
 * TaskNonexistentActivityShim path) — the real extension throws before allocating an id
 * (CallDurableTaskFunctionAsync → ThrowIfFunctionDoesNotExist) and the JS orchestrator would wait forever.
 * Entities, callHttp and suspend/resume are not supported (the orchestration fails with a clear message).
 *
 * API
 *   new DurableDriver({ store, clock, registrations, contextFor?, onEvent?, unknownOrchestrator?, stallMs?,
 *                       autoRun? })
 *   attach() / detach()          hook the InstanceStore (start, terminate, raise event) / unhook and stop.
 *   startNew(name, input, id?)   convenience for store.start.
 *   runUntilIdle()               run episodes and activities until only time (or outside input) can make
 *                                progress; an activity that makes no progress for `stallMs` real ms is left
 *                                running, and at once when every running activity waits on the VirtualClock
 *                                (`VirtualClock.wait`, e.g. a simulated model load).
 *   runUntil(pred, opts)         runUntilIdle, then jump a VirtualClock to its next timer, repeat; with no
 *                                timer left it waits for activities still running before it gives up.
 *                                With another clock (ScaledClock) it polls in real time.
 *   history(id)                  committed history of the current execution (a copy).
 *   replay(id)                   runs the orchestrator handler over the committed history (the determinism
 *                                check Durable performs on every replay) and returns the normalised state.
 *   lastState(id)                the normalised state the last episode returned.
 *   crash(id)                    discards in-flight work of the instance and resumes from durable state.
 *   crashAfterEveryEpisode       failure injection: crash() after every committed episode.
 *   autoRun                      true (default): event-driven — once attached, instances progress on their
 *                                own (nothing needs to call runUntilIdle with a real-time clock); false: they
 *                                progress only inside runUntilIdle/runUntil (startSandboxApp under a VirtualClock).
 *   costs                        real time spent per orchestrator name: episodes, history events replayed,
 *                                milliseconds in the orchestrator function and in the driver around it.
 */
import functions from '@azure/functions';
import { createHash, randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { Registration } from '../host.js';
import {
  isActive,
  type Instance,
  type InstanceStore,
  type InstanceStoreHooks,
  type RuntimeStatus,
} from './rpc.js';
import {
  ActionType,
  DAY,
  DEFAULT_HTTP_ASYNC_SLEEP_MS,
  HistoryEventType,
  LONG_RUNNING_TIMER_INTERVAL,
  LONG_RUNNING_TIMER_INTERVAL_MS,
  MAXIMUM_SHORT_TIMER,
  MAXIMUM_SHORT_TIMER_MS,
  OUT_OF_PROC_DATA,
  OrchestrationStatus,
  UPPER_SCHEMA_VERSION,
  UPPER_SCHEMA_VERSION_NEW,
  type HistoryEvent,
  type OrchestratorReply,
  type WireAction,
} from './history.js';
import { Replay, type Item } from './replay.js';

// CommonJS: Node's ESM loader does not see InvocationContext as a named export (see sandbox/host.ts).
const { InvocationContext } = functions;
type InvocationContext = functions.InvocationContext;

export type DriverEvent =
  | {
      type: 'episode';
      instanceId: string;
      executionId: string;
      newEvents: number[];
      isDone: boolean;
      error?: string;
    }
  | { type: 'activity-started'; instanceId: string; taskId: number; name: string }
  | { type: 'activity-recorded'; instanceId: string; taskId: number; name: string; ok: boolean }
  | { type: 'activity-discarded'; instanceId: string; taskId: number; name: string; reason: string }
  | { type: 'timer-fired'; instanceId: string; timerId: number; fireAt: string }
  | { type: 'status'; instanceId: string; runtimeStatus: RuntimeStatus }
  | { type: 'crash'; instanceId: string; abandoned: number[] }
  | { type: 'protocol-drift'; instanceId: string; message: string }
  | { type: 'warning'; instanceId: string; message: string }
  | { type: 'error'; instanceId: string; message: string };

/** What running one orchestrator's episodes cost, in real time (for benchmarks). */
export interface OrchestratorCost {
  /** Episodes (orchestrator work items) run. */
  episodes: number;
  /** History events handed to the orchestrator function, summed over episodes: the replay work. */
  historyEvents: number;
  /** Real ms inside the orchestrator function: durable-functions' replay engine and the app's code. */
  handlerMs: number;
  /**
   * Real ms of the driver's own work in those episodes: history copies, the action state machine, the
   * commit and dispatching what was scheduled.
   */
  driverMs: number;
}

export interface DurableDriverOptions {
  store: InstanceStore;
  clock: Clock;
  /** Live view of the registered functions (sandbox/host.ts getRegistrations()). */
  registrations: ReadonlyMap<string, Registration>;
  /** A fresh context per invocation; FunctionsHost.context(registration) fills durable client inputs and logs. */
  contextFor?: (registration: Registration) => InvocationContext;
  onEvent?: (event: DriverEvent) => void;
  /**
   * A started instance whose orchestrator is not registered: 'fail' does what the extension does (Failed,
   * "The function 'x' doesn't exist …"); 'pending' leaves it Pending and untouched.
   */
  unknownOrchestrator?: 'fail' | 'pending';
  /** Real milliseconds without progress after which runUntilIdle stops waiting for running activities. */
  stallMs?: number;
  /**
   * true (default): episodes run on their own as soon as messages arrive (event-driven, for real-time clocks).
   * false: messages queue up and episodes (hence newly scheduled activities) run only inside
   * runUntilIdle/runUntil, so a test decides when the runtime advances.
   */
  autoRun?: boolean;
}

const H = HistoryEventType;
const iso = (ms: number) => new Date(ms).toISOString();
const json = (value: unknown) => JSON.stringify(value ?? null);
const copy = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;
const tryJsonParse = (s: string): unknown => {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
};
const setImmediateP = () => new Promise<void>((resolve) => setImmediate(resolve));
const errorMessage = (e: unknown) => (e instanceof Error ? e.message : String(e));
const isVirtual = (
  c: Clock,
): c is Clock & { nextTimerAt(): number | undefined; advanceTo(at: number): void; sleeping?: number } =>
  typeof (c as { nextTimerAt?: unknown }).nextTimerAt === 'function' &&
  typeof (c as { advanceTo?: unknown }).advanceTo === 'function';

interface ParentLink {
  instanceId: string;
  executionId: string;
  name: string;
  taskScheduledId: number;
}

interface OrchestratorOutcome {
  state?: OrchestratorReply;
  failed?: boolean;
  message: string;
  details?: string;
  openTasks?: Record<string, { actionObj?: unknown }>;
  /** Real ms inside the orchestrator function. */
  handlerMs?: number;
}

type EpisodeEnding =
  | { kind: 'failed'; reason: string; details: string }
  | { kind: 'continuedAsNew'; input: unknown }
  | { kind: 'completed'; output: unknown }
  | { kind: 'running' };

/** One episode's verdict: the reply, what it newly scheduled, the events it appends and how it ends. */
interface Episode {
  state?: OrchestratorReply;
  scheduled: Item[];
  appended: HistoryEvent[];
  ending: EpisodeEnding;
}

interface Runtime {
  instanceId: string;
  name: string;
  executionId: string;
  executions: number;
  createdTime: string;
  input: unknown;
  parent?: ParentLink;
  /** Committed history of the current execution. */
  history: HistoryEvent[];
  /** Durable message queue: events waiting for the next episode. */
  inbox: HistoryEvent[];
  finished: boolean;
  /** Bumped by crash/terminate/continueAsNew: work started under an older generation is discarded. */
  generation: number;
  busy?: object;
  scheduled: boolean;
  inflight: Map<number, Promise<void>>;
  timers: Map<number, () => void>;
  lastState?: OrchestratorReply;
  warnedUnknown?: boolean;
}

export class DurableDriver {
  crashAfterEveryEpisode = false;
  autoRun: boolean;
  /** Cumulative cost of episodes by orchestrator name, in real time. */
  readonly costs = new Map<string, OrchestratorCost>();

  private readonly store: InstanceStore;
  private readonly clock: Clock;
  private readonly registrations: ReadonlyMap<string, Registration>;
  private readonly contextFor: (registration: Registration) => InvocationContext;
  private readonly onEvent: (event: DriverEvent) => void;
  private readonly unknownOrchestrator: 'fail' | 'pending';
  private readonly stallMs: number;
  private readonly runtimes = new Map<string, Runtime>();
  private readonly parentLinks = new Map<string, ParentLink>();
  private readonly work = new Set<Promise<unknown>>();
  private readonly activityWork = new Set<Promise<unknown>>();
  private progress = 0;
  private pumping = 0;
  private previousHooks?: InstanceStoreHooks;
  private attached = false;

  constructor(options: DurableDriverOptions) {
    this.store = options.store;
    this.clock = options.clock;
    this.registrations = options.registrations;
    this.contextFor = options.contextFor ?? defaultContext;
    this.onEvent = options.onEvent ?? (() => {});
    this.unknownOrchestrator = options.unknownOrchestrator ?? 'fail';
    this.stallMs = options.stallMs ?? 25;
    this.autoRun = options.autoRun ?? true;
  }

  attach(): void {
    if (this.attached) return;
    this.attached = true;
    const previous = (this.previousHooks = this.store.hooks);
    this.store.hooks = {
      started: (instance) => {
        previous.started?.(instance);
        this.onStarted(instance);
      },
      terminated: (instance, reason) => {
        previous.terminated?.(instance, reason);
        this.onTerminated(instance, reason);
      },
      eventRaised: (instance, name, data) => {
        previous.eventRaised?.(instance, name, data);
        this.onEventRaised(instance, name, data);
      },
    };
    for (const instance of this.store.instances.values())
      if (instance.runtimeStatus === 'Pending' && !this.runtimes.has(instance.instanceId))
        this.onStarted(instance);
  }

  /** Unhooks from the store and cancels every timer; running activities are abandoned. */
  detach(): void {
    if (!this.attached) return;
    this.attached = false;
    this.store.hooks = this.previousHooks ?? {};
    for (const rt of this.runtimes.values()) this.abandon(rt);
  }

  startNew(name: string, input?: unknown, instanceId: string = randomUUID().replace(/-/g, '')): string {
    const result = this.store.start(name, instanceId, input ?? null);
    if (result === 'conflict')
      throw new Error(`An instance with ID '${instanceId}' already exists and is active.`);
    return instanceId;
  }

  history(instanceId: string): HistoryEvent[] {
    return copy(this.runtimes.get(instanceId)?.history ?? []);
  }

  lastState(instanceId: string): OrchestratorReply | undefined {
    const state = this.runtimes.get(instanceId)?.lastState;
    return state && copy(state);
  }

  /** Replays the committed history through the orchestrator handler, as Durable does on every episode. */
  async replay(instanceId: string): Promise<OrchestratorReply> {
    const rt = this.runtimes.get(instanceId);
    if (!rt) throw new Error(`unknown instance ${instanceId}`);
    const registration = this.orchestratorRegistration(rt.name);
    if (!registration) throw new Error(`orchestrator ${rt.name} is not registered`);
    const outcome = await this.invokeOrchestrator(rt, registration, copy(rt.history), true);
    if (outcome.state) return outcome.state;
    throw new Error(outcome.message);
  }

  async runUntilIdle(): Promise<void> {
    this.pumping++;
    try {
      for (const rt of this.runtimes.values()) this.kick(rt);
      await this.pump();
    } finally {
      this.pumping--;
    }
  }

  private async pump(): Promise<void> {
    for (;;) {
      while (this.work.size > this.activityWork.size) {
        await Promise.allSettled([...this.work].filter((p) => !this.activityWork.has(p)));
      }
      if (this.work.size === 0) {
        await setImmediateP();
        if (this.work.size === 0) return;
        continue;
      }
      const before = this.progress;
      let timer: NodeJS.Timeout | undefined;
      let asleep: NodeJS.Timeout | undefined;
      await Promise.race([
        ...this.activityWork,
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, this.stallMs);
          timer.unref?.();
          // Activities blocked on simulated time (VirtualClock.wait) can only progress once the clock moves:
          // when every running activity is such a wait, there is no need to sit out stallMs.
          asleep = setInterval(() => {
            if (this.allAsleep()) resolve();
          }, 2);
          asleep.unref?.();
        }),
      ]);
      clearTimeout(timer);
      clearInterval(asleep);
      await setImmediateP();
      if (this.progress === before && this.work.size === this.activityWork.size) return;
    }
  }

  /** Activities still running for instances that have not finished (a finished one's late answer is dropped). */
  private runningActivities(): Promise<unknown>[] {
    return [...this.runtimes.values()]
      .filter((rt) => !rt.finished)
      .flatMap((rt) => [...rt.inflight.values()]);
  }

  private allAsleep(): boolean {
    const clock = this.clock;
    return isVirtual(clock) && this.activityWork.size > 0 && (clock.sleeping ?? 0) >= this.activityWork.size;
  }

  async runUntil(
    predicate: () => boolean,
    options: { maxSimulatedMs?: number; maxSteps?: number } = {},
  ): Promise<boolean> {
    const start = this.clock.now();
    const limit = start + (options.maxSimulatedMs ?? 365 * DAY);
    const maxSteps = options.maxSteps ?? 10_000;
    for (let step = 0; step < maxSteps; step++) {
      await this.runUntilIdle();
      if (predicate()) return true;
      const clock = this.clock;
      if (isVirtual(clock)) {
        const next = clock.nextTimerAt();
        if (next === undefined || next > limit) {
          // runUntilIdle leaves an activity running once it has made no progress for stallMs of real time; on
          // a loaded machine real HTTP work can take that long. With no timer to jump to, only that activity
          // can still move the run: wait for it rather than report a run that is merely slow as stuck.
          const running = this.runningActivities();
          if (running.length > 0) {
            await Promise.race(running);
            continue;
          }
          return predicate();
        }
        clock.advanceTo(Math.max(next, clock.now()));
      } else {
        if (clock.now() > limit) return predicate();
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
    return predicate();
  }

  crash(instanceId: string): void {
    const rt = this.runtimes.get(instanceId);
    if (!rt || rt.finished) return;
    const abandoned = this.abandon(rt);
    this.emit({ type: 'crash', instanceId, abandoned });
    // Restart from durable state: history + the message queue; anything scheduled and not answered runs again.
    this.reconcile(rt);
    this.kick(rt);
  }

  // ---------------------------------------------------------------- store hooks

  private onStarted(instance: Instance) {
    const previous = this.runtimes.get(instance.instanceId);
    if (previous) this.abandon(previous);
    const parent = this.parentLinks.get(instance.instanceId);
    this.parentLinks.delete(instance.instanceId);
    const rt: Runtime = {
      instanceId: instance.instanceId,
      name: instance.name,
      executionId: '',
      executions: 0,
      createdTime: instance.createdTime,
      input: instance.input,
      parent,
      history: [],
      inbox: [],
      finished: false,
      generation: (previous?.generation ?? 0) + 1,
      scheduled: false,
      inflight: new Map(),
      timers: new Map(),
    };
    this.runtimes.set(rt.instanceId, rt);
    this.beginExecution(rt, instance.input, Date.parse(instance.createdTime));
    this.kick(rt);
  }

  private onTerminated(instance: Instance, reason: string) {
    const rt = this.runtimes.get(instance.instanceId);
    if (!rt || rt.finished) return;
    this.abandon(rt);
    rt.finished = true;
    const now = this.clock.now();
    // Terminated before its first episode: the start message is consumed together with the termination.
    const unstarted =
      rt.history.length === 0 ? rt.inbox.filter((e) => e.EventType === H.ExecutionStarted) : [];
    rt.history.push(
      this.event(H.OrchestratorStarted, now),
      ...unstarted,
      { ...this.event(H.ExecutionTerminated, now), Input: json(reason) },
      {
        ...this.event(H.ExecutionCompleted, now),
        OrchestrationStatus: OrchestrationStatus.Terminated,
        Result: json(reason),
      },
      this.event(H.OrchestratorCompleted, now),
    );
    for (const e of rt.history) e.IsPlayed = true;
    rt.inbox = [];
    this.emit({ type: 'status', instanceId: rt.instanceId, runtimeStatus: 'Terminated' });
    this.notifyParent(rt, { ok: false, reason: `Orchestration terminated: ${reason}`, details: '' });
  }

  private onEventRaised(instance: Instance, name: string, data: unknown) {
    const rt = this.runtimes.get(instance.instanceId);
    if (!rt || rt.finished) return;
    rt.inbox.push({ ...this.event(H.EventRaised, this.clock.now()), Name: name, Input: json(data) });
    this.kick(rt);
  }

  // ---------------------------------------------------------------- episodes

  private beginExecution(rt: Runtime, input: unknown, at: number) {
    rt.executions++;
    rt.executionId = createHash('sha256')
      .update(`${rt.instanceId}\u0000${rt.createdTime}\u0000${rt.executions}`)
      .digest('hex')
      .slice(0, 32);
    rt.input = input;
    rt.history = [];
    const started: HistoryEvent = {
      ...this.event(H.ExecutionStarted, at),
      Name: rt.name,
      Version: '',
      Input: json(input),
      OrchestrationInstance: { InstanceId: rt.instanceId, ExecutionId: rt.executionId },
    };
    if (rt.parent)
      started.ParentInstance = {
        Name: rt.parent.name,
        OrchestrationInstance: { InstanceId: rt.parent.instanceId, ExecutionId: rt.parent.executionId },
        TaskScheduleId: rt.parent.taskScheduledId,
      };
    rt.inbox.unshift(started);
  }

  private kick(rt: Runtime) {
    if (rt.scheduled || rt.busy || rt.finished || rt.inbox.length === 0) return;
    if (!this.autoRun && this.pumping === 0) return; // picked up by the next runUntilIdle
    if (!this.orchestratorRegistration(rt.name) && this.unknownOrchestrator === 'pending') {
      if (rt.warnedUnknown) return;
      rt.warnedUnknown = true;
      this.emit({
        type: 'warning',
        instanceId: rt.instanceId,
        message: `orchestrator ${rt.name} is not registered; left Pending`,
      });
      return;
    }
    rt.scheduled = true;
    // A macrotask later, so that results completing in the same turn are delivered in one episode.
    this.track(
      setImmediateP().then(async () => {
        rt.scheduled = false;
        try {
          await this.runEpisode(rt);
        } catch (e) {
          this.emit({
            type: 'error',
            instanceId: rt.instanceId,
            message: `driver failure: ${(e as Error).stack ?? e}`,
          });
        }
      }),
    );
  }

  private async runEpisode(rt: Runtime): Promise<void> {
    if (!this.attached || rt.busy || rt.finished || rt.inbox.length === 0) return;
    const token = {};
    rt.busy = token;
    const generation = rt.generation;
    const startedAt = performance.now();
    let handlerMs = 0;
    let replayed = 0;
    try {
      const now = this.clock.now();
      const batch = rt.inbox.slice();
      const newEvents: HistoryEvent[] = [
        this.event(H.OrchestratorStarted, now),
        ...batch.map((e) => ({ ...e })),
      ];
      const past = rt.history.map((e) => ({ ...e, IsPlayed: true }));
      replayed = past.length + newEvents.length;
      const registration = this.orchestratorRegistration(rt.name);
      const outcome = registration
        ? await this.invokeOrchestrator(rt, registration, [...past, ...newEvents], false)
        : { message: unknownFunctionMessage(rt.name, 'orchestrator', this.namesOf('orchestrationTrigger')) };
      handlerMs = 'handlerMs' in outcome ? (outcome.handlerMs ?? 0) : 0;
      if (rt.generation !== generation || rt.finished) return; // crashed or terminated meanwhile
      this.progress++;

      const episode = this.decideEpisode(rt, outcome, past, newEvents, now);
      this.commitEpisode(rt, batch, episode);
      this.applyEnding(rt, episode, now);
    } finally {
      if (rt.busy === token) rt.busy = undefined;
      this.recordCost(rt.name, replayed, handlerMs, performance.now() - startedAt - handlerMs);
    }
    this.kick(rt);
  }

  /**
   * Runs the extension's side of the replay over the orchestrator's reply: which actions are new, and how
   * the episode ends (the history events it appends, the ending it applies).
   */
  private decideEpisode(
    rt: Runtime,
    outcome: OrchestratorOutcome,
    past: HistoryEvent[],
    newEvents: HistoryEvent[],
    now: number,
  ): Episode {
    const state = outcome.state;
    const actions = state ? topLevelActions(state) : [];
    const replay = new Replay(
      {
        executionId: rt.executionId,
        maxShortTimerMs: MAXIMUM_SHORT_TIMER_MS,
        longIntervalMs: LONG_RUNNING_TIMER_INTERVAL_MS,
      },
      actions,
    ).run([...past, ...newEvents]);
    for (const message of replay.warnings) this.emit({ type: 'warning', instanceId: rt.instanceId, message });
    if (outcome.openTasks) this.checkDrift(rt, replay, outcome.openTasks);

    const scheduled = replay.nondeterminism ? [] : replay.items.filter((i) => !i.matched);
    const appended: HistoryEvent[] = [
      ...newEvents,
      ...scheduled.map((item) => this.schedulingEvent(rt, item, now)),
    ];

    let failure: string | undefined;
    if (replay.nondeterminism) failure = `Non-Deterministic workflow detected: ${replay.nondeterminism}`;
    else if (replay.unsupported) failure = replay.unsupported;
    else if (!state || (outcome.failed && replay.walkDone))
      failure = `Orchestrator function '${rt.name}' failed: ${outcome.message}`;
    const completed = !failure && !outcome.failed && state?.isDone === true && replay.walkDone;

    let ending: EpisodeEnding;
    if (failure !== undefined) {
      ending = { kind: 'failed', reason: failure, details: outcome.details ?? '' };
      appended.push({
        ...this.event(H.ExecutionCompleted, now),
        OrchestrationStatus: OrchestrationStatus.Failed,
        Result: json(failure),
        Details: outcome.details ?? '',
      });
    } else if (completed && replay.continueAsNew) {
      ending = { kind: 'continuedAsNew', input: replay.continueAsNew.input };
      appended.push({ ...this.event(H.ContinueAsNew, now), Result: json(replay.continueAsNew.input) });
    } else if (completed) {
      ending = { kind: 'completed', output: state.output };
      appended.push({
        ...this.event(H.ExecutionCompleted, now),
        OrchestrationStatus: OrchestrationStatus.Completed,
        Result: json(state.output),
      });
    } else ending = { kind: 'running' };
    appended.push(this.event(H.OrchestratorCompleted, now));
    return { state, scheduled, appended, ending };
  }

  /** Commit: history, consumed messages, instance status; then dispatch what was scheduled. */
  private commitEpisode(rt: Runtime, batch: HistoryEvent[], episode: Episode) {
    const { state, appended, ending } = episode;
    for (const e of appended) e.IsPlayed = true;
    rt.history.push(...appended);
    rt.inbox.splice(0, batch.length);
    if (state) rt.lastState = state;
    this.consumePendingEvents(rt, batch);
    this.emit({
      type: 'episode',
      instanceId: rt.instanceId,
      executionId: rt.executionId,
      newEvents: appended.map((e) => e.EventType),
      isDone: state?.isDone ?? false,
      error: ending.kind === 'failed' ? ending.reason : undefined,
    });
  }

  private applyEnding(rt: Runtime, episode: Episode, now: number) {
    const { state, scheduled, ending } = episode;
    const customStatus = state?.customStatus;
    const change: Partial<Instance> = customStatus !== undefined ? { customStatus } : {};

    if (ending.kind === 'failed') {
      this.finish(rt, 'Failed', ending.reason, change);
      this.notifyParent(rt, { ok: false, reason: ending.reason, details: ending.details });
    } else if (ending.kind === 'continuedAsNew') {
      const input = ending.input;
      this.abandon(rt);
      this.setStatus(rt, 'ContinuedAsNew', { ...change, input, output: null });
      // Messages that arrived after this episode's batch stay queued for the new execution.
      this.beginExecution(rt, input, now);
    } else if (ending.kind === 'completed') {
      const output = ending.output ?? null;
      this.finish(rt, 'Completed', output, change);
      this.notifyParent(rt, { ok: true, result: json(ending.output) });
    } else {
      this.setStatus(rt, 'Running', change);
      for (const item of scheduled) if (item.kind === 'sub') this.createSubOrchestration(rt, item);
      this.reconcile(rt);
      if (this.crashAfterEveryEpisode) this.crash(rt.instanceId);
    }
  }

  private recordCost(name: string, historyEvents: number, handlerMs: number, driverMs: number) {
    const cost = this.costs.get(name) ?? { episodes: 0, historyEvents: 0, handlerMs: 0, driverMs: 0 };
    cost.episodes++;
    cost.historyEvents += historyEvents;
    cost.handlerMs += handlerMs;
    cost.driverMs += driverMs;
    this.costs.set(name, cost);
  }

  private async invokeOrchestrator(
    rt: Runtime,
    registration: Registration,
    history: HistoryEvent[],
    replayOnly: boolean,
  ): Promise<OrchestratorOutcome> {
    const started = history.find((e) => e.EventType === H.ExecutionStarted);
    const trigger = {
      history: copy(history),
      input: copy(rt.input ?? null),
      instanceId: rt.instanceId,
      isReplaying: started?.IsPlayed ?? false,
      parentInstanceId: rt.parent?.instanceId ?? null,
      upperSchemaVersion: UPPER_SCHEMA_VERSION,
      upperSchemaVersionNew: UPPER_SCHEMA_VERSION_NEW,
      longRunningTimerIntervalDuration: LONG_RUNNING_TIMER_INTERVAL,
      maximumShortTimerDuration: MAXIMUM_SHORT_TIMER,
      defaultHttpAsyncRequestSleepTimeMillseconds: DEFAULT_HTTP_ASYNC_SLEEP_MS,
    };
    const context = this.contextFor(registration);
    const openTasks = () =>
      replayOnly
        ? undefined
        : (
            context as {
              df?: { taskOrchestratorExecutor?: { openTasks?: Record<string, { actionObj?: unknown }> } };
            }
          ).df?.taskOrchestratorExecutor?.openTasks;
    const calledAt = performance.now();
    const elapsed = () => performance.now() - calledAt;
    try {
      const reply = await registration.handler(trigger, context);
      const handlerMs = elapsed();
      // The worker sends the reply as JSON: dates become strings, undefined members disappear.
      const state = copy(reply as OrchestratorReply);
      return { state, message: '', openTasks: openTasks(), handlerMs };
    } catch (e) {
      const handlerMs = elapsed();
      const message = errorMessage(e);
      const at = message.indexOf(OUT_OF_PROC_DATA);
      if (at >= 0) {
        try {
          const state = JSON.parse(message.slice(at + OUT_OF_PROC_DATA.length)) as OrchestratorReply;
          const error = state.error ?? message.slice(0, at);
          return {
            state,
            failed: true,
            message: error,
            details: `Message: ${error}, StackTrace: ${(e as Error).stack ?? ''}`,
            openTasks: openTasks(),
            handlerMs,
          };
        } catch {
          // fall through: not parseable, reported as a plain failure
        }
      }
      return { failed: true, message, details: (e as Error).stack ?? '', handlerMs };
    }
  }

  private schedulingEvent(rt: Runtime, item: Item, now: number): HistoryEvent {
    switch (item.kind) {
      case 'activity':
        // DurableTask.Core schedules activity input as a one-element array.
        return {
          ...this.event(H.TaskScheduled, now, item.id),
          Name: item.name,
          Version: '',
          Input: JSON.stringify([item.input ?? null]),
        };
      case 'timer':
        return { ...this.event(H.TimerCreated, now, item.id), FireAt: iso(item.fireAt!) };
      case 'sub':
        item.instanceId ??= `${rt.executionId}:${item.id}`;
        return {
          ...this.event(H.SubOrchestrationInstanceCreated, now, item.id),
          Name: item.name,
          Version: '',
          InstanceId: item.instanceId,
          Input: json(item.input),
        };
    }
  }

  /** Dispatches what the durable state says is outstanding and nobody is working on: activities and timers. */
  private reconcile(rt: Runtime) {
    if (rt.finished) return;
    const answered = new Set<number>();
    const fired = new Set<number>();
    for (const e of [...rt.history, ...rt.inbox]) {
      if (e.EventType === H.TaskCompleted || e.EventType === H.TaskFailed) answered.add(e.TaskScheduledId!);
      if (e.EventType === H.TimerFired) fired.add(e.TimerId!);
    }
    for (const e of rt.history) {
      if (e.EventType === H.TaskScheduled && !answered.has(e.EventId) && !rt.inflight.has(e.EventId))
        this.startActivity(rt, e);
      if (e.EventType === H.TimerCreated && !fired.has(e.EventId) && !rt.timers.has(e.EventId))
        this.armTimer(rt, e.EventId, Date.parse(e.FireAt!));
    }
  }

  private startActivity(rt: Runtime, scheduled: HistoryEvent) {
    const taskId = scheduled.EventId;
    const name = scheduled.Name!;
    const generation = rt.generation;
    const registration = this.registrations.get(name);
    const isActivity = registration?.trigger.type === 'activityTrigger';
    const wrapped = (JSON.parse(scheduled.Input ?? '[null]') as unknown[])[0] ?? null;
    const input =
      typeof wrapped === 'string' ? tryJsonParse(wrapped) : wrapped === null ? undefined : wrapped;
    this.emit({ type: 'activity-started', instanceId: rt.instanceId, taskId, name });
    let run: Promise<HistoryEvent>;
    if (!registration || !isActivity) {
      const message = unknownFunctionMessage(name, 'activity', this.namesOf('activityTrigger'));
      run = Promise.resolve(this.taskFailed(taskId, name, message, ''));
    } else {
      run = (async () => {
        try {
          const value = await registration.handler(input, this.contextFor(registration));
          return { ...this.event(H.TaskCompleted, 0), TaskScheduledId: taskId, Result: json(value) };
        } catch (e) {
          return this.taskFailed(taskId, name, errorMessage(e), activityFailureDetails(e));
        }
      })();
    }
    const done = run.then((event) => {
      rt.inflight.delete(taskId);
      this.activityWork.delete(done);
      if (rt.generation !== generation || rt.finished) {
        this.emit({
          type: 'activity-discarded',
          instanceId: rt.instanceId,
          taskId,
          name,
          reason: 'instance crashed, finished or restarted',
        });
        return;
      }
      this.progress++;
      event.Timestamp = iso(this.clock.now());
      rt.inbox.push(event);
      this.emit({
        type: 'activity-recorded',
        instanceId: rt.instanceId,
        taskId,
        name,
        ok: event.EventType === H.TaskCompleted,
      });
      this.kick(rt);
    });
    rt.inflight.set(taskId, done);
    this.activityWork.add(done);
    this.track(done);
  }

  private taskFailed(taskId: number, name: string, message: string, details: string): HistoryEvent {
    return {
      ...this.event(H.TaskFailed, 0),
      TaskScheduledId: taskId,
      Reason: `Activity function '${name}' failed: ${message}`,
      Details: details,
    };
  }

  private armTimer(rt: Runtime, timerId: number, fireAt: number) {
    const generation = rt.generation;
    const fire = () => {
      if (rt.generation !== generation || rt.finished) return;
      rt.timers.delete(timerId);
      this.progress++;
      rt.inbox.push({ ...this.event(H.TimerFired, this.clock.now()), TimerId: timerId, FireAt: iso(fireAt) });
      this.emit({ type: 'timer-fired', instanceId: rt.instanceId, timerId, fireAt: iso(fireAt) });
      this.kick(rt);
    };
    if (fireAt <= this.clock.now()) {
      // A timer already due fires at once (a VirtualClock would otherwise wait for the next advance).
      let cancelled = false;
      rt.timers.set(timerId, () => (cancelled = true));
      this.track(setImmediateP().then(() => cancelled || fire()));
    } else {
      rt.timers.set(timerId, this.clock.setTimer(fireAt, fire));
    }
  }

  private createSubOrchestration(parent: Runtime, item: Item) {
    const name = item.name!;
    const instanceId = item.instanceId!;
    const fail = (reason: string) => {
      parent.inbox.push({
        ...this.event(H.SubOrchestrationInstanceFailed, this.clock.now()),
        TaskScheduledId: item.id,
        Reason: reason,
        Details: '',
      });
      this.kick(parent);
    };
    if (!this.orchestratorRegistration(name))
      return fail(unknownFunctionMessage(name, 'orchestrator', this.namesOf('orchestrationTrigger')));
    this.parentLinks.set(instanceId, {
      instanceId: parent.instanceId,
      executionId: parent.executionId,
      name: parent.name,
      taskScheduledId: item.id,
    });
    const result = this.store.start(name, instanceId, item.input ?? null);
    if (result === 'conflict') {
      this.parentLinks.delete(instanceId);
      fail(`An instance with ID '${instanceId}' already exists and is active.`);
    }
    // With the driver attached, store.start ran onStarted, which picked up the parent link.
  }

  private notifyParent(
    child: Runtime,
    outcome: { ok: true; result: string } | { ok: false; reason: string; details: string },
  ) {
    const link = child.parent;
    if (!link) return;
    const parent = this.runtimes.get(link.instanceId);
    if (!parent || parent.finished || parent.executionId !== link.executionId) return;
    const at = this.clock.now();
    parent.inbox.push(
      outcome.ok
        ? {
            ...this.event(H.SubOrchestrationInstanceCompleted, at),
            TaskScheduledId: link.taskScheduledId,
            Result: outcome.result,
          }
        : {
            ...this.event(H.SubOrchestrationInstanceFailed, at),
            TaskScheduledId: link.taskScheduledId,
            Reason: outcome.reason,
            Details: outcome.details,
          },
    );
    this.kick(parent);
  }

  private finish(rt: Runtime, status: RuntimeStatus, output: unknown, change: Partial<Instance>) {
    this.abandon(rt);
    rt.finished = true;
    this.setStatus(rt, status, { ...change, output });
  }

  private setStatus(rt: Runtime, runtimeStatus: RuntimeStatus, change: Partial<Instance>) {
    const instance = this.store.instances.get(rt.instanceId);
    if (!instance || !isActive(instance.runtimeStatus)) return;
    const statusChanged = instance.runtimeStatus !== runtimeStatus;
    this.store.update(rt.instanceId, { ...change, runtimeStatus });
    if (statusChanged) this.emit({ type: 'status', instanceId: rt.instanceId, runtimeStatus });
  }

  /** Stops timers and abandons running activities of the instance; returns the abandoned task ids. */
  private abandon(rt: Runtime): number[] {
    rt.generation++;
    const abandoned = [...rt.inflight.keys()];
    for (const p of rt.inflight.values()) {
      this.work.delete(p);
      this.activityWork.delete(p);
    }
    rt.inflight.clear();
    for (const cancel of rt.timers.values()) cancel();
    rt.timers.clear();
    rt.busy = undefined;
    return abandoned;
  }

  private consumePendingEvents(rt: Runtime, batch: HistoryEvent[]) {
    const instance = this.store.instances.get(rt.instanceId);
    if (!instance) return;
    for (const e of batch) {
      if (e.EventType !== H.EventRaised) continue;
      const i = instance.pendingEvents.findIndex((p) => p.name === e.Name);
      if (i >= 0) instance.pendingEvents.splice(i, 1);
    }
  }

  /** Cross-checks the ids durable-functions waits on against the ids the mirrored extension allocated. */
  private checkDrift(rt: Runtime, replay: Replay, openTasks: Record<string, { actionObj?: unknown }>) {
    for (const [key, task] of Object.entries(openTasks)) {
      const id = Number(key);
      if (!Number.isInteger(id)) continue;
      const item = replay.items[id];
      if (!item) continue; // not scheduled yet on the extension side (it awaits actions one by one)
      const actionType = (task.actionObj as { actionType?: number } | undefined)?.actionType;
      const expected =
        actionType === ActionType.CallActivity || actionType === ActionType.CallActivityWithRetry
          ? 'activity'
          : actionType === ActionType.CreateTimer
            ? 'timer'
            : actionType === ActionType.CallSubOrchestrator ||
                actionType === ActionType.CallSubOrchestratorWithRetry
              ? 'sub'
              : undefined; // a retry's NoOpTask: timer or attempt
      if (expected && expected !== item.kind)
        this.emit({
          type: 'protocol-drift',
          instanceId: rt.instanceId,
          message: `durable-functions waits on task ${id} as ${expected}, the extension scheduled a ${item.kind}`,
        });
    }
  }

  private orchestratorRegistration(name: string): Registration | undefined {
    const registration = this.registrations.get(name);
    return registration?.trigger.type === 'orchestrationTrigger' ? registration : undefined;
  }

  private namesOf(triggerType: string): string[] {
    return [...this.registrations.values()].filter((r) => r.trigger.type === triggerType).map((r) => r.name);
  }

  private event(type: number, at: number, eventId = -1): HistoryEvent {
    return { EventType: type, EventId: eventId, IsPlayed: false, Timestamp: iso(at) };
  }

  private track(p: Promise<unknown>) {
    this.work.add(p);
    void p.finally(() => this.work.delete(p));
  }

  private emit(event: DriverEvent) {
    try {
      this.onEvent(event);
    } catch {
      // an observer's failure must not break the runtime
    }
  }
}

function topLevelActions(state: OrchestratorReply): WireAction[] {
  if (!Array.isArray(state.actions)) return [];
  // Schema V2+ (ReplaySchema ≥ 1): actions[0] is the flat list, one entry per yield (OrchestratorState.js).
  if (state.schemaVersion >= 1) return state.actions[0] ?? [];
  return state.actions.flat();
}

function unknownFunctionMessage(name: string, kind: 'activity' | 'orchestrator', known: string[]): string {
  const info = known.length
    ? `The following are the known ${kind} functions: '${known.join("', '")}'.`
    : `No ${kind} functions are currently registered!`;
  return `The function '${name}' doesn't exist, is disabled, or is not an ${kind} function. Additional info: ${info}`;
}

function activityFailureDetails(e: unknown): string {
  const error = e instanceof Error ? e : new Error(String(e));
  return JSON.stringify({
    ClassName: 'System.Exception',
    Message: error.message,
    StackTraceString: error.stack ?? null,
  });
}

function defaultContext(registration: Registration): InvocationContext {
  const extraInputs = Object.values(registration.bindings).filter(
    (b) => b.direction === 'in' && b !== registration.trigger,
  );
  return new InvocationContext({
    invocationId: randomUUID(),
    functionName: registration.name,
    logHandler: () => {},
    options: { trigger: registration.trigger as never, extraInputs: extraInputs as never, extraOutputs: [] },
  });
}
