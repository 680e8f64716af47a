/**
 * Microsoft.Compute usages of a region: `GET /subscriptions/{sub}/providers/Microsoft.Compute/locations/
 * {location}/usages`, in Azure's shape (`value[]` of `{ name: { value, localizedValue }, currentValue,
 * limit, unit }`, https://learn.microsoft.com/rest/api/compute/usage/list).
 *
 * Modeled: what is in use is computed from the agent pools of the AKS clusters in that region (nodes ×
 * the VM size's vCPUs; a stopped cluster's VMs are deleted, so it uses none). An on-demand VM counts
 * against its family and the regional total, a spot VM against the regional low-priority vCPUs only.
 * Limits are settings of the simulator (`SimulatedArm.setQuotaLimit`); defaults below.
 */
import { isCluster } from './aks.js';
import { byMethod, type RequestContext, type Route } from './route.js';
import { normLocation, obj, type World } from './world.js';

/**
 * Default limits: the Enterprise Agreement regional default of 350 vCPUs for the totals and the families
 * (azure-real-behaviours §3.3, "vCPU quota defaults"; pay-as-you-go starts at 20, which tests set). GPU
 * families often start lower or at 0 and no authoritative figure exists, so the T4 family is 350 here too
 * and tests that need a small one set it.
 */
export const DEFAULT_QUOTA_LIMITS: Readonly<Record<string, number>> = {
  cores: 350,
  lowPriorityCores: 350,
  standardDSv5Family: 350,
  standardNCASv3_T4Family: 350,
};

const LOCALIZED: Readonly<Record<string, string>> = {
  cores: 'Total Regional vCPUs',
  lowPriorityCores: 'Total Regional Low-priority vCPUs',
  standardDSv5Family: 'Standard DSv5 Family vCPUs',
  standardNCASv3_T4Family: 'Standard NCASv3_T4 Family vCPUs',
};

/** The simulator's own VM table: vCPUs and the family quota of the sizes clusters are created with. */
const VM_SIZES: Readonly<Record<string, { vcpus: number; family: string }>> = {
  Standard_D2s_v5: { vcpus: 2, family: 'standardDSv5Family' },
  Standard_D4s_v5: { vcpus: 4, family: 'standardDSv5Family' },
  Standard_NC4as_T4_v3: { vcpus: 4, family: 'standardNCASv3_T4Family' },
  Standard_NC8as_T4_v3: { vcpus: 8, family: 'standardNCASv3_T4Family' },
  Standard_NC16as_T4_v3: { vcpus: 16, family: 'standardNCASv3_T4Family' },
  Standard_NC64as_T4_v3: { vcpus: 64, family: 'standardNCASv3_T4Family' },
};

/** vCPUs in use per usage name in `location`, from the clusters that exist there. */
export function vcpusInUse(world: World, location: string): Record<string, number> {
  const used: Record<string, number> = Object.fromEntries(Object.keys(LOCALIZED).map((k) => [k, 0]));
  for (const r of world.resources.values()) {
    if (!isCluster(r) || normLocation(r.location) !== normLocation(location) || r.power === 'Stopped')
      continue;
    for (const p of (obj(r.body.properties).agentPoolProfiles as unknown[] | undefined) ?? []) {
      const pool = obj(p);
      const size = VM_SIZES[String(pool.vmSize)];
      if (!size) continue;
      const vcpus = size.vcpus * (typeof pool.count === 'number' ? pool.count : 1);
      if (pool.scaleSetPriority === 'Spot') used.lowPriorityCores! += vcpus;
      else {
        used[size.family]! += vcpus;
        used.cores! += vcpus;
      }
    }
  }
  return used;
}

export function computeUsagesRoute(
  ctx: RequestContext,
  location: string,
  limits: Record<string, number>,
): Route {
  return byMethod(ctx, 'Microsoft.Compute usages', {
    GET: {
      op: 'compute.usages.list',
      run: () => {
        const used = vcpusInUse(ctx.world, location);
        return {
          status: 200,
          body: {
            value: Object.entries(LOCALIZED).map(([value, localizedValue]) => ({
              name: { value, localizedValue },
              currentValue: used[value] ?? 0,
              limit: limits[value] ?? 0,
              unit: 'Count',
            })),
          },
        };
      },
    },
  });
}
