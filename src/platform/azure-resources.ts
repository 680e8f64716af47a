/**
 * The Azure resources a platform owns, as data: one entry per kind says which ARM type and api-version it
 * is, its name, the body to PUT (in the REST API's own wire shape, as the api-version's specification
 * defines it), how its state reads, what may be reconciled on a live one, how it is deleted and how the
 * dry-run plan summarises it. One generic activity (`beginAzureResource`) reads, checks ownership and sends
 * any kind by its resource id, and one sub-orchestration follows it; the plan, teardown's inventory and the
 * provisioning benchmark are derived from this table (the style of Azure Service Operator's resource
 * descriptions and its generic ARM reconciler). Pure: no clients, no I/O.
 */
import type { GenericResource } from '@azure/arm-resources';
import { APPS_POOL, POSTGRES_STORAGE_GIB, SYSTEM_POOL } from './cost.js';
import type { PlatformNames, SecretKind } from './naming.js';
import { choosePostgresSku, connectionsNeeded, modelShareGiB, WEBUI_SHARE_GIB } from './sizing.js';
import type { PolicyName } from './polling.js';
import { platformTags } from './tags.js';
import type { PlatformSpec } from './types.js';

/** Taint on the GPU pool so only GPU workloads land there (seed parity: `sku=gpu:NoSchedule`). */
export const GPU_TAINT = 'sku=gpu:NoSchedule';
/** AKS adds this taint to every spot node itself; GPU workloads must tolerate it too. */
export const SPOT_TAINT = 'kubernetes.azure.com/scalesetpriority=spot:NoSchedule';
export const GPU_NODE_LABELS = { workload: 'llm', gpu: 'true' } as const;
export const APPS_POOL_NAME = 'apps';
const SYSTEM_POOL_TAINT = 'CriticalAddonsOnly=true:NoSchedule';

/**
 * The cluster autoscaler's profile (AKS `autoScalerProfile`, its wire names). `scale-down-unneeded-time` is
 * 10m on AKS (azure-real-behaviours §1.3 "Autoscaler timings", cluster-autoscaler.md): the GPU tier's release
 * scales Ollama to zero only after `autoStop.gpuIdleMinutes` without use, so the idle time is already waited
 * for and the node need not stay unneeded another 10 minutes at the T4's price; 3 minutes leaves the
 * autoscaler a few of its 10 s scans to see the node empty. The same profile applies to the apps pool, whose
 * extra nodes (above its minimum of one) only follow Open WebUI's HPA.
 */
export const AUTOSCALER_PROFILE = { 'scale-down-unneeded-time': '3m' } as const;

/** Steps that follow a resource's creation in its own sub-orchestration (the step catalogue defines them). */
export type FollowUpStep = 'postgresSettings' | 'aksMaintenanceWindow';

/** A resource body as ARM receives it (PUT) and returns it (GET), with its type's properties as they are. */
export type ArmResource = GenericResource;

/** A body to send: the location and our tags are always there. */
export interface ArmBody extends GenericResource {
  location: string;
  tags: Record<string, string>;
  properties: Record<string, unknown>;
}

/** What a body may need beyond the spec: secret values, read from Key Vault inside the activity only. */
export interface BodyInputs {
  spec: PlatformSpec;
  names: PlatformNames;
  secret: (kind: SecretKind) => string;
}

/**
 * What a live resource of ours needs, besides nothing: a PATCH to send, a POST action of its resource type
 * (`<id>/<action>`, a long-running operation like a creation), or to wait while one runs.
 */
export type Reconcile =
  | { patch: Partial<ArmResource> }
  | { action: 'start' }
  | { wait: string }
  /** The whole body is PUT again (a setting that only a PUT changes); the reason, for people. */
  | { put: string }
  | undefined;

