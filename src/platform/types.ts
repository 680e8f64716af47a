/** The domain's shared vocabulary: what a platform is, as requested and as recorded. Pure types only. */
import type { T4VmSize } from './catalog.js';
import type { PlatformNames } from './naming.js';
import type { UsageHistory } from './prewarm.js';
import type { Operation, Phase } from './phases.js';

// Declared with the lifecycle rules; every module that reads a record finds them here too.
export type { Operation, Phase } from './phases.js';

/** A validated create request with every default applied. Contains no secret. */
export interface PlatformSpec {
  prefix: string;
  models: string[];
  location: string;
  gpu: { vmSize: T4VmSize; minNodes: number; maxNodes: number; spot: boolean };
  /** adminEmail: the Open WebUI admin account created at provisioning (its password is in Key Vault). */
  webui: { replicas: number; adminEmail?: string };
  /**
   * prewarm: absent on a record created before the field existed, which means true (the default).
   * gpuIdleMinutes: the GPU tier's idle limit (0 = never); absent on an older record, which means the
   * default (GPU_IDLE_MINUTES, src/platform/policy.ts).
   */
  autoStop: { idleMinutes: number; gpuIdleMinutes?: number; prewarm?: boolean };
  /**
   * Who may reach the platform's HTTPS entry: CIDRs (IPv4 or IPv6); empty means anyone. Absent on a record
   * created before the field existed, which means the same.
   */
  network?: { allowedSourceRanges: string[] };
  tags: Record<string, string>;
  /** True when the request carried a Hugging Face token (the token itself only ever goes to Key Vault). */
  huggingFaceToken: boolean;
}

export type StepState = 'pending' | 'running' | 'succeeded' | 'failed';

export interface StepRecord {
  name: string;
  state: StepState;
  startedAt?: string;
  endedAt?: string;
  /** Azure's (or Kubernetes') error code and message when the step failed; never a secret. */
  error?: { code: string; message: string };
}

export type ModelState = 'pending' | 'pulling' | 'ready' | 'failed';

/** What a PATCH changes that needs the cluster (an autoStop change alone is recorded, no flow runs). */
export interface PlatformChange {
  addedModels: string[];
  removedModels: string[];
  /** Open WebUI replicas before and after, when they change. */
  replicas?: { from: number; to: number };
  /** The new allowed source ranges, when they change (the apply rolls the HTTPS entry with them). */
  allowedSourceRanges?: string[];
}

/** Azure's power state of the cluster (Running, Stopped) and the server (Ready, Stopped, …), last observed. */
export interface PowerState {
  aks: string;
  postgres: string;
  observedAt: string;
}

/**
 * The GPU tier of a Ready platform when it is not running: `released` (Ollama scaled to zero by the idle
 * sweep, the GPU node left to the autoscaler) or `waking` (scaled back to one, its node and pod on the way);
 * `since` when it got there; `error` why a wake has not finished. Absent: running.
 */
export interface GpuTier {
  state: 'released' | 'waking';
  since: string;
  error?: string;
}

/** The idle probe's last failure; cleared by the next probe that answers. */
export interface ProbeFailure {
  at: string;
  reason: string;
  consecutive: number;
}

/** A secret of a deleted platform that Key Vault keeps soft-deleted (purge protection refused its purge). */
export interface SoftDeletedSecret {
  name: string;
  /** When Key Vault purges it by itself (the end of the vault's retention period). */
  scheduledPurgeDate?: string;
}

export interface PlatformRecord {
  id: string;
  spec: PlatformSpec;
  phase: Phase;
  /** The flow that last ran or is running for this platform. */
  operation: Operation;
  createdAt: string;
  updatedAt: string;
  /**
   * Entra object ids (users, groups, service principals) that own the platform (src/platform/access.ts).
   * Absent on records made before owners were recorded: only admins see those.
   */
  owners?: string[];
  /**
   * The subscription the platform lives in, chosen from the pool at admission; every flow and probe talks
   * to ARM there. Absent on records made before the pool: the default subscription.
   */
  subscriptionId?: string;
  names: PlatformNames;
  resourceIds: Record<string, string>;
  endpoints: Record<string, string>;
  steps: StepRecord[];
  models: Record<string, ModelState>;
  lastError?: { step?: string; code: string; message: string };
  lastActiveAt?: string;
  /** The hours of the week the idle sweep saw it in use, over the last weeks (learned pre-warm reads it). */
  usage?: UsageHistory;
  /** Things that work but not as they should (a model on CPU, a failed model pull). */
  warnings?: string[];
  /** The last smoke test: a few tokens generated with the first model, and whether it ran on the GPU. */
  smokeTest?: { model: string; tokensPerSecond: number; onGpu: boolean };
  power?: PowerState;
  probeFailure?: ProbeFailure;
  /** A Ready platform's GPU tier when it is not running (absent: running). */
  gpu?: GpuTier;
  /** Set by a teardown whose purges the vault's purge protection refused: the secrets it keeps, until when. */
  softDeletedSecrets?: SoftDeletedSecret[];
  /** Optimistic-concurrency token of the stored entity; absent on a record not yet stored. */
  etag?: string;
}
