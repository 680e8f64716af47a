/**
 * Azure-side activities of the platform flows: the resource group, every Azure resource of the table
 * (one generic begin, by resource id), ARM operations, power, outbound IPs and file shares. Each does one
 * small, idempotent thing: an "ensure" reads first and writes only what differs; a "begin" sends the write
 * and returns as soon as Azure accepted it, with the operation URL to poll; no activity waits for a
 * long-running operation (Consumption-plan functions stop after 5–10 minutes; an AKS creation takes
 * longer). Failures the orchestrator must decide on come back as typed results; only unexpected faults throw.
 */
import { createPipelineRequest, RestError } from '@azure/core-rest-pipeline';
import type { AzureClientPool, AzureClients } from '../azure/clients.js';
import {
  accepted,
  attempt,
  captureOperation,
  operationStatus,
  parseJson,
  readOrUndefined,
  unchanged,
} from '../azure/lro.js';
import {
  armResourceId,
  AZURE_RESOURCES,
  fileShares,
  type ArmResource,
  type AzureResourceKind,
} from '../platform/azure-resources.js';
import {
  AUTO_UPGRADE_SCHEDULE,
  maintenanceConfiguration,
  sameMaintenanceWindow,
  type MaintenanceWindow,
} from '../platform/maintenance.js';
import { MANAGED_BY, platformTags } from '../platform/tags.js';
import type { PlatformRecord } from '../platform/types.js';
import { requireRecord, type Registry } from '../registry/registry.js';
import type { ActivityHandlers, Failure, ResourceState, Result } from './contract.js';

export interface AzureActivityDeps {
  /** Per subscription: each platform's resources are reached in the subscription its record names. */
  clients: AzureClientPool;
  registry: Registry;
  /** The weekly window of every cluster's auto-upgrades (AKS_MAINTENANCE_WINDOW). */
  maintenanceWindow: MaintenanceWindow;
}

type AzureActivity =
  | 'ensureResourceGroup'
  | 'beginAzureResource'
  | 'getArmOperationStatus'
  | 'getAksOutboundIps'
  | 'ensureAksMaintenanceWindow'
  | 'ensureFileShares'
  | 'beginAksClusterPower'
  | 'getPowerStates'
  | 'beginResourceGroupDelete';

/** Ours: tagged as managed by this API for this platform. Anything else with our name is never adopted. */
export const isOurs = (tags: Record<string, string> | undefined, platformId: string) =>
  tags?.['managed-by'] === MANAGED_BY && tags?.['platform-id'] === platformId;

export const notOurs = (what: string, name: string): Failure => ({
  ok: false,
  kind: 'conflict',
  code: 'ResourceNotManaged',
  message: `${what} '${name}' exists but is not tagged as this platform's; it is never adopted. Delete or rename it, or choose another prefix.`,
});

export const missing = (what: string, name: string): Failure => ({
  ok: false,
  kind: 'notFound',
  code: 'ResourceNotFound',
  message: `${what} '${name}' does not exist.`,
});

