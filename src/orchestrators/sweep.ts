/**
 * idleSweep: one pass over the Ready and Stopped platforms. Probes run in bounded batches; a platform idle
 * for its `autoStop.idleMinutes` is stopped through the same guarded path as POST /stop; a Stopped platform
 * whose PostgreSQL Azure restarted by itself is stopped again; a Stopped platform due for a usual hour of use
 * (learned pre-warm, src/platform/prewarm.ts) is started through the path of POST /start. A Ready platform idle
 * for its `autoStop.gpuIdleMinutes` has its GPU tier released (Ollama to zero, the node to the autoscaler) and
 * stays Ready; while released, Ollama's replica count is read instead (probeGpuTier: above zero, a chat held
 * at the interceptor made KEDA wake it, and the tier is recorded running). A failed probe never transitions
 * anything; a Ready platform whose AKS cluster was stopped outside the API (the probe says ClusterStopped)
 * has its stop completed.
 *
 * Scale. An orchestrator replays its whole history at every step, so one flow doing a thousand platforms'
 * work one call at a time costs the square of that. The platforms are cut into chunks, each swept by a
 * sub-orchestration (a short history of its own). Within a chunk the probes of a batch run together, and
 * with them the writes and transitions the previous batch decided: a chunk takes one step per batch.
 */
import * as df from 'durable-functions';
import type { ActivityOutput, ProgressUpdate } from '../activities/contract.js';
import { decide, type Decision, type Observation, type SweepCandidate } from '../platform/idle.js';
import { all, awaited, call, child, task, type Context, type Flow, type TypedTask } from './flow.js';
import { IDLE_SWEEP, IDLE_SWEEP_CHUNK } from './names.js';
import { SWEEP_CHUNK, SWEEP_CONCURRENCY } from './policy.js';

export interface SweepSummary {
  probed: number;
  active: number;
  stopped: string[];
  /** Ready platforms whose GPU tier was released (Ollama at zero). */
  gpuReleased: string[];
  /** Released GPU tiers a held chat woke (KEDA brought Ollama back): recorded running, in use. */
  gpuWoken: string[];
  restopped: string[];
  /** Stopped platforms started ahead of their usual hours of use (learned pre-warm). */
  prewarmed: string[];
  probeFailures: string[];
  refused: string[];
}

const emptySummary = (): SweepSummary => ({
  probed: 0,
  active: 0,
  stopped: [],
  gpuReleased: [],
  gpuWoken: [],
  restopped: [],
  prewarmed: [],
  probeFailures: [],
  refused: [],
});

function* idleSweep(context: Context): Flow<SweepSummary> {
  // The backstop of the queue: a delete's end admits queued platforms; one whose pass failed is admitted here.
  yield* call(context, 'admitQueuedPlatforms', {});
  // The sweep's own (replay-safe) time: what a pre-warm is judged by.
  const candidates = yield* call(context, 'listSweepCandidates', {
    at: context.df.currentUtcDateTime.toISOString(),
  });
  const summary = emptySummary();
  // Child ids are unique per sweep: the sweep's own id is fixed (it is a singleton), its start time is not.
  const run = context.df.currentUtcDateTime.getTime();
  for (let i = 0, chunk = 0; i < candidates.length; i += SWEEP_CHUNK, chunk++) {
    const part = yield* awaited(
      child<SweepSummary>(
        context,
        IDLE_SWEEP_CHUNK,
        candidates.slice(i, i + SWEEP_CHUNK),
        `${context.df.instanceId}:${run}:${chunk}`,
      ),
    );
    summary.probed += part.probed;
    summary.active += part.active;
    for (const key of [
      'stopped',
      'gpuReleased',
      'gpuWoken',
      'restopped',
      'prewarmed',
      'probeFailures',
      'refused',
    ] as const)
      summary[key].push(...part[key]);
    context.df.setCustomStatus({ probed: summary.probed, of: candidates.length });
  }
  return summary;
}

