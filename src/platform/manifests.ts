/**
 * The Kubernetes objects of a platform, rendered from the YAML templates in `manifests/` (and the Grafana
 * dashboards in `dashboards/`) by the placeholder engine (`templates.ts`) with the values built by
 * `templateValues` below. Pure: the files come in as a `TemplateSource`, read once by the composition root
 * (`src/manifest-files.ts`); same spec, same output, byte for byte.
 *
 * Templates. `manifests/NN-name.yaml`, multi-document, applied in file-name order and document order. The
 * SQL of the database-setup Job is `manifests/sql/database-setup.sql`, embedded in a ConfigMap.
 *
 * Secrets. No template holds a secret value: pods read them through `secretKeyRef` (and the Azure Files CSI
 * driver through `nodeStageSecretRef`) from the Secrets named in `SECRETS`, which the apply step builds
 * from Key Vault with `buildSecrets` (`secrets.ts`) just before applying the rendered objects.
 *
 * Apply order. Objects come in apply order. A Job annotated `WAIT_FOR_COMPLETION` must complete before
 * anything after it is applied: PostgreSQL setup, then the Open WebUI schema migration, then Open WebUI.
 * Jobs are immutable: re-running one with a changed template means deleting it first.
 */
import { createHash } from 'node:crypto';
import { publicDnsLabel, publicHost, type PlatformNames } from './naming.js';
import {
  type DASHBOARDS,
  GPU_MEMORY_METRIC,
  GRAFANA_DATASOURCE_UID,
  SCRAPED_METRICS,
  kubeStateMetricsResource,
} from './observability.js';
import { quotaFor } from './quota.js';
import {
  WEBUI_POOL,
  WEBUI_SHARE_GIB,
  modelShareGiB,
  ollamaMaxReplicas,
  ollamaResources,
  preloadDeadlineSeconds,
  pullTimeoutSeconds,
  webuiMaxReplicas,
} from './sizing.js';
import {
  renderDocuments,
  renderTemplates,
  type KubernetesObject,
  type Rendered,
  type TemplateFile,
  type TemplateValues,
} from './templates.js';
import type { PlatformSpec } from './types.js';

/**
 * The files the renderer reads. They ship with the app and do not change while it runs, so the edge reads
 * them once (`loadTemplateSource` in `src/manifest-files.ts`) and passes them in.
 */
export interface TemplateSource {
  /** `manifests/NN-name.yaml`, in file-name order. */
  manifests: readonly TemplateFile[];
  /** `manifests/on-demand/<name>.yaml`, by name. */
  onDemand: Readonly<Record<OnDemandName, TemplateFile>>;
  /** The text of each of `DASHBOARDS`. */
  dashboards: Readonly<Record<keyof typeof DASHBOARDS, string>>;
  /** `manifests/sql/database-setup.sql`. */
  databaseSetupSql: string;
}

/** Values from outside the spec; each overrides the spec's own. */
export interface RenderOptions {
  /**
   * The Open WebUI admin account created at first start; else the spec's `webui.adminEmail`, else
   * `admin@<prefix>.local`.
   */
  adminEmail?: string;
  /**
   * The idle sweep released the GPU tier: Ollama's ScaledObject may go to zero (minReplicaCount 0), and a
   * held chat brings it back (manifests/80-autoscaling.yaml). Rendered from the record, so a re-apply while
   * released keeps the tier released.
   */
  gpuReleased?: boolean;
}

export const NAMESPACES = { llm: 'llm', monitoring: 'monitoring' } as const;

/** Grafana's admin account (its password is the Secret `grafana-admin`, from Key Vault). */
export const GRAFANA_ADMIN_USER = 'admin';

/** The PostgreSQL role Open WebUI connects as (created by the database-setup Job; never the admin). */
export const OPENWEBUI_DB_ROLE = 'openwebui';

/** Annotation on a Job the apply step must see complete before applying the objects after it. */
export const WAIT_FOR_COMPLETION = 'llm-platforms-api/wait-for-completion';

/**
 * The Secrets the templates reference, by name and key. Built at apply time (`buildSecrets`), never
 * rendered. The Azure Files keys are the ones the CSI driver reads.
 */
