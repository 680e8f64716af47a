/** The activity that writes a flow's progress to the registry (an ETag-guarded merge, safe to repeat). */
import { requireRecord, type Registry } from '../registry/registry.js';
import { isSwept, type SweptPhase } from '../platform/phases.js';
import { GPU_IDLE_MINUTES, PREWARM_LEAD_MINUTES } from '../platform/policy.js';
import { prewarmDue, recordUse } from '../platform/prewarm.js';
import type { PlatformRecord } from '../platform/types.js';
import type { StepName } from '../platform/steps.js';
import type { ActivityHandlers } from './contract.js';

/** The step whose end is when a platform's compute stopped: a start waits 15 minutes after it (AKS asks). */
const CLUSTER_STOPPED: StepName = 'aksStop';

export function createProgressActivities({
  registry,
  now,
}: {
  registry: Registry;
  now: () => Date;
}): ActivityHandlers<'getPlatformSpec' | 'getLastStopTime' | 'listSweepCandidates' | 'recordProgress'> {
  return {
    async getPlatformSpec({ platformId }) {
      return (await requireRecord(registry, platformId)).spec;
    },

    /** When the last stop finished (the end of its cluster stop step), if the platform was ever stopped. */
    async getLastStopTime({ platformId }) {
      const record = await registry.get(platformId);
      return (
        record?.steps.find((s) => s.name === CLUSTER_STOPPED && s.state === 'succeeded')?.endedAt ?? null
      );
    },

    /** Ready and Stopped platforms: the only ones a sweep looks at (any other phase has a flow running). */
    async listSweepCandidates({ at: sweptAt }) {
      const records = await registry.list();
      const at = new Date(sweptAt);
      // Pre-warm on (absent = the default, on) and a usual hour coming up: a Stopped platform is started, a
      // Ready one whose GPU tier is released has its tier woken.
      const prewarmOf = (r: PlatformRecord) => {
        const cold = r.phase === 'Stopped' || (r.phase === 'Ready' && r.gpu?.state === 'released');
        if (!cold || r.spec.autoStop.prewarm === false) return {};
        const hour = prewarmDue(r.usage, at, PREWARM_LEAD_MINUTES * 60_000);
        return hour ? { prewarmFor: hour } : {};
      };
      return records
        .filter((r): r is typeof r & { phase: SweptPhase } => isSwept(r.phase))
        .map((r) => ({
          platformId: r.id,
          phase: r.phase,
          idleMinutes: r.spec.autoStop.idleMinutes,
          gpuIdleMinutes: r.spec.autoStop.gpuIdleMinutes ?? GPU_IDLE_MINUTES.default,
          // A wake that ended in an error (no spot capacity, its deadline) is no wake under way: the tier
          // counts as released, so the long idle limit still stops the platform.
          ...(r.phase === 'Ready' && r.gpu ? { gpu: r.gpu.error ? 'released' : r.gpu.state } : {}),
          ...(r.lastActiveAt ? { lastActiveAt: r.lastActiveAt } : {}),
          ...(r.probeFailure ? { probeFailures: r.probeFailure.consecutive } : {}),
          ...(r.power ? { postgres: r.power.postgres } : {}),
          ...prewarmOf(r),
        }));
    },

    async recordProgress(update) {
      await registry.update(update.platformId, (r) => {
        const steps = update.step
          ? [...r.steps.filter((s) => s.name !== update.step!.name), update.step]
          : r.steps;
        const next = {
          ...r,
          phase: update.phase ?? r.phase,
          steps,
          models: update.models ? { ...r.models, ...update.models } : r.models,
          resourceIds: update.resourceIds ? { ...r.resourceIds, ...update.resourceIds } : r.resourceIds,
          endpoints: update.endpoints ? { ...r.endpoints, ...update.endpoints } : r.endpoints,
          updatedAt: now().toISOString(),
        };
        if (update.warnings) next.warnings = update.warnings;
        if (update.smokeTest) next.smokeTest = update.smokeTest;
        if (update.lastActiveAt) next.lastActiveAt = update.lastActiveAt;
        // Merged here, under the record's ETag, from the stored history: recording is idempotent, so a
        // retried activity adds nothing twice.
        if (update.usedAt) next.usage = recordUse(r.usage, new Date(update.usedAt));
        if (update.power) next.power = update.power;
        if (update.gpu === null) delete next.gpu;
        else if (update.gpu) next.gpu = update.gpu;
        if (update.softDeletedSecrets) next.softDeletedSecrets = update.softDeletedSecrets;
        if (update.probeFailure === null) delete next.probeFailure;
        else if (update.probeFailure) next.probeFailure = update.probeFailure;
        if (update.lastError === null) delete next.lastError;
        else if (update.lastError) next.lastError = update.lastError;
        return next;
      });
    },
  };
}
