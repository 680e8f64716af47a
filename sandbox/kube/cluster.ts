/**
 * The simulated cluster's state behind the API server: the object store, resourceVersions and uids, the
 * test rules (failing Jobs and workloads, ready delays, custom metric values), and how stored entries are
 * committed, deleted and rendered with the status computed from the clock (see simulation.ts).
 */
import type { Clock } from '../clock.js';
import {
  clone,
  deepEqual,
  fieldsV1,
  isObject,
  k8sTime,
  num,
  obj,
  safeHash,
  str,
  type JsonObject,
} from './json.js';
import { reconcileAutoscalers } from './hpa.js';
import { kedaCrds, reconcileScaledObjects } from './keda.js';
import type { SimulatedOllama } from './ollama.js';
import { BUILTIN_TYPES, crdTypes, groupVersionOf, type ResourceType } from './resources.js';
import {
  Autoscaler,
  DEFAULT_POOLS,
  VM_SIZES,
  initialPoolNodes,
  podEvent,
  type AgentPoolSpec,
  type ScaleUpRefusal,
} from './autoscaler.js';
import type { Taint } from './selectors.js';
import {
  DEFAULT_DELAYS,
  Snapshot,
  ruleMatches,
  type JobEffect,
  type KubeDelays,
  type NameRule,
  podUid,
  type PodView,
} from './simulation.js';
import type { KubeRequest } from './http.js';
import type { Candidate, Entry } from './store.js';

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
  /**
   * Agent pools (as in the AKS body, see autoscaler.ts `poolsFromAksBody`): `count` nodes each at creation,
   * and the cluster autoscaler for the autoscaled ones. Default: the platform's pools (DEFAULT_POOLS).
   */
  agentPools?: readonly AgentPoolSpec[];
  /** Whether the cloud refuses to grow a pool now (no spot capacity, quota); asked at each scale-up. */
  scaleUpRefusal?: (pool: string) => ScaleUpRefusal | undefined;
  /** Fixed initial nodes instead of agent pools (no autoscaler). */
  nodes?: NodeSpec[];
  clusterName?: string;
  /** Answer the service proxy only when the Service has ready endpoints (503 otherwise); default true. */
  proxyRequiresReadyEndpoints?: boolean;
  /** Jobs matching a rule fail (BackoffLimitExceeded) instead of succeeding. */
  jobFailures?: (NameRule & { message?: string })[];
  /** Metric names served by custom.metrics.k8s.io (pods/<name>) once available. */
  customMetrics?: string[];
  /** AKS's managed KEDA add-on is on (the AKS body's workloadAutoScalerProfile): its CRDs and operator. */
  keda?: boolean;
  /** The interceptor's Service (in any namespace), whose proxy holds a request until `ollama` is ready. */
  interceptorService?: string;
  kubernetesVersion?: string;
}

/** The platform's default pools' nodes (2 system, 1 apps, 1 spot T4 GPU node), for tests that pass `nodes`. */
export const DEFAULT_NODES: readonly NodeSpec[] = initialPoolNodes(DEFAULT_POOLS, 'aks-sandbox');

const SYSTEM_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

const STORAGE_CLASSES: [string, string, string, boolean][] = [
  ['default', 'disk.csi.azure.com', 'StandardSSD_LRS', true],
  ['managed-csi', 'disk.csi.azure.com', 'StandardSSD_LRS', false],
  ['managed-csi-premium', 'disk.csi.azure.com', 'Premium_LRS', false],
  ['azurefile-csi', 'file.csi.azure.com', 'Standard_LRS', false],
  ['azurefile-csi-premium', 'file.csi.azure.com', 'Premium_LRS', false],
];

export const CUSTOM_METRICS_GROUP = 'custom.metrics.k8s.io';
export const CUSTOM_METRICS_APISERVICE = 'v1beta1.custom.metrics.k8s.io';

function parseTaint(t: string | Taint): Taint {
  if (typeof t !== 'string') return t;
  const m = /^([^=:]+)(?:=([^:]*))?:(\w+)$/.exec(t);
  if (!m) throw new Error(`invalid taint ${t}`);
  return { key: m[1]!, ...(m[2] !== undefined ? { value: m[2] } : {}), effect: m[3]! };
}