export const SECRETS = {
  openWebui: {
    name: 'open-webui',
    namespace: NAMESPACES.llm,
    keys: { databaseUrl: 'database-url', secretKey: 'webui-secret-key', adminPassword: 'admin-password' },
  },
  databaseSetup: {
    name: 'database-setup',
    namespace: NAMESPACES.llm,
    keys: { adminPassword: 'postgres-admin-password', appPassword: 'openwebui-db-password' },
  },
  grafana: {
    name: 'grafana-admin',
    namespace: NAMESPACES.monitoring,
    keys: { adminPassword: 'admin-password' },
  },
  azureFiles: {
    name: 'azure-files',
    namespace: NAMESPACES.llm,
    keys: { accountName: 'azurestorageaccountname', accountKey: 'azurestorageaccountkey' },
  },
} as const;

export function postgresHost(names: PlatformNames): string {
  return `${names.postgresServer}.postgres.database.azure.com`;
}

export function defaultAdminEmail(prefix: string): string {
  return `admin@${prefix}.local`;
}

/** The platform's objects in apply order, as plain objects. */
export function renderManifests(
  spec: PlatformSpec,
  names: PlatformNames,
  templates: TemplateSource,
  options: RenderOptions = {},
): KubernetesObject[] {
  return render(spec, names, templates, options).map(({ object }) => object);
}

/**
 * The objects of one template file (`80-autoscaling.yaml`), rendered on their own: what an activity applies
 * by itself (Ollama's ScaledObject at a GPU release or wake) without `render`'s two passes over every
 * template. The values derived from the whole set (the namespace quota, the entry's config hash) are left
 * empty, so a file using them cannot be rendered this way.
 */
export function renderManifestFile(
  spec: PlatformSpec,
  names: PlatformNames,
  templates: TemplateSource,
  file: string,
  options: RenderOptions = {},
): KubernetesObject[] {
  const template = templates.manifests.find((t) => t.file === file);
  if (!template) throw new Error(`no template ${file}`);
  const values = templateValues(spec, names, templates, options, { quotaHard: {}, entryConfigHash: '' });
  return renderDocuments([template], values, { partial: true }).map(({ object }) => object);
}

/**
 * Objects applied only by one flow, never by the regular apply: `manifests/on-demand/<name>.yaml`, with no
 * placeholders (the same parser, so the same guarantees). The wipe's data Job is the one there is.
 */
export const ON_DEMAND = { webuiDataWipe: 'open-webui-data-wipe' } as const;
export type OnDemandName = (typeof ON_DEMAND)[keyof typeof ON_DEMAND];

export function renderOnDemand(name: OnDemandName, templates: TemplateSource): KubernetesObject[] {
  return renderTemplates([templates.onDemand[name]], {});
}

/** The same objects as one multi-document YAML text (template comments kept). */
export function renderManifestsYaml(
  spec: PlatformSpec,
  names: PlatformNames,
  templates: TemplateSource,
  options: RenderOptions = {},
): string {
  return render(spec, names, templates, options)
    .map(({ document }) => document.toString({ lineWidth: 0, directives: false }))
    .join('---\n');
}

// ---------------------------------------------------------------------------------------------------------
// Rendering

function render(
  spec: PlatformSpec,
  names: PlatformNames,
  templates: TemplateSource,
  options: RenderOptions,
): Rendered[] {
  // The quota is computed from the workloads it must admit, and the entry's pod template carries the hash
  // of its rendered Caddyfile, so everything is rendered first with neither.
  const draft = renderDocuments(
    templates.manifests,
    templateValues(spec, names, templates, options, { quotaHard: {}, entryConfigHash: '' }),
  ).map((r) => r.object);
  const derived = { quotaHard: quotaFor(draft, NAMESPACES.llm), entryConfigHash: entryConfigHash(draft) };
  return renderDocuments(templates.manifests, templateValues(spec, names, templates, options, derived));
}

/** The HTTPS entry's Caddy configuration, by name. */
export const HTTPS_ENTRY = { namespace: NAMESPACES.llm, configMap: 'https-entry', service: 'https-entry' };