export interface AzureResourceKind {
  /** For people: "AKS cluster". */
  title: string;
  /** The ARM resource type, and the api-version whose REST specification the body follows. */
  type: string;
  apiVersion: string;
  name: (names: PlatformNames) => string;
  /**
   * How its creation is paced and bounded. The step that creates it is named after its key in the table
   * and runs as its own sub-orchestration, in parallel with the others.
   */
  poll: PolicyName;
  /**
   * A step that runs in the same sub-orchestration once it exists (PostgreSQL's settings and database, the
   * cluster's maintenance window).
   */
  then?: FollowUpStep;
  /** Secrets the body carries; the activity reads them from Key Vault, they never cross the orchestration. */
  secrets?: readonly SecretKind[];
  body: (inputs: BodyInputs) => ArmBody;
  /** ARM's provisioningState, or the resource type's own notion of it. */
  state?: (live: ArmResource) => string;
  /** A settled resource of ours that differs from the spec where it may change in place. */
  reconcile?: (live: ArmResource, spec: PlatformSpec) => Reconcile;
  /** Deleting the resource group deletes it (AKS takes its node resource group with it). */
  deletedWith: 'resourceGroup';
  /** The dry-run plan's summary of the body. */
  summary: (body: ArmBody, spec: PlatformSpec, names: PlatformNames) => Record<string, unknown>;
}

/**
 * AKS: a tainted system pool for critical add-ons, an autoscaled apps pool for Open WebUI, Redis and
 * monitoring (they tolerate neither taint), and the GPU pool. Spot settings exist only at creation time.
 */
