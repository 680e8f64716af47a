/**
 * The extension's side of the replay: what the Durable extension + DurableTask.Core do with the worker's
 * actions on one episode, as a pure state machine over the history (no clock, no I/O).
 */
import {
  ActionType,
  DEFAULT_MAX_RETRY_INTERVAL_MS,
  HistoryEventType,
  type HistoryEvent,
  type WireAction,
  type WireRetryOptions,
} from './history.js';

const H = HistoryEventType;

export interface Item {
  id: number;
  kind: 'activity' | 'timer' | 'sub';
  name?: string;
  input?: unknown;
  fireAt?: number;
  instanceId?: string;
  matched: boolean;
}

type Settled = { ok: true; value?: unknown } | { ok: false; value?: unknown };

/** A .NET Task as DurableTask.Core runs it: continuations execute synchronously when it settles. */
export class MTask {
  outcome?: Settled;
  private continuations: (() => void)[] = [];

  static done(): MTask {
    const t = new MTask();
    t.settle({ ok: true });
    return t;
  }

  static whenAll(tasks: MTask[]): MTask {
    const all = new MTask();
    let left = tasks.length;
    const check = () => {
      if (--left > 0) return;
      const failed = tasks.find((t) => !t.outcome!.ok);
      all.settle(failed ? { ok: false, value: failed.outcome!.value } : { ok: true });
    };
    if (left === 0) all.settle({ ok: true });
    for (const t of tasks) t.then(check);
    return all;
  }

  static whenAny(tasks: MTask[]): MTask {
    const any = new MTask();
    for (const t of tasks) t.then(() => any.settle({ ok: true, value: t }));
    return any;
  }

  get pending() {
    return this.outcome === undefined;
  }

  then(fn: () => void) {
    if (this.outcome) fn();
    else this.continuations.push(fn);
  }

  settle(outcome: Settled) {
    if (this.outcome) return;
    this.outcome = outcome;
    const continuations = this.continuations;
    this.continuations = [];
    for (const fn of continuations) fn();
  }
}

/**
 * Mirrors what the Durable extension + DurableTask.Core do with the worker's actions on one episode:
 * the shim (re)issues every action in order, awaiting each, while the history is replayed event by event.
 */
export class Replay {
  readonly items: Item[] = [];
  readonly warnings: string[] = [];
  walkDone = false;
  continueAsNew?: { input: unknown };
  nondeterminism?: string;
  unsupported?: string;
  private nextId = 0;
  private now = 0;
  private readonly open = new Map<number, MTask>();
  private readonly waiters = new Map<string, MTask[]>();
  private readonly buffered = new Map<string, string[]>();

  constructor(
    private readonly options: { executionId: string; maxShortTimerMs: number; longIntervalMs: number },
    private readonly actions: WireAction[],
  ) {}

  run(events: HistoryEvent[]): this {
    for (const e of events) {
      if (this.nondeterminism || this.unsupported) break;
      this.process(e);
    }
    return this;
  }

  private process(e: HistoryEvent) {
    switch (e.EventType) {
      case H.OrchestratorStarted:
        this.now = Date.parse(e.Timestamp);
        break;
      case H.ExecutionStarted:
        this.walk(0);
        break;
      case H.TaskScheduled:
        this.match(e, 'activity', 'TaskScheduledEvent');
        break;
      case H.TimerCreated:
        this.match(e, 'timer', 'TimerCreatedEvent');
        break;
      case H.SubOrchestrationInstanceCreated:
        this.match(e, 'sub', 'SubOrchestrationInstanceCreatedEvent');
        break;
      case H.TaskCompleted:
      case H.SubOrchestrationInstanceCompleted:
        this.complete(e.TaskScheduledId!, { ok: true, value: e.Result });
        break;
      case H.TaskFailed:
      case H.SubOrchestrationInstanceFailed:
        this.complete(e.TaskScheduledId!, { ok: false, value: e.Reason });
        break;
      case H.TimerFired:
        this.complete(e.TimerId!, { ok: true });
        break;
      case H.EventRaised: {
        const waiting = this.waiters.get(e.Name!);
        const waiter = waiting?.shift();
        if (waiter) waiter.settle({ ok: true, value: e.Input });
        else this.buffered.set(e.Name!, [...(this.buffered.get(e.Name!) ?? []), e.Input ?? 'null']);
        break;
      }
      default:
        break;
    }
  }

  private match(e: HistoryEvent, kind: Item['kind'], label: string) {
    const item = this.items[e.EventId];
    if (!item || item.kind !== kind || (e.Name !== undefined && item.name !== e.Name) || item.matched) {
      this.nondeterminism =
        `${label}: ${e.EventId} ${e.Name ?? ''} is in the history but the orchestrator now schedules ` +
        (item ? `${item.kind} ${item.name ?? ''}`.trim() : 'nothing') +
        ` with that id`;
      return;
    }
    item.matched = true;
  }

  private complete(id: number, outcome: Settled) {
    const task = this.open.get(id);
    if (!task) return; // e.g. a cancelled timer firing
    this.open.delete(id);
    task.settle(outcome);
  }

  /** ProcessAsyncActionsV2: `foreach (action) { try { await InvokeAPIFromAction(action); } catch { } }`. */
  private walk(from: number) {
    for (let i = from; i < this.actions.length; i++) {
      const task = this.invoke(this.actions[i]!);
      if (this.unsupported) return;
      if (task.pending) {
        task.then(() => this.walk(i + 1));
        return;
      }
    }
    this.walkDone = true;
  }

