/**
 * The contract between orchestrators and activities: every activity's name with its input and output
 * types, and the typed failure an activity returns when the orchestrator must decide what to do.
 * Orchestrators import this module only (never the activities' code), so a renamed field fails the
 * type-check instead of a production run.
 */
import type { AzureResourceName } from '../platform/azure-resources.js';
import type { SweepCandidate } from '../platform/idle.js';
import type { ApplyStage, ReadinessCheck } from '../platform/steps.js';
import type {
  ModelState,
  Phase,
  PlatformSpec,
  GpuTier,
  PowerState,
  ProbeFailure,
  SoftDeletedSecret,
  StepRecord,
} from '../platform/types.js';

// Orchestrators may import this module only, so the domain's result types are offered here too.
import type { OperationStatus, ResourceState, Result } from '../platform/result.js';
export {
  RETRYABLE_KINDS,
  type Failure,
  type FailureKind,
  type OperationStatus,
  type ResourceState,
  type Result,
} from '../platform/result.js';

export interface PlatformRef {
  platformId: string;
}

export interface ProgressUpdate {
  platformId: string;
  phase?: Phase;
  step?: StepRecord;
  models?: Record<string, ModelState>;
  resourceIds?: Record<string, string>;
  endpoints?: Record<string, string>;
  lastError?: { step?: string; code: string; message: string } | null;
  /** Replaces the platform's warnings (e.g. a model running on CPU). */
  warnings?: string[];
  smokeTest?: SmokeReport;
  lastActiveAt?: string;
  /** The sweep saw the platform in use at this time: added to its usage history (src/platform/prewarm.ts). */
  usedAt?: string;
  power?: PowerState;
  /** The GPU tier when not running, or null: running again (src/platform/types.ts GpuTier). */
  gpu?: GpuTier | null;
  /** The idle probe's failure, or null when a probe answered again. */
  probeFailure?: ProbeFailure | null;
  /** The secrets a teardown left soft-deleted (purge protection), with when Key Vault purges them. */
  softDeletedSecrets?: SoftDeletedSecret[];
}

export type { ReadinessCheck };

/** A Job the apply must see complete before it continues (annotated `llm-platforms-api/wait-for-completion`). */
export interface JobRef {
  namespace: string;
  name: string;
}

export interface Readiness {
  ready: boolean;
  /** What is still missing, for the step's progress (never a secret). */
  detail: string;
  endpoints?: Record<string, string>;
}

export interface ModelReport {
  /** Requested models present on the shared volume. */
  ready: string[];
  /** Requested models missing after the preload Job ended. */
  failed: string[];
  preloadFinished: boolean;
}

export interface SmokeReport {
  model: string;
  tokensPerSecond: number;
  onGpu: boolean;
}

