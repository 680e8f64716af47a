/**
 * Simulated Kubernetes API server (plain HTTP on 127.0.0.1) for the real @kubernetes/client-node.
 *
 * - Discovery (`/api`, `/api/v1`, `/apis`, `/apis/<group>[/<version>]`) for the groups the platform uses,
 *   each CRD's group/version once it is established, and custom.metrics.k8s.io once the APIService
 *   `v1beta1.custom.metrics.k8s.io` is Available.
 * - A generic store for every kind: server-side apply (field managers, 409 conflicts, force), create,
 *   replace, merge/strategic/JSON patches, get, list (label and field selectors, limit/continue), delete
 *   (a Namespace goes Terminating and takes its content with it; a CRD takes its objects), `scale`,
 *   `status`, pod `log`. resourceVersion moves only when the object changes; generation on spec changes.
 * - Status computed from the clock on read (see simulation.ts): workloads, pods, Jobs, LoadBalancer IPs,
 *   PVC binding, APIService availability, CRD establishment, nodes (GPU advertised once the NVIDIA device
 *   plugin runs on the node), HPA/PDB/ResourceQuota.
 * - The service proxy (`/api/v1/namespaces/<ns>/services/<name>[:<port>]/proxy/<path>`) forwards to a
 *   SimulatedOllama for the Ollama Service, once the Service exists and has ready endpoints.
 *
 * Not simulated: watch, admission webhooks, OpenAPI schema validation, server-side defaulting beyond the
 * Service fields below, list-merge in apply (lists are atomic: one owner per list).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import type { Clock } from '../clock.js';
import {
  arr,
  clone,
  deepEqual,
  fieldsV1,
  isObject,
  jsonPatch,
  k8sTime,
  mergePatch,
  num,
  obj,
  safeHash,
  str,
  strMap,
  strategicMergePatch,
  type Json,
  type JsonObject,
} from './json.js';
import type { SimulatedOllama } from './ollama.js';
import {
  BUILTIN_TYPES,
  apiGroup,
  crdTypes,
  groupVersionOf,
  resourceList,
  type ResourceType,
} from './resources.js';
import {
  SelectorError,
  matchesFieldSelector,
  matchesRequirements,
  parseLabelSelector,
  type Taint,
} from './selectors.js';
import {
  DEFAULT_DELAYS,
  Snapshot,
  ruleMatches,
  type JobEffect,
  type KubeDelays,
  type NameRule,
  type PodView,
} from './simulation.js';
import {
  ApiError,
  conflictError,
  immutabilityError,
  planApply,
  planUpdate,
  userContent,
  validate,
  type Candidate,
  type Entry,
} from './store.js';

export type { KubeDelays, NameRule } from './simulation.js';

export interface NodeSpec {
  name: string;
  /** Agent pool name (labels `agentpool`, `kubernetes.azure.com/agentpool`). */
  pool: string;
  vmSize?: string;
  mode?: 'System' | 'User';
  labels?: Record<string, string>;
  /** `key=value:Effect` strings or taint objects. */
  taints?: (string | Taint)[];
  /** Physical GPUs (advertised as `nvidia.com/gpu` only once the device plugin runs on the node). */
  gpus?: number;
  ready?: boolean;
}

export interface SimulatedKubernetesOptions {
  clock: Clock;
  /** Bearer token every request must carry (none: no authentication). */
  token?: string;
  delays?: Partial<KubeDelays>;
  /** Backend for the Ollama Service's proxy. */
  ollama?: SimulatedOllama;
  /** What Jobs' pods do when they run (duration, outcome, side effects such as model pulls). */
  jobEffect?: JobEffect;
  /** Services (in any namespace) whose proxy reaches `ollama`; default 'ollama'. */
  ollamaService?: string;
  /** Initial nodes; default: 2 system, 1 apps, 1 spot T4 GPU node, as the platform's AKS pools. */
  nodes?: NodeSpec[];
  clusterName?: string;
  /** Answer the service proxy only when the Service has ready endpoints (503 otherwise); default true. */
  proxyRequiresReadyEndpoints?: boolean;
  /** Jobs matching a rule fail (BackoffLimitExceeded) instead of succeeding. */
  jobFailures?: (NameRule & { message?: string })[];
  /** Metric names served by custom.metrics.k8s.io (pods/<name>) once available. */
  customMetrics?: string[];
  kubernetesVersion?: string;
}

export interface KubeRequest {
  method: string;
  path: string;
  query: string;
  contentType?: string;
  status: number;
}

interface Route {
  group: string;
  version: string;
  type: ResourceType;
  namespace?: string;
  name?: string;
  subresource?: string;
  /** Rest of the path after `proxy/`. */
  proxyPath?: string;
}

const VM_SIZES: Record<string, { cpu: number; memoryGiB: number; gpus: number }> = {
  Standard_D2s_v5: { cpu: 2, memoryGiB: 8, gpus: 0 },
  Standard_D4s_v5: { cpu: 4, memoryGiB: 16, gpus: 0 },
  Standard_D8s_v5: { cpu: 8, memoryGiB: 32, gpus: 0 },
  Standard_NC4as_T4_v3: { cpu: 4, memoryGiB: 28, gpus: 1 },
  Standard_NC8as_T4_v3: { cpu: 8, memoryGiB: 56, gpus: 1 },
  Standard_NC16as_T4_v3: { cpu: 16, memoryGiB: 110, gpus: 1 },
  Standard_NC64as_T4_v3: { cpu: 64, memoryGiB: 440, gpus: 4 },
};

export const DEFAULT_NODES: readonly NodeSpec[] = [
  {
    name: 'aks-system-31415926-vmss000000',
    pool: 'system',
    vmSize: 'Standard_D2s_v5',
    mode: 'System',
    taints: ['CriticalAddonsOnly=true:NoSchedule'],
    labels: { workload: 'system' },
  },
  {
    name: 'aks-system-31415926-vmss000001',
    pool: 'system',
    vmSize: 'Standard_D2s_v5',
    mode: 'System',
    taints: ['CriticalAddonsOnly=true:NoSchedule'],
    labels: { workload: 'system' },
  },
  // Labels as the platform's agent pools set them (src/platform/azure-resources.ts).
  {
    name: 'aks-apps-27182818-vmss000000',
    pool: 'apps',
    vmSize: 'Standard_D4s_v5',
    mode: 'User',
    labels: { workload: 'apps' },
  },
  {
    name: 'aks-gput4-16180339-vmss000000',
    pool: 'gput4',
    vmSize: 'Standard_NC4as_T4_v3',
    mode: 'User',
    labels: {
      workload: 'llm',
      gpu: 'true',
      'kubernetes.azure.com/scalesetpriority': 'spot',
      'kubernetes.azure.com/accelerator': 'nvidia',
    },
    // AKS adds the spot taint to every spot pool; the platform's GPU pool adds sku=gpu.
    taints: ['sku=gpu:NoSchedule', 'kubernetes.azure.com/scalesetpriority=spot:NoSchedule'],
    gpus: 1,
  },
];

const SYSTEM_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

const STORAGE_CLASSES: [string, string, string, boolean][] = [
  ['default', 'disk.csi.azure.com', 'StandardSSD_LRS', true],
  ['managed-csi', 'disk.csi.azure.com', 'StandardSSD_LRS', false],
  ['managed-csi-premium', 'disk.csi.azure.com', 'Premium_LRS', false],
  ['azurefile-csi', 'file.csi.azure.com', 'Standard_LRS', false],
  ['azurefile-csi-premium', 'file.csi.azure.com', 'Premium_LRS', false],
];

const CUSTOM_METRICS_GROUP = 'custom.metrics.k8s.io';
const CUSTOM_METRICS_APISERVICE = 'v1beta1.custom.metrics.k8s.io';

