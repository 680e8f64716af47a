/**
 * The Kubernetes objects of a platform, rendered from the YAML templates in `manifests/` (and the Grafana
 * dashboards in `dashboards/`) by the placeholder engine (`templates.ts`) with the values built by
 * `templateValues` below. Pure apart from reading those files, which ship with the app: same spec, same
 * output, byte for byte.
 *
 * Templates. `manifests/NN-name.yaml`, multi-document, applied in file-name order and document order. The
 * SQL of the database-setup Job is `manifests/sql/database-setup.sql`, embedded in a ConfigMap.
 *
 * Secrets. No template holds a secret value: pods read them through `secretKeyRef` (and the Azure Files CSI
 * driver through `nodeStageSecretRef`) from the Secrets named in `SECRETS`, which the apply step builds
 * from Key Vault with `buildSecrets` just before applying the rendered objects.
 *
 * Apply order. Objects come in apply order. A Job annotated `WAIT_FOR_COMPLETION` must complete before
 * anything after it is applied: PostgreSQL setup, then the Open WebUI schema migration, then Open WebUI.
 * Jobs are immutable: re-running one with a changed template means deleting it first.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { T4_VM_SIZES, knownModel, type T4VmSize } from './catalog.js';
import type { PlatformNames } from './naming.js';
import { LIMITS } from './policy.js';
import {
  WEBUI_POOL,
  WEBUI_SHARE_GIB,
  UNKNOWN_MODEL_GIB,
  choosePostgresSku,
  connectionsNeeded,
  modelShareGiB,
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

/** Values from outside the spec; each overrides the spec's own. */
export interface RenderOptions {
  /**
   * The Open WebUI admin account created at first start; else the spec's `webui.adminEmail`, else
   * `admin@<prefix>.local`.
   */
  adminEmail?: string;
}

export const NAMESPACES = { llm: 'llm', monitoring: 'monitoring' } as const;

/** The custom metric the Ollama HPA scales on, as prometheus-adapter exposes it. */
export const GPU_MEMORY_METRIC = 'gpu_memory_utilization';

/** uid of the provisioned Prometheus datasource; the dashboards reference it. */
export const GRAFANA_DATASOURCE_UID = 'prometheus';

export const DASHBOARDS = {
  gpuMonitoring: { file: 'gpu-monitoring.json', uid: 'gpu-llm-platform' },
  platformOverview: { file: 'platform-overview.json', uid: 'llm-platform-overview' },
} as const;

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

/**
 * Every metric name Prometheus gets, by scrape job (the `job_name`s of the Prometheus ConfigMap). Dashboards
 * and adapter rules may use these and nothing else.
 * - dcgm-exporter: the exporter's default counters (etc/default-counters.csv of the pinned 4.4.2-4.7.1);
 *   FB_* are MiB.
 * - kubelet-cadvisor: only these series are kept (metric_relabel_configs).
 * - kube-state-metrics: it only builds metrics for the kinds it watches; `--resources` is derived from
 *   this list.
 */
