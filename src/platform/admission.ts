/**
 * Admission: whether a platform fits the subscription and region before anything is created. Pure: the
 * usages come in from the SDK adapter (src/azure/capacity.ts), the verdict goes out as data.
 *
 * What a platform needs, per quota Azure checks when it allocates VMs (Microsoft.Compute usages of the
 * region; azure-real-behaviours §3.3, "vCPU quota defaults"):
 * - every on-demand VM counts against its VM family's vCPUs and the regional total (`cores`);
 * - a spot VM counts against the regional low-priority vCPUs (`lowPriorityCores`) only;
 * - autoscaled pools count at their maximum: what the autoscaler may scale to. Counting the minimum (or
 *   min + 1) would admit a platform whose scale-up Azure later refuses for quota, which is exactly the
 *   late failure admission exists to prevent (the gpuNode step's `quota` answer after a refused scale-up).
 * And two resource groups per platform (its own and AKS's node resource group) against the 980 a
 * subscription may hold (azure-real-behaviours §3.3, "Resource groups"), and one AKS cluster against the
 * clusters the subscription may hold in the region (the AKS_CLUSTERS_PER_REGION setting, default 100).
 */
import { APPS_POOL, SYSTEM_POOL } from './cost.js';
import { T4_VM_SIZES } from './catalog.js';
import type { PlatformSpec } from './types.js';

/** Usage names as Microsoft.Compute reports them (`name.value`), and the subscription's resource groups. */
export const QUOTA = {
  regionalVcpus: 'cores',
  spotVcpus: 'lowPriorityCores',
  t4Family: 'standardNCASv3_T4Family',
  dsv5Family: 'standardDSv5Family',
  resourceGroups: 'resourceGroups',
  aksClusters: 'managedClusters',
} as const;

/** Resource groups per subscription (azure-real-behaviours §3.3: 980, from the ARM subscription limits). */
export const RESOURCE_GROUPS_PER_SUBSCRIPTION = 980;
/** The platform's own resource group and the node resource group AKS creates for the cluster. */
const RESOURCE_GROUPS_PER_PLATFORM = 2;

/** The VM sizes a platform uses, with their vCPUs and the family quota they count against. */
const VM_SIZES: Readonly<Record<string, { vcpus: number; family: string }>> = {
  Standard_D2s_v5: { vcpus: 2, family: QUOTA.dsv5Family },
  Standard_D4s_v5: { vcpus: 4, family: QUOTA.dsv5Family },
  ...Object.fromEntries(
    Object.entries(T4_VM_SIZES).map(([size, s]) => [size, { vcpus: s.vcpus, family: QUOTA.t4Family }]),
  ),
};

/** One quota as read: what it is called, how much is used and the limit. */
export interface Usage {
  name: string;
  localizedName: string;
  inUse: number;
  limit: number;
}

/** One quota against what the platform needs: `left` after it, `missing` when it does not fit. */
export interface QuotaFit extends Usage {
  needed: number;
  left: number;
  missing: number;
}

export interface Admission {
  fits: boolean;
  location: string;
  quotas: QuotaFit[];
}

/** The platform's need per quota name (vCPUs, resource groups). */
export function platformNeeds(spec: PlatformSpec): Record<string, number> {
  const need: Record<string, number> = {};
  const add = (name: string, n: number) => (need[name] = (need[name] ?? 0) + n);
  const pools = [
    { vmSize: SYSTEM_POOL.vmSize, nodes: SYSTEM_POOL.count, spot: false },
    { vmSize: APPS_POOL.vmSize, nodes: APPS_POOL.maxCount, spot: false },
    { vmSize: spec.gpu.vmSize, nodes: spec.gpu.maxNodes, spot: spec.gpu.spot },
  ];
  for (const pool of pools) {
    const size = VM_SIZES[pool.vmSize];
    if (!size) throw new Error(`no vCPU figure for VM size ${pool.vmSize}`);
    const vcpus = size.vcpus * pool.nodes;
    if (pool.spot) add(QUOTA.spotVcpus, vcpus);
    else {
      add(size.family, vcpus);
      add(QUOTA.regionalVcpus, vcpus);
    }
  }
  add(QUOTA.resourceGroups, RESOURCE_GROUPS_PER_PLATFORM);
  add(QUOTA.aksClusters, 1);
  return need;
}

/**
 * The fit of each needed quota. A quota the region does not report is taken as 0 of 0 (Azure reports
 * every family it offers; an unreported one has no quota there), so it refuses.
 */
export function admit(spec: PlatformSpec, usages: readonly Usage[]): Admission {
  const quotas = Object.entries(platformNeeds(spec)).map(([name, needed]): QuotaFit => {
    const usage = usages.find((u) => u.name.toLowerCase() === name.toLowerCase()) ?? {
      name,
      localizedName: name,
      inUse: 0,
      limit: 0,
    };
    const left = usage.limit - usage.inUse - needed;
    return { ...usage, needed, left, missing: Math.max(0, -left) };
  });
  return { fits: quotas.every((q) => q.missing === 0), location: spec.location, quotas };
}

/** "Standard NCASv3_T4 Family vCPUs (standardNCASv3_T4Family): 8 needed, 4 left of 20, 4 missing". */
export function describeShortfall(admission: Admission): string {
  return admission.quotas
    .filter((q) => q.missing > 0)
    .map(
      (q) =>
        `${q.localizedName} (${q.name}) ${q.name === QUOTA.resourceGroups ? 'in the subscription' : `in ${admission.location}`}: ${q.needed} needed, ${Math.max(0, q.limit - q.inUse)} left of ${q.limit}, ${q.missing} missing`,
    )
    .join('; ');
}

/** One subscription of the pool measured for a platform: its fit, or that its quota could not be read. */
export type SubscriptionFit =
  { subscriptionId: string; admission: Admission } | { subscriptionId: string; unreadable: true };

/**
 * Where a new platform goes: the first subscription of the pool (in the configured order, the default
 * first) where it fits. First fit rather than the emptiest: the operator's order is the placement rule
 * (a subscription added for overflow is used only once the earlier ones are full, and the default stays the
 * place of most platforms), and it keeps room for large platforms in the later ones, where spreading every
 * platform evenly would leave no subscription with room for one that needs a lot. Undefined: none fits.
 */
export function placement(fits: readonly SubscriptionFit[]): string | undefined {
  return fits.find((f) => 'admission' in f && f.admission.fits)?.subscriptionId;
}

/**
 * The usages as a platform will meet them: less what the platforms being deleted there hold (each at its
 * need, as admitted; once its resource group is gone its VMs, clusters and groups count no more), plus
 * what the platforms queued ahead of it there will take (their room is promised first: first in, first out).
 */
export function usagesAfter(
  usages: readonly Usage[],
  changes: { freed: readonly PlatformSpec[]; reserved: readonly PlatformSpec[] },
): Usage[] {
  const delta: Record<string, number> = {};
  const add = (specs: readonly PlatformSpec[], sign: number) => {
    for (const spec of specs)
      for (const [name, n] of Object.entries(platformNeeds(spec)))
        delta[name.toLowerCase()] = (delta[name.toLowerCase()] ?? 0) + sign * n;
  };
  add(changes.freed, -1);
  add(changes.reserved, 1);
  return usages.map((u) => ({ ...u, inUse: Math.max(0, u.inUse + (delta[u.name.toLowerCase()] ?? 0)) }));
}