function* idleSweepChunk(context: Context): Flow<SweepSummary> {
  const candidates = context.df.getInput<SweepCandidate[]>();
  const summary = emptySummary();
  const done = {
    stop: summary.stopped,
    releaseGpu: summary.gpuReleased,
    gpuWoken: summary.gpuWoken,
    restopPostgres: summary.restopped,
    prewarm: summary.prewarmed,
  };
  // A batch's writes and transitions run alongside the next batch's probes: a chunk takes one step per
  // batch, and the writes' time hides behind the probes' (the two touch different platforms).
  let acting: { transitions: Transition[]; tasks: TypedTask<Acted>[] } = { transitions: [], tasks: [] };
  for (let i = 0; i < candidates.length || acting.tasks.length > 0; i += SWEEP_CONCURRENCY) {
    const batch = candidates.slice(i, i + SWEEP_CONCURRENCY);
    const probes: TypedTask<Probed>[] = batch.map((c) =>
      c.phase === 'Ready' && !c.gpu
        ? task(context, 'probeOllama', { platformId: c.platformId })
        : c.phase === 'Ready' && c.gpu === 'released'
          ? task(context, 'probeGpuTier', { platformId: c.platformId })
          : task(context, 'getPowerStates', { platformId: c.platformId }),
    );
    const answers = yield* all<Probed | Acted>(context, [...probes, ...acting.tasks]);
    for (const [k, { platformId, decision }] of acting.transitions.entries()) {
      // Refused means another operation got there first: it is left alone this time.
      if (!(answers[probes.length + k] as Acted)?.ok) summary.refused.push(platformId);
      else done[decision].push(platformId);
    }
    // Decided on the time the probes answered (a long sweep must not judge its last batch by its start).
    const now = context.df.currentUtcDateTime;
    const writes: TypedTask<void>[] = [];
    const transitions: Transition[] = [];
    for (const [j, candidate] of batch.entries()) {
      summary.probed++;
      const observation = observe(answers[j] as Probed);
      const decision = decide(candidate, observation, now);
      const update = progressUpdate(candidate, observation, decision, now);
      if (update) writes.push(task(context, 'recordProgress', update));
      if (decision === 'markActive') summary.active++;
      if (decision === 'probeFailed') summary.probeFailures.push(candidate.platformId);
      if (acts(decision)) transitions.push({ platformId: candidate.platformId, decision });
    }
    const transitionTasks = transitions.map(({ platformId, decision }) =>
      decision === 'prewarm'
        ? task(context, 'requestPlatformStart', { platformId })
        : decision === 'releaseGpu'
          ? task(context, 'releaseGpuTier', { platformId })
          : decision === 'gpuWoken'
            ? task(context, 'startOllama', { platformId })
            : task(context, 'requestPlatformStop', { platformId, restop: decision === 'restopPostgres' }),
    );
    acting = { transitions, tasks: [...transitionTasks, ...writes] };
  }
  return summary;
}

interface Transition {
  platformId: string;
  decision: Acting;
}
/** What a transition or a registry write answers (the writes answer nothing). */
type Acted =
  | ActivityOutput<'requestPlatformStop'>
  | ActivityOutput<'releaseGpuTier'>
  | ActivityOutput<'startOllama'>
  | void;

/**
 * The decisions that act: the service's guarded transitions (POST /stop, /start), and the GPU tier's release
 * (guarded by the phase in its activity).
 */
type Acting = Extract<Decision, 'stop' | 'releaseGpu' | 'gpuWoken' | 'restopPostgres' | 'prewarm'>;
const acts = (d: Decision): d is Acting =>
  d === 'stop' || d === 'releaseGpu' || d === 'gpuWoken' || d === 'restopPostgres' || d === 'prewarm';

/** What a probe answers: Ollama's loaded models for a Ready platform, the power states for a Stopped one. */
type Probed =
  ActivityOutput<'probeOllama'> | ActivityOutput<'probeGpuTier'> | ActivityOutput<'getPowerStates'>;

function observe(result: Probed): Observation {
  if (!result.ok)
    return {
      kind: result.code === 'ClusterStopped' ? 'clusterStopped' : 'probeFailed',
      reason: `${result.code}: ${result.message}`,
    };
  if ('loadedModels' in result.value) return { kind: 'ollama', loadedModels: result.value.loadedModels };
  if ('ollamaReplicas' in result.value)
    return { kind: 'gpuTier', ollamaReplicas: result.value.ollamaReplicas };
  return { kind: 'power', aks: result.value.aks, postgres: result.value.postgres };
}

/**
 * The one registry write a probe leads to, if any: activity seen (lastActiveAt, and the hour of use), a failed probe (shown as a
 * warning; a platform whose usage cannot be read is never auto-stopped), a probe that answers again, or a
 * power state that changed.
 */
function progressUpdate(
  candidate: SweepCandidate,
  observation: Observation,
  decision: Decision,
  now: Date,
): ProgressUpdate | undefined {
  const update: ProgressUpdate = { platformId: candidate.platformId };
  const at = now.toISOString();
  if (observation.kind === 'probeFailed') {
    update.probeFailure = {
      at,
      reason: observation.reason,
      consecutive: (candidate.probeFailures ?? 0) + 1,
    };
  } else if (candidate.probeFailures) {
    update.probeFailure = null;
  }
  if (decision === 'markActive') update.lastActiveAt = at;
  // Woken by a held chat: the tier runs again (its ScaledObject's minimum back to one, startOllama), and
  // that chat was use. Recorded at this sweep, so the status shows it from now.
  if (decision === 'gpuWoken') Object.assign(update, { gpu: null, lastActiveAt: at, usedAt: at });
  // Use, not just a baseline: what the learned pre-warm learns from (a model loaded means someone chatted).
  if (observation.kind === 'ollama' && observation.loadedModels > 0) update.usedAt = at;
  if (observation.kind === 'power' && observation.postgres !== candidate.postgres)
    update.power = { aks: observation.aks ?? 'Unknown', postgres: observation.postgres, observedAt: at };
  return Object.keys(update).length > 1 ? update : undefined;
}

df.app.orchestration(IDLE_SWEEP, idleSweep);
df.app.orchestration(IDLE_SWEEP_CHUNK, idleSweepChunk);
