/**
 * What a spec means in Azure and in the cluster, before anything is created: the dry-run answer of
 * `POST /platforms?dryRun=true`, and the reference the provisioning steps are built from.
 */
import { estimateCost, APPS_POOL, POSTGRES_STORAGE_GIB, SYSTEM_POOL, type CostEstimate } from './cost.js';
import { renderManifests, type TemplateSource } from './manifests.js';
import { derivePlatformNames, platformSecretNames, type PlatformNames } from './naming.js';
import { choosePostgresSku, connectionsNeeded, modelShareGiB, WEBUI_SHARE_GIB } from './sizing.js';
import { platformTags } from './tags.js';
import type { PlatformSpec } from './types.js';

export interface PlannedAzureResource {
  type: string;
  name: string;
  properties: Record<string, unknown>;
}

export interface PlannedKubernetesObject {
  kind: string;
  namespace?: string;
  name: string;
}

export interface PlatformPlan {
  id: string;
  location: string;
  tags: Record<string, string>;
  azure: PlannedAzureResource[];
  kubernetes: PlannedKubernetesObject[];
  secrets: string[];
  cost: CostEstimate;
}

export function planPlatform(
  spec: PlatformSpec,
  subscriptionId: string,
  templates: TemplateSource,
): PlatformPlan {
  const names = derivePlatformNames(subscriptionId, spec.prefix);
  const pg = choosePostgresSku(spec.webui.replicas);
  return {
    id: spec.prefix,
    location: spec.location,
    tags: platformTags(spec),
    azure: [
      {
        type: 'Microsoft.Resources/resourceGroups',
        name: names.resourceGroup,
        properties: { location: spec.location },
      },
      {
        type: 'Microsoft.ContainerService/managedClusters',
        name: names.aksCluster,
        properties: {
          dnsPrefix: names.aksDnsPrefix,
          nodeResourceGroup: names.nodeResourceGroup,
          identity: 'SystemAssigned',
          network: 'Azure CNI overlay',
          oidcIssuer: true,
          workloadIdentity: true,
          fileCsiDriver: true,
          agentPools: [
            {
              name: names.systemNodePool,
              mode: 'System',
              vmSize: SYSTEM_POOL.vmSize,
              count: SYSTEM_POOL.count,
              taints: ['CriticalAddonsOnly=true:NoSchedule'],
            },
            {
              name: 'apps',
              mode: 'User',
              vmSize: APPS_POOL.vmSize,
              autoscale: { min: APPS_POOL.minCount, max: APPS_POOL.maxCount },
            },
            {
              name: names.gpuNodePool,
              mode: 'User',
              vmSize: spec.gpu.vmSize,
              autoscale: { min: spec.gpu.minNodes, max: spec.gpu.maxNodes },
              priority: spec.gpu.spot ? 'Spot' : 'Regular',
              ...(spec.gpu.spot ? { evictionPolicy: 'Delete', spotMaxPrice: -1 } : {}),
              taints: ['sku=gpu:NoSchedule'],
              labels: { workload: 'llm', gpu: 'true' },
            },
          ],
        },
      },
      {
        type: 'Microsoft.DBforPostgreSQL/flexibleServers',
        name: names.postgresServer,
        properties: {
          version: '16',
          sku: { name: pg.name, tier: pg.tier },
          storageGiB: POSTGRES_STORAGE_GIB,
          backupRetentionDays: 7,
          requireTls: true,
          extensions: ['VECTOR'],
          database: names.postgresDatabase,
          firewall: "the AKS cluster's outbound IP(s) only",
          connectionsNeeded: connectionsNeeded(spec.webui.replicas),
          userConnections: pg.userConnections,
        },
      },
      {
        type: 'Microsoft.Storage/storageAccounts',
        name: names.storageAccount,
        properties: {
          kind: 'FileStorage',
          sku: 'Premium_LRS',
          httpsOnly: true,
          minimumTlsVersion: 'TLS1_2',
          allowBlobPublicAccess: false,
          fileShares: [
            { name: names.modelsFileShare, quotaGiB: modelShareGiB(spec.models) },
            { name: names.webuiFileShare, quotaGiB: WEBUI_SHARE_GIB },
          ],
        },
      },
    ],
    kubernetes: plannedKubernetesObjects(spec, names, templates),
    secrets: platformSecretNames(names, spec.huggingFaceToken),
    cost: estimateCost(spec),
  };
}

/**
 * The in-cluster objects, in apply order: exactly what `renderManifests` produces for this spec (the Secrets
 * the apply step builds from Key Vault come on top; their Key Vault sources are `secrets`).
 */
function plannedKubernetesObjects(
  spec: PlatformSpec,
  names: PlatformNames,
  templates: TemplateSource,
): PlannedKubernetesObject[] {
  return renderManifests(spec, names, templates).map(({ kind, metadata }) => ({
    kind,
    ...(metadata.namespace !== undefined ? { namespace: metadata.namespace } : {}),
    name: metadata.name,
  }));
}
