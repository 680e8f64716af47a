/**
 * The API's access to a platform's cluster: its own identity is granted the built-in "Azure Kubernetes
 * Service RBAC Cluster Admin" role (Azure RBAC for Kubernetes; the cluster has no local accounts,
 * azure-real-behaviours F9) on the platform's resource group, which holds that one cluster. The group
 * exists before the cluster, so the grant is made before the cluster's creation and propagates during it
 * (up to about five minutes) instead of after it. The role assignment's name is derived from scope,
 * principal and role, so a retry finds its own grant; it is deleted with the resource group.
 */
import { createHash } from 'node:crypto';
import type { AzureClientPool } from '../azure/clients.js';
import { classifyAzureError } from '../azure/errors.js';
import { readOrUndefined } from '../azure/lro.js';
import { AKS_RBAC_CLUSTER_ADMIN_ROLE } from '../platform/azure-resources.js';
import { requireRecord, type Registry } from '../registry/registry.js';
import type { ActivityHandlers } from './contract.js';

export interface AccessActivityDeps {
  /** The grant is made in the platform's subscription (its record's). */
  clients: AzureClientPool;
  registry: Registry;
  /** The object id of the API's identity (API_PRINCIPAL_ID, or the oid of its credential's token). */
  principalId: () => Promise<string>;
}

/** A GUID (the form role assignment names must have) determined by scope, principal and role. */
export function roleAssignmentName(scope: string, principalId: string, roleId: string): string {
  const h = createHash('sha256')
    .update(`${scope.toLowerCase()}\n${principalId.toLowerCase()}\n${roleId.toLowerCase()}`)
    .digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function createAccessActivities(deps: AccessActivityDeps): ActivityHandlers<'ensureClusterAccess'> {
  return {
    async ensureClusterAccess({ platformId }) {
      try {
        const record = await requireRecord(deps.registry, platformId);
        const arm = deps.clients.of(record);
        const subscriptionId = arm.authorization.subscriptionId;
        const scope = `/subscriptions/${subscriptionId}/resourceGroups/${record.names.resourceGroup}`;
        const principalId = await deps.principalId();
        const name = roleAssignmentName(scope, principalId, AKS_RBAC_CLUSTER_ADMIN_ROLE);
        const assignments = arm.authorization.roleAssignments;
        const found = await readOrUndefined(() => assignments.get(scope, name));
        if (found) return { ok: true, value: { provisioningState: 'Succeeded', mutated: false } };
        await assignments.create(scope, name, {
          roleDefinitionId: `/subscriptions/${subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${AKS_RBAC_CLUSTER_ADMIN_ROLE}`,
          principalId,
          // Without it, a principal created moments ago may be refused PrincipalNotFound (replication delay).
          principalType: 'ServicePrincipal',
        });
        return { ok: true, value: { provisioningState: 'Succeeded', mutated: true } };
      } catch (e) {
        const failure = classifyAzureError(e);
        // The same grant under another name (made by hand, or by an older release): access is there.
        if (failure.code === 'RoleAssignmentExists')
          return { ok: true, value: { provisioningState: 'Succeeded', mutated: false } };
        // Entra ID has not replicated the principal to ARM yet: it will.
        if (failure.code === 'PrincipalNotFound') return { ...failure, kind: 'transient' };
        return failure;
      }
    },
  };
}