export class Cluster {
  readonly requests: KubeRequest[] = [];
  readonly clusterName: string;
  readonly clock: Clock;
  readonly token?: string;
  readonly delays: KubeDelays;
  readonly ollama?: SimulatedOllama;
  readonly jobEffect?: JobEffect;
  readonly ollamaService: string;
  readonly interceptorService: string;
  readonly keda: boolean;
  /** Requests the interceptor holds or is serving now (its caddy_http_requests_in_flight). */
  interceptorInFlight = 0;
  readonly proxyRequiresEndpoints: boolean;
  readonly initialNodes: readonly NodeSpec[];
  readonly pools: readonly AgentPoolSpec[];
  readonly scaleUpRefusal?: (pool: string) => ScaleUpRefusal | undefined;
  autoscaler?: Autoscaler;
  readonly kubernetesVersion: string;
  customMetricNames: Set<string>;
  readonly customMetricValues = new Map<string, string>();
  /** CPU load of a workload, by `namespace/name`, in percent of one pod's requests (controls.setCpuUtilization). */
  readonly cpuLoad = new Map<string, number>();
  readonly store = new Map<string, Entry>();
  jobFailureRules: (NameRule & { message?: string })[];
  readonly readyDelays: { rule: NameRule; ms: number }[] = [];
  readonly workloadFailures: { rule: NameRule; reason: string; message: string }[] = [];
  resourceVersion = 1000;
  uidCounter = 0;
  epoch = 0;
  cached?: { epoch: number; now: number; snapshot: Snapshot };
  clusterStartedMs: number;
  stopped = false;
  frozenNow?: number;

  constructor(options: SimulatedKubernetesOptions) {
    this.clock = options.clock;
    this.token = options.token;
    this.delays = { ...DEFAULT_DELAYS, ...options.delays };
    this.ollama = options.ollama;
    this.jobEffect = options.jobEffect;
    this.ollamaService = options.ollamaService ?? 'ollama';
    this.interceptorService = options.interceptorService ?? 'ollama-wake';
    this.keda = options.keda ?? false;
    this.proxyRequiresEndpoints = options.proxyRequiresReadyEndpoints ?? true;
    this.clusterName = options.clusterName ?? 'aks-sandbox';
    this.pools = options.nodes ? [] : (options.agentPools ?? DEFAULT_POOLS);
    this.scaleUpRefusal = options.scaleUpRefusal;
    this.initialNodes = options.nodes ?? initialPoolNodes(this.pools, this.clusterName);
    this.kubernetesVersion = options.kubernetesVersion ?? 'v1.32.6';
    this.customMetricNames = new Set(options.customMetrics ?? ['gpu_memory_utilization']);
    this.jobFailureRules = [...(options.jobFailures ?? [])];
    this.clusterStartedMs = this.now();
    this.seed();
  }

  now(): number {
    return this.frozenNow ?? this.clock.now();
  }