  private invoke(action: WireAction): MTask {
    switch (action.actionType) {
      case ActionType.CallActivity:
        return this.scheduleTask(action);
      case ActionType.CallActivityWithRetry:
        return this.withRetry(action, () => this.scheduleTask(action));
      case ActionType.CallSubOrchestrator:
        return this.createSubOrchestration(action);
      case ActionType.CallSubOrchestratorWithRetry:
        return this.withRetry(action, () => this.createSubOrchestration(action));
      case ActionType.ContinueAsNew:
        this.continueAsNew = { input: action.input };
        return MTask.done();
      case ActionType.CreateTimer:
        return this.createTimer(Date.parse(action.fireAt!), action.isCanceled === true);
      case ActionType.WaitForExternalEvent:
        return this.waitForExternalEvent(action.externalEventName!);
      case ActionType.WhenAll:
        return MTask.whenAll((action.compoundActions ?? []).map((a) => this.invoke(a)));
      case ActionType.WhenAny:
        return MTask.whenAny((action.compoundActions ?? []).map((a) => this.invoke(a)));
      default:
        this.unsupported = `The sandbox durable driver does not support action type ${action.actionType} (entities, callHttp).`;
        return MTask.done();
    }
  }

  private allocate(item: Omit<Item, 'id' | 'matched'>): { id: number; task: MTask } {
    const id = this.nextId++;
    this.items[id] = { ...item, id, matched: false };
    const task = new MTask();
    this.open.set(id, task);
    return { id, task };
  }

  private scheduleTask(action: WireAction): MTask {
    return this.allocate({ kind: 'activity', name: action.functionName, input: action.input }).task;
  }

  private createSubOrchestration(action: WireAction): MTask {
    const { id, task } = this.allocate({ kind: 'sub', name: action.functionName, input: action.input });
    // TaskOrchestrationContext.CreateSubOrchestrationInstanceCore: default id "<executionId>:<taskId>".
    this.items[id]!.instanceId = action.instanceId || `${this.options.executionId}:${id}`;
    return task;
  }

  /** DurableTask.Core TaskOrchestrationContext.CreateTimer: one timer, one id; a cancelled one still exists. */
  private createTimerCore(fireAt: number, cancelled = false): MTask {
    const { id, task } = this.allocate({ kind: 'timer', fireAt });
    if (cancelled) {
      this.open.delete(id);
      task.settle({ ok: false, value: 'TaskCanceledException' });
    }
    return task;
  }

  /** The extension's IDurableOrchestrationContext.CreateTimer<T>, long timers included. */
  private createTimer(fireAt: number, cancelled: boolean): MTask {
    if (!(fireAt - this.now > this.options.maxShortTimerMs)) return this.createTimerCore(fireAt, cancelled);
    const result = new MTask();
    const interval = this.options.longIntervalMs;
    let intervalFireAt = this.now + interval;
    const loop = () => {
      if (!(this.now < fireAt)) return result.settle({ ok: true });
      const timer = this.createTimerCore(intervalFireAt, cancelled);
      timer.then(() => {
        if (!timer.outcome!.ok) return result.settle(timer.outcome!);
        const remaining = fireAt - this.now;
        if (remaining <= 0) return result.settle({ ok: true });
        intervalFireAt = this.now + (remaining < interval ? remaining : interval);
        loop();
      });
    };
    loop();
    return result;
  }

  /** DurableTask.Core RetryInterceptor.Invoke + ComputeNextDelay. */
  private withRetry(action: WireAction, call: () => MTask): MTask {
    const options = action.retryOptions!;
    const result = new MTask();
    const firstAttempt = this.now;
    let retryCount = 0;
    const attempt = () => {
      const task = call();
      task.then(() => {
        if (task.outcome!.ok) return result.settle(task.outcome!);
        const delay = this.nextRetryDelay(options, retryCount, firstAttempt);
        if (delay <= 0) {
          this.warnings.push(
            `retryTimeout of ${action.functionName} expired: the extension throws without a retry timer, but ` +
              `durable-functions' RetryableTask waits for one, so the orchestrator will not resume (as in Azure)`,
          );
          return result.settle(task.outcome!);
        }
        const timer = this.createTimerCore(this.now + delay);
        timer.then(() => {
          retryCount++;
          if (retryCount < options.maxNumberOfAttempts) attempt();
          else result.settle(task.outcome!);
        });
      });
    };
    if (options.maxNumberOfAttempts > 0) attempt();
    else result.settle({ ok: false });
    return result;
  }

  private nextRetryDelay(options: WireRetryOptions, attempt: number, firstAttempt: number): number {
    const timeout = options.retryTimeoutInMilliseconds;
    if (timeout !== undefined && !(this.now < firstAttempt + timeout)) return 0;
    const delay =
      options.firstRetryIntervalInMilliseconds * Math.pow(options.backoffCoefficient ?? 1, attempt);
    const max = options.maxRetryIntervalInMilliseconds ?? DEFAULT_MAX_RETRY_INTERVAL_MS;
    return delay < max ? delay : max;
  }

  private waitForExternalEvent(name: string): MTask {
    const task = new MTask();
    const queue = this.buffered.get(name);
    const input = queue?.shift();
    if (input !== undefined) {
      task.settle({ ok: true, value: input });
      return task;
    }
    this.waiters.set(name, [...(this.waiters.get(name) ?? []), task]);
    return task;
  }
}
