/**
 * The composition root: builds every long-lived client once per process from the typed config. Triggers
 * ask it for services; nothing else constructs an SDK client. The only seam is `overrideComposition`,
 * which the sandbox uses to point the same clients at simulated endpoints (credential and HTTP client);
 * production never calls it.
 */
import type { TokenCredential } from '@azure/core-auth';
import type { HttpClient } from '@azure/core-rest-pipeline';
import { DefaultAzureCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';
import { loadConfig, type Config } from './config.js';
import { createRequestValidator } from './platform/schema.js';
import { createTableRegistry, type Registry } from './registry/registry.js';
import { PlatformService, type SecretWriter } from './services/platforms.js';

export interface CompositionOverrides {
  config?: Config;
  credential?: TokenCredential;
  /** Used by every Azure SDK client (Key Vault, ARM) instead of the default transport. */
  httpClient?: HttpClient;
  now?: () => Date;
}

export interface Services {
  config: Config;
  registry: Registry;
  platforms: PlatformService;
}

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
  const clientOptions = o.httpClient ? { httpClient: o.httpClient } : {};
  const registry = createTableRegistry(config.storageConnection, config.registryTable);
  const secretClient = new SecretClient(config.keyVaultUrl, credential, clientOptions);
  const secrets: SecretWriter = {
    async set(name, value) {
      await secretClient.setSecret(name, value, {
        contentType: 'text/plain',
        tags: { 'managed-by': 'llm-platforms-api' },
      });
    },
  };
  const validator = createRequestValidator({
    allowedLocations: config.allowedLocations,
    defaultIdleMinutes: config.defaultIdleMinutes,
  });
  const platforms = new PlatformService({
    config,
    registry,
    validator,
    secrets,
    now: o.now ?? (() => new Date()),
  });
  return { config, registry, platforms };
}
