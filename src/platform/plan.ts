/**
 * What a spec means in Azure and in the cluster, before anything is created: the dry-run answer of
 * `POST /platforms?dryRun=true`, and the reference the provisioning steps are built from.
 */
import { AZURE_RESOURCE_NAMES, AZURE_RESOURCES } from './azure-resources.js';
import { estimateCost, type CostEstimate } from './cost.js';
import {
  AUTO_UPGRADE_SCHEDULE,
  describeMaintenanceWindow,
  MAINTENANCE_CONFIGURATION_TYPE,
  maintenanceConfiguration,
  type MaintenanceWindow,
} from './maintenance.js';
import { renderManifests, type TemplateSource } from './manifests.js';
import { derivePlatformNames, platformSecretNames, type PlatformNames } from './naming.js';
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
  maintenanceWindow: MaintenanceWindow,
): PlatformPlan {
  const names = derivePlatformNames(subscriptionId, spec.prefix);
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
      // Each resource as its table entry summarises the body it would send (secrets never enter a plan).
      ...AZURE_RESOURCE_NAMES.map((kind) => {
        const resource = AZURE_RESOURCES[kind];
        const body = resource.body({ spec, names, secret: (secret) => `<Key Vault: ${secret}>` });
        return {
          type: resource.type,
          name: resource.name(names),
          properties: resource.summary(body, spec, names),
        };
      }),
      // The cluster's auto-upgrades run only in the operator's window (AKS_MAINTENANCE_WINDOW).
      {
        type: MAINTENANCE_CONFIGURATION_TYPE,
        name: `${AZURE_RESOURCES.aksCluster.name(names)}/${AUTO_UPGRADE_SCHEDULE}`,
        properties: {
          window: describeMaintenanceWindow(maintenanceWindow),
          ...maintenanceConfiguration(maintenanceWindow),
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
