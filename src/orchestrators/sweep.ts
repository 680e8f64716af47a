/**
 * idleSweep: one pass over the Ready and Stopped platforms. Probes run in bounded batches; a platform idle
 * for its `autoStop.idleMinutes` is stopped through the same guarded path as POST /stop; a Stopped platform
 * whose PostgreSQL Azure restarted by itself is stopped again. A failed probe never stops anything.
 */
import * as df from 'durable-functions';
import type { Result } from '../activities/contract.js';
import { decide, type Decision, type Observation, type SweepCandidate } from '../platform/idle.js';
import { call, type Context, type Flow } from './flow.js';
import { IDLE_SWEEP } from './names.js';
import { SWEEP_CONCURRENCY } from './policy.js';

export interface SweepSummary {
  probed: number;
  active: number;
  stopped: string[];
  restopped: string[];
  probeFailures: string[];
  refused: string[];
}

function* idleSweep(context: Context): Flow<SweepSummary> {
  const candidates = (yield* call(context, 'listSweepCandidates', null)) as SweepCandidate[];
  const summary: SweepSummary = {
    probed: 0,
    active: 0,
    stopped: [],
    restopped: [],
    probeFailures: [],
    refused: [],
  };
  const now = context.df.currentUtcDateTime;
  for (let i = 0; i < candidates.length; i += SWEEP_CONCURRENCY) {
    const batch = candidates.slice(i, i + SWEEP_CONCURRENCY);
    const probes = batch.map((c) =>
      c.phase === 'Ready'
        ? context.df.callActivity('probeOllama', { platformId: c.platformId })
        : context.df.callActivity('getPowerStates', { platformId: c.platformId }),
    );
    const results = (yield context.df.Task.all(probes)) as Result<
      { loadedModels: number } | { aks: string; postgres: string }
    >[];
    for (const [j, candidate] of batch.entries()) {
      summary.probed++;
      const observation = observe(results[j]!);
      yield* remember(context, candidate, observation);
      yield* act(context, candidate, decide(candidate, observation, now), observation, summary);
    }
    context.df.setCustomStatus({ probed: summary.probed, of: candidates.length });
  }
  return summary;
}

function observe(result: Result<{ loadedModels: number } | { aks: string; postgres: string }>): Observation {
  if (!result.ok) return { kind: 'probeFailed', reason: `${result.code}: ${result.message}` };
  return 'loadedModels' in result.value
    ? { kind: 'ollama', loadedModels: result.value.loadedModels }
    : { kind: 'power', aks: result.value.aks, postgres: result.value.postgres };
}

function* act(
  context: Context,
  candidate: SweepCandidate,
  decision: Decision,
  observation: Observation,
  summary: SweepSummary,
): Flow<void> {
  const platformId = candidate.platformId;
  switch (decision) {
    case 'markActive':
      summary.active++;
      yield* call(context, 'recordProgress', {
        platformId,
        lastActiveAt: context.df.currentUtcDateTime.toISOString(),
      });
      return;
    case 'stop':
    case 'restopPostgres': {
      const result = (yield* call(context, 'requestPlatformStop', {
        platformId,
        restop: decision === 'restopPostgres',
      })) as Result<{ phase: string }>;
      // Refused means another operation got there first: it is left alone this time.
      if (!result.ok) summary.refused.push(platformId);
      else (decision === 'stop' ? summary.stopped : summary.restopped).push(platformId);
      return;
    }
    case 'probeFailed':
      summary.probeFailures.push(platformId);
      // Shown as a warning in the status: a platform whose usage cannot be read is never auto-stopped.
      yield* call(context, 'recordProgress', {
        platformId,
        probeFailure: {
          at: context.df.currentUtcDateTime.toISOString(),
          reason: observation.kind === 'probeFailed' ? observation.reason : 'unknown',
          consecutive: (candidate.probeFailures ?? 0) + 1,
        },
      });
      return;
    case 'keep':
      return;
  }
}

/** Writes what the probe learned when it differs from the record: a probe that answers again, a power change. */
function* remember(context: Context, candidate: SweepCandidate, observation: Observation): Flow<void> {
  const platformId = candidate.platformId;
  if (observation.kind === 'probeFailed') return;
  if (candidate.probeFailures) yield* call(context, 'recordProgress', { platformId, probeFailure: null });
  if (observation.kind === 'power' && observation.postgres !== candidate.postgres)
    yield* call(context, 'recordProgress', {
      platformId,
      power: {
        aks: observation.aks ?? 'Unknown',
        postgres: observation.postgres,
        observedAt: context.df.currentUtcDateTime.toISOString(),
      },
    });
}

df.app.orchestration(IDLE_SWEEP, idleSweep);