/** The activity catalogue. */
export interface Activities {
  recordProgress: { input: ProgressUpdate; output: void };
  getPlatformSpec: { input: PlatformRef; output: PlatformSpec };
  getLastStopTime: { input: PlatformRef; output: string | null };
  ensureResourceGroup: { input: PlatformRef; output: Result<ResourceState> };
  /** recovered: soft-deleted by an earlier platform of the prefix and recovered with their values. */
  ensurePlatformSecrets: { input: PlatformRef; output: Result<{ created: string[]; recovered: string[] }> };
  /** Creates (or finds, or reconciles) one Azure resource of the platform, as its table entry describes it. */
  beginAzureResource: { input: PlatformRef & { kind: AzureResourceName }; output: Result<ResourceState> };
  getArmOperationStatus: { input: { operationUrl: string }; output: Result<OperationStatus> };
  getAksOutboundIps: { input: PlatformRef; output: Result<{ ips: string[]; clusterId: string }> };
  /**
   * clusterWritten: this run's own write of the cluster just ended, so nothing else runs on it and the write
   * needs no read first (AKS reads and writes of it share one budget of 1/s per subscription).
   */
  ensureAksMaintenanceWindow: {
    input: PlatformRef & { clusterWritten?: boolean };
    output: Result<ResourceState>;
  };
  /** Grants the API's identity Azure Kubernetes Service RBAC Cluster Admin on the platform's cluster. */
  ensureClusterAccess: { input: PlatformRef; output: Result<ResourceState> };
  ensurePostgresChild: { input: PlatformRef & { child: PostgresChild }; output: Result<ResourceState> };
  ensureFileShares: { input: PlatformRef; output: Result<{ mutated: boolean }> };
  beginAksClusterPower: { input: PlatformRef & { action: 'stop' | 'start' }; output: Result<ResourceState> };
  beginPostgresServerPower: {
    input: PlatformRef & { action: 'stop' | 'start' };
    output: Result<ResourceState>;
  };
  getPowerStates: { input: PlatformRef; output: Result<{ aks: string; postgres: string }> };
  beginResourceGroupDelete: { input: PlatformRef; output: Result<ResourceState> };
  /** softDeleted: the secrets purge protection keeps (purge refused), with their scheduled purge dates. */
  purgePlatformSecrets: {
    input: PlatformRef;
    output: Result<{ purged: string[]; softDeleted: SoftDeletedSecret[] }>;
  };
  /** at: the sweep's time, which a Stopped platform's pre-warm is judged by. */
  listSweepCandidates: { input: { at: string }; output: SweepCandidate[] };
  probeOllama: { input: PlatformRef; output: Result<{ loadedModels: number }> };
  /**
   * A released GPU tier's Ollama replica count (its StatefulSet's, which KEDA writes): above zero, a chat
   * held at the interceptor woke it.
   */
  probeGpuTier: { input: PlatformRef; output: Result<{ ollamaReplicas: number }> };
  requestPlatformStop: { input: PlatformRef & { restop: boolean }; output: Result<{ phase: string }> };
  /** The learned pre-warm's start (POST /start's guard and flow). */
  requestPlatformStart: { input: PlatformRef; output: Result<{ phase: string }> };
  /**
   * Queued platforms whose room has freed are admitted, first in first out, and their provisioning started
   * (after a delete, and at the idle sweep); those whose deletions ended without room are Failed.
   */
  admitQueuedPlatforms: {
    input: Record<string, never>;
    output: Result<{ admitted: string[]; failed: string[] }>;
  };
  applyPlatformManifests: {
    /** rerunJobs: the stage's wait-for-completion Job is deleted and created again (after a wipe). */
    input: PlatformRef & { stage: ApplyStage; rerunJobs?: boolean };
    output: Result<{ applied: number; waitFor?: JobRef }>;
  };
  checkPlatformReadiness: {
    input: PlatformRef & { check: ReadinessCheck; job?: JobRef };
    output: Result<Readiness>;
  };
  getModelReport: { input: PlatformRef; output: Result<ModelReport> };
  deleteOllamaModels: { input: PlatformRef & { models: string[] }; output: Result<{ deleted: string[] }> };
  /** Scales Open WebUI to zero through the scale subresource (its HPA then leaves it alone). */
  stopOpenWebui: { input: PlatformRef; output: Result<{ replicas: number }> };
  /** Scales a stopped Open WebUI back to its HPA's minimum; one already running is left to its HPA. */
  startOpenWebui: { input: PlatformRef; output: Result<{ replicas: number }> };
  /**
   * The GPU tier's release: recorded as released while the platform is still Ready, then Ollama's
   * ScaledObject may go to zero (KEDA scales it; the autoscaler then releases the node). `replicas`: its minimum.
   */
  releaseGpuTier: { input: PlatformRef; output: Result<{ replicas: number }> };
  /** Ollama's ScaledObject keeps one replica at least again (a wake, a start); KEDA sizes it from there. */
  startOllama: { input: PlatformRef; output: Result<{ replicas: number }> };
  /** Starts the wipe's Job that removes Open WebUI's files from its share (a finished one is replaced). */
  startWebuiDataWipe: { input: PlatformRef; output: Result<JobRef> };
  beginPostgresDatabaseDelete: { input: PlatformRef; output: Result<ResourceState> };
  runSmokeTest: { input: PlatformRef & { model: string }; output: Result<SmokeReport> };
}

/** PostgreSQL child resources, written one at a time (Azure answers ServerIsBusy to overlapping writes). */
export type PostgresChild =
  | { kind: 'configuration'; name: string; value: string }
  | { kind: 'database'; name: string }
  | { kind: 'firewallRule'; name: string; startIpAddress: string; endIpAddress: string };

export type ActivityName = keyof Activities;
export type ActivityInput<N extends ActivityName> = Activities[N]['input'];
export type ActivityOutput<N extends ActivityName> = Activities[N]['output'];

/**
 * What implements an activity. Every factory states the names it implements as `ActivityHandlers<…>`, so a
 * field renamed in this catalogue fails the type-check in the implementation as well as at every caller.
 */
export type ActivityHandler<N extends ActivityName> = (input: ActivityInput<N>) => Promise<ActivityOutput<N>>;
export type ActivityHandlers<K extends ActivityName = ActivityName> = { [N in K]: ActivityHandler<N> };

/** Activities that answer with a Result (the orchestrator decides on their failures). */
export type ResultActivity = {
  [N in ActivityName]: ActivityOutput<N> extends Result<unknown> ? N : never;
}[ActivityName];
/** What a Result activity answers when it succeeds. */
export type Answer<N extends ResultActivity> = ActivityOutput<N> extends Result<infer T> ? T : never;
/** Activities that start or find an Azure operation, followed by `ensureResource`. */
export type BeginActivity = {
  [N in ActivityName]: ActivityOutput<N> extends Result<ResourceState> ? N : never;
}[ActivityName];