export const SCRAPED_METRICS = {
  'dcgm-exporter': [
    'DCGM_FI_DEV_SM_CLOCK',
    'DCGM_FI_DEV_MEM_CLOCK',
    'DCGM_FI_DEV_MEMORY_TEMP',
    'DCGM_FI_DEV_GPU_TEMP',
    'DCGM_FI_DEV_POWER_USAGE',
    'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION',
    'DCGM_FI_DEV_PCIE_REPLAY_COUNTER',
    'DCGM_FI_DEV_GPU_UTIL',
    'DCGM_FI_DEV_MEM_COPY_UTIL',
    'DCGM_FI_DEV_ENC_UTIL',
    'DCGM_FI_DEV_DEC_UTIL',
    'DCGM_FI_DEV_XID_ERRORS',
    'DCGM_FI_DEV_FB_FREE',
    'DCGM_FI_DEV_FB_USED',
    'DCGM_FI_DEV_FB_RESERVED',
    'DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL',
    'DCGM_FI_DEV_VGPU_LICENSE_STATUS',
    'DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS',
    'DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS',
    'DCGM_FI_DEV_ROW_REMAP_FAILURE',
    'DCGM_FI_PROF_GR_ENGINE_ACTIVE',
    'DCGM_FI_PROF_PIPE_TENSOR_ACTIVE',
    'DCGM_FI_PROF_DRAM_ACTIVE',
    'DCGM_FI_PROF_PCIE_TX_BYTES',
    'DCGM_FI_PROF_PCIE_RX_BYTES',
  ],
  'kubelet-cadvisor': ['container_cpu_usage_seconds_total', 'container_memory_working_set_bytes'],
  'kube-state-metrics': [
    'kube_deployment_spec_replicas',
    'kube_deployment_status_replicas_available',
    'kube_horizontalpodautoscaler_spec_max_replicas',
    'kube_horizontalpodautoscaler_status_current_replicas',
    'kube_job_status_failed',
    'kube_job_status_succeeded',
    'kube_node_status_condition',
    'kube_statefulset_replicas',
    'kube_statefulset_status_replicas_ready',
  ],
} as const satisfies Record<string, readonly string[]>;

/** The kube-state-metrics resource (a `--resources` entry) each metric family comes from. */
export const KUBE_STATE_METRICS_RESOURCES: Readonly<Record<string, string>> = {
  kube_deployment_: 'deployments',
  kube_horizontalpodautoscaler_: 'horizontalpodautoscalers',
  kube_job_: 'jobs',
  kube_node_: 'nodes',
  kube_statefulset_: 'statefulsets',
};

export function kubeStateMetricsResource(metric: string): string {
  const prefix = Object.keys(KUBE_STATE_METRICS_RESOURCES).find((p) => metric.startsWith(p));
  if (!prefix) throw new RangeError(`no kube-state-metrics resource known for ${metric}`);
  return KUBE_STATE_METRICS_RESOURCES[prefix]!;
}

/**
 * Kept free on every GPU node for what is not Ollama: AKS's own reservation (kube-reserved CPU is 140m on 4
 * cores and 740m on 64; memory min(20 MiB × max pods + 50 MiB, 25 %) with 250 pods under Azure CNI overlay,
 * plus the 100 Mi eviction threshold; AKS "Node resource reservations"), AKS's system DaemonSets, and ours
 * (device plugin, DCGM exporter).
 */
export const GPU_NODE_HEADROOM = { cpuMillis: 1500, memoryMiB: 7 * 1024 } as const;

/**
 * Ollama's requests: what a GPU node has left after the headroom, split among its GPUs (one Ollama replica
 * per GPU). The seed asked for 4 CPUs, more than an NC4as_T4_v3 can allocate. Memory limit = request: a
 * model spilling into host memory is killed rather than starving the node.
 */
export function ollamaResources(vmSize: T4VmSize) {
  const { vcpus, memoryGiB, gpus } = T4_VM_SIZES[vmSize];
  const cpuMillis = Math.floor((vcpus * 1000 - GPU_NODE_HEADROOM.cpuMillis) / gpus / 100) * 100;
  const memoryGiBPerPod = Math.floor((memoryGiB * 1024 - GPU_NODE_HEADROOM.memoryMiB) / gpus / 1024);
  return {
    cpuRequest: `${cpuMillis}m`,
    memoryRequest: `${memoryGiBPerPod}Gi`,
    cpuLimit: String(vcpus / gpus),
    memoryLimit: `${memoryGiBPerPod}Gi`,
  };
}

/** One Ollama replica per GPU the pool can ever have. */
export function ollamaMaxReplicas(spec: PlatformSpec): number {
  return spec.gpu.maxNodes * T4_VM_SIZES[spec.gpu.vmSize].gpus;
}

