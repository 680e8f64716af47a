/**
 * Every Azure name of a platform, derived from its prefix and nothing else that can change, so a retried
 * activity always addresses the same resource (never a twin). Names that must be globally unique (the
 * PostgreSQL server's DNS name, the storage account, the cluster's DNS prefix) carry a short hash of
 * (subscription id, prefix): two subscriptions running this API never collide, and the name is stable.
 *
 * Rules enforced (Azure "Naming rules and restrictions for Azure resources"):
 * - resource group: 1–90, alphanumerics, `_`, `-`, `.`, `(`, `)`; not ending in `.`
 * - AKS cluster: 1–63, alphanumerics, `_`, `-`; starts and ends with an alphanumeric
 * - AKS DNS prefix: 1–54, alphanumerics and `-`; starts and ends with an alphanumeric
 * - Linux node pool: 1–12, lowercase alphanumerics, starts with a letter
 * - PostgreSQL flexible server: 3–63, lowercase letters, digits, `-`; not starting or ending with `-`
 * - storage account: 3–24, lowercase letters and digits, globally unique
 * - file share: 3–63, lowercase letters, digits, `-`; starts with a letter or digit; no `--`
 * - Key Vault secret: 1–127, alphanumerics and `-`
 */
import { createHash } from 'node:crypto';

/** A lowercase letter, then 2–11 lowercase letters or digits: the strictest rule among the derived names. */
export const PREFIX_PATTERN = '^[a-z][a-z0-9]{2,11}$';
const prefixRegExp = new RegExp(PREFIX_PATTERN);

export const SECRET_KINDS = [
  'postgres-admin-password',
  'openwebui-db-password',
  'openwebui-secret-key',
  'grafana-admin-password',
  'openwebui-admin-password',
  'huggingface-token',
] as const;
export type SecretKind = (typeof SECRET_KINDS)[number];

export interface PlatformNames {
  resourceGroup: string;
  nodeResourceGroup: string;
  aksCluster: string;
  aksDnsPrefix: string;
  systemNodePool: string;
  gpuNodePool: string;
  postgresServer: string;
  postgresAdminLogin: string;
  postgresDatabase: string;
  storageAccount: string;
  modelsFileShare: string;
  webuiFileShare: string;
  secrets: Record<SecretKind, string>;
}

/** 8 characters of base-36 (≈ 41 bits) from SHA-256: collisions between prefixes are not a practical concern. */
export function nameHash(subscriptionId: string, prefix: string): string {
  const digest = createHash('sha256').update(`${subscriptionId.toLowerCase()}/${prefix}`).digest();
  return (digest.readBigUInt64BE(0) % 36n ** 8n).toString(36).padStart(8, '0');
}

/** The database Open WebUI uses (created through ARM; the wipe drops and re-creates it). */
export const OPENWEBUI_DATABASE = 'openwebui';

export function derivePlatformNames(subscriptionId: string, prefix: string): PlatformNames {
  if (!prefixRegExp.test(prefix)) throw new RangeError(`prefix must match ${PREFIX_PATTERN}`);
  const hash = nameHash(subscriptionId, prefix);
  const secret = (kind: SecretKind) => `platform-${prefix}-${kind}`;
  return {
    resourceGroup: `rg-llm-${prefix}-${hash}`,
    // Set explicitly so the MC_ group is recognisable and deleted with the cluster.
    nodeResourceGroup: `rg-llm-${prefix}-${hash}-nodes`,
    aksCluster: `aks-${prefix}`,
    aksDnsPrefix: `${prefix}-${hash}`,
    systemNodePool: 'system',
    gpuNodePool: 'gput4',
    postgresServer: `pg-${prefix}-${hash}`,
    // Azure refuses admin logins such as `admin`, `root`, `azure_superuser` or anything starting with `pg_`.
    postgresAdminLogin: 'llmadmin',
    postgresDatabase: OPENWEBUI_DATABASE,
    storageAccount: `st${prefix}${hash}`,
    modelsFileShare: 'models',
    webuiFileShare: 'webui-data',
    secrets: Object.fromEntries(SECRET_KINDS.map((kind) => [kind, secret(kind)])) as Record<
      SecretKind,
      string
    >,
  };
}

/** The Key Vault secret names a platform uses; the Hugging Face token exists only when one was given. */
export function platformSecretNames(names: PlatformNames, withHuggingFaceToken: boolean): string[] {
  return SECRET_KINDS.filter((kind) => withHuggingFaceToken || kind !== 'huggingface-token').map(
    (kind) => names.secrets[kind],
  );
}

/**
 * The DNS label of the platform's only public address (its HTTPS entry's load balancer IP), set with the
 * Service annotation `service.beta.kubernetes.io/azure-dns-label-name`: Azure publishes it as
 * `<label>.<region>.cloudapp.azure.com` (AKS "Use a static public IP address and DNS label with the AKS
 * load balancer"). A label must be unique within its region, so it carries the cluster DNS prefix's hash
 * of (subscription id, prefix); it is derived from a stored name, so a record created before it has one too.
 * `llm-` + at most 21 characters: a letter first, lowercase letters, digits and `-`, well under 63.
 */
export function publicDnsLabel(names: Pick<PlatformNames, 'aksDnsPrefix'>): string {
  return `llm-${names.aksDnsPrefix}`;
}

/** The stable host name of the platform's HTTPS entry (Open WebUI at `/`, Grafana at `/grafana/`). */
export function publicHost(names: Pick<PlatformNames, 'aksDnsPrefix'>, location: string): string {
  return `${publicDnsLabel(names)}.${location}.cloudapp.azure.com`;
}

/** What the status and the result show as the platform's endpoints: HTTPS on its stable host only. */
export function publicEndpoints(names: Pick<PlatformNames, 'aksDnsPrefix'>, location: string) {
  const host = publicHost(names, location);
  return { 'open-webui': `https://${host}`, grafana: `https://${host}/grafana/` };
}
