/**
 * The Secrets the rendered objects reference (`SECRETS`), built from the values the apply step reads from
 * Key Vault and Azure. Never rendered, never logged.
 */
import { OPENWEBUI_DB_ROLE, SECRETS, postgresHost } from './manifests.js';
import type { PlatformNames } from './naming.js';
import type { KubernetesObject } from './templates.js';

/** DATABASE_URL and PGVECTOR_DB_URL of Open WebUI: the application role, TLS required. */
export function openWebuiDatabaseUrl(names: PlatformNames, password: string): string {
  const user = encodeURIComponent(OPENWEBUI_DB_ROLE);
  return `postgresql://${user}:${encodeURIComponent(password)}@${postgresHost(names)}:5432/${names.postgresDatabase}?sslmode=require`;
}

/** The secret values the apply step reads from Key Vault (and the storage account key from Azure). */
export interface SecretMaterial {
  postgresAdminPassword: string;
  openWebuiDbPassword: string;
  webuiSecretKey: string;
  webuiAdminPassword: string;
  grafanaAdminPassword: string;
  storageAccountKey: string;
}

/** The Secrets the rendered objects reference, to be applied before them. Never logged or rendered. */
export function buildSecrets(names: PlatformNames, material: SecretMaterial): KubernetesObject[] {
  const secret = (
    ref: { name: string; namespace: string },
    stringData: Record<string, string>,
  ): KubernetesObject => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: ref.name,
      namespace: ref.namespace,
      labels: { 'app.kubernetes.io/part-of': 'llm-platform' },
    },
    type: 'Opaque',
    stringData,
  });
  const { openWebui, databaseSetup, grafana, azureFiles } = SECRETS;
  return [
    secret(azureFiles, {
      [azureFiles.keys.accountName]: names.storageAccount,
      [azureFiles.keys.accountKey]: material.storageAccountKey,
    }),
    secret(databaseSetup, {
      [databaseSetup.keys.adminPassword]: material.postgresAdminPassword,
      [databaseSetup.keys.appPassword]: material.openWebuiDbPassword,
    }),
    secret(openWebui, {
      [openWebui.keys.databaseUrl]: openWebuiDatabaseUrl(names, material.openWebuiDbPassword),
      [openWebui.keys.secretKey]: material.webuiSecretKey,
      [openWebui.keys.adminPassword]: material.webuiAdminPassword,
    }),
    secret(grafana, { [grafana.keys.adminPassword]: material.grafanaAdminPassword }),
  ];
}