const aksCluster: AzureResourceKind = {
  title: 'AKS cluster',
  type: 'Microsoft.ContainerService/managedClusters',
  apiVersion: '2026-04-01',
  name: (n) => n.aksCluster,
  poll: 'aksCluster',
  // The auto-upgrades below run in the operator's maintenance window (src/platform/maintenance.ts).
  then: 'aksMaintenanceWindow',
  deletedWith: 'resourceGroup',
  // A stopped cluster (stopped in the portal, or a stop that failed half-way) has no control plane: its
  // API server does not answer ("Stopping a cluster stops the control plane and agent nodes entirely",
  // ManagedClusters_Stop, spec 2026-04-01). Provisioning (a retry) wants it running, so it starts it and
  // follows the start like a creation, instead of waiting for readiness that cannot come.
  // A cluster created with local accounts (before Entra ID integration) is brought to it by a PUT of the
  // whole body: AKS changes aadProfile and disableLocalAccounts of a live cluster only that way.
  reconcile: (live) => {
    const power = (live.properties?.powerState as { code?: string } | undefined)?.code;
    if (power === 'Stopped') return { action: 'start' };
    if (!hasEntraAccess(live)) return { put: 'Entra ID integration without local accounts' };
    // KEDA's add-on (Ollama's ScaledObject needs its CRDs) is turned on by the same PUT of the whole body.
    const keda = live.properties?.workloadAutoScalerProfile as { keda?: { enabled?: boolean } } | undefined;
    return keda?.keda?.enabled ? undefined : { put: "KEDA's managed add-on" };
  },
  body: ({ spec, names }) => ({
    location: spec.location,
    tags: platformTags(spec),
    sku: { name: 'Base', tier: 'Free' },
    identity: { type: 'SystemAssigned' },
    properties: {
      dnsPrefix: names.aksDnsPrefix,
      nodeResourceGroup: names.nodeResourceGroup,
      enableRBAC: true,
      // No local accounts, so no static credential to leak: Kubernetes is reached with Entra ID tokens for
      // AKS's server application, authorized by Azure RBAC (the API's identity is granted a role on the cluster
      // by the clusterAccess step). A token from a managed identity needs no interaction
      // (azure-real-behaviours F9, "Local accounts vs Entra ID").
      aadProfile: { managed: true, enableAzureRBAC: true },
      disableLocalAccounts: true,
      oidcIssuerProfile: { enabled: true },
      securityProfile: { workloadIdentity: { enabled: true } },
      networkProfile: {
        networkPlugin: 'azure',
        networkPluginMode: 'overlay',
        loadBalancerSku: 'standard',
        outboundType: 'loadBalancer',
      },
      storageProfile: { fileCSIDriver: { enabled: true }, diskCSIDriver: { enabled: true } },
      autoUpgradeProfile: { upgradeChannel: 'patch', nodeOSUpgradeChannel: 'NodeImage' },
      autoScalerProfile: { ...AUTOSCALER_PROFILE },
      // The managed KEDA add-on (KEDA core and its CRDs, not the HTTP add-on; azure-real-behaviours §2.3,
      // field-notes "GPU autoscaling pattern from Microsoft"): Ollama's one ScaledObject can go to zero and
      // back, which an HPA cannot (manifests/80-autoscaling.yaml).
      workloadAutoScalerProfile: { keda: { enabled: true } },
      agentPoolProfiles: [
        {
          name: names.systemNodePool,
          mode: 'System',
          vmSize: SYSTEM_POOL.vmSize,
          count: SYSTEM_POOL.count,
          osType: 'Linux',
          type: 'VirtualMachineScaleSets',
          nodeTaints: [SYSTEM_POOL_TAINT],
          nodeLabels: { workload: 'system' },
        },
        {
          name: APPS_POOL_NAME,
          mode: 'User',
          vmSize: APPS_POOL.vmSize,
          osType: 'Linux',
          type: 'VirtualMachineScaleSets',
          enableAutoScaling: true,
          count: APPS_POOL.minCount,
          minCount: APPS_POOL.minCount,
          maxCount: APPS_POOL.maxCount,
          nodeLabels: { workload: 'apps' },
        },
        {
          name: names.gpuNodePool,
          mode: 'User',
          vmSize: spec.gpu.vmSize,
          osType: 'Linux',
          type: 'VirtualMachineScaleSets',
          enableAutoScaling: true,
          // One node at creation (the minimum may still be 0): AKS creates it with the cluster, while a pool at 0
          // waits for Ollama's pending pod and the autoscaler, 5.4–7 min more on the critical path (a GPU node
          // from zero, azure-real-behaviours §1.3; bench:provision 1077 s against 753 s). Ollama keeps it busy;
          // if it is idle, the autoscaler removes it after scale-down-unneeded-time (AUTOSCALER_PROFILE below).
          count: Math.max(spec.gpu.minNodes, 1),
          minCount: spec.gpu.minNodes,
          maxCount: spec.gpu.maxNodes,
          // Deallocate, not Delete: a released GPU node is stopped, not destroyed, and the next scale-up starts it
          // first, with its driver, container images and local model cache still on its OS disk; only the disk
          // is billed meanwhile. Supported for spot pools (azure-real-behaviours §2.1 "AKS Scale-down Mode
          // Deallocate", scale-down-mode.md). This is the GPU tier's release: Ollama at zero, node deallocated.
          scaleDownMode: 'Deallocate',
          nodeTaints: [GPU_TAINT],
          nodeLabels: { ...GPU_NODE_LABELS },
          ...(spec.gpu.spot
            ? // spotMaxPrice -1: pay up to the on-demand price, evicted only for capacity (AKS spot node pool docs).
              { scaleSetPriority: 'Spot', scaleSetEvictionPolicy: 'Delete', spotMaxPrice: -1 }
            : { scaleSetPriority: 'Regular' }),
        },
      ],
    },
  }),
  summary: (body) => {
    const p = body.properties as {
      agentPoolProfiles: AgentPool[];
      networkProfile: { networkPluginMode: string };
    };
    return {
      dnsPrefix: body.properties.dnsPrefix,
      nodeResourceGroup: body.properties.nodeResourceGroup,
      identity: body.identity?.type,
      network: `Azure CNI ${p.networkProfile.networkPluginMode}`,
      oidcIssuer: (body.properties.oidcIssuerProfile as { enabled: boolean }).enabled,
      workloadIdentity: (body.properties.securityProfile as { workloadIdentity: { enabled: boolean } })
        .workloadIdentity.enabled,
      kubernetesAccess: 'Entra ID tokens with Azure RBAC; local accounts disabled',
      fileCsiDriver: (body.properties.storageProfile as { fileCSIDriver: { enabled: boolean } }).fileCSIDriver
        .enabled,
      agentPools: p.agentPoolProfiles.map(poolSummary),
    };
  },
};

/** Whether a live cluster takes Entra ID tokens with Azure RBAC and has no local accounts. */
function hasEntraAccess(live: ArmResource): boolean {
  const aad = live.properties?.aadProfile as { managed?: boolean; enableAzureRBAC?: boolean } | undefined;
  return (
    live.properties?.disableLocalAccounts === true && aad?.managed === true && aad.enableAzureRBAC === true
  );
}

