/**
 * The exact Azure resources a spec asks for, as SDK request bodies. Pure: the begin-activities send these,
 * the ensure logic compares live resources against them, and tests assert on them.
 */
import type { ManagedCluster } from '@azure/arm-containerservice';
import type { Server } from '@azure/arm-postgresql-flexible';
import type { StorageAccountCreateParameters } from '@azure/arm-storage';
import { APPS_POOL, POSTGRES_STORAGE_GIB, SYSTEM_POOL } from './cost.js';
import type { PlatformNames } from './naming.js';
import { choosePostgresSku, modelShareGiB, WEBUI_SHARE_GIB } from './sizing.js';
import { platformTags } from './tags.js';
import type { PlatformSpec } from './types.js';

/** Taint on the GPU pool so only GPU workloads land there (seed parity: `sku=gpu:NoSchedule`). */
export const GPU_TAINT = 'sku=gpu:NoSchedule';
/** AKS adds this taint to every spot node itself; GPU workloads must tolerate it too. */
export const SPOT_TAINT = 'kubernetes.azure.com/scalesetpriority=spot:NoSchedule';
export const GPU_NODE_LABELS = { workload: 'llm', gpu: 'true' } as const;
export const APPS_POOL_NAME = 'apps';

/**
 * AKS: a tainted system pool for critical add-ons, an autoscaled apps pool for Open WebUI, Redis and
 * monitoring (they tolerate neither taint), and the GPU pool. Spot settings exist only at creation time.
 */
export function aksClusterBody(spec: PlatformSpec, names: PlatformNames): ManagedCluster {
  return {
    location: spec.location,
    tags: platformTags(spec),
    sku: { name: 'Base', tier: 'Free' },
    identity: { type: 'SystemAssigned' },
    dnsPrefix: names.aksDnsPrefix,
    nodeResourceGroup: names.nodeResourceGroup,
    enableRbac: true,
    // Local accounts stay enabled: a serverless worker cannot run kubelogin's interactive flow, so the API
    // reads the admin kubeconfig (listClusterAdminCredential) and keeps it in memory only.
    disableLocalAccounts: false,
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
    agentPoolProfiles: [
      {
        name: names.systemNodePool,
        mode: 'System',
        vmSize: SYSTEM_POOL.vmSize,
        count: SYSTEM_POOL.count,
        osType: 'Linux',
        type: 'VirtualMachineScaleSets',
        nodeTaints: ['CriticalAddonsOnly=true:NoSchedule'],
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
        // Starting at the minimum lets an idle platform run without GPU nodes; Ollama's pending pod scales it up.
        count: spec.gpu.minNodes,
        minCount: spec.gpu.minNodes,
        maxCount: spec.gpu.maxNodes,
        scaleDownMode: 'Delete',
        nodeTaints: [GPU_TAINT],
        nodeLabels: { ...GPU_NODE_LABELS },
        ...(spec.gpu.spot
          ? // spotMaxPrice -1: pay up to the on-demand price, evicted only for capacity (AKS spot node pool docs).
            { scaleSetPriority: 'Spot', scaleSetEvictionPolicy: 'Delete', spotMaxPrice: -1 }
          : { scaleSetPriority: 'Regular' }),
      },
    ],
  };
}

/** PostgreSQL 16, SKU sized for the Open WebUI pools, TLS enforced by the server parameter below. */
export function postgresServerBody(spec: PlatformSpec, names: PlatformNames, adminPassword: string): Server {
  const sku = choosePostgresSku(spec.webui.replicas);
  return {
    location: spec.location,
    tags: platformTags(spec),
    sku: { name: sku.name, tier: sku.tier },
    version: '16',
    administratorLogin: names.postgresAdminLogin,
    administratorLoginPassword: adminPassword,
    storage: { storageSizeGB: POSTGRES_STORAGE_GIB, autoGrow: 'Disabled' },
    backup: { backupRetentionDays: 7, geoRedundantBackup: 'Disabled' },
    highAvailability: { mode: 'Disabled' },
    network: { publicNetworkAccess: 'Enabled' },
    authConfig: { passwordAuth: 'Enabled', activeDirectoryAuth: 'Disabled' },
    createMode: 'Default',
  };
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

export function storageAccountBody(spec: PlatformSpec): StorageAccountCreateParameters {
  return {
    location: spec.location,
    tags: platformTags(spec),
    kind: 'FileStorage',
    sku: { name: 'Premium_LRS' },
    enableHttpsTrafficOnly: true,
    minimumTlsVersion: 'TLS1_2',
    allowBlobPublicAccess: false,
    allowSharedKeyAccess: true,
  };
}

export function fileShares(spec: PlatformSpec, names: PlatformNames) {
  return [
    { name: names.modelsFileShare, quotaGiB: modelShareGiB(spec.models) },
    { name: names.webuiFileShare, quotaGiB: WEBUI_SHARE_GIB },
  ];
}