function entryConfigHash(objects: readonly KubernetesObject[]): string {
  const config = objects.find(
    (o) =>
      o.kind === 'ConfigMap' &&
      o.metadata.name === HTTPS_ENTRY.configMap &&
      o.metadata.namespace === HTTPS_ENTRY.namespace,
  );
  if (!config) throw new Error(`the manifests have no ConfigMap ${HTTPS_ENTRY.configMap}`);
  return createHash('sha256').update(JSON.stringify(config.data)).digest('hex').slice(0, 16);
}

/**
 * Who may reach the entry: the request's CIDRs, or everyone (both address families) when it names none.
 * Caddy's remote_ip matcher takes them space-separated.
 */
export function allowedSourceRanges(spec: PlatformSpec): string[] {
  const ranges = spec.network?.allowedSourceRanges ?? [];
  return ranges.length > 0 ? ranges : ['0.0.0.0/0', '::/0'];
}

function templateValues(
  spec: PlatformSpec,
  names: PlatformNames,
  templates: TemplateSource,
  options: RenderOptions,
  derived: { quotaHard: Record<string, string>; entryConfigHash: string },
): TemplateValues {
  const adminEmail = options.adminEmail ?? spec.webui.adminEmail ?? defaultAdminEmail(spec.prefix);
  if (!/^[^\s@"'<>]+@[^\s@"'<>]+\.[^\s@"'<>]+$/.test(adminEmail))
    throw new RangeError(`adminEmail "${adminEmail}" is not an email address`);
  const { openWebui, databaseSetup, grafana, azureFiles } = SECRETS;
  const ksmResources = [...new Set(SCRAPED_METRICS['kube-state-metrics'].map(kubeStateMetricsResource))];
  return {
    prefix: spec.prefix,
    gpuMemoryMetric: GPU_MEMORY_METRIC,
    storage: {
      resourceGroup: names.resourceGroup,
      account: names.storageAccount,
      modelsShare: names.modelsFileShare,
      webuiShare: names.webuiFileShare,
      modelsShareGiB: modelShareGiB(spec.models),
      webuiShareGiB: WEBUI_SHARE_GIB,
    },
    secrets: {
      azureFiles: { name: azureFiles.name, namespace: azureFiles.namespace },
      databaseSetup: { name: databaseSetup.name, keys: { ...databaseSetup.keys } },
      openWebui: { name: openWebui.name, keys: { ...openWebui.keys } },
      grafana: { name: grafana.name, keys: { ...grafana.keys } },
    },
    postgres: {
      host: postgresHost(names),
      database: names.postgresDatabase,
      adminLogin: names.postgresAdminLogin,
      appRole: OPENWEBUI_DB_ROLE,
    },
    databaseSetupSql: templates.databaseSetupSql,
    ollama: {
      ...ollamaResources(spec.gpu.vmSize),
      maxReplicas: ollamaMaxReplicas(spec),
      minReplicas: options.gpuReleased ? 0 : 1,
    },
    webui: {
      replicas: spec.webui.replicas,
      maxReplicas: webuiMaxReplicas(spec.webui.replicas),
      adminEmail,
      pool: { size: WEBUI_POOL.size, overflow: WEBUI_POOL.overflow },
    },
    kubeStateMetrics: { resources: ksmResources.sort().join(',') },
    prometheus: { cadvisorMetricsRegex: SCRAPED_METRICS['kubelet-cadvisor'].join('|') },
    grafana: {
      adminUser: GRAFANA_ADMIN_USER,
      datasourceUid: GRAFANA_DATASOURCE_UID,
      dashboards: {
        gpuMonitoring: templates.dashboards.gpuMonitoring,
        platformOverview: templates.dashboards.platformOverview,
      },
    },
    preload: {
      args: spec.models.flatMap((model) => [model, String(pullTimeoutSeconds(model))]),
      deadlineSeconds: preloadDeadlineSeconds(spec.models),
    },
    quota: { hard: derived.quotaHard },
    entry: {
      host: publicHost(names, spec.location),
      dnsLabel: publicDnsLabel(names),
      allowedSourceRanges: allowedSourceRanges(spec).join(' '),
      configHash: derived.entryConfigHash,
    },
  };
}