  /** Adds a Node, Ready (unless `spec.ready` is false) since `joinedMs`. */
  addNode(spec: NodeSpec, joinedMs = this.now()): void {
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
    entry.createdMs = Math.min(entry.createdMs, joinedMs);
    entry.node = { pool: spec.pool, gpus, ready: spec.ready ?? true, joinedMs };
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

  seed(): void {
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
    if (this.keda) {
      const type = this.builtin('apiextensions.k8s.io', 'CustomResourceDefinition');
      for (const { name, content } of kedaCrds()) {
        const e = this.newEntry(type, name, undefined, content);
        e.system = true;
        this.store.set(this.key(type, undefined, name), e);
      }
    }
    for (const node of this.initialNodes) this.addNode(node);
    this.autoscaler = this.pools.length
      ? new Autoscaler(this.pools, this.scaleUpRefusal, this.now())
      : undefined;
  }

  /**
   * Records (or moves on) an Event about a pod, as the scheduler and the autoscaler write them. Seeded-like
   * (`system`): inventories of what a client created leave them out.
   */
  recordEvent(
    pod: PodView,
    firstMs: number,
    type: 'Normal' | 'Warning',
    component: string,
    reason: string,
    message: string,
  ): void {
    const eventType = this.builtin('', 'Event');
    const now = this.now();
    const event = (first: number) =>
      podEvent(pod, podUid(pod), type, component, reason, message, first, now, this.delays.autoscalerScanMs);
    const draft = event(firstMs);
    const key = this.key(eventType, pod.namespace, draft.name);
    const existing = this.store.get(key);
    if (existing) {
      // The same event moves on: its first occurrence stays.
      const next = event(Date.parse(String(existing.content.firstTimestamp)));
      if (next.content.lastTimestamp === existing.content.lastTimestamp) return;
      existing.content = next.content;
      existing.resourceVersion = ++this.resourceVersion;
    } else {
      const entry = this.newEntry(eventType, draft.name, pod.namespace, draft.content);
      entry.system = true;
      this.store.set(key, entry);
    }
    this.touch();
  }

  builtin(group: string, kind: string): ResourceType {
    const type = BUILTIN_TYPES.find((t) => t.group === group && t.kind === kind);
    if (!type) throw new Error(`no built-in ${group}/${kind}`);
    return type;
  }

  key(type: ResourceType, namespace: string | undefined, name: string): string {
    return `${type.group}|${type.plural}|${type.namespaced ? (namespace ?? '') : ''}|${name}`;
  }

  newEntry(type: ResourceType, name: string, namespace: string | undefined, content: JsonObject): Entry {
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

  touch(): void {
    this.epoch++;
  }

  snapshot(): Snapshot {
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

  /**
   * Finishes namespace deletions and Jobs' ttlSecondsAfterFinished, and lets the HPA controller scale, as
   * controllers would have by now.
   */
  sweep(): void {
    this.autoscaler?.scan(this);
    const now = this.now();
    for (const [key, e] of this.store) {
      if (e.deletingSinceMs !== undefined && now >= e.deletingSinceMs + this.delays.namespaceTerminationMs) {
        this.store.delete(key);
        this.touch();
      }
    }
    reconcileAutoscalers(this);
    reconcileScaledObjects(this);
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
  typesFor(group: string, version: string): ResourceType[] {
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

  allGroupVersions(): Map<string, string[]> {
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

  render(
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
    // apps/v1 defaults replicas to 1: a workload applied without them (an HPA's target) runs one.
    if (
      defaults &&
      (entry.type.kind === 'Deployment' || entry.type.kind === 'StatefulSet') &&
      num(body, 'spec', 'replicas') === undefined
    )
      body.spec = { ...obj(body, 'spec'), replicas: 1 };
    const status = options.status === false ? undefined : (options.snapshot ?? this.snapshot()).status(entry);
    return {
      apiVersion: apiVersion ?? groupVersionOf(entry.type),
      kind: entry.type.kind,
      metadata,
      ...body,
      ...(status !== undefined ? { status } : {}),
    };
  }

  serviceDefaults(entry: Entry, spec: JsonObject, snapshot = this.snapshot()): JsonObject {
    const type = str(spec, 'type') ?? 'ClusterIP';
    const headless = str(spec, 'clusterIP') === 'None';
    const ip = type === 'ExternalName' ? undefined : headless ? 'None' : snapshot.clusterIp(entry);
    return {
      ...spec,
      type,
      ...(ip ? { clusterIP: ip, clusterIPs: [ip], ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack' } : {}),
      sessionAffinity: str(spec, 'sessionAffinity') ?? 'None',
      internalTrafficPolicy: str(spec, 'internalTrafficPolicy') ?? 'Cluster',
      // An externally reachable Service: Cluster by default; Local (the client's address kept) gets the
      // node port the load balancer's health probe asks which nodes run a ready endpoint.
      ...(type === 'LoadBalancer' || type === 'NodePort'
        ? { externalTrafficPolicy: str(spec, 'externalTrafficPolicy') ?? 'Cluster' }
        : {}),
      ...(type === 'LoadBalancer' && str(spec, 'externalTrafficPolicy') === 'Local'
        ? { healthCheckNodePort: 30000 + ((entry.name.length * 977 + 13) % 2767) }
        : {}),
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

  renderPod(pod: PodView, snapshot: Snapshot): JsonObject {
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
  commit(
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

  deleteEntry(entry: Entry): JsonObject {
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
}
