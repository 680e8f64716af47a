/**
 * The idle policy: what one sweep decides for one platform from what it observed. Pure, so the sweep
 * orchestration, the benchmarks and the tests share one answer.
 */

export interface SweepCandidate {
  platformId: string;
  phase: 'Ready' | 'Stopped';
  idleMinutes: number;
  /** The GPU tier's idle limit (0 or absent: never released). */
  gpuIdleMinutes?: number;
  /** A Ready platform's GPU tier when it is not running (absent: running). */
  gpu?: 'released' | 'waking';
  /** Last time the platform was seen in use (or became Ready). */
  lastActiveAt?: string;
  /** Idle probes that failed in a row so far (absent when the last one answered). */
  probeFailures?: number;
  /** PostgreSQL's power state as last recorded (a Stopped platform's record is updated when it differs). */
  postgres?: string;
  /**
   * A Stopped platform due to be started, or a Ready one whose GPU tier is released due to have it woken,
   * ahead of a usual hour of use: that hour (src/platform/prewarm.ts,
   * computed where the record is read so the candidate list stays small); absent when none is, or when
   * `autoStop.prewarm` is false.
   */
  prewarmFor?: string;
}

export type Observation =
  | { kind: 'ollama'; loadedModels: number }
  | { kind: 'power'; aks?: string; postgres: string }
  /** A released GPU tier's Ollama replicas (KEDA's count). */
  | { kind: 'gpuTier'; ollamaReplicas: number }
  | { kind: 'probeFailed'; reason: string }
  /** The probe found the AKS cluster stopped (its API server does not answer; AKS reports powerState Stopped). */
  | { kind: 'clusterStopped'; reason: string };

export type Decision =
  'markActive' | 'stop' | 'releaseGpu' | 'gpuWoken' | 'restopPostgres' | 'prewarm' | 'keep' | 'probeFailed';

export function decide(candidate: SweepCandidate, observation: Observation, now: Date): Decision {
  if (observation.kind === 'probeFailed') return 'probeFailed'; // never stop on a failed probe
  // A Ready platform whose cluster was stopped outside the API (the portal, the CLI) serves nothing and is
  // not Ready: its stop is completed through the guarded path (PostgreSQL stops too, the phase becomes
  // Stopped, POST /start brings it back), whatever its auto-stop setting. Azure's word, not a failed probe.
  if (observation.kind === 'clusterStopped') return candidate.phase === 'Ready' ? 'stop' : 'keep';
  if (candidate.phase === 'Stopped') {
    // Started ahead of its usual use; that start also brings up a PostgreSQL Azure restarted by itself.
    if (observation.kind === 'power' && candidate.prewarmFor) return 'prewarm';
    // Azure starts a stopped flexible server by itself after seven days; it must be stopped again.
    return observation.kind === 'power' && observation.postgres === 'Ready' ? 'restopPostgres' : 'keep';
  }
  if (candidate.gpu) {
    // Ollama is at zero (or coming back): nothing to ask it, so the sweep read Azure's power states. The
    // long limit still counts from the last use; a wake under way is someone's wish to use it.
    if (observation.kind === 'power' && observation.aks === 'Stopped') return 'stop';
    if (candidate.gpu === 'waking') return 'keep';
    // A chat held at the interceptor made KEDA bring Ollama back: the tier runs again, in use.
    if (observation.kind === 'gpuTier' && observation.ollamaReplicas > 0) return 'gpuWoken';
    // A usual stretch of use is coming (learned pre-warm): the tier is woken ahead of it, and not stopped
    // by the long limit just before the hours it is used in.
    if (candidate.gpu === 'released' && candidate.prewarmFor && observation.kind === 'gpuTier')
      return 'prewarm';
    return idleFor(candidate, now) >= minutes(candidate.idleMinutes) ? 'stop' : 'keep';
  }
  if (observation.kind !== 'ollama') return 'keep';
  // Models loaded in memory mean someone used the platform within OLLAMA_KEEP_ALIVE.
  if (observation.loadedModels > 0) return 'markActive';
  if (candidate.idleMinutes === 0 && !candidate.gpuIdleMinutes) return 'keep';
  const idle = idleFor(candidate, now);
  if (Number.isNaN(idle)) return 'markActive'; // no baseline yet: start counting now
  // The long limit wins: a platform idle past both stops at once instead of releasing its GPU first.
  if (idle >= minutes(candidate.idleMinutes)) return 'stop';
  return idle >= minutes(candidate.gpuIdleMinutes) ? 'releaseGpu' : 'keep';
}

/** Milliseconds since the last use (NaN without a baseline). */
const idleFor = (candidate: Pick<SweepCandidate, 'lastActiveAt'>, now: Date) =>
  now.getTime() - Date.parse(candidate.lastActiveAt ?? '');

/** A limit in milliseconds; 0 (or absent) means never. */
const minutes = (limit: number | undefined) => (limit ? limit * 60_000 : Infinity);

/** When the GPU tier is released if the platform stays idle (null when never, or it is not running). */
export function gpuReleasesAt(
  candidate: Pick<SweepCandidate, 'gpuIdleMinutes' | 'lastActiveAt' | 'gpu'>,
): string | null {
  if (!candidate.gpuIdleMinutes || !candidate.lastActiveAt || candidate.gpu) return null;
  return new Date(Date.parse(candidate.lastActiveAt) + candidate.gpuIdleMinutes * 60_000).toISOString();
}

/** When the platform stops if it stays idle (null when auto-stop is off or it is not running). */
export function stopsAt(candidate: Pick<SweepCandidate, 'idleMinutes' | 'lastActiveAt'>): string | null {
  if (candidate.idleMinutes === 0 || !candidate.lastActiveAt) return null;
  return new Date(Date.parse(candidate.lastActiveAt) + candidate.idleMinutes * 60_000).toISOString();
}
