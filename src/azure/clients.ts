/**
 * The Azure SDK clients, built once per process by the composition root. Only their options vary between
 * Azure and the sandbox (endpoint, credential, transport); the code that uses them does not.
 */
import type { TokenCredential } from '@azure/core-auth';
import type { HttpClient } from '@azure/core-rest-pipeline';
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { ComputeManagementClient } from '@azure/arm-compute';
import { ContainerServiceClient } from '@azure/arm-containerservice';
import { PostgreSQLManagementFlexibleServerClient } from '@azure/arm-postgresql-flexible';
import { ResourceManagementClient } from '@azure/arm-resources';
import { StorageManagementClient } from '@azure/arm-storage';
import { SecretClient } from '@azure/keyvault-secrets';
import { throttledToOrchestratorPolicy } from './throttling.js';

export interface AzureClients {
  resources: ResourceManagementClient;
  aks: ContainerServiceClient;
  postgres: PostgreSQLManagementFlexibleServerClient;
  storage: StorageManagementClient;
  secrets: SecretClient;
  /** Microsoft.Compute usages of a region (quota admission). */
  compute: ComputeManagementClient;
  /** Role assignments (the API's own access to each cluster's Kubernetes API). */
  authorization: AuthorizationManagementClient;
}

export interface AzureClientOptions {
  subscriptionId: string;
  keyVaultUrl: string;
  credential: TokenCredential;
  /** Defaults to Azure public cloud. */
  armEndpoint?: string;
  httpClient?: HttpClient;
}

/**
 * SDK retry: a few quick retries for 5xx and dropped connections. A 429 is not retried here: its Retry-After
 * is the orchestrator's wait (durable timers, throttling.ts), so an activity never sleeps for long.
 */
const retryOptions = { maxRetries: 2, retryDelayInMs: 500, maxRetryDelayInMs: 4_000 };
// Inside the retry loop: every attempt's answer passes it before the retry policy decides.
const additionalPolicies = [{ policy: throttledToOrchestratorPolicy(), position: 'perRetry' as const }];

export function createAzureClients(o: AzureClientOptions, shared?: { secrets: SecretClient }): AzureClients {
  const endpoint = o.armEndpoint ?? 'https://management.azure.com';
  const common = {
    endpoint,
    retryOptions,
    additionalPolicies,
    ...(o.httpClient ? { httpClient: o.httpClient } : {}),
  };
  return {
    resources: new ResourceManagementClient(o.credential, o.subscriptionId, common),
    aks: new ContainerServiceClient(o.credential, o.subscriptionId, common),
    postgres: new PostgreSQLManagementFlexibleServerClient(o.credential, o.subscriptionId, common),
    storage: new StorageManagementClient(o.credential, o.subscriptionId, common),
    authorization: new AuthorizationManagementClient(o.credential, o.subscriptionId, common),
    compute: new ComputeManagementClient(o.credential, o.subscriptionId, common),
    secrets:
      shared?.secrets ??
      new SecretClient(o.keyVaultUrl, o.credential, {
        retryOptions,
        additionalPolicies,
        ...(o.httpClient ? { httpClient: o.httpClient } : {}),
      }),
  };
}

/**
 * The clients of every subscription of the pool, built on first use and kept (an SDK client holds its
 * subscription id; one credential and one ARM endpoint serve them all). Key Vault is the API's own, one
 * client for every subscription.
 */
export interface AzureClientPool {
  /** The default subscription's clients. */
  readonly default: AzureClients;
  /** The clients of the subscription a platform lives in: its record's, none recorded: the default. */
  of(placed: { subscriptionId?: string } | string | undefined): AzureClients;
}

export function createAzureClientPool(o: AzureClientOptions): AzureClientPool {
  const first = createAzureClients(o);
  const bySubscription = new Map<string, AzureClients>([[o.subscriptionId.toLowerCase(), first]]);
  return {
    default: first,
    of(placed) {
      const id = (typeof placed === 'string' ? placed : placed?.subscriptionId)?.toLowerCase();
      if (!id) return first;
      let clients = bySubscription.get(id);
      if (!clients) {
        clients = createAzureClients({ ...o, subscriptionId: id }, { secrets: first.secrets });
        bySubscription.set(id, clients);
      }
      return clients;
    },
  };
}