/**
 * The Open WebUI HPA may add replicas only while every replica's connection pools still fit the PostgreSQL
 * SKU chosen for the requested count (B1ms fits exactly one).
 */
export function webuiMaxReplicas(replicas: number): number {
  const sku = choosePostgresSku(replicas);
  let max = replicas;
  while (max < LIMITS.webuiReplicas.max && connectionsNeeded(max + 1) <= sku.userConnections) max += 1;
  return max;
}

/** Seconds one pull attempt of a model may take: 10 minutes plus 3 minutes per GiB to download. */
export function pullTimeoutSeconds(model: string): number {
  return 600 + Math.ceil(180 * (knownModel(model)?.downloadGiB ?? UNKNOWN_MODEL_GIB));
}

/** The preload Job's deadline: the wait for Ollama plus 3 attempts (and their pauses) per model, twice. */
export function preloadDeadlineSeconds(models: readonly string[]): number {
  const onePass = 1200 + models.reduce((sum, m) => sum + 3 * (pullTimeoutSeconds(m) + 90), 0);
  return 2 * onePass;
}

export function postgresHost(names: PlatformNames): string {
  return `${names.postgresServer}.postgres.database.azure.com`;
}

/** DATABASE_URL and PGVECTOR_DB_URL of Open WebUI: the application role, TLS required. */
export function openWebuiDatabaseUrl(names: PlatformNames, password: string): string {
  const user = encodeURIComponent(OPENWEBUI_DB_ROLE);
  return `postgresql://${user}:${encodeURIComponent(password)}@${postgresHost(names)}:5432/${names.postgresDatabase}?sslmode=require`;
}

export function defaultAdminEmail(prefix: string): string {
  return `admin@${prefix}.local`;
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

/** The platform's objects in apply order, as plain objects. */
export function renderManifests(
  spec: PlatformSpec,
  names: PlatformNames,
  options: RenderOptions = {},
): KubernetesObject[] {
  return render(spec, names, options).map(({ object }) => object);
}

/**
 * Objects applied only by one flow, never by the regular apply: `manifests/on-demand/<name>.yaml`, with no
 * placeholders (the same parser, so the same guarantees). The wipe's data Job is the one there is.
 */
export const ON_DEMAND = { webuiDataWipe: 'open-webui-data-wipe' } as const;

export function renderOnDemand(name: (typeof ON_DEMAND)[keyof typeof ON_DEMAND]): KubernetesObject[] {
  const file = join(templateRoot().manifests, 'on-demand', `${name}.yaml`);
  return renderTemplates([{ file: `on-demand/${name}.yaml`, text: readText(file) }], {});
}

/** The same objects as one multi-document YAML text (template comments kept). */
export function renderManifestsYaml(
  spec: PlatformSpec,
  names: PlatformNames,
  options: RenderOptions = {},
): string {
  return render(spec, names, options)
    .map(({ document }) => document.toString({ lineWidth: 0, directives: false }))
    .join('---\n');
}

// ---------------------------------------------------------------------------------------------------------
// Rendering

function render(spec: PlatformSpec, names: PlatformNames, options: RenderOptions): Rendered[] {
  // The quota is computed from the workloads it must admit, so they are rendered first with an empty one.
  const draft = renderDocuments(loadTemplates(), templateValues(spec, names, options, {}));
  const hard = quotaFor(draft.map((r) => r.object));
  return renderDocuments(loadTemplates(), templateValues(spec, names, options, hard));
}

function templateValues(
  spec: PlatformSpec,
  names: PlatformNames,
  options: RenderOptions,
  quotaHard: Record<string, string>,
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
    databaseSetupSql: readText(join(templateRoot().manifests, 'sql', 'database-setup.sql')),
    ollama: { ...ollamaResources(spec.gpu.vmSize), maxReplicas: ollamaMaxReplicas(spec) },
    webui: {
      replicas: spec.webui.replicas,
      maxReplicas: webuiMaxReplicas(spec.webui.replicas),
      adminEmail,
      pool: { size: WEBUI_POOL.size, overflow: WEBUI_POOL.overflow },
    },
    kubeStateMetrics: { resources: ksmResources.sort().join(',') },
    prometheus: { cadvisorMetricsRegex: SCRAPED_METRICS['kubelet-cadvisor'].join('|') },
    grafana: {
      datasourceUid: GRAFANA_DATASOURCE_UID,
      dashboards: {
        gpuMonitoring: readText(join(templateRoot().dashboards, DASHBOARDS.gpuMonitoring.file)),
        platformOverview: readText(join(templateRoot().dashboards, DASHBOARDS.platformOverview.file)),
      },
    },
    preload: {
      args: spec.models.flatMap((model) => [model, String(pullTimeoutSeconds(model))]),
      deadlineSeconds: preloadDeadlineSeconds(spec.models),
    },
    quota: { hard: quotaHard },
  };
}

