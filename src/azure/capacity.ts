/**
 * What bounds a new platform in a subscription and region, read from Azure: Microsoft.Compute's usages of
 * the region (vCPUs per family, spot, the regional total) and the subscription's resource groups.
 */
import { RESOURCE_GROUPS_PER_SUBSCRIPTION, QUOTA, type Usage } from '../platform/admission.js';
import type { AzureClients } from './clients.js';

/** The service's CapacityReader (src/services/platforms.ts), from the SDK clients. */
export function capacityReader(clients: Pick<AzureClients, 'compute' | 'resources'>): {
  usages(location: string): Promise<Usage[]>;
} {
  return {
    async usages(location) {
      const usages: Usage[] = [];
      // GET …/providers/Microsoft.Compute/locations/{location}/usages (api-version 2026-04-01 in
      // @azure/arm-compute 25.1.1), paged by the SDK.
      for await (const u of clients.compute.usage.list(location))
        usages.push({
          name: u.name?.value ?? '',
          localizedName: u.name?.localizedValue ?? u.name?.value ?? '',
          inUse: u.currentValue,
          limit: u.limit,
        });
      let groups = 0;
      for await (const _ of clients.resources.resourceGroups.list()) groups++;
      usages.push({
        name: QUOTA.resourceGroups,
        localizedName: 'Resource groups per subscription',
        inUse: groups,
        limit: RESOURCE_GROUPS_PER_SUBSCRIPTION,
      });
      return usages;
    },
  };
}
