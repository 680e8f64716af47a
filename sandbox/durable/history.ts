/**
 * The wire format between the Durable extension and the JavaScript worker, as durable-functions reads and
 * writes it: history events, actions, orchestration statuses, and the values the extension puts into every
 * orchestration trigger.
 */
/** node_modules/durable-functions/lib/src/history/HistoryEventType.js (= DurableTask.Core EventType). */
export const HistoryEventType = {
  ExecutionStarted: 0,
  ExecutionCompleted: 1,
  ExecutionFailed: 2,
  ExecutionTerminated: 3,
  TaskScheduled: 4,
  TaskCompleted: 5,
  TaskFailed: 6,
  SubOrchestrationInstanceCreated: 7,
  SubOrchestrationInstanceCompleted: 8,
  SubOrchestrationInstanceFailed: 9,
  TimerCreated: 10,
  TimerFired: 11,
  OrchestratorStarted: 12,
  OrchestratorCompleted: 13,
  EventSent: 14,
  EventRaised: 15,
  ContinueAsNew: 16,
  GenericEvent: 17,
  HistoryState: 18,
  ExecutionSuspended: 19,
  ExecutionResumed: 20,
} as const;

/** node_modules/durable-functions/lib/src/actions/ActionType.js. */
export const ActionType = {
  CallActivity: 0,
  CallActivityWithRetry: 1,
  CallSubOrchestrator: 2,
  CallSubOrchestratorWithRetry: 3,
  ContinueAsNew: 4,
  CreateTimer: 5,
  WaitForExternalEvent: 6,
  CallEntity: 7,
  CallHttp: 8,
  SignalEntity: 9,
  WhenAny: 11,
  WhenAll: 12,
  LockEntities: 13,
  ReleaseEntities: 14,
} as const;

/** DurableTask.Core OrchestrationStatus, as serialised into ExecutionCompleted.OrchestrationStatus. */
export const OrchestrationStatus = {
  Running: 0,
  Completed: 1,
  ContinuedAsNew: 2,
  Failed: 3,
  Canceled: 4,
  Terminated: 5,
  Pending: 6,
} as const;

export interface HistoryEvent {
  EventType: number;
  EventId: number;
  IsPlayed: boolean;
  /** ISO 8601, as the extension serialises it (durable-functions turns it into a Date). */
  Timestamp: string;
  Name?: string;
  Version?: string;
  /** Serialised JSON. */
  Input?: string;
  /** Serialised JSON. */
  Result?: string;
  Reason?: string;
  Details?: string;
  TaskScheduledId?: number;
  TimerId?: number;
  FireAt?: string;
  InstanceId?: string;
  OrchestrationStatus?: number;
  OrchestrationInstance?: { InstanceId: string; ExecutionId: string };
  ParentInstance?: {
    Name: string;
    OrchestrationInstance: { InstanceId: string; ExecutionId: string };
    TaskScheduleId: number;
  };
}

/** JSON form of durable-functions' retry options (RetryOptions.js + the optional fields the extension reads). */
export interface WireRetryOptions {
  firstRetryIntervalInMilliseconds: number;
  maxNumberOfAttempts: number;
  backoffCoefficient?: number;
  maxRetryIntervalInMilliseconds?: number;
  retryTimeoutInMilliseconds?: number;
}

/** An action as the worker sends it to the host (JSON). */
export interface WireAction {
  actionType: number;
  functionName?: string;
  input?: unknown;
  retryOptions?: WireRetryOptions;
  instanceId?: string;
  fireAt?: string;
  isCanceled?: boolean;
  externalEventName?: string;
  compoundActions?: WireAction[];
}

/** The orchestrator's reply (OrchestratorState.js) after the JSON round trip the worker performs. */
export interface OrchestratorReply {
  isDone: boolean;
  /** Schema ≥ V2: one inner array holding every action scheduled so far, in order. */
  actions: WireAction[][];
  output?: unknown;
  error?: string;
  customStatus?: unknown;
  schemaVersion: number;
}

// The values the Durable extension (Azure Storage provider) puts into every orchestration trigger.
export const UPPER_SCHEMA_VERSION = 1; // ReplaySchema.V2
export const UPPER_SCHEMA_VERSION_NEW = 2; // ReplaySchema.V3: long timers; V4 (entity locks) is not sent.
export const MAXIMUM_SHORT_TIMER = '6.00:00:00';
export const LONG_RUNNING_TIMER_INTERVAL = '3.00:00:00';
export const DEFAULT_HTTP_ASYNC_SLEEP_MS = 30_000;
export const DAY = 86_400_000;
export const MAXIMUM_SHORT_TIMER_MS = 6 * DAY;
export const LONG_RUNNING_TIMER_INTERVAL_MS = 3 * DAY;
/** Extension RetryOptions.DefaultMaxRetryinterval. */
export const DEFAULT_MAX_RETRY_INTERVAL_MS = 6 * DAY;
export const OUT_OF_PROC_DATA = '\n\n$OutOfProcData$:';