// ---------------------------------------------------------------------------------------------------------
// The quota of namespace llm, from the workloads it must admit

const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'Job']);

interface PodSpec {
  containers?: {
    resources?: { requests?: Record<string, string | number>; limits?: Record<string, string | number> };
  }[];
  initContainers?: PodSpec['containers'];
}

/**
 * Every workload of `llm` at its largest: a Deployment or StatefulSet at its HPA's maxReplicas (else its
 * replicas), every Job's pods at once. A pod counts max(sum of its containers, largest init container),
 * as Kubernetes does. Updates add no pods: Open WebUI and Redis use Recreate, a StatefulSet replaces one
 * pod at a time, and failed Job pods no longer count.
 */
export function quotaFor(objects: readonly KubernetesObject[]): Record<string, string> {
  const inLlm = objects.filter((o) => o.metadata.namespace === NAMESPACES.llm);
  const hpaMax = new Map<string, number>();
  for (const o of inLlm.filter((o) => o.kind === 'HorizontalPodAutoscaler')) {
    const spec = o.spec as { scaleTargetRef: { kind: string; name: string }; maxReplicas: number };
    hpaMax.set(`${spec.scaleTargetRef.kind}/${spec.scaleTargetRef.name}`, spec.maxReplicas);
  }
  const total = { pods: 0, cpuReq: 0, cpuLim: 0, memReq: 0, memLim: 0, gpu: 0 };
  for (const o of inLlm) {
    if (o.kind === 'DaemonSet' || o.kind === 'Pod' || o.kind === 'ReplicaSet' || o.kind === 'CronJob')
      throw new Error(`quota: ${o.kind} ${o.metadata.name} in llm is not accounted for`);
    if (!WORKLOAD_KINDS.has(o.kind)) continue;
    const spec = o.spec as {
      replicas?: number;
      parallelism?: number;
      template: { spec: PodSpec };
    };
    const count =
      o.kind === 'Job'
        ? (spec.parallelism ?? 1)
        : (hpaMax.get(`${o.kind}/${o.metadata.name}`) ?? spec.replicas ?? 1);
    const pod = podResources(spec.template.spec);
    total.pods += count;
    total.cpuReq += count * pod.requests.cpu;
    total.cpuLim += count * pod.limits.cpu;
    total.memReq += count * pod.requests.memory;
    total.memLim += count * pod.limits.memory;
    total.gpu += count * pod.requests['nvidia.com/gpu'];
  }
  const pvcs = inLlm.filter((o) => o.kind === 'PersistentVolumeClaim');
  const storage = pvcs.reduce(
    (sum, o) =>
      sum +
      parseQuantity((o.spec as { resources: { requests: { storage: string } } }).resources.requests.storage),
    0,
  );
  const services = inLlm.filter((o) => o.kind === 'Service');
  const loadBalancers = services.filter((o) => (o.spec as { type?: string }).type === 'LoadBalancer');
  const mi = (bytes: number) => `${Math.ceil(bytes / 2 ** 20)}Mi`;
  const millis = (cores: number) => `${Math.ceil(Math.round(cores * 1e6) / 1e3)}m`;
  return {
    pods: String(total.pods),
    'requests.cpu': millis(total.cpuReq),
    'limits.cpu': millis(total.cpuLim),
    'requests.memory': mi(total.memReq),
    'limits.memory': mi(total.memLim),
    'requests.nvidia.com/gpu': String(total.gpu),
    persistentvolumeclaims: String(pvcs.length),
    'requests.storage': `${Math.ceil(storage / 2 ** 30)}Gi`,
    services: String(services.length),
    'services.loadbalancers': String(loadBalancers.length),
  };
}

