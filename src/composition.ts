/**
 * The composition root: builds every long-lived client once per process from the typed config. Triggers
 * ask it for services; nothing else constructs an SDK client. The only seam is `overrideComposition`,
 * which the sandbox uses to point the same clients at simulated endpoints (credential and HTTP client);
 * production never calls it.
 */
import type { TokenCredential } from '@azure/core-auth';
import type { HttpClient } from '@azure/core-rest-pipeline';
import { DefaultAzureCredential } from '@azure/identity';
import { loadConfig, type Config } from './config.js';
import type { ActivityHandlers, ActivityName } from './activities/contract.js';
import { createAzureActivities } from './activities/azure.js';
import { createKubernetesActivities } from './activities/kubernetes.js';
import { createPostgresActivities } from './activities/postgres.js';
import { createProgressActivities } from './activities/progress.js';
import { createSecretActivities, storeRequestSecret } from './activities/secrets.js';
import { kubeClients } from './kube/client.js';
import { aksTokenSource, principalIdOf } from './kube/token.js';
import { createAccessActivities } from './activities/access.js';
import { loadTemplateSource } from './manifest-files.js';
import { capacityReader } from './azure/capacity.js';
import { createAzureClientPool } from './azure/clients.js';
import { createRequestValidator } from './platform/schema.js';
import { createTableRegistry, type Registry } from './registry/registry.js';
import { PlatformService, type SecretWriter } from './services/platforms.js';

export interface CompositionOverrides {
  config?: Config;
  credential?: TokenCredential;
  /** Used by every Azure SDK client (Key Vault, ARM) instead of the default transport. */
  httpClient?: HttpClient;
  armEndpoint?: string;
  now?: () => Date;
}

export interface Services {
  config: Config;
  registry: Registry;
  platforms: PlatformService;
  /** Every activity of the contract but the one that needs the durable client (registered on its own). */
  activities: ActivityHandlers<
    Exclude<ActivityName, 'requestPlatformStop' | 'requestPlatformStart' | 'admitQueuedPlatforms'>
  >;
}

/** The scope of the token whose `oid` names the API's identity when API_PRINCIPAL_ID is unset. */
const ARM_SCOPE = 'https://management.azure.com/.default';

let overrides: CompositionOverrides = {};
let services: Services | undefined;

export function overrideComposition(next: CompositionOverrides): void {
  overrides = next;
  services = undefined;
}

/** Built on first use, so a misconfigured app reports every bad setting on its first invocation. */
export function getServices(): Services {
  services ??= compose(overrides);
  return services;
}

function compose(o: CompositionOverrides): Services {
  const config = o.config ?? loadConfig();
  const credential = o.credential ?? new DefaultAzureCredential();
  const now = o.now ?? (() => new Date());
  const registry = createTableRegistry(
    config.storage.kind === 'connectionString'
      ? config.storage.connectionString
      : { tableEndpoint: config.storage.tableEndpoint, credential },
    config.registryTable,
  );
  const clients = createAzureClientPool({
    subscriptionId: config.subscriptionId,
    keyVaultUrl: config.keyVaultUrl,
    credential,
    ...(o.armEndpoint ? { armEndpoint: o.armEndpoint } : {}),
    ...(o.httpClient ? { httpClient: o.httpClient } : {}),
  });
  const secrets: SecretWriter = {
    set: (name, value) => storeRequestSecret(clients.default.secrets, name, value),
    // Soft-deleted, not purged: a later platform of the prefix recovers the name, as after a teardown.
    remove: async (name) => {
      try {
        await clients.default.secrets.beginDeleteSecret(name);
      } catch (e) {
        if ((e as { statusCode?: number }).statusCode !== 404) throw e;
      }
    },
  };
  const validator = createRequestValidator({
    allowedLocations: config.allowedLocations,
    defaultIdleMinutes: config.defaultIdleMinutes,
  });
  const templates = loadTemplateSource();
  const capacity = capacityReader(clients, config.aksClustersPerRegion);
  const platforms = new PlatformService({ config, registry, validator, secrets, capacity, now, templates });
  // Kubernetes is reached with Entra ID tokens from the same credential as Azure (no local accounts).
  const tokens = aksTokenSource(credential, now);
  const configuredPrincipal = config.apiPrincipalId;
  let principal: Promise<string> | undefined;
  const principalId = () =>
    configuredPrincipal
      ? Promise.resolve(configuredPrincipal)
      : (principal ??= principalIdOf(credential, ARM_SCOPE).catch((e: unknown) => {
          principal = undefined;
          throw e;
        }));
  const activities: Services['activities'] = {
    ...createAzureActivities({ clients, registry, maintenanceWindow: config.maintenanceWindow }),
    ...createPostgresActivities({ clients, registry }),
    ...createSecretActivities({ clients, registry }),
    ...createAccessActivities({ clients, registry, principalId }),
    ...createKubernetesActivities({ clients, registry, kube: kubeClients, tokens, now, templates }),
    ...createProgressActivities({ registry, now }),
  };
  return { config, registry, platforms, activities };
}