/**
 * The built-in role the API's identity holds on each cluster: "Azure Kubernetes Service RBAC Cluster Admin"
 * (full access to the cluster's Kubernetes API under Azure RBAC for Kubernetes).
 */
export const AKS_RBAC_CLUSTER_ADMIN_ROLE = 'b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b';
/** AKS's Entra ID server application: the audience of the tokens its API servers accept (F9). */
export const AKS_SERVER_APP_SCOPE = '6dae42f8-4368-4678-94ff-3960e28e3630/.default';

interface AgentPool {
  name: string;
  mode: string;
  vmSize: string;
  count: number;
  enableAutoScaling?: boolean;
  minCount?: number;
  maxCount?: number;
  scaleSetPriority?: string;
  scaleDownMode?: string;
  scaleSetEvictionPolicy?: string;
  spotMaxPrice?: number;
  nodeTaints?: string[];
  nodeLabels?: Record<string, string>;
}

function poolSummary(pool: AgentPool): Record<string, unknown> {
  const autoscaled = pool.enableAutoScaling === true;
  const user = pool.mode === 'User';
  return {
    name: pool.name,
    mode: pool.mode,
    vmSize: pool.vmSize,
    ...(autoscaled ? { autoscale: { min: pool.minCount, max: pool.maxCount } } : { count: pool.count }),
    ...(pool.scaleSetPriority ? { priority: pool.scaleSetPriority } : {}),
    ...(pool.scaleSetPriority === 'Spot'
      ? { evictionPolicy: pool.scaleSetEvictionPolicy, spotMaxPrice: pool.spotMaxPrice }
      : {}),
    ...(pool.scaleDownMode ? { scaleDownMode: pool.scaleDownMode } : {}),
    ...(pool.nodeTaints ? { taints: pool.nodeTaints } : {}),
    // The system and apps pools' labels only say what they are for; the GPU pool's select workloads.
    ...(user && pool.nodeTaints && pool.nodeLabels ? { labels: pool.nodeLabels } : {}),
  };
}

/** PostgreSQL servers report `state`, not provisioningState. */
function postgresState(live: ArmResource): string {
  const state = live.properties?.state as string | undefined;
  if (
    state === 'Ready' ||
    state === 'Stopped' ||
    state === 'Starting' ||
    state === 'Stopping' ||
    state === 'Updating' ||
    state === 'Restarting'
  )
    return 'Succeeded';
  if (state === 'Disabled' || state === 'Dropping' || state === 'Inaccessible') return 'Failed';
  return state ?? 'Provisioning';
}

/** PostgreSQL 16, SKU sized for the Open WebUI pools, TLS enforced by the server parameter below. */
const postgresServer: AzureResourceKind = {
  title: 'PostgreSQL server',
  type: 'Microsoft.DBforPostgreSQL/flexibleServers',
  apiVersion: '2025-08-01',
  name: (n) => n.postgresServer,
  poll: 'postgresServer',
  then: 'postgresSettings',
  deletedWith: 'resourceGroup',
  secrets: ['postgres-admin-password'],
  body: ({ spec, names, secret }) => {
    const sku = choosePostgresSku(spec.webui.replicas);
    return {
      location: spec.location,
      tags: platformTags(spec),
      sku: { name: sku.name, tier: sku.tier },
      properties: {
        version: '16',
        administratorLogin: names.postgresAdminLogin,
        administratorLoginPassword: secret('postgres-admin-password'),
        storage: { storageSizeGB: POSTGRES_STORAGE_GIB, autoGrow: 'Disabled' },
        backup: { backupRetentionDays: 7, geoRedundantBackup: 'Disabled' },
        highAvailability: { mode: 'Disabled' },
        network: { publicNetworkAccess: 'Enabled' },
        authConfig: { passwordAuth: 'Enabled', activeDirectoryAuth: 'Disabled' },
        createMode: 'Default',
      },
    };
  },
  state: postgresState,
  // A Ready server on another SKU than the replicas need (a retry after a failed replicas change) is resized
  // by a PATCH of the sku alone; a resize in flight (sent by an earlier execution whose answer was lost) is
  // followed until it ends.
  reconcile: (live, spec) => {
    const state = live.properties?.state;
    if (state === 'Updating') return { wait: 'Updating' };
    const sku = choosePostgresSku(spec.webui.replicas);
    if (state !== 'Ready' || live.sku?.name === sku.name) return undefined;
    return { patch: { sku: { name: sku.name, tier: sku.tier } } };
  },
  summary: (body, spec, names) => {
    const pg = choosePostgresSku(spec.webui.replicas);
    const p = body.properties as {
      storage: { storageSizeGB: number };
      backup: { backupRetentionDays: number };
    };
    return {
      version: body.properties.version,
      sku: body.sku,
      storageGiB: p.storage.storageSizeGB,
      backupRetentionDays: p.backup.backupRetentionDays,
      requireTls: POSTGRES_CONFIGURATION.some(
        (c) => c.name === 'require_secure_transport' && c.value === 'ON',
      ),
      extensions: POSTGRES_CONFIGURATION.find((c) => c.name === 'azure.extensions')!.value.split(','),
      database: names.postgresDatabase,
      firewall: "the AKS cluster's outbound IP(s) only",
      connectionsNeeded: connectionsNeeded(spec.webui.replicas),
      userConnections: pg.userConnections,
    };
  },
};