export function createAzureActivities({
  clients,
  registry,
  maintenanceWindow,
}: AzureActivityDeps): ActivityHandlers<AzureActivity> {
  const load = async (platformId: string) => {
    const record = await requireRecord(registry, platformId);
    return { ...record, arm: clients.of(record) };
  };

  /**
   * The generic begin of any resource of the table, by its resource id (Azure Service Operator's generic
   * reconciler): absent (or Failed) → PUT the body; ours and settled → what its entry reconciles in place,
   * else nothing; ours mid-operation → its state, which the orchestrator polls by calling this again.
   */
  async function beginAzureResource(
    record: PlatformRecord,
    kind: AzureResourceKind,
    id: string,
  ): Promise<Result<ResourceState>> {
    const { spec, names } = record;
    const { resources } = clients.of(record);
    const name = kind.name(names);
    const live: ArmResource | undefined = await readOrUndefined(() =>
      resources.resources.getById(id, kind.apiVersion),
    );
    if (live) {
      if (!isOurs(live.tags, record.id)) return notOurs(kind.title, name);
      const state =
        kind.state?.(live) ?? (live.properties?.provisioningState as string | undefined) ?? 'Succeeded';
      // A failed creation is completed by sending the same PUT again (ARM reconciles).
      if (state !== 'Failed' && state !== 'Canceled') {
        const reconcile = state === 'Succeeded' ? kind.reconcile?.(live, spec) : undefined;
        if (!reconcile) return unchanged(state);
        if ('wait' in reconcile) return unchanged(reconcile.wait);
        if ('action' in reconcile) return postAction(resources, id, kind.apiVersion, reconcile.action);
        if ('patch' in reconcile) {
          const { seen, onResponse, abortSignal, submit } = captureOperation();
          await submit(
            resources.resources.beginUpdateById(id, kind.apiVersion, reconcile.patch, {
              onResponse,
              abortSignal,
            }),
          );
          return accepted(seen);
        }
        // { put }: the whole body again, below.
      }
    }
    // Secret values go from Key Vault straight into the request body; they are never returned or logged.
    const values = new Map<string, string>();
    for (const secret of kind.secrets ?? [])
      values.set(secret, (await clients.default.secrets.getSecret(names.secrets[secret])).value ?? '');
    const body = kind.body({ spec, names, secret: (secret) => values.get(secret) ?? '' });
    const { seen, onResponse, abortSignal, submit } = captureOperation();
    await submit(
      resources.resources.beginCreateOrUpdateById(id, kind.apiVersion, body, { onResponse, abortSignal }),
    );
    return accepted(seen);
  }

  /**
   * A POST action on a resource (AKS `start`) through the generic client's pipeline: accepted → the
   * operation to follow (Azure-AsyncOperation or Location, with Retry-After); refused → Azure's error.
   */
  async function postAction(
    resources: AzureClients['resources'],
    id: string,
    apiVersion: string,
    action: string,
  ): Promise<Result<ResourceState>> {
    const response = await resources.sendRequest(
      createPipelineRequest({
        url: `${resources.$host}${id}/${action}?api-version=${apiVersion}`,
        method: 'POST',
      }),
    );
    if (response.status >= 400) {
      const body = (parseJson(response.bodyAsText ?? undefined) ?? {}) as {
        error?: { code?: string; message?: string };
      };
      throw new RestError(body.error?.message ?? `${action} answered ${response.status}`, {
        code: body.error?.code,
        statusCode: response.status,
        response,
      });
    }
    const { seen, onResponse } = captureOperation();
    onResponse(response);
    return accepted(seen);
  }

  return {
    async ensureResourceGroup({ platformId }) {
      return attempt<ResourceState>(async () => {
        const { spec, names, arm } = await load(platformId);
        const { resources } = arm;
        const existing = await readOrUndefined(() => resources.resourceGroups.get(names.resourceGroup));
        const tags = platformTags(spec);
        if (existing) {
          if (!isOurs(existing.tags, platformId)) return notOurs('Resource group', names.resourceGroup);
          if (existing.location !== spec.location) {
            return {
              ok: false,
              kind: 'conflict',
              code: 'LocationMismatch',
              message: `Resource group '${names.resourceGroup}' is in ${existing.location}, not ${spec.location}.`,
            };
          }
          if (sameTags(existing.tags, tags)) return unchanged();
        }
        await resources.resourceGroups.createOrUpdate(names.resourceGroup, { location: spec.location, tags });
        return { ok: true, value: { provisioningState: 'Succeeded', mutated: true } };
      });
    },

    async beginAzureResource({ platformId, kind }) {
      return attempt(async () => {
        const record = await load(platformId);
        const id = armResourceId(record.arm.resources.subscriptionId ?? '', record.names, kind);
        return beginAzureResource(record, AZURE_RESOURCES[kind], id);
      });
    },

    async getArmOperationStatus({ operationUrl }) {
      return attempt(async () => {
        // The URL names its subscription; every client of the pool has the same credential and pipeline.
        const response = await clients.default.resources.sendRequest(
          createPipelineRequest({ url: operationUrl, method: 'GET' }),
        );
        return operationStatus(response.status, response.bodyAsText ?? undefined, response.headers);
      });
    },

    async beginAksClusterPower({ platformId, action }) {
      return attempt(async () => {
        const { names, arm } = await load(platformId);
        const cluster = await readOrUndefined(() =>
          arm.aks.managedClusters.get(names.resourceGroup, names.aksCluster),
        );
        if (!cluster) return missing('AKS cluster', names.aksCluster);
        const target = action === 'stop' ? 'Stopped' : 'Running';
        const busy = cluster.provisioningState === 'Stopping' || cluster.provisioningState === 'Starting';
        // Already where we want it (or on its way there): nothing to send, the caller polls the state.
        if (cluster.powerState?.code === target)
          return unchanged(busy ? cluster.provisioningState : 'Succeeded');
        const { seen, onResponse } = captureOperation();
        const poller =
          action === 'stop'
            ? arm.aks.managedClusters.stop(names.resourceGroup, names.aksCluster, { onResponse })
            : arm.aks.managedClusters.start(names.resourceGroup, names.aksCluster, { onResponse });
        await poller.submitted();
        return accepted(seen);
      });
    },

    async getPowerStates({ platformId }) {
      return attempt(async () => {
        const { names, arm } = await load(platformId);
        const [cluster, server] = await Promise.all([
          readOrUndefined(() => arm.aks.managedClusters.get(names.resourceGroup, names.aksCluster)),
          readOrUndefined(() => arm.postgres.servers.get(names.resourceGroup, names.postgresServer)),
        ]);
        return {
          ok: true,
          value: { aks: cluster?.powerState?.code ?? 'Absent', postgres: server?.state ?? 'Absent' },
        };
      });
    },

    async beginResourceGroupDelete({ platformId }) {
      return attempt(async () => {
        const { names, arm } = await load(platformId);
        const group = await readOrUndefined(() => arm.resources.resourceGroups.get(names.resourceGroup));
        if (!group) return unchanged();
        if (!isOurs(group.tags, platformId)) return notOurs('Resource group', names.resourceGroup);
        if (group.properties?.provisioningState === 'Deleting') return unchanged('Deleting');
        const { seen, onResponse, abortSignal, submit } = captureOperation();
        await submit(
          arm.resources.resourceGroups.beginDelete(names.resourceGroup, { onResponse, abortSignal }),
        );
        return accepted(seen);
      });
    },

    async getAksOutboundIps({ platformId }) {
      return attempt(async () => {
        const { names, arm } = await load(platformId);
        const cluster = await arm.aks.managedClusters.get(names.resourceGroup, names.aksCluster);
        const ids =
          cluster.networkProfile?.loadBalancerProfile?.effectiveOutboundIPs
            ?.map((r) => r.id)
            .filter((id): id is string => !!id) ?? [];
        const ips: string[] = [];
        for (const id of ids) {
          const ip = await arm.resources.resources.getById(id, '2024-05-01');
          const address = (ip.properties as { ipAddress?: string } | undefined)?.ipAddress;
          if (address) ips.push(address);
        }
        if (ips.length === 0)
          return {
            ok: false,
            kind: 'busy',
            code: 'OutboundIpPending',
            message: 'The cluster has no outbound IP address yet.',
          };
        return { ok: true, value: { ips: ips.sort(), clusterId: cluster.id ?? '' } };
      });
    },

    /**
     * The cluster's auto-upgrades confined to the operator's window: the `aksManagedAutoUpgradeSchedule`
     * maintenance configuration (a child of the cluster, written synchronously), sent only when it differs.
     */
    async ensureAksMaintenanceWindow({ platformId, clusterWritten }) {
      return attempt(async () => {
        const { names, arm } = await load(platformId);
        const { resourceGroup, aksCluster } = names;
        // Read first, so a window that holds costs no write (a write is refused while an upgrade runs). Right
        // after our own write of the cluster no upgrade runs, and the PUT alone is one call of AKS's budget
        // instead of two: under a burst, a read that takes the last token leaves none for the write, and every
        // attempt reads again (azure-real-behaviours §3.2, "all other APIs" 60 then 1/s per subscription).
        const live = clusterWritten
          ? undefined
          : await readOrUndefined(() =>
              arm.aks.maintenanceConfigurations.get(resourceGroup, aksCluster, AUTO_UPGRADE_SCHEDULE),
            );
        if (sameMaintenanceWindow(live?.maintenanceWindow, maintenanceWindow)) return unchanged();
        await arm.aks.maintenanceConfigurations.createOrUpdate(
          resourceGroup,
          aksCluster,
          AUTO_UPGRADE_SCHEDULE,
          maintenanceConfiguration(maintenanceWindow),
        );
        return { ok: true, value: { provisioningState: 'Succeeded', mutated: true } };
      });
    },

    async ensureFileShares({ platformId }) {
      return attempt(async () => {
        const { spec, names, arm } = await load(platformId);
        let mutated = false;
        for (const share of fileShares(spec, names)) {
          const existing = await readOrUndefined(() =>
            arm.storage.fileShares.get(names.resourceGroup, names.storageAccount, share.name),
          );
          if (existing && (existing.shareQuota ?? 0) >= share.quotaGiB) continue;
          if (existing) {
            // Growing an existing share is a PATCH of its quota alone (FileShares_Update): a PUT would re-send
            // the create-only enabledProtocols and reset every property it leaves out (the Storage RP's
            // 2025-08-01 file.json; Microsoft's own `az storage share-rm update` patches too).
            await arm.storage.fileShares.update(names.resourceGroup, names.storageAccount, share.name, {
              shareQuota: share.quotaGiB,
            });
          } else {
            await arm.storage.fileShares.create(names.resourceGroup, names.storageAccount, share.name, {
              shareQuota: share.quotaGiB,
              enabledProtocols: 'SMB',
            });
          }
          mutated = true;
        }
        return { ok: true, value: { mutated } };
      });
    },
  };
}

function sameTags(a: Record<string, string> | undefined, b: Record<string, string>): boolean {
  const ka = Object.keys(a ?? {});
  return ka.length === Object.keys(b).length && ka.every((k) => a?.[k] === b[k]);
}