function parseTaint(t: string | Taint): Taint {
  if (typeof t !== 'string') return t;
  const m = /^([^=:]+)(?:=([^:]*))?:(\w+)$/.exec(t);
  if (!m) throw new Error(`invalid taint ${t}`);
  return { key: m[1]!, ...(m[2] !== undefined ? { value: m[2] } : {}), effect: m[3]! };
}

export class SimulatedKubernetes {
  readonly requests: KubeRequest[] = [];
  readonly clusterName: string;
  private readonly clock: Clock;
  private readonly token?: string;
  private readonly delays: KubeDelays;
  private readonly ollama?: SimulatedOllama;
  private readonly jobEffect?: JobEffect;
  private readonly ollamaService: string;
  private readonly proxyRequiresEndpoints: boolean;
  private readonly initialNodes: readonly NodeSpec[];
  private readonly kubernetesVersion: string;
  private customMetricNames: Set<string>;
  private readonly customMetricValues = new Map<string, string>();
  private readonly store = new Map<string, Entry>();
  private jobFailureRules: (NameRule & { message?: string })[];
  private readonly readyDelays: { rule: NameRule; ms: number }[] = [];
  private readonly workloadFailures: { rule: NameRule; reason: string; message: string }[] = [];
  private resourceVersion = 1000;
  private uidCounter = 0;
  private epoch = 0;
  private cached?: { epoch: number; now: number; snapshot: Snapshot };
  private clusterStartedMs: number;
  private stopped = false;
  private frozenNow?: number;
  private server?: Server;
  private serverUrl?: string;

  constructor(options: SimulatedKubernetesOptions) {
    this.clock = options.clock;
    this.token = options.token;
    this.delays = { ...DEFAULT_DELAYS, ...options.delays };
    this.ollama = options.ollama;
    this.jobEffect = options.jobEffect;
    this.ollamaService = options.ollamaService ?? 'ollama';
    this.proxyRequiresEndpoints = options.proxyRequiresReadyEndpoints ?? true;
    this.initialNodes = options.nodes ?? DEFAULT_NODES;
    this.clusterName = options.clusterName ?? 'aks-sandbox';
    this.kubernetesVersion = options.kubernetesVersion ?? 'v1.32.6';
    this.customMetricNames = new Set(options.customMetrics ?? ['gpu_memory_utilization']);
    this.jobFailureRules = [...(options.jobFailures ?? [])];
    this.clusterStartedMs = this.now();
    this.seed();
  }

  private now(): number {
    return this.frozenNow ?? this.clock.now();
  }

  // ---- lifecycle -----------------------------------------------------------------------------------

