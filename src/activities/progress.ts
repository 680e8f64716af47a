/** The activity that writes a flow's progress to the registry (an ETag-guarded merge, safe to repeat). */
import type { Registry } from '../registry/registry.js';
import type { SweepCandidate } from '../platform/idle.js';
import { isSwept, type SweptPhase } from '../platform/phases.js';
import type { PlatformSpec } from '../platform/types.js';
import type { PlatformRef, ProgressUpdate } from './contract.js';

export function createProgressActivities({ registry, now }: { registry: Registry; now: () => Date }) {
  return {
    async getPlatformSpec({ platformId }: PlatformRef): Promise<PlatformSpec> {
      const record = await registry.get(platformId);
      if (!record) throw new Error(`platform ${platformId} has no registry record`);
      return record.spec;
    },

    /** When the last stop finished (the end of its aksStop step), if the platform was ever stopped. */
    async getLastStopTime({ platformId }: PlatformRef): Promise<string | null> {
      const record = await registry.get(platformId);
      return record?.steps.find((s) => s.name === 'aksStop' && s.state === 'succeeded')?.endedAt ?? null;
    },

    /** Ready and Stopped platforms: the only ones a sweep looks at (any other phase has a flow running). */
    async listSweepCandidates(): Promise<SweepCandidate[]> {
      const records = await registry.list();
      return records
        .filter((r): r is typeof r & { phase: SweptPhase } => isSwept(r.phase))
        .map((r) => ({
          platformId: r.id,
          phase: r.phase,
          idleMinutes: r.spec.autoStop.idleMinutes,
          ...(r.lastActiveAt ? { lastActiveAt: r.lastActiveAt } : {}),
          ...(r.probeFailure ? { probeFailures: r.probeFailure.consecutive } : {}),
          ...(r.power ? { postgres: r.power.postgres } : {}),
        }));
    },

    async recordProgress(update: ProgressUpdate): Promise<void> {
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
        if (update.power) next.power = update.power;
        if (update.probeFailure === null) delete next.probeFailure;
        else if (update.probeFailure) next.probeFailure = update.probeFailure;
        if (update.lastError === null) delete next.lastError;
        else if (update.lastError) next.lastError = update.lastError;
        return next;
      });
    },
  };
}