const storageAccount: AzureResourceKind = {
  title: 'Storage account',
  type: 'Microsoft.Storage/storageAccounts',
  apiVersion: '2025-08-01',
  name: (n) => n.storageAccount,
  poll: 'storageAccount',
  deletedWith: 'resourceGroup',
  body: ({ spec }) => ({
    location: spec.location,
    tags: platformTags(spec),
    kind: 'FileStorage',
    sku: { name: 'Premium_LRS' },
    properties: {
      supportsHttpsTrafficOnly: true,
      minimumTlsVersion: 'TLS1_2',
      allowBlobPublicAccess: false,
      allowSharedKeyAccess: true,
    },
  }),
  summary: (body, spec, names) => ({
    kind: body.kind,
    sku: body.sku?.name,
    httpsOnly: body.properties.supportsHttpsTrafficOnly,
    minimumTlsVersion: body.properties.minimumTlsVersion,
    allowBlobPublicAccess: body.properties.allowBlobPublicAccess,
    fileShares: fileShares(spec, names),
  }),
};

/** Every Azure resource a platform owns inside its resource group, in the order the plan lists them. */
export const AZURE_RESOURCES = { aksCluster, postgresServer, storageAccount } as const satisfies Record<
  string,
  AzureResourceKind
>;
export type AzureResourceName = keyof typeof AZURE_RESOURCES;
export const AZURE_RESOURCE_NAMES = Object.keys(AZURE_RESOURCES) as AzureResourceName[];

export function armResourceId(subscriptionId: string, names: PlatformNames, kind: AzureResourceName): string {
  const { type, name } = AZURE_RESOURCES[kind];
  return `/subscriptions/${subscriptionId}/resourceGroups/${names.resourceGroup}/providers/${type}/${name(names)}`;
}

/**
 * Server parameters, written once each as the full value. `azure.extensions` is a whole allow-list, not an
 * addition: writing it twice with different lists silently drops extensions (the seed's bug).
 */
export const POSTGRES_CONFIGURATION = [
  { name: 'azure.extensions', value: 'VECTOR' },
  { name: 'require_secure_transport', value: 'ON' },
] as const;

/** Firewall rules admit the cluster's egress IPs only: never 0.0.0.0 ("all Azure services") or everything. */
export function firewallRules(ips: readonly string[]) {
  return [...ips]
    .sort()
    .map((ip, i) => ({ name: `aks-egress-${i + 1}`, startIpAddress: ip, endIpAddress: ip }));
}

export function fileShares(spec: PlatformSpec, names: PlatformNames) {
  return [
    { name: names.modelsFileShare, quotaGiB: modelShareGiB(spec.models) },
    { name: names.webuiFileShare, quotaGiB: WEBUI_SHARE_GIB },
  ];
}
