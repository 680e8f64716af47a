/**
 * What bounds a new platform in a subscription and region, read from Azure: Microsoft.Compute's usages of
 * the region (vCPUs per family, spot, the regional total), the subscription's resource groups and its AKS
 * clusters in the region. Quota is per subscription and region (azure-real-behaviours §3.3), so each
 * subscription of the pool is read with its own clients.
 */
import { RESOURCE_GROUPS_PER_SUBSCRIPTION, QUOTA, type Usage } from '../platform/admission.js';
import type { AzureClientPool } from './clients.js';

/** The service's CapacityReader (src/services/platforms.ts), from the SDK clients. */
export function capacityReader(
  pool: Pick<AzureClientPool, 'of'>,
  aksClustersPerRegion: number,
): {
  usages(location: string, subscriptionId: string): Promise<Usage[]>;
} {
  return {
    async usages(location, subscriptionId) {
      const clients = pool.of(subscriptionId);
      const region = normalize(location);
      // Three independent paged listings, read together.
      const [compute, groups, clusters] = await Promise.all([
        (async () => {
          const found: Usage[] = [];
          // GET …/providers/Microsoft.Compute/locations/{location}/usages (api-version 2026-04-01 in
          // @azure/arm-compute 25.1.1), paged by the SDK.
          for await (const u of clients.compute.usage.list(location))
            found.push({
              name: u.name?.value ?? '',
              localizedName: u.name?.localizedValue ?? u.name?.value ?? '',
              inUse: u.currentValue,
              limit: u.limit,
            });
          return found;
        })(),
        (async () => {
          let count = 0;
          for await (const _ of clients.resources.resourceGroups.list()) count++;
          return count;
        })(),
        (async () => {
          let count = 0;
          for await (const c of clients.aks.managedClusters.list())
            if (normalize(c.location) === region) count++;
          return count;
        })(),
      ]);
      const usages: Usage[] = [...compute];
      usages.push({
        name: QUOTA.resourceGroups,
        localizedName: 'Resource groups per subscription',
        inUse: groups,
        limit: RESOURCE_GROUPS_PER_SUBSCRIPTION,
      });
      usages.push({
        name: QUOTA.aksClusters,
        localizedName: 'AKS clusters per region',
        inUse: clusters,
        limit: aksClustersPerRegion,
      });
      return usages;
    },
  };
}

/** ARM compares locations without case or spaces ("East US" is eastus). */
const normalize = (location: string) => location.replace(/\s+/g, '').toLowerCase();