const RESOURCES = ['cpu', 'memory', 'nvidia.com/gpu'] as const;
type Amounts = Record<(typeof RESOURCES)[number], number>;

/** Effective requests and limits of a pod (a missing request defaults to the limit, as in Kubernetes). */
export function podResources(spec: PodSpec): { requests: Amounts; limits: Amounts } {
  const amounts = (scope: 'requests' | 'limits', c: NonNullable<PodSpec['containers']>[number]): Amounts => {
    const own = c.resources?.[scope] ?? {};
    const fallback = scope === 'requests' ? (c.resources?.limits ?? {}) : {};
    return Object.fromEntries(
      RESOURCES.map((r) => [r, parseQuantity(own[r] ?? fallback[r] ?? 0)]),
    ) as Amounts;
  };
  const effective = (scope: 'requests' | 'limits'): Amounts => {
    const sum = Object.fromEntries(RESOURCES.map((r) => [r, 0])) as Amounts;
    for (const c of spec.containers ?? []) for (const r of RESOURCES) sum[r] += amounts(scope, c)[r];
    for (const c of spec.initContainers ?? [])
      for (const r of RESOURCES) sum[r] = Math.max(sum[r], amounts(scope, c)[r]);
    return sum;
  };
  return { requests: effective('requests'), limits: effective('limits') };
}

const SUFFIX: Record<string, number> = {
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
};

/** A Kubernetes quantity in base units (cores, bytes, devices): `250m` → 0.25, `2Gi` → 2147483648. */
export function parseQuantity(quantity: string | number): number {
  if (typeof quantity === 'number') return quantity;
  const m = /^(\d+(?:\.\d+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(quantity);
  if (!m) throw new RangeError(`unsupported quantity "${quantity}"`);
  return Number(m[1]) * (m[2] ? SUFFIX[m[2]]! : 1);
}

// ---------------------------------------------------------------------------------------------------------
// Template files

/**
 * The package root: the nearest ancestor of this module holding package.json and manifests/. Works from
 * src/platform (tests), dist/src/platform (the built app) and the deployed package alike.
 */
function templateRoot(): { manifests: string; dashboards: string } {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'manifests')))
      return { manifests: join(dir, 'manifests'), dashboards: join(dir, 'dashboards') };
    const parent = dirname(dir);
    if (parent === dir) throw new Error('manifests/ not found above the module; is it shipped with the app?');
    dir = parent;
  }
}

const TEMPLATE_FILE = /^\d{2}-[a-z0-9-]+\.yaml$/;
const cache = new Map<string, string>();

/** Files are read once per process: they ship with the app and do not change while it runs. */
function readText(path: string): string {
  let text = cache.get(path);
  if (text === undefined) {
    text = readFileSync(path, 'utf8');
    cache.set(path, text);
  }
  return text;
}

function loadTemplates(): TemplateFile[] {
  const dir = templateRoot().manifests;
  return readdirSync(dir)
    .filter((file) => TEMPLATE_FILE.test(file))
    .sort()
    .map((file) => ({ file, text: readText(join(dir, file)) }));
}