  async listen(port = 0): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.serverUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.serverUrl;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = undefined;
  }

  get url(): string {
    if (!this.serverUrl) throw new Error('SimulatedKubernetes: call listen() first');
    return this.serverUrl;
  }

  /**
   * A kubeconfig for this server, shaped like AKS's listClusterAdminCredential output (context
   * `<cluster>-admin`, user `clusterAdmin_…`). client-node refuses plain http unless the cluster has
   * `insecure-skip-tls-verify: true`, which is set.
   */
  kubeconfig(user = 'clusterAdmin'): string {
    const userName = user === 'clusterAdmin' ? `clusterAdmin_sandbox_${this.clusterName}` : user;
    const context = user === 'clusterAdmin' ? `${this.clusterName}-admin` : this.clusterName;
    return stringifyYaml({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: this.clusterName, cluster: { server: this.url, 'insecure-skip-tls-verify': true } }],
      contexts: [{ name: context, context: { cluster: this.clusterName, user: userName } }],
      'current-context': context,
      preferences: {},
      users: [{ name: userName, user: this.token ? { token: this.token } : {} }],
    });
  }

  /** AKS stop: the API server stops answering (connections are reset). */
  stop(): void {
    this.stopped = true;
  }

  /** AKS start: nodes rejoin, every pod restarts, standalone pods are gone, Ollama has nothing loaded. */
  start(): void {
    this.stopped = false;
    const now = this.now();
    this.clusterStartedMs = now;
    for (const [key, e] of this.store) {
      if (e.type.kind === 'Pod' && e.type.builtin) this.store.delete(key);
      if (e.node) e.node.joinedMs = now;
    }
    this.ollama?.unloadAll();
    this.touch();
  }

  restart(): void {
    this.stop();
    this.start();
  }

  /** A new, empty cluster (seeded nodes, system namespaces, storage classes); rules are cleared. */
  reset(): void {
    this.store.clear();
    this.readyDelays.length = 0;
    this.workloadFailures.length = 0;
    this.jobFailureRules = [];
    this.customMetricValues.clear();
    this.clusterStartedMs = this.now();
    this.stopped = false;
    this.ollama?.reset();
    this.seed();
  }

  // ---- test controls -------------------------------------------------------------------------------

  addNode(spec: NodeSpec): void {
    const size = VM_SIZES[spec.vmSize ?? ''] ?? { cpu: 4, memoryGiB: 16, gpus: 0 };
    const gpus = spec.gpus ?? size.gpus;
    const mode = spec.mode ?? 'User';
    const labels: Record<string, string> = {
      agentpool: spec.pool,
      'beta.kubernetes.io/arch': 'amd64',
      'beta.kubernetes.io/instance-type': spec.vmSize ?? 'Standard_D4s_v5',
      'beta.kubernetes.io/os': 'linux',
      'kubernetes.azure.com/agentpool': spec.pool,
      'kubernetes.azure.com/cluster': `MC_sandbox_${this.clusterName}_westeurope`,
      'kubernetes.azure.com/mode': mode.toLowerCase(),
      'kubernetes.azure.com/role': 'agent',
      'kubernetes.io/arch': 'amd64',
      'kubernetes.io/hostname': spec.name,
      'kubernetes.io/os': 'linux',
      'kubernetes.io/role': 'agent',
      'node.kubernetes.io/instance-type': spec.vmSize ?? 'Standard_D4s_v5',
      'topology.kubernetes.io/region': 'westeurope',
      'topology.kubernetes.io/zone': '0',
      ...spec.labels,
    };
    const taints = (spec.taints ?? []).map(parseTaint);
    const memKi = size.memoryGiB * 1024 * 1024;
    const type = this.builtin('', 'Node');
    const entry = this.newEntry(type, spec.name, undefined, {
      metadata: { labels },
      spec: {
        providerID: `azure:///subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/mc_sandbox/providers/Microsoft.Compute/virtualMachineScaleSets/aks-${spec.pool}/virtualMachines/0`,
        ...(taints.length
          ? {
              taints: taints.map((t) => ({
                key: t.key,
                ...(t.value !== undefined ? { value: t.value } : {}),
                effect: t.effect,
              })),
            }
          : {}),
      },
    });
    entry.system = true;
    entry.node = { pool: spec.pool, gpus, ready: spec.ready ?? true, joinedMs: this.now() };
    entry.status = {
      capacity: {
        cpu: String(size.cpu),
        memory: `${memKi}Ki`,
        pods: '110',
        'ephemeral-storage': '129886128Ki',
      },
      allocatable: {
        cpu: `${size.cpu * 1000 - 140}m`,
        memory: `${Math.floor(memKi * 0.78)}Ki`,
        pods: '110',
        'ephemeral-storage': '119703055367',
      },
      nodeInfo: {
        architecture: 'amd64',
        containerRuntimeVersion: 'containerd://1.7.27-1',
        kernelVersion: '5.15.0-1089-azure',
        kubeProxyVersion: this.kubernetesVersion,
        kubeletVersion: this.kubernetesVersion,
        operatingSystem: 'linux',
        osImage: 'Ubuntu 22.04.5 LTS',
      },
    };
    this.store.set(this.key(type, undefined, spec.name), entry);
    this.touch();
  }

  removeNode(name: string): boolean {
    const removed = this.store.delete(this.key(this.builtin('', 'Node'), undefined, name));
    this.touch();
    return removed;
  }

  setNodeReady(name: string, ready: boolean): void {
    const entry = this.store.get(this.key(this.builtin('', 'Node'), undefined, name));
    if (!entry?.node) throw new Error(`no node ${name}`);
    if (ready && !entry.node.ready) entry.node.joinedMs = this.now();
    entry.node.ready = ready;
    this.touch();
  }

  /** The Job fails (now or when created) with BackoffLimitExceeded; `message` is its pod's error and log. */
  failJob(namespace: string, name: string, message = 'simulated job failure'): void {
    this.failJobs({ namespace, name, message });
  }

  /** Jobs matching the rule fail, now (if not finished yet) and when created later. */
  failJobs(rule: NameRule & { message?: string }): void {
    this.jobFailureRules.push(rule);
    const snapshot = this.snapshot();
    for (const job of snapshot.ofKind('Job')) {
      if (!ruleMatches(rule, 'Job', job.namespace, job.name) || snapshot.jobFinishedMs(job) !== undefined)
        continue;
      job.jobOutcome = { failed: true, message: rule.message ?? 'simulated job failure' };
    }
    this.touch();
  }

  clearJobFailures(): void {
    this.jobFailureRules = [];
  }

  /** Pods of matching workloads never become ready (CrashLoopBackOff, ImagePullBackOff, …). */
  failWorkload(
    rule: NameRule,
    reason = 'CrashLoopBackOff',
    message = 'back-off 5m0s restarting failed container',
  ): void {
    this.workloadFailures.push({ rule, reason, message });
    this.touch();
  }

  clearWorkloadFailures(): void {
    this.workloadFailures.length = 0;
    this.touch();
  }

  /** Matching workloads take `ms` to become ready (Jobs: to finish) instead of the default delay. */
  setReadyDelay(rule: NameRule, ms: number): void {
    this.readyDelays.unshift({ rule, ms });
    this.touch();
  }

  /** Value reported by custom.metrics.k8s.io for `pods/<metric>` (default "0"). */
  setCustomMetric(metric: string, value: string): void {
    this.customMetricNames.add(metric);
    this.customMetricValues.set(metric, value);
  }

  // ---- assertions ----------------------------------------------------------------------------------

  /** Every stored object (without managedFields); `includeSystem: false` leaves out seeded objects. */
  inventory(
    options: { includeSystem?: boolean } = {},
  ): { apiVersion: string; kind: string; metadata: JsonObject }[] {
    this.sweep();
    return [...this.store.values()]
      .filter((e) => options.includeSystem !== false || !e.system)
      .map((e) => {
        const rendered = this.render(e, undefined, { managedFields: false, status: false });
        return {
          apiVersion: str(rendered, 'apiVersion')!,
          kind: e.type.kind,
          metadata: obj(rendered, 'metadata'),
        };
      });
  }

  /** One object as a client would read it now (with computed status), or undefined. */
  get(apiVersion: string, kind: string, name: string, namespace?: string): JsonObject | undefined {
    this.sweep();
    const entry = [...this.store.values()].find(
      (e) =>
        e.type.kind === kind &&
        e.name === name &&
        e.namespace === namespace &&
        e.type.group === (apiVersion.includes('/') ? apiVersion.split('/')[0] : ''),
    );
    return entry ? this.render(entry, apiVersion) : undefined;
  }

  /** Pods (workload-created and standalone) as a client would list them. */
  pods(namespace?: string): JsonObject[] {
    this.sweep();
    const snapshot = this.snapshot();
    return snapshot.pods
      .filter((p) => namespace === undefined || p.namespace === namespace)
      .map((p) => this.renderPod(p, snapshot));
  }

  // ---- store internals -----------------------------------------------------------------------------

  private seed(): void {
    for (const name of SYSTEM_NAMESPACES) {
      const type = this.builtin('', 'Namespace');
      const e = this.newEntry(type, name, undefined, {
        metadata: { labels: { 'kubernetes.io/metadata.name': name } },
      });
      e.system = true;
      this.store.set(this.key(type, undefined, name), e);
    }
    for (const [name, provisioner, sku, isDefault] of STORAGE_CLASSES) {
      const type = this.builtin('storage.k8s.io', 'StorageClass');
      const e = this.newEntry(type, name, undefined, {
        metadata: {
          labels: {
            'addonmanager.kubernetes.io/mode': 'EnsureExists',
            'kubernetes.io/cluster-service': 'true',
          },
          ...(isDefault ? { annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } } : {}),
        },
        provisioner,
        parameters: { skuName: sku },
        reclaimPolicy: 'Delete',
        volumeBindingMode: provisioner === 'disk.csi.azure.com' ? 'WaitForFirstConsumer' : 'Immediate',
        allowVolumeExpansion: true,
      });
      e.system = true;
      this.store.set(this.key(type, undefined, name), e);
    }
    for (const node of this.initialNodes) this.addNode(node);
  }

  private builtin(group: string, kind: string): ResourceType {
    const type = BUILTIN_TYPES.find((t) => t.group === group && t.kind === kind);
    if (!type) throw new Error(`no built-in ${group}/${kind}`);
    return type;
  }

  private key(type: ResourceType, namespace: string | undefined, name: string): string {
    return `${type.group}|${type.plural}|${type.namespaced ? (namespace ?? '') : ''}|${name}`;
  }

  private newEntry(
    type: ResourceType,
    name: string,
    namespace: string | undefined,
    content: JsonObject,
  ): Entry {
    const now = this.now();
    const n = ++this.uidCounter;
    return {
      type,
      name,
      ...(type.namespaced ? { namespace } : {}),
      // Deterministic (stable across runs), unique within this simulator.
      uid: `${safeHash(`${this.clusterName}/${n}`, 8).replace(/[^0-9a-f]/g, (c) => (c.charCodeAt(0) % 16).toString(16))}-0000-4000-8000-${n.toString(16).padStart(12, '0')}`,
      resourceVersion: ++this.resourceVersion,
      generation: 1,
      createdMs: now,
      revisionMs: now,
      content,
      managers: [],
    };
  }

  private touch(): void {
    this.epoch++;
  }

  private snapshot(): Snapshot {
    const now = this.now();
    if (this.cached && this.cached.epoch === this.epoch && this.cached.now === now)
      return this.cached.snapshot;
    const snapshot = new Snapshot([...this.store.values()], {
      now,
      delays: this.delays,
      clusterStartedMs: this.clusterStartedMs,
      readyDelays: this.readyDelays,
      workloadFailures: this.workloadFailures,
      ...(this.jobEffect ? { jobEffect: this.jobEffect } : {}),
    });
    this.cached = { epoch: this.epoch, now, snapshot };
    return snapshot;
  }

  /** Finishes namespace deletions and Jobs' ttlSecondsAfterFinished, as controllers would have by now. */
  private sweep(): void {
    const now = this.now();
    for (const [key, e] of this.store) {
      if (e.deletingSinceMs !== undefined && now >= e.deletingSinceMs + this.delays.namespaceTerminationMs) {
        this.store.delete(key);
        this.touch();
      }
    }
    const withTtl = [...this.store.values()].filter(
      (e) =>
        e.type.builtin &&
        e.type.kind === 'Job' &&
        num(e.content, 'spec', 'ttlSecondsAfterFinished') !== undefined,
    );
    if (withTtl.length === 0) return;
    const snapshot = this.snapshot();
    for (const job of withTtl) {
      const finished = snapshot.jobFinishedMs(job);
      if (
        finished !== undefined &&
        now >= finished + num(job.content, 'spec', 'ttlSecondsAfterFinished')! * 1000
      ) {
        this.store.delete(this.key(job.type, job.namespace, job.name));
        this.touch();
      }
    }
  }

  /** Resource types served for a group/version now (built-ins, established CRDs). */
  private typesFor(group: string, version: string): ResourceType[] {
    const builtins = BUILTIN_TYPES.filter((t) => t.group === group && t.version === version);
    const snapshot = this.snapshot();
    const custom = [...this.store.values()]
      .filter(
        (e) =>
          e.type.kind === 'CustomResourceDefinition' &&
          e.deletingSinceMs === undefined &&
          snapshot.crdEstablished(e),
      )
      .flatMap((e) => crdTypes(e.content))
      .filter((t) => t.group === group && t.version === version);
    return [...builtins, ...custom];
  }

  private allGroupVersions(): Map<string, string[]> {
    const groups = new Map<string, string[]>();
    const add = (group: string, version: string) => {
      const list = groups.get(group) ?? [];
      if (!list.includes(version)) list.push(version);
      groups.set(group, list);
    };
    for (const t of BUILTIN_TYPES) if (t.group) add(t.group, t.version);
    const snapshot = this.snapshot();
    for (const e of this.store.values()) {
      if (e.type.kind === 'CustomResourceDefinition' && snapshot.crdEstablished(e))
        for (const t of crdTypes(e.content)) add(t.group, t.version);
    }
    if (
      this.store.has(
        this.key(this.builtin('apiregistration.k8s.io', 'APIService'), undefined, CUSTOM_METRICS_APISERVICE),
      )
    )
      add(CUSTOM_METRICS_GROUP, 'v1beta1');
    return groups;
  }

  private render(
    entry: Entry,
    apiVersion?: string,
    options: { managedFields?: boolean; status?: boolean; defaults?: boolean; snapshot?: Snapshot } = {},
  ): JsonObject {
    const { metadata: userMetadata, ...rest } = entry.content;
    const metadata: JsonObject = {
      name: entry.name,
      ...(entry.namespace !== undefined ? { namespace: entry.namespace } : {}),
      uid: entry.uid,
      resourceVersion: String(entry.resourceVersion),
      generation: entry.generation,
      creationTimestamp: k8sTime(entry.createdMs),
      ...(entry.deletingSinceMs !== undefined
        ? { deletionTimestamp: k8sTime(entry.deletingSinceMs), deletionGracePeriodSeconds: 0 }
        : {}),
      ...(isObject(userMetadata) ? clone(userMetadata) : {}),
    };
    if (options.managedFields !== false && entry.managers.length)
      metadata.managedFields = entry.managers.map((m) => ({
        manager: m.manager,
        operation: m.operation,
        apiVersion: m.apiVersion,
        time: m.time,
        fieldsType: 'FieldsV1',
        fieldsV1: fieldsV1(m.paths),
        ...(m.subresource ? { subresource: m.subresource } : {}),
      }));
    const body: JsonObject = clone(rest);
    // Fields the API server defaults (not owned by any manager) appear on reads only.
    const defaults = options.defaults !== false && entry.type.builtin;
    if (defaults && entry.type.kind === 'Namespace')
      body.spec = { finalizers: ['kubernetes'], ...obj(body, 'spec') };
    if (defaults && entry.type.kind === 'Service')
      body.spec = this.serviceDefaults(entry, obj(body, 'spec'), options.snapshot);
    const status = options.status === false ? undefined : (options.snapshot ?? this.snapshot()).status(entry);
    return {
      apiVersion: apiVersion ?? groupVersionOf(entry.type),
      kind: entry.type.kind,
      metadata,
      ...body,
      ...(status !== undefined ? { status } : {}),
    };
  }

  private serviceDefaults(entry: Entry, spec: JsonObject, snapshot = this.snapshot()): JsonObject {
    const type = str(spec, 'type') ?? 'ClusterIP';
    const headless = str(spec, 'clusterIP') === 'None';
    const ip = type === 'ExternalName' ? undefined : headless ? 'None' : snapshot.clusterIp(entry);
    return {
      ...spec,
      type,
      ...(ip ? { clusterIP: ip, clusterIPs: [ip], ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack' } : {}),
      sessionAffinity: str(spec, 'sessionAffinity') ?? 'None',
      internalTrafficPolicy: str(spec, 'internalTrafficPolicy') ?? 'Cluster',
      ports: (Array.isArray(spec.ports) ? spec.ports : []).map((p) =>
        isObject(p)
          ? {
              protocol: 'TCP',
              targetPort: p.port ?? null,
              ...(type === 'LoadBalancer' || type === 'NodePort'
                ? { nodePort: 30000 + ((Number(p.port ?? 0) * 7 + entry.name.length * 131) % 2767) }
                : {}),
              ...p,
            }
          : p,
      ),
    };
  }

  private renderPod(pod: PodView, snapshot: Snapshot): JsonObject {
    if (pod.entry) {
      const rendered = this.render(pod.entry, 'v1', { snapshot });
      return {
        ...rendered,
        spec: { ...obj(rendered, 'spec'), ...(pod.nodeName ? { nodeName: pod.nodeName } : {}) },
      };
    }
    return snapshot.renderPod(pod);
  }

  /**
   * Commits a candidate (from apply or update) to `existing`, or creates the entry. Returns the entry and
   * whether anything changed; nothing moves (not even resourceVersion) for a no-op.
   */
  private commit(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
    existing: Entry | undefined,
    candidate: Candidate,
    dryRun: boolean,
  ): { entry: Entry; changed: boolean; created: boolean } {
    const now = this.now();
    if (!existing) {
      const entry = this.newEntry(type, name, namespace, candidate.content);
      entry.managers = candidate.managers;
      if (type.builtin && (type.kind === 'Deployment' || type.kind === 'StatefulSet'))
        entry.podTimes = Array.from({ length: num(candidate.content, 'spec', 'replicas') ?? 1 }, () => now);
      if (type.builtin && type.kind === 'Job') {
        const rule = this.jobFailureRules.find((r) => ruleMatches(r, 'Job', namespace, name));
        if (rule) entry.jobOutcome = { failed: true, message: rule.message ?? 'simulated job failure' };
      }
      if (!dryRun) {
        this.store.set(this.key(type, namespace, name), entry);
        this.touch();
      } else this.resourceVersion--;
      return { entry, changed: true, created: true };
    }
    const contentChanged = !deepEqual(existing.content, candidate.content);
    const strip = (ms: Entry['managers']) => ms.map(({ time: _time, ...m }) => m);
    const managersChanged = !deepEqual(strip(existing.managers), strip(candidate.managers));
    if (!contentChanged && !managersChanged) return { entry: existing, changed: false, created: false };
    const target: Entry = dryRun ? { ...existing } : existing;
    const { metadata: _a, ...beforeSpec } = existing.content;
    const { metadata: _b, ...afterSpec } = candidate.content;
    if (!deepEqual(beforeSpec, afterSpec)) {
      const snapshot = this.snapshot();
      const templateBefore = obj(existing.content, 'spec', 'template');
      const templateAfter = obj(candidate.content, 'spec', 'template');
      const templateChanged = !deepEqual(templateBefore, templateAfter);
      const replicasBefore = num(existing.content, 'spec', 'replicas') ?? 1;
      target.prev = {
        status: snapshot.status(existing),
        ready: snapshot.workloadReady(existing),
        replicas: type.kind === 'DaemonSet' ? snapshot.podsOf(existing).length : replicasBefore,
        templateChanged,
      };
      if (type.builtin && (type.kind === 'Deployment' || type.kind === 'StatefulSet')) {
        const replicas = num(candidate.content, 'spec', 'replicas') ?? 1;
        const old = existing.podTimes ?? [];
        target.podTimes = Array.from({ length: replicas }, (_, i) =>
          templateChanged ? now : (old[i] ?? now),
        );
      }
      target.generation = existing.generation + 1;
      target.revisionMs = now;
    }
    target.content = candidate.content;
    target.managers = candidate.managers;
    target.resourceVersion = dryRun ? existing.resourceVersion : ++this.resourceVersion;
    if (!dryRun) this.touch();
    return { entry: target, changed: true, created: false };
  }

  private deleteEntry(entry: Entry): JsonObject {
    const now = this.now();
    const key = this.key(entry.type, entry.namespace, entry.name);
    if (entry.type.builtin && entry.type.kind === 'Namespace') {
      for (const [k, e] of this.store)
        if (e.type.namespaced && e.namespace === entry.name) this.store.delete(k);
      if (entry.deletingSinceMs === undefined) {
        entry.deletingSinceMs = now;
        entry.resourceVersion = ++this.resourceVersion;
      }
      if (this.delays.namespaceTerminationMs <= 0) this.store.delete(key);
      this.touch();
      return this.render(entry);
    }
    this.store.delete(key);
    if (entry.type.builtin && entry.type.kind === 'CustomResourceDefinition') {
      const group = str(entry.content, 'spec', 'group');
      const plural = str(entry.content, 'spec', 'names', 'plural');
      for (const [k, e] of this.store)
        if (!e.type.builtin && e.type.group === group && e.type.plural === plural) this.store.delete(k);
    }
    this.touch();
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Success',
      details: {
        name: entry.name,
        ...(entry.type.group ? { group: entry.type.group } : {}),
        kind: entry.type.plural,
        uid: entry.uid,
      },
    };
  }

  // ---- HTTP ----------------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const record: KubeRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.search.replace(/^\?/, ''),
      ...(req.headers['content-type'] ? { contentType: req.headers['content-type'] } : {}),
      status: 0,
    };
    this.requests.push(record);
    if (this.stopped) {
      req.socket.destroy();
      return;
    }
    res.on('finish', () => {
      record.status = res.statusCode;
    });
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    try {
      if (this.token !== undefined && req.headers.authorization !== `Bearer ${this.token}`)
        throw new ApiError(401, 'Unauthorized', 'Unauthorized');
      // One instant per request: with a ScaledClock, time would otherwise move between reads.
      let routed: Promise<void>;
      this.frozenNow = this.clock.now();
      try {
        this.sweep();
        routed = this.route(req, res, url, body);
      } finally {
        this.frozenNow = undefined;
      }
      await routed;
    } catch (e) {
      if (res.headersSent) {
        res.end();
        return;
      }
      if (e instanceof ApiError) return this.sendStatus(res, e);
      if (e instanceof SelectorError) return this.sendStatus(res, new ApiError(400, 'BadRequest', e.message));
      return this.sendStatus(
        res,
        new ApiError(500, 'InternalError', `simulator error: ${(e as Error).stack ?? String(e)}`),
      );
    }
  }

  private send(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  private sendStatus(res: ServerResponse, error: ApiError): void {
    this.send(res, error.code, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: error.message,
      reason: error.reason,
      ...(error.details ? { details: error.details } : {}),
      code: error.code,
    });
  }

  private notFound(type: ResourceType, name: string): ApiError {
    return new ApiError(
      404,
      'NotFound',
      `${type.plural}${type.group ? `.${type.group}` : ''} "${name}" not found`,
      {
        name,
        ...(type.group ? { group: type.group } : {}),
        kind: type.plural,
      },
    );
  }

  private async route(req: IncomingMessage, res: ServerResponse, url: URL, body: Buffer): Promise<void> {
    const method = req.method ?? 'GET';
    const segments = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const [root, ...rest] = segments;

    if (method === 'GET' && ['healthz', 'readyz', 'livez'].includes(root ?? '') && rest.length === 0) {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      return void res.end('ok');
    }
    if (method === 'GET' && root === 'version' && rest.length === 0) {
      const [major, minor] = this.kubernetesVersion.replace(/^v/, '').split('.');
      return this.send(res, 200, {
        major,
        minor,
        gitVersion: this.kubernetesVersion,
        platform: 'linux/amd64',
        goVersion: 'go1.23.10',
        compiler: 'gc',
      });
    }
    if (root === 'api' && rest.length === 0 && method === 'GET')
      return this.send(res, 200, {
        kind: 'APIVersions',
        versions: ['v1'],
        serverAddressByClientCIDRs: [
          { clientCIDR: '0.0.0.0/0', serverAddress: `${this.clusterName}.hcp.westeurope.azmk8s.io:443` },
        ],
      });
    if (root === 'apis' && rest.length === 0 && method === 'GET') {
      const groups = [...this.allGroupVersions()].map(([name, versions]) => apiGroup(name, versions));
      return this.send(res, 200, { kind: 'APIGroupList', apiVersion: 'v1', groups });
    }
    if (root === 'apis' && rest.length === 1 && method === 'GET') {
      const versions = this.allGroupVersions().get(rest[0]!);
      if (!versions) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
      return this.send(res, 200, { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(rest[0]!, versions) });
    }
    let group: string;
    let version: string;
    let tail: string[];
    if (root === 'api' && rest[0] === 'v1') [group, version, tail] = ['', 'v1', rest.slice(1)];
    else if (root === 'apis' && rest.length >= 2)
      [group, version, tail] = [rest[0]!, rest[1]!, rest.slice(2)];
    else throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');

    if (group === CUSTOM_METRICS_GROUP) return this.customMetrics(res, method, version, tail, url);

    const types = this.typesFor(group, version);
    if (types.length === 0)
      throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    if (tail.length === 0) {
      if (method !== 'GET')
        throw new ApiError(
          405,
          'MethodNotAllowed',
          `the server does not allow this method on the requested resource`,
        );
      return this.send(res, 200, resourceList(group ? `${group}/${version}` : version, types));
    }
    const route = this.parseRoute(group, version, types, tail, url.pathname);
    return this.dispatch(req, res, url, route, body);
  }

  private parseRoute(
    group: string,
    version: string,
    types: ResourceType[],
    tail: string[],
    pathname: string,
  ): Route {
    let namespace: string | undefined;
    let rest = tail;
    if (
      rest[0] === 'namespaces' &&
      rest.length >= 3 &&
      types.some((t) => t.plural === rest[2] && t.namespaced)
    ) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const [plural, name, sub] = rest;
    const type = types.find((t) => t.plural === plural);
    if (!type) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    if (namespace !== undefined && !type.namespaced)
      throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    if (type.namespaced && namespace === undefined && name !== undefined)
      throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    const route: Route = {
      group,
      version,
      type,
      ...(namespace !== undefined ? { namespace } : {}),
      ...(name !== undefined ? { name } : {}),
    };
    if (sub !== undefined) {
      if (!type.subresources.includes(sub))
        throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
      route.subresource = sub;
      if (sub === 'proxy') {
        // Everything after ".../proxy" (segments already decoded: client-node sends "api%2Ftags").
        route.proxyPath = `/${rest.slice(3).join('/')}${rest.length > 3 && pathname.endsWith('/') ? '/' : ''}`;
      } else if (rest.length > 3)
        throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    } else if (rest.length > 3)
      throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    return route;
  }

  private async dispatch(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    route: Route,
    body: Buffer,
  ): Promise<void> {
    const method = req.method ?? 'GET';
    const { type, namespace, name, subresource } = route;
    const apiVersion = route.group ? `${route.group}/${route.version}` : route.version;
    const query = url.searchParams;
    const dryRun = query.get('dryRun') === 'All';
    if (query.get('watch') === 'true' || query.get('watch') === '1')
      throw new ApiError(400, 'BadRequest', 'watch is not supported by the simulated API server');

    if (subresource === 'proxy') return this.proxy(req, res, route, url, body);
    const builtinKind = type.builtin ? type.kind : '';

    // Collections.
    if (name === undefined) {
      if (method === 'GET') return this.send(res, 200, this.list(route, apiVersion, query));
      if (method === 'POST') {
        if (type.namespaced && namespace === undefined)
          throw new ApiError(
            405,
            'MethodNotAllowed',
            'the server does not allow this method on the requested resource',
          );
        const object = this.parseBody(body, req.headers['content-type']);
        const manager = query.get('fieldManager') ?? this.defaultManager(req);
        let objectName = str(object, 'metadata', 'name');
        const generateName = str(object, 'metadata', 'generateName');
        if (!objectName && generateName)
          objectName = `${generateName}${safeHash(`${generateName}/${++this.uidCounter}`, 5)}`;
        if (!objectName)
          throw new ApiError(
            422,
            'Invalid',
            `${type.kind} "" is invalid: metadata.name: Required value: name or generateName is required`,
          );
        this.checkIdentity(object, type, apiVersion, namespace, undefined);
        const existing = this.store.get(this.key(type, namespace, objectName));
        if (existing)
          throw new ApiError(
            409,
            'AlreadyExists',
            `${type.plural}${type.group ? `.${type.group}` : ''} "${objectName}" already exists`,
            {
              name: objectName,
              ...(type.group ? { group: type.group } : {}),
              kind: type.plural,
            },
          );
        this.checkNamespaceWritable(type, namespace);
        const content = userContent(object, type);
        const invalid = validate(type, objectName, content);
        if (invalid) throw invalid;
        const candidate = planUpdate(undefined, content, manager, apiVersion, k8sTime(this.now()));
        const { entry } = this.commit(type, namespace, objectName, undefined, candidate, dryRun);
        return this.send(res, 201, this.render(entry, apiVersion));
      }
      if (method === 'DELETE') {
        const listed = this.matching(route, query);
        for (const e of listed) this.deleteEntry(e);
        return this.send(res, 200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success' });
      }
      throw new ApiError(
        405,
        'MethodNotAllowed',
        'the server does not allow this method on the requested resource',
      );
    }

    const key = this.key(type, namespace, name);
    const existing = this.store.get(key);
    const snapshot = this.snapshot();

    // Virtual objects: pods created by workloads, endpoints of services.
    if (builtinKind === 'Pod' && !existing) {
      const pod = snapshot.pods.find((p) => p.namespace === namespace && p.name === name && !p.entry);
      if (pod) return this.virtualPod(res, method, pod, subresource);
    }
    if (builtinKind === 'Endpoints' && !existing && method === 'GET') {
      const service = snapshot.find('Service', namespace, name);
      if (!service) throw this.notFound(type, name);
      return this.send(res, 200, this.endpointsObject(service, snapshot));
    }

    if (subresource === 'log') {
      if (!existing) throw this.notFound(type, name);
      const pod = snapshot.pods.find((p) => p.entry === existing);
      res.writeHead(200, { 'content-type': 'text/plain' });
      return void res.end(pod?.failureMessage ? `${pod.failureMessage}\n` : '');
    }
    if (subresource === 'scale') return this.scale(req, res, route, existing, body, dryRun);
    if (subresource === 'status' || subresource === 'finalize') {
      if (!existing) throw this.notFound(type, name);
      if (method === 'GET') return this.send(res, 200, this.render(existing, apiVersion));
      throw new ApiError(
        405,
        'MethodNotAllowed',
        `the simulated API server computes status itself; ${subresource} writes are not supported`,
      );
    }

    switch (method) {
      case 'GET':
        if (!existing) throw this.notFound(type, name);
        return this.send(res, 200, this.render(existing, apiVersion));
      case 'DELETE':
        if (!existing) throw this.notFound(type, name);
        return this.send(res, 200, this.deleteEntry(existing));
      case 'PUT': {
        if (!existing) throw this.notFound(type, name);
        const object = this.parseBody(body, req.headers['content-type']);
        this.checkIdentity(object, type, apiVersion, namespace, name);
        this.checkResourceVersion(object, existing);
        const content = userContent(object, type);
        return this.update(res, req, existing, content, apiVersion, query, dryRun);
      }
      case 'PATCH': {
        const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
        if (contentType === 'application/apply-patch+yaml')
          return this.apply(res, route, apiVersion, existing, body, query, dryRun);
        if (!existing) throw this.notFound(type, name);
        const current = this.render(existing, apiVersion, {
          managedFields: false,
          status: false,
          defaults: false,
        });
        let patched: Json;
        try {
          const patch = JSON.parse(body.toString('utf8')) as Json;
          if (contentType === 'application/merge-patch+json') patched = mergePatch(current, patch);
          else if (contentType === 'application/strategic-merge-patch+json') {
            if (!type.builtin)
              throw new ApiError(
                415,
                'UnsupportedMediaType',
                'strategic merge patch is not supported for custom resources',
              );
            patched = strategicMergePatch(current, patch);
          } else if (contentType === 'application/json-patch+json') patched = jsonPatch(current, patch);
          else
            throw new ApiError(
              415,
              'UnsupportedMediaType',
              `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json`,
            );
        } catch (e) {
          if (e instanceof ApiError) throw e;
          throw new ApiError(422, 'Invalid', (e as Error).message);
        }
        if (!isObject(patched)) throw new ApiError(422, 'Invalid', 'patch result is not an object');
        this.checkIdentity(patched, type, apiVersion, namespace, name);
        this.checkResourceVersion(patched, existing);
        return this.update(res, req, existing, userContent(patched, type), apiVersion, query, dryRun);
      }
      default:
        throw new ApiError(
          405,
          'MethodNotAllowed',
          'the server does not allow this method on the requested resource',
        );
    }
  }

  private parseBody(body: Buffer, contentType: string | undefined): JsonObject {
    let parsed: unknown;
    try {
      const text = body.toString('utf8');
      parsed = (contentType ?? '').includes('yaml') ? parseYaml(text) : JSON.parse(text);
    } catch (e) {
      throw new ApiError(
        400,
        'BadRequest',
        `the body of the request could not be decoded: ${(e as Error).message}`,
      );
    }
    if (!isObject(parsed)) throw new ApiError(400, 'BadRequest', 'the body of the request is not an object');
    return parsed;
  }

  private defaultManager(req: IncomingMessage): string {
    return (req.headers['user-agent'] ?? '').split('/')[0] || 'unknown';
  }

  private checkIdentity(
    object: JsonObject,
    type: ResourceType,
    apiVersion: string,
    namespace: string | undefined,
    name: string | undefined,
  ): void {
    const bodyApiVersion = str(object, 'apiVersion');
    const kind = str(object, 'kind');
    if (bodyApiVersion !== undefined && bodyApiVersion !== apiVersion)
      throw new ApiError(
        400,
        'BadRequest',
        `the API version in the data (${bodyApiVersion}) does not match the expected API version (${apiVersion})`,
      );
    if (kind !== undefined && kind !== type.kind)
      throw new ApiError(
        400,
        'BadRequest',
        `the kind in the data (${kind}) does not match the expected kind (${type.kind})`,
      );
    const bodyName = str(object, 'metadata', 'name');
    if (name !== undefined && bodyName !== undefined && bodyName !== name)
      throw new ApiError(
        400,
        'BadRequest',
        `the name of the object (${bodyName}) does not match the name on the URL (${name})`,
      );
    const bodyNamespace = str(object, 'metadata', 'namespace');
    if (type.namespaced && bodyNamespace !== undefined && bodyNamespace !== namespace)
      throw new ApiError(
        400,
        'BadRequest',
        'the namespace of the provided object does not match the namespace sent on the request',
      );
  }

  private checkResourceVersion(object: JsonObject, existing: Entry): void {
    const rv = str(object, 'metadata', 'resourceVersion');
    if (rv !== undefined && rv !== String(existing.resourceVersion))
      throw new ApiError(
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${existing.type.plural}${existing.type.group ? `.${existing.type.group}` : ''} "${existing.name}": the object has been modified; please apply your changes to the latest version and try again`,
        {
          name: existing.name,
          ...(existing.type.group ? { group: existing.type.group } : {}),
          kind: existing.type.plural,
        },
      );
  }

  private checkNamespaceWritable(type: ResourceType, namespace: string | undefined): void {
    if (!type.namespaced) return;
    const ns = this.store.get(this.key(this.builtin('', 'Namespace'), undefined, namespace ?? ''));
    if (!ns)
      throw new ApiError(404, 'NotFound', `namespaces "${namespace}" not found`, {
        name: namespace ?? '',
        kind: 'namespaces',
      });
    if (ns.deletingSinceMs !== undefined)
      throw new ApiError(
        403,
        'Forbidden',
        `${type.plural}${type.group ? `.${type.group}` : ''} is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`,
        {
          kind: type.plural,
          ...(type.group ? { group: type.group } : {}),
          causes: [
            {
              reason: 'NamespaceTerminating',
              message: `namespace ${namespace} is being terminated`,
              field: 'metadata.namespace',
            },
          ],
        },
      );
  }

  private apply(
    res: ServerResponse,
    route: Route,
    apiVersion: string,
    existing: Entry | undefined,
    body: Buffer,
    query: URLSearchParams,
    dryRun: boolean,
  ): void {
    const { type, namespace } = route;
    const name = route.name!;
    const manager = query.get('fieldManager');
    if (!manager)
      throw new ApiError(
        422,
        'Invalid',
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
        {
          causes: [
            {
              reason: 'FieldValueRequired',
              message: 'Required value: is required for apply patch',
              field: 'fieldManager',
            },
          ],
        },
      );
    const force = query.get('force') === 'true';
    const object = this.parseBody(body, 'application/yaml');
    if (str(object, 'apiVersion') === undefined || str(object, 'kind') === undefined)
      throw new ApiError(400, 'BadRequest', 'apiVersion and kind must be set in an apply configuration');
    this.checkIdentity(object, type, apiVersion, namespace, name);
    if (existing) this.checkResourceVersion(object, existing);
    else this.checkNamespaceWritable(type, namespace);
    const config = userContent(object, type);
    const planned = planApply(existing, config, manager, apiVersion, force, k8sTime(this.now()));
    if ('conflicts' in planned) throw conflictError(planned.conflicts, apiVersion);
    if (existing) {
      const immutable = immutabilityError(existing, planned.content);
      if (immutable) throw immutable;
    }
    const invalid = validate(type, name, planned.content);
    if (invalid) throw invalid;
    const { entry, created } = this.commit(type, namespace, name, existing, planned, dryRun);
    this.send(res, created ? 201 : 200, this.render(entry, apiVersion));
  }

  private update(
    res: ServerResponse,
    req: IncomingMessage,
    existing: Entry,
    content: JsonObject,
    apiVersion: string,
    query: URLSearchParams,
    dryRun: boolean,
  ): void {
    const immutable = immutabilityError(existing, content);
    if (immutable) throw immutable;
    const invalid = validate(existing.type, existing.name, content);
    if (invalid) throw invalid;
    const manager = query.get('fieldManager') ?? this.defaultManager(req);
    const candidate = planUpdate(existing, content, manager, apiVersion, k8sTime(this.now()));
    const { entry } = this.commit(
      existing.type,
      existing.namespace,
      existing.name,
      existing,
      candidate,
      dryRun,
    );
    this.send(res, 200, this.render(entry, apiVersion));
  }

  private scale(
    req: IncomingMessage,
    res: ServerResponse,
    route: Route,
    existing: Entry | undefined,
    body: Buffer,
    dryRun: boolean,
  ): void {
    const method = req.method ?? 'GET';
    const { type, name } = route;
    if (!existing) throw this.notFound(type, name!);
    const scaleObject = (e: Entry): JsonObject => {
      const status = this.snapshot().status(e);
      const selector = obj(e.content, 'spec', 'selector', 'matchLabels');
      return {
        kind: 'Scale',
        apiVersion: 'autoscaling/v1',
        metadata: {
          name: e.name,
          namespace: e.namespace ?? null,
          uid: e.uid,
          resourceVersion: String(e.resourceVersion),
          creationTimestamp: k8sTime(e.createdMs),
        },
        spec: { replicas: num(e.content, 'spec', 'replicas') ?? 1 },
        status: {
          replicas: num(status, 'replicas') ?? 0,
          selector: Object.entries(selector)
            .map(([k, v]) => `${k}=${String(v)}`)
            .join(','),
        },
      };
    };
    if (method === 'GET') return this.send(res, 200, scaleObject(existing));
    if (method !== 'PUT' && method !== 'PATCH')
      throw new ApiError(
        405,
        'MethodNotAllowed',
        'the server does not allow this method on the requested resource',
      );
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
    const current = scaleObject(existing);
    let next: Json;
    try {
      const parsed =
        contentType === 'application/apply-patch+yaml'
          ? (parseYaml(body.toString('utf8')) as Json)
          : (JSON.parse(body.toString('utf8')) as Json);
      next =
        method === 'PUT' || contentType === 'application/apply-patch+yaml'
          ? parsed
          : contentType === 'application/json-patch+json'
            ? jsonPatch(current, parsed)
            : mergePatch(current, parsed);
    } catch (e) {
      throw new ApiError(400, 'BadRequest', (e as Error).message);
    }
    const replicas = num(next, 'spec', 'replicas');
    if (replicas === undefined || replicas < 0 || !Number.isInteger(replicas))
      throw new ApiError(
        422,
        'Invalid',
        `Scale.autoscaling "${name}" is invalid: spec.replicas: Invalid value: ${String(replicas)}: must be greater than or equal to 0`,
      );
    const content = clone(existing.content);
    content.spec = { ...obj(content, 'spec'), replicas };
    const manager =
      new URL(req.url ?? '/', 'http://x').searchParams.get('fieldManager') ?? this.defaultManager(req);
    const candidate = planUpdate(
      existing,
      content,
      manager,
      route.group ? `${route.group}/${route.version}` : route.version,
      k8sTime(this.now()),
      'scale',
    );
    const { entry } = this.commit(
      existing.type,
      existing.namespace,
      existing.name,
      existing,
      candidate,
      dryRun,
    );
    this.send(res, 200, scaleObject(entry));
  }

  private matching(route: Route, query: URLSearchParams): Entry[] {
    const labelSelector = query.get('labelSelector');
    const requirements = labelSelector ? parseLabelSelector(labelSelector) : [];
    return [...this.store.values()].filter(
      (e) =>
        e.type.group === route.type.group &&
        e.type.plural === route.type.plural &&
        (route.namespace === undefined || e.namespace === route.namespace) &&
        matchesRequirements(strMap(e.content, 'metadata', 'labels'), requirements),
    );
  }

  private list(route: Route, apiVersion: string, query: URLSearchParams): JsonObject {
    const { type, namespace } = route;
    const snapshot = this.snapshot();
    let items: JsonObject[];
    if (type.builtin && type.kind === 'Pod') {
      items = snapshot.pods
        .filter((p) => namespace === undefined || p.namespace === namespace)
        .map((p) => this.renderPod(p, snapshot));
    } else if (type.builtin && type.kind === 'Endpoints') {
      const stored = this.matching(route, new URLSearchParams()).map((e) =>
        this.render(e, apiVersion, { snapshot }),
      );
      const derived = snapshot
        .ofKind('Service', namespace)
        .filter((s) => Object.keys(strMap(s.content, 'spec', 'selector')).length > 0)
        .map((s) => this.endpointsObject(s, snapshot));
      const names = new Set(
        derived.map((d) => `${str(d, 'metadata', 'namespace')}/${str(d, 'metadata', 'name')}`),
      );
      items = [
        ...derived,
        ...stored.filter(
          (s) => !names.has(`${str(s, 'metadata', 'namespace')}/${str(s, 'metadata', 'name')}`),
        ),
      ];
    } else {
      items = this.matching(route, new URLSearchParams()).map((e) =>
        this.render(e, apiVersion, { snapshot }),
      );
    }
    const labelSelector = query.get('labelSelector');
    if (labelSelector) {
      const requirements = parseLabelSelector(labelSelector);
      items = items.filter((i) => matchesRequirements(strMap(i, 'metadata', 'labels'), requirements));
    }
    const fieldSelector = query.get('fieldSelector');
    if (fieldSelector) items = items.filter((i) => matchesFieldSelector(i, fieldSelector));
    items.sort(
      (a, b) =>
        (str(a, 'metadata', 'namespace') ?? '').localeCompare(str(b, 'metadata', 'namespace') ?? '') ||
        (str(a, 'metadata', 'name') ?? '').localeCompare(str(b, 'metadata', 'name') ?? ''),
    );
    const offset =
      Number(query.get('continue') ? Buffer.from(query.get('continue')!, 'base64url').toString() : 0) || 0;
    const limit = Number(query.get('limit') ?? 0);
    const page = limit > 0 ? items.slice(offset, offset + limit) : items.slice(offset);
    const more = limit > 0 && offset + limit < items.length;
    // Items of built-in lists carry no apiVersion/kind on a real server; custom resources do.
    const shaped = type.builtin
      ? page.map(({ apiVersion: _v, kind: _k, ...rest }) => rest as JsonObject)
      : page;
    return {
      kind: `${type.kind}List`,
      apiVersion,
      metadata: {
        resourceVersion: String(this.resourceVersion),
        ...(more
          ? {
              continue: Buffer.from(String(offset + limit)).toString('base64url'),
              remainingItemCount: items.length - offset - limit,
            }
          : {}),
      },
      items: shaped,
    };
  }

  private endpointsObject(service: Entry, snapshot: Snapshot): JsonObject {
    const { ready, notReady } = snapshot.endpoints(service);
    const address = (p: PodView) => ({
      ip: p.ip,
      nodeName: p.nodeName ?? '',
      targetRef: { kind: 'Pod', namespace: p.namespace, name: p.name },
    });
    const ports = arr(service.content, 'spec', 'ports').map((p) => ({
      ...(str(p, 'name') ? { name: str(p, 'name') } : {}),
      port: typeof obj(p).targetPort === 'number' ? (obj(p).targetPort as number) : (num(p, 'port') ?? 0),
      protocol: str(p, 'protocol') ?? 'TCP',
    }));
    return {
      kind: 'Endpoints',
      apiVersion: 'v1',
      metadata: {
        name: service.name,
        namespace: service.namespace ?? 'default',
        resourceVersion: String(service.resourceVersion),
        creationTimestamp: k8sTime(service.createdMs),
        labels: strMap(service.content, 'metadata', 'labels'),
      },
      subsets:
        ready.length + notReady.length === 0
          ? []
          : [
              {
                ...(ready.length ? { addresses: ready.map(address) } : {}),
                ...(notReady.length ? { notReadyAddresses: notReady.map(address) } : {}),
                ports,
              },
            ],
    };
  }

  private virtualPod(
    res: ServerResponse,
    method: string,
    pod: PodView,
    subresource: string | undefined,
  ): void {
    const snapshot = this.snapshot();
    if (subresource === 'log') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      return void res.end(pod.failureMessage ? `${pod.failureMessage}\n` : '');
    }
    if (method === 'GET') return this.send(res, 200, snapshot.renderPod(pod));
    if (method === 'DELETE') {
      // The controller replaces the pod: it starts over from now.
      const owner = pod.owner;
      if (owner && (owner.type.kind === 'Deployment' || owner.type.kind === 'StatefulSet')) {
        const index = snapshot.podsOf(owner).indexOf(pod);
        const times = owner.podTimes ?? [];
        times[index] = this.now();
        owner.podTimes = times;
        this.touch();
      }
      return this.send(res, 200, snapshot.renderPod(pod));
    }
    throw new ApiError(
      405,
      'MethodNotAllowed',
      'pods created by controllers can only be read or deleted in the simulator',
    );
  }

  private customMetrics(
    res: ServerResponse,
    method: string,
    version: string,
    tail: string[],
    url: URL,
  ): void {
    const apiService = this.store.get(
      this.key(this.builtin('apiregistration.k8s.io', 'APIService'), undefined, CUSTOM_METRICS_APISERVICE),
    );
    if (!apiService || version !== 'v1beta1')
      throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    const snapshot = this.snapshot();
    if (!snapshot.apiServiceAvailable(apiService))
      throw new ApiError(503, 'ServiceUnavailable', 'the server is currently unable to handle the request');
    if (method !== 'GET')
      throw new ApiError(
        405,
        'MethodNotAllowed',
        'the server does not allow this method on the requested resource',
      );
    const metrics = [...this.customMetricNames].sort();
    if (tail.length === 0)
      return this.send(res, 200, {
        kind: 'APIResourceList',
        apiVersion: 'v1',
        groupVersion: `${CUSTOM_METRICS_GROUP}/v1beta1`,
        resources: metrics.flatMap((m) => [
          { name: `pods/${m}`, singularName: '', namespaced: true, kind: 'MetricValueList', verbs: ['get'] },
          {
            name: `namespaces/${m}`,
            singularName: '',
            namespaced: false,
            kind: 'MetricValueList',
            verbs: ['get'],
          },
        ]),
      });
    // /namespaces/<ns>/pods/<name|*>/<metric>
    const [n, ns, pods, podName, metric] = tail;
    if (
      n !== 'namespaces' ||
      pods !== 'pods' ||
      !ns ||
      !podName ||
      !metric ||
      !this.customMetricNames.has(metric)
    )
      throw new ApiError(404, 'NotFound', `the server could not find the metric ${metric ?? ''} for pods`);
    const selector = url.searchParams.get('labelSelector');
    const requirements = selector ? parseLabelSelector(selector) : [];
    const items = snapshot.pods
      .filter(
        (p) =>
          p.namespace === ns &&
          (podName === '*' || p.name === podName) &&
          p.readyMs <= this.now() &&
          matchesRequirements(p.labels, requirements),
      )
      .map((p) => ({
        describedObject: { kind: 'Pod', namespace: ns, name: p.name, apiVersion: '/v1' },
        metricName: metric,
        timestamp: k8sTime(this.now()),
        value: this.customMetricValues.get(metric) ?? '0',
        selector: null,
      }));
    this.send(res, 200, {
      kind: 'MetricValueList',
      apiVersion: `${CUSTOM_METRICS_GROUP}/v1beta1`,
      metadata: {},
      items,
    });
  }

  private async proxy(
    req: IncomingMessage,
    res: ServerResponse,
    route: Route,
    url: URL,
    body: Buffer,
  ): Promise<void> {
    const raw = route.name!;
    const type = route.type;
    if (!(type.builtin && type.kind === 'Service'))
      throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    const parts = raw.split(':');
    const [serviceName, port] = parts.length === 3 ? [parts[1]!, parts[2]] : [parts[0]!, parts[1]];
    const snapshot = this.snapshot();
    const service = snapshot.find('Service', route.namespace, serviceName);
    if (!service) throw this.notFound(type, serviceName);
    const ports = (obj(service.content, 'spec').ports as Json[] | undefined) ?? [];
    if (
      port !== undefined &&
      port !== '' &&
      !ports.some((p) => String(num(p, 'port')) === port || str(p, 'name') === port)
    )
      throw new ApiError(
        503,
        'ServiceUnavailable',
        `no service port "${port}" found for service "${serviceName}"`,
      );
    const { ready } = snapshot.endpoints(service);
    if (this.proxyRequiresEndpoints && ready.length === 0)
      throw new ApiError(503, 'ServiceUnavailable', `no endpoints available for service "${raw}"`);
    const path = `${route.proxyPath || '/'}${url.search
      .replace(/^\?/, '')
      .split('&')
      .filter((p) => p && !p.startsWith('path='))
      .join('&')
      .replace(/^(.)/, '?$1')}`;
    if (serviceName === this.ollamaService && this.ollama) {
      const backend = ready[0];
      return this.ollama.serve(req.method ?? 'GET', path, body, res, backend ? { gpu: backend.gpu > 0 } : {});
    }
    const target = `${snapshot.clusterIp(service)}:${port ?? String(num(ports[0], 'port') ?? 80)}`;
    throw new ApiError(
      503,
      'ServiceUnavailable',
      `error trying to reach service: dial tcp ${target}: connect: connection refused`,
    );
  }
}
