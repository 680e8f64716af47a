/**
 * What the controllers, the scheduler and the kubelets would have done by now: computed lazily, on read,
 * from the stored objects and the clock (never by background loops), so a virtual clock fully controls it.
 *
 * - Workloads (Deployment, StatefulSet, DaemonSet, Job, standalone Pod) expand into virtual pods. A pod
 *   needs a Ready node that matches its nodeSelector/required node affinity and whose NoSchedule taints it
 *   tolerates; pods asking for `nvidia.com/gpu` also need a node whose GPU is advertised, which happens only
 *   once an `nvidia-device-plugin` DaemonSet pod is ready on it. PVCs must exist and be bound, referenced
 *   Secrets/ConfigMaps must exist (else CreateContainerConfigError), a non-default service account must
 *   exist, and ResourceQuotas are enforced (`must specify …`, `exceeded quota`).
 * - A pod is ready `workloadReadyMs` after it could start; Jobs finish `jobCompleteMs` after their pod
 *   started. Rollouts keep the old pods' readiness (RollingUpdate) and controllers report the new
 *   generation only `controllerObserveMs` after a spec change.
 *
 * Each kind's status is a function of this snapshot in status/*.ts (STATUS_BY_KIND).
 */
import { arr, hashInt, isObject, k8sTime, num, obj, safeHash, str, strMap, type JsonObject } from './json.js';
import { gpuRequest, nodeMismatch, type Taint } from './selectors.js';
import { NEVER } from './status/common.js';
import { STATUS_BY_KIND } from './status/index.js';
import { podStatus } from './status/pod.js';
import { formatQuantity, quantity } from './status/quota.js';
import type { Entry } from './store.js';

export interface KubeDelays {
  /** Deployment/StatefulSet/DaemonSet pods become ready this long after they could start. */
  workloadReadyMs: number;
  /** Standalone pods. */
  podReadyMs: number;
  /** A Job's pod succeeds (or fails) this long after it could start. */
  jobCompleteMs: number;
  /** A LoadBalancer Service gets its ingress IP this long after creation. */
  loadBalancerIpMs: number;
  /** An APIService becomes Available this long after its backing service has ready endpoints. */
  apiServiceAvailableMs: number;
  crdEstablishedMs: number;
  /** A deleted Namespace stays Terminating this long (its content is deleted at once). */
  namespaceTerminationMs: number;
  /** Controllers report the new generation (observedGeneration) this long after a spec change. */
  controllerObserveMs: number;
  /** The cluster autoscaler's scan-interval (AKS default 10 s). */
  autoscalerScanMs: number;
  /** A CPU node added by the autoscaler is Ready this long after the scan that asked for it. */
  nodeProvisionMs: number;
  /** The same for a GPU node (a larger image, the NVIDIA driver, spot allocation). */
  gpuNodeProvisionMs: number;
  /** A deallocated node (scale-down mode Deallocate) started again is Ready this long after the scan. */
  deallocatedNodeStartMs: number;
  /** A scale-up the cloud refuses (no spot capacity, quota) fails this long after it was asked for. */
  scaleUpFailMs: number;
  /** An autoscaled node that runs only DaemonSet pods is removed after this long (scale-down-unneeded-time). */
  scaleDownUnneededMs: number;
}

export const DEFAULT_DELAYS: KubeDelays = {
  workloadReadyMs: 60_000,
  podReadyMs: 10_000,
  jobCompleteMs: 30_000,
  loadBalancerIpMs: 45_000,
  apiServiceAvailableMs: 15_000,
  crdEstablishedMs: 0,
  namespaceTerminationMs: 10_000,
  controllerObserveMs: 1_000,
  // AKS cluster autoscaler defaults (MicrosoftDocs/azure-aks-docs articles/aks/cluster-autoscaler.md).
  autoscalerScanMs: 10_000,
  // AKS CPU node scale-out P50 53 s (Azure/AKS-Performance-and-Scale Perf-Benchmarks/AKS-Perf-Benchmarks.md).
  nodeProvisionMs: 60_000,
  // A T4 node from zero: about 5.4–7 min (AgentBaker e2e GPU VMSS 324 s; KAITO "nearly 7min").
  gpuNodeProvisionMs: 360_000,
  // The sandbox's assumption, no measured figure found (azure-real-behaviours §2.1, Scale-down Mode
  // Deallocate): a VM start and the kubelet's registration, about the CPU scale-out's P50 plus half a minute;
  // no allocation from scratch, no driver install, images already on the disk.
  deallocatedNodeStartMs: 90_000,
  scaleUpFailMs: 60_000,
  scaleDownUnneededMs: 600_000,
};

/** Matches objects by name (exact string or RegExp), optionally kind and namespace. */
export interface NameRule {
  kind?: string;
  namespace?: string;
  name: string | RegExp;
}

export function ruleMatches(
  rule: NameRule,
  kind: string,
  namespace: string | undefined,
  name: string,
): boolean {
  if (rule.kind && rule.kind !== kind) return false;
  if (rule.namespace !== undefined && rule.namespace !== namespace) return false;
  return typeof rule.name === 'string' ? rule.name === name : rule.name.test(name);
}

export interface SimulationConfig {
  now: number;
  delays: KubeDelays;
  /** Last AKS start: every pod (re)starts from here. */
  clusterStartedMs: number;
  readyDelays: { rule: NameRule; ms: number }[];
  workloadFailures: { rule: NameRule; reason: string; message: string }[];
  /** What a Job's pod does when it runs (e.g. model-preload pulls models): its duration and outcome. */
  jobEffect?: JobEffect;
}

export type JobEffect = (
  job: Entry,
  startMs: number,
) => { durationMs: number; failed?: boolean; message?: string } | undefined;

export interface NodeView {
  entry: Entry;
  name: string;
  labels: Record<string, string>;
  taints: Taint[];
  ready: boolean;
  unschedulable: boolean;
  joinedMs: number;
  gpus: number;
  /** When the GPU is advertised (device plugin ready on the node); Infinity if never. */
  gpuAt: number;
  ip: string;
}

export interface PodView {
  name: string;
  namespace: string;
  owner?: Entry;
  ownerRef?: JsonObject;
  /** Set for pods stored as objects (standalone). */
  entry?: Entry;
  labels: Record<string, string>;
  spec: JsonObject;
  createdMs: number;
  nodeName?: string;
  scheduledMs?: number;
  unschedulable?: string;
  waiting?: { reason: string; message?: string };
  /** Infinity while it cannot become ready. */
  readyMs: number;
  finishMs?: number;
  outcome?: 'Succeeded' | 'Failed';
  failureMessage?: string;
  restarts: number;
  gpu: number;
  ip: string;
}

/** A pod's uid: the stored one, or a stable one for a pod created by a workload. */
export function podUid(pod: PodView): string {
  return (
    pod.entry?.uid ??
    `${safeHash(`uid/${pod.namespace}/${pod.name}`, 8)}-0000-4000-8000-${safeHash(pod.name, 12)}`
  );
}

const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'Job']);

export class Snapshot {
  readonly nodes: NodeView[];
  readonly pods: PodView[] = [];
  private readonly byKind = new Map<string, Entry[]>();
  private readonly podsByOwner = new Map<string, PodView[]>();
  private readonly createErrors = new Map<string, string>();
  readonly now: number;

  constructor(
    entries: readonly Entry[],
    readonly config: SimulationConfig,
  ) {
    this.now = config.now;
    for (const e of entries) {
      if (!e.type.builtin) continue;
      const list = this.byKind.get(e.type.kind) ?? [];
      list.push(e);
      this.byKind.set(e.type.kind, list);
    }
    this.nodes = this.computeNodes();
    this.schedule();
  }

  ofKind(kind: string, namespace?: string): Entry[] {
    const list = this.byKind.get(kind) ?? [];
    return namespace === undefined ? list : list.filter((e) => e.namespace === namespace);
  }

  find(kind: string, namespace: string | undefined, name: string): Entry | undefined {
    return this.ofKind(kind).find((e) => e.name === name && e.namespace === namespace);
  }

  podsOf(entry: Entry): PodView[] {
    return this.podsByOwner.get(entry.uid) ?? [];
  }

  /** Why the workload's controller cannot create its pods (FailedCreate), if it cannot. */
  createError(entry: Entry): string | undefined {
    return this.createErrors.get(entry.uid);
  }

  /**
   * The controllers' `FailedCreate` Warning events for pods admission refused (the ReplicaSet's for a
   * Deployment), as `kubectl get events` shows them.
   */
  failedCreateEvents(namespace?: string): JsonObject[] {
    const events: JsonObject[] = [];
    for (const kind of WORKLOAD_KINDS) {
      for (const owner of this.ofKind(kind, namespace)) {
        const error = this.createErrors.get(owner.uid);
        if (!error) continue;
        const rs = `${owner.name}-${safeHash(JSON.stringify(obj(owner.content, 'spec', 'template')), 10)}`;
        const [involvedKind, name] = kind === 'Deployment' ? ['ReplicaSet', rs] : [kind, owner.name];
        const time = k8sTime(owner.revisionMs);
        events.push({
          apiVersion: 'v1',
          kind: 'Event',
          metadata: {
            name: `${name}.${safeHash(`${owner.uid}/${error}`, 16)}`,
            namespace: owner.namespace ?? '',
          },
          involvedObject: {
            apiVersion: kind === 'Job' ? 'batch/v1' : 'apps/v1',
            kind: involvedKind,
            name,
            namespace: owner.namespace ?? '',
            ...(kind === 'Deployment' ? {} : { uid: owner.uid }),
          },
          reason: 'FailedCreate',
          type: 'Warning',
          message:
            kind === 'StatefulSet'
              ? `create Pod ${/pods "([^"]+)"/.exec(error)?.[1] ?? `${owner.name}-0`} in StatefulSet ${owner.name} failed error: ${error}`
              : `Error creating: ${error}`,
          source: { component: `${involvedKind.toLowerCase()}-controller` },
          firstTimestamp: time,
          lastTimestamp: time,
          count: 1,
        });
      }
    }
    return events;
  }

  private readyDelay(kind: string, namespace: string | undefined, name: string): number {
    const rule = this.config.readyDelays.find((r) => ruleMatches(r.rule, kind, namespace, name));
    if (rule) return rule.ms;
    const d = this.config.delays;
    return kind === 'Job' ? d.jobCompleteMs : kind === 'Pod' ? d.podReadyMs : d.workloadReadyMs;
  }

  private computeNodes(): NodeView[] {
    const plugins = this.ofKind('DaemonSet').filter((ds) => ds.name.includes('nvidia-device-plugin'));
    return this.ofKind('Node')
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((entry, i) => {
        const sim = entry.node;
        const ready = sim?.ready ?? true;
        const taints: Taint[] = arr(entry.content, 'spec', 'taints')
          .filter(isObject)
          .map((t) => ({ key: str(t, 'key') ?? '', value: str(t, 'value'), effect: str(t, 'effect') ?? '' }));
        if (!ready) taints.push({ key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' });
        const view: NodeView = {
          entry,
          name: entry.name,
          labels: strMap(entry.content, 'metadata', 'labels'),
          taints,
          ready,
          unschedulable: obj(entry.content, 'spec').unschedulable === true,
          joinedMs: Math.max(sim?.joinedMs ?? entry.createdMs, this.config.clusterStartedMs),
          gpus: sim?.gpus ?? 0,
          gpuAt: NEVER,
          ip: `10.224.0.${4 + i}`,
        };
        if (view.gpus > 0 && ready) {
          for (const ds of plugins) {
            if (this.failure('DaemonSet', ds)) continue;
            const spec = obj(ds.content, 'spec', 'template', 'spec');
            if (nodeMismatch(spec, view, { daemonSet: true })) continue;
            const start = Math.max(ds.revisionMs, this.config.clusterStartedMs, view.joinedMs);
            view.gpuAt = Math.min(view.gpuAt, start + this.readyDelay('DaemonSet', ds.namespace, ds.name));
          }
        }
        return view;
      });
  }

  private failure(kind: string, e: { namespace?: string; name: string }) {
    return this.config.workloadFailures.find((f) => ruleMatches(f.rule, kind, e.namespace, e.name));
  }

  /** Expands workloads into pods and places them, in creation order. */
  private schedule(): void {
    const owners = [...WORKLOAD_KINDS, 'Pod']
      .flatMap((kind) => this.ofKind(kind))
      .filter((e) => e.deletingSinceMs === undefined)
      .sort((a, b) => a.createdMs - b.createdMs || a.uid.localeCompare(b.uid));
    const gpuUsed = new Map<string, number>();
    const podCount = new Map<string, number>();
    const quotaUsed = new Map<string, Map<string, number>>();

    for (const owner of owners) {
      const kind = owner.type.kind;
      const ns = owner.namespace ?? 'default';
      const spec =
        kind === 'Pod' ? obj(owner.content, 'spec') : obj(owner.content, 'spec', 'template', 'spec');
      const labels =
        kind === 'Pod'
          ? strMap(owner.content, 'metadata', 'labels')
          : strMap(owner.content, 'spec', 'template', 'metadata', 'labels');
      const slots = this.slotsOf(owner);
      const pods: PodView[] = [];
      let previousReadyMs = Number.NEGATIVE_INFINITY;
      const ordered =
        kind === 'StatefulSet' && str(owner.content, 'spec', 'podManagementPolicy') !== 'Parallel';
      const failure = this.failure(kind, owner);
      const templateHash = safeHash(JSON.stringify(obj(owner.content, 'spec', 'template')), 10);

      for (const slot of slots) {
        const name = slot.name;
        let createdMs = Math.max(slot.createdMs, this.config.clusterStartedMs);
        if (ordered) {
          if (previousReadyMs === NEVER || previousReadyMs > this.now) break;
          createdMs = Math.max(createdMs, previousReadyMs);
        }
        // Admission: service account and quota.
        const sa = str(spec, 'serviceAccountName') ?? str(spec, 'serviceAccount');
        if (sa && sa !== 'default' && !this.find('ServiceAccount', ns, sa)) {
          this.createErrors.set(
            owner.uid,
            `pods "${name}" is forbidden: error looking up service account ${ns}/${sa}: serviceaccount "${sa}" not found`,
          );
          break;
        }
        const quotaError = this.admitQuota(ns, name, spec, quotaUsed);
        if (quotaError) {
          this.createErrors.set(owner.uid, quotaError);
          break;
        }
        const gpu = gpuRequest(spec);
        const pod: PodView = {
          name,
          namespace: ns,
          labels: {
            ...labels,
            ...(kind === 'Deployment' ? { 'pod-template-hash': templateHash } : {}),
            ...(kind === 'StatefulSet'
              ? {
                  'controller-revision-hash': `${owner.name}-${templateHash}`,
                  'statefulset.kubernetes.io/pod-name': name,
                }
              : {}),
            ...(kind === 'Job'
              ? {
                  'batch.kubernetes.io/job-name': owner.name,
                  'job-name': owner.name,
                  'batch.kubernetes.io/controller-uid': owner.uid,
                }
              : {}),
          },
          spec,
          createdMs,
          readyMs: NEVER,
          restarts: 0,
          gpu,
          ip: `10.244.${(hashInt(`${ns}/${name}`) >> 8) & 255}.${hashInt(`${ns}/${name}`) & 255}`,
        };
        if (kind === 'Pod') pod.entry = owner;
        else {
          pod.owner = owner;
          pod.ownerRef = {
            apiVersion: kind === 'Job' ? 'batch/v1' : 'apps/v1',
            kind: kind === 'Deployment' ? 'ReplicaSet' : kind,
            name: kind === 'Deployment' ? `${owner.name}-${templateHash}` : owner.name,
            uid: owner.uid,
            controller: true,
            blockOwnerDeletion: true,
          };
        }
        this.place(pod, slot.node, kind === 'DaemonSet', gpuUsed, podCount);
        if (pod.nodeName !== undefined && pod.scheduledMs !== undefined) {
          const startable = this.containerProblems(ns, spec, pod);
          const delay = this.readyDelay(kind, owner.namespace, owner.name);
          const node = this.nodes.find((n) => n.name === pod.nodeName);
          if (failure) {
            pod.waiting = { reason: failure.reason, message: failure.message };
            pod.restarts =
              failure.reason === 'CrashLoopBackOff'
                ? Math.max(0, Math.floor((this.now - pod.scheduledMs) / 30_000))
                : 0;
          } else if (startable !== undefined && node?.ready !== false) {
            const start = Math.max(pod.scheduledMs, startable);
            if (kind === 'Job') {
              const effect = this.config.jobEffect?.(owner, start);
              pod.finishMs = start + (effect?.durationMs ?? delay);
              const outcome = owner.jobOutcome?.failed ? owner.jobOutcome : effect;
              pod.outcome = outcome?.failed ? 'Failed' : 'Succeeded';
              if (outcome?.failed) pod.failureMessage = outcome.message;
              pod.readyMs = start + Math.min(delay, 1_000);
            } else pod.readyMs = start + delay;
          }
        }
        pods.push(pod);
        previousReadyMs = pod.readyMs;
      }
      this.pods.push(...pods);
      this.podsByOwner.set(owner.uid, pods);
    }
  }

  private slotsOf(owner: Entry): { name: string; createdMs: number; node?: NodeView }[] {
    const kind = owner.type.kind;
    const spec = obj(owner.content, 'spec');
    const times = (replicas: number) => {
      const stored = owner.podTimes ?? [];
      return Array.from({ length: replicas }, (_, i) => stored[i] ?? owner.revisionMs);
    };
    const templateHash = safeHash(JSON.stringify(obj(spec, 'template')), 10);
    switch (kind) {
      case 'Deployment':
        return times(num(spec, 'replicas') ?? 1).map((createdMs, i) => ({
          name: `${owner.name}-${templateHash}-${safeHash(`${owner.uid}/${templateHash}/${i}`, 5)}`,
          createdMs,
        }));
      case 'StatefulSet':
        return times(num(spec, 'replicas') ?? 1).map((createdMs, i) => ({
          name: `${owner.name}-${i}`,
          createdMs,
        }));
      case 'Job':
        return [{ name: `${owner.name}-${safeHash(owner.uid, 5)}`, createdMs: owner.revisionMs }];
      case 'Pod': {
        const nodeName = str(spec, 'nodeName');
        const node = nodeName ? this.nodes.find((n) => n.name === nodeName) : undefined;
        return [{ name: owner.name, createdMs: owner.createdMs, ...(node ? { node } : {}) }];
      }
      case 'DaemonSet': {
        const podSpec = obj(spec, 'template', 'spec');
        return this.nodes
          .filter((n) => !nodeMismatch(podSpec, n, { daemonSet: true }))
          .map((node) => ({
            name: `${owner.name}-${safeHash(`${owner.uid}/${node.name}`, 5)}`,
            createdMs: Math.max(owner.revisionMs, node.joinedMs),
            node,
          }));
      }
      default:
        return [];
    }
  }

  private place(
    pod: PodView,
    pinned: NodeView | undefined,
    daemonSet: boolean,
    gpuUsed: Map<string, number>,
    podCount: Map<string, number>,
  ): void {
    const pvc = this.volumeProblem(pod.namespace, pod.spec);
    if (pvc.problem) {
      pod.unschedulable = `0/${this.nodes.length} nodes are available: ${pvc.problem}. preemption: 0/${this.nodes.length} nodes are available: ${this.nodes.length} Preemption is not helpful for scheduling.`;
      return;
    }
    const reasons = new Map<string, number>();
    const candidates: { node: NodeView; at: number }[] = [];
    for (const node of pinned ? [pinned] : this.nodes) {
      let reason: string | undefined;
      if (!pinned || !daemonSet) {
        reason = node.unschedulable ? 'node(s) were unschedulable' : nodeMismatch(pod.spec, node);
      }
      if (!reason && pod.gpu > 0) {
        const available = node.gpuAt <= this.now ? node.gpus - (gpuUsed.get(node.name) ?? 0) : 0;
        if (available < pod.gpu) reason = 'Insufficient nvidia.com/gpu';
      }
      if (reason) reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
      else candidates.push({ node, at: Math.max(node.joinedMs, pod.gpu > 0 ? node.gpuAt : 0) });
    }
    if (candidates.length === 0) {
      const total = pinned ? 1 : this.nodes.length;
      const detail = [...reasons.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([r, n]) => `${n} ${r}`)
        .join(', ');
      pod.unschedulable = `0/${total} nodes are available: ${detail}. preemption: 0/${total} nodes are available: ${total} Preemption is not helpful for scheduling.`;
      return;
    }
    candidates.sort(
      (a, b) =>
        (podCount.get(a.node.name) ?? 0) - (podCount.get(b.node.name) ?? 0) ||
        a.node.name.localeCompare(b.node.name),
    );
    const chosen = candidates[0]!;
    pod.nodeName = chosen.node.name;
    pod.scheduledMs = Math.max(pod.createdMs, chosen.at, pvc.sinceMs);
    podCount.set(chosen.node.name, (podCount.get(chosen.node.name) ?? 0) + 1);
    if (pod.gpu > 0) gpuUsed.set(chosen.node.name, (gpuUsed.get(chosen.node.name) ?? 0) + pod.gpu);
  }

  private volumeProblem(ns: string, spec: JsonObject): { problem?: string; sinceMs: number } {
    let sinceMs = 0;
    for (const v of arr(spec, 'volumes')) {
      const claim = str(v, 'persistentVolumeClaim', 'claimName');
      if (!claim) continue;
      const pvc = this.find('PersistentVolumeClaim', ns, claim);
      if (!pvc) return { problem: `persistentvolumeclaim "${claim}" not found`, sinceMs };
      const binding = this.pvcBinding(pvc);
      if (!binding.bound) return { problem: 'pod has unbound immediate PersistentVolumeClaims', sinceMs };
      sinceMs = Math.max(sinceMs, binding.sinceMs);
    }
    return { sinceMs };
  }

  /** When the containers can start (their Secrets/ConfigMaps exist), or undefined with `pod.waiting` set. */
  private containerProblems(ns: string, spec: JsonObject, pod: PodView): number | undefined {
    let since = 0;
    const lookup = (
      kind: 'Secret' | 'ConfigMap',
      name: string,
      key: string | undefined,
      optional: boolean,
    ) => {
      const found = this.find(kind, ns, name);
      const label = kind === 'Secret' ? 'secret' : 'configmap';
      if (!found) return optional ? undefined : `${label} "${name}" not found`;
      if (key !== undefined) {
        const data = { ...obj(found.content, 'data'), ...obj(found.content, 'binaryData') };
        if (!(key in data)) return optional ? undefined : `couldn't find key ${key} in ${kind} ${ns}/${name}`;
      }
      since = Math.max(since, found.createdMs);
      return undefined;
    };
    for (const c of [...arr(spec, 'initContainers'), ...arr(spec, 'containers')]) {
      for (const env of arr(c, 'env')) {
        for (const [field, kind] of [
          ['secretKeyRef', 'Secret'],
          ['configMapKeyRef', 'ConfigMap'],
        ] as const) {
          const ref = obj(env, 'valueFrom', field);
          const name = str(ref, 'name');
          if (!name) continue;
          const problem = lookup(kind, name, str(ref, 'key'), ref.optional === true);
          if (problem) {
            pod.waiting = { reason: 'CreateContainerConfigError', message: problem };
            return undefined;
          }
        }
      }
      for (const from of arr(c, 'envFrom')) {
        for (const [field, kind] of [
          ['secretRef', 'Secret'],
          ['configMapRef', 'ConfigMap'],
        ] as const) {
          const ref = obj(from, field);
          const name = str(ref, 'name');
          if (!name) continue;
          const problem = lookup(kind, name, undefined, ref.optional === true);
          if (problem) {
            pod.waiting = { reason: 'CreateContainerConfigError', message: problem };
            return undefined;
          }
        }
      }
    }
    for (const v of arr(spec, 'volumes')) {
      for (const [field, nameField, kind] of [
        ['secret', 'secretName', 'Secret'],
        ['configMap', 'name', 'ConfigMap'],
      ] as const) {
        const ref = obj(v, field);
        const name = str(ref, nameField);
        if (!name) continue;
        const problem = lookup(kind, name, undefined, ref.optional === true);
        if (problem) {
          pod.waiting = {
            reason: 'ContainerCreating',
            message: `MountVolume.SetUp failed for volume "${str(v, 'name') ?? name}" : ${problem}`,
          };
          return undefined;
        }
      }
    }
    return since;
  }

  private admitQuota(
    ns: string,
    podName: string,
    spec: JsonObject,
    used: Map<string, Map<string, number>>,
  ): string | undefined {
    const quotas = this.ofKind('ResourceQuota', ns);
    if (quotas.length === 0) return undefined;
    // The quota evaluator (pkg/quota/v1/evaluator/core/pods.go): every container, init containers included,
    // must state each cpu/memory request or limit a quota covers; the pod's usage is the larger of its
    // containers' sum and any one init container.
    const totals = new Map<string, number>([['pods', 1]]);
    const initPeak = new Map<string, number>();
    const missing = new Map<string, string[]>();
    for (const [list, init] of [
      [arr(spec, 'containers'), false],
      [arr(spec, 'initContainers'), true],
    ] as const) {
      for (const c of list) {
        for (const scope of ['requests', 'limits'] as const) {
          for (const res of ['cpu', 'memory', 'nvidia.com/gpu']) {
            const v = obj(c, 'resources', scope)[res];
            const fallback = scope === 'requests' ? obj(c, 'resources', 'limits')[res] : undefined;
            const value = v ?? fallback;
            const key = `${scope}.${res}`;
            if (value !== undefined) {
              if (init) initPeak.set(key, Math.max(initPeak.get(key) ?? 0, quantity(value)));
              else totals.set(key, (totals.get(key) ?? 0) + quantity(value));
            } else if (res !== 'nvidia.com/gpu') {
              const names = missing.get(key) ?? [];
              names.push(str(c, 'name') ?? '');
              missing.set(key, names);
            }
          }
        }
      }
    }
    for (const [k, v] of initPeak) totals.set(k, Math.max(totals.get(k) ?? 0, v));
    const alias = (key: string) => (key === 'cpu' || key === 'memory' ? `requests.${key}` : key);
    const usedNs = used.get(ns) ?? new Map<string, number>();
    for (const quota of quotas) {
      const hard = obj(quota.content, 'spec', 'hard');
      const need = Object.keys(hard)
        .map(alias)
        .filter((k) => missing.has(k))
        .sort();
      if (need.length)
        return `pods "${podName}" is forbidden: failed quota: ${quota.name}: must specify ${need
          .map((k) => `${k} for: ${[...new Set(missing.get(k))].sort().join(',')}`)
          .join('; ')}`;
      for (const [key, limit] of Object.entries(hard)) {
        const k = alias(key);
        const requested = totals.get(k) ?? 0;
        if (requested === 0) continue;
        const current = usedNs.get(k) ?? 0;
        // In milli-units, as Kubernetes quantities are compared: float sums of `250m` drift past the limit.
        if (Math.round((current + requested) * 1000) > Math.round(quantity(limit) * 1000))
          return `pods "${podName}" is forbidden: exceeded quota: ${quota.name}, requested: ${key}=${formatQuantity(k, requested)}, used: ${key}=${formatQuantity(k, current)}, limited: ${key}=${String(limit)}`;
      }
    }
    for (const [k, v] of totals) usedNs.set(k, (usedNs.get(k) ?? 0) + v);
    used.set(ns, usedNs);
    return undefined;
  }

  pvcBinding(pvc: Entry): { bound: boolean; sinceMs: number; capacity?: string } {
    const spec = obj(pvc.content, 'spec');
    const requested = str(spec, 'resources', 'requests', 'storage');
    const held = [...this.volumeHolders()].find(([, holder]) => holder === pvc)?.[0];
    if (held)
      return {
        bound: true,
        sinceMs: Math.max(pvc.createdMs, held.createdMs),
        capacity: str(held.content, 'spec', 'capacity', 'storage') ?? requested,
      };
    // A claim that names a volume (or is named by one) waits for it; it is never provisioned dynamically.
    if (str(spec, 'volumeName') || this.reservingVolume(pvc)) return { bound: false, sinceMs: 0 };
    const cls = this.storageClassOf(pvc);
    if (!cls) return { bound: false, sinceMs: 0 };
    return {
      bound: true,
      sinceMs: Math.max(pvc.createdMs, cls.createdMs),
      ...(requested ? { capacity: requested } : {}),
    };
  }

  /** The claim each PersistentVolume is bound to, if any. */
  volumeHolder(pv: Entry): Entry | undefined {
    return this.volumeHolders().get(pv);
  }

  private holders?: Map<Entry, Entry>;

  /**
   * The PV binder, in creation order of the claims ("Reserving a PersistentVolume" in the Kubernetes
   * persistent volume docs): a PV whose `claimRef` names a claim binds only that claim, even before it
   * exists; a claim with `volumeName` binds only that PV, and only if the PV is not reserved for or bound
   * to another claim; any other claim may take an unreserved, unbound PV of its storage class that is big
   * enough and has its access modes.
   */
  private volumeHolders(): Map<Entry, Entry> {
    if (this.holders) return this.holders;
    const holders = new Map<Entry, Entry>();
    const pvs = this.ofKind('PersistentVolume').sort((a, b) => a.name.localeCompare(b.name));
    const claims = this.ofKind('PersistentVolumeClaim').sort(
      (a, b) => a.createdMs - b.createdMs || a.uid.localeCompare(b.uid),
    );
    const reservedFor = (pv: Entry) => {
      const name = str(pv.content, 'spec', 'claimRef', 'name');
      return name === undefined
        ? undefined
        : { name, namespace: str(pv.content, 'spec', 'claimRef', 'namespace') ?? 'default' };
    };
    const allows = (pv: Entry, pvc: Entry) => {
      const ref = reservedFor(pv);
      return ref === undefined || (ref.name === pvc.name && ref.namespace === pvc.namespace);
    };
    const taken = (pv: Entry) => holders.has(pv);
    for (const pvc of claims) {
      const volumeName = str(pvc.content, 'spec', 'volumeName');
      if (volumeName) {
        const pv = pvs.find((v) => v.name === volumeName);
        if (pv && !taken(pv) && allows(pv, pvc)) holders.set(pv, pvc);
        continue;
      }
      const reserved = pvs.find((pv) => reservedFor(pv) !== undefined && allows(pv, pvc));
      if (reserved) {
        if (!taken(reserved)) holders.set(reserved, pvc);
        continue;
      }
      const className = str(pvc.content, 'spec', 'storageClassName') ?? this.defaultStorageClass()?.name;
      const requested = quantity(str(pvc.content, 'spec', 'resources', 'requests', 'storage') ?? '0');
      const modes = arr(pvc.content, 'spec', 'accessModes');
      const match = pvs
        .filter(
          (pv) =>
            !taken(pv) &&
            reservedFor(pv) === undefined &&
            (str(pv.content, 'spec', 'storageClassName') ?? '') === (className ?? '') &&
            quantity(str(pv.content, 'spec', 'capacity', 'storage') ?? '0') >= requested &&
            modes.every((m) => arr(pv.content, 'spec', 'accessModes').includes(m)),
        )
        .sort(
          (a, b) =>
            quantity(str(a.content, 'spec', 'capacity', 'storage') ?? '0') -
            quantity(str(b.content, 'spec', 'capacity', 'storage') ?? '0'),
        )[0];
      if (match) holders.set(match, pvc);
    }
    this.holders = holders;
    return holders;
  }

  private reservingVolume(pvc: Entry): Entry | undefined {
    return this.ofKind('PersistentVolume').find(
      (pv) =>
        str(pv.content, 'spec', 'claimRef', 'name') === pvc.name &&
        (str(pv.content, 'spec', 'claimRef', 'namespace') ?? 'default') === pvc.namespace,
    );
  }

  private defaultStorageClass(): Entry | undefined {
    return this.ofKind('StorageClass').find(
      (sc) =>
        strMap(sc.content, 'metadata', 'annotations')['storageclass.kubernetes.io/is-default-class'] ===
        'true',
    );
  }

  /** The class that provisions the claim dynamically: its own, the default when unset, none when ''. */
  private storageClassOf(pvc: Entry): Entry | undefined {
    const className = str(pvc.content, 'spec', 'storageClassName');
    if (className === undefined) return this.defaultStorageClass();
    return className ? this.find('StorageClass', undefined, className) : undefined;
  }

  /** Ready pods behind a Service (selector match in its namespace). */
  endpoints(service: Entry): { ready: PodView[]; notReady: PodView[] } {
    const selector = strMap(service.content, 'spec', 'selector');
    if (Object.keys(selector).length === 0) return { ready: [], notReady: [] };
    const matching = this.pods.filter(
      (p) =>
        p.namespace === service.namespace &&
        Object.entries(selector).every(([k, v]) => p.labels[k] === v) &&
        p.finishMs === undefined,
    );
    return {
      ready: matching.filter((p) => p.readyMs <= this.now),
      notReady: matching.filter((p) => p.readyMs > this.now),
    };
  }

  apiServiceAvailableAt(apiService: Entry): { at: number; reason: string; message: string } {
    const svc = obj(apiService.content, 'spec', 'service');
    const name = str(svc, 'name');
    const ns = str(svc, 'namespace');
    const delay = this.config.delays.apiServiceAvailableMs;
    if (!name || !ns)
      return {
        at: apiService.revisionMs,
        reason: 'Local',
        message: 'Local APIServices are always available',
      };
    const service = this.find('Service', ns, name);
    if (!service)
      return {
        at: NEVER,
        reason: 'ServiceNotFound',
        message: `service/${name} in "${ns}" is not present`,
      };
    const { ready } = this.endpoints(service);
    if (ready.length === 0)
      return {
        at: NEVER,
        reason: 'MissingEndpoints',
        message: `endpoints for service/${name} in "${ns}" have no addresses`,
      };
    const since = Math.min(...ready.map((p) => p.readyMs));
    return {
      at: Math.max(apiService.revisionMs, since) + delay,
      reason: 'FailedDiscoveryCheck',
      message: `failing or missing response from https://${this.clusterIp(service)}:443/apis/${str(apiService.content, 'spec', 'group')}/${str(apiService.content, 'spec', 'version')}: bad status from https://${this.clusterIp(service)}:443/apis/${str(apiService.content, 'spec', 'group')}/${str(apiService.content, 'spec', 'version')}: 503`,
    };
  }

  apiServiceAvailable(apiService: Entry): boolean {
    return this.apiServiceAvailableAt(apiService).at <= this.now;
  }

  clusterIp(service: Entry): string {
    const fixed = str(service.content, 'spec', 'clusterIP');
    if (fixed) return fixed;
    const h = hashInt(`${service.namespace}/${service.name}`);
    return `10.0.${((h >>> 8) % 254) + 1}.${(h % 253) + 2}`;
  }

  // Unsigned shifts: the hash is an unsigned 32-bit number, and `>>` would turn half of them negative.
  loadBalancerIp(service: Entry): string {
    const spec = obj(service.content, 'spec');
    const requested = str(spec, 'loadBalancerIP');
    if (requested) return requested;
    const h = hashInt(`lb/${service.namespace}/${service.name}`);
    const internal =
      strMap(service.content, 'metadata', 'annotations')[
        'service.beta.kubernetes.io/azure-load-balancer-internal'
      ] === 'true';
    return internal
      ? `10.224.${((h >>> 16) % 200) + 10}.${(h % 250) + 4}`
      : `20.${((h >>> 16) % 200) + 20}.${(h >>> 8) % 256}.${(h % 250) + 4}`;
  }

  /** When a Job finished (success or failure), if it has. */
  jobFinishedMs(job: Entry): number | undefined {
    const pod = this.podsOf(job)[0];
    return pod?.finishMs !== undefined && pod.finishMs <= this.now ? pod.finishMs : undefined;
  }

  /** Whether a workload has reached its desired state (used to remember readiness across a spec change). */
  workloadReady(entry: Entry): boolean {
    const s = this.status(entry);
    if (!s) return false;
    switch (entry.type.kind) {
      case 'Deployment':
      case 'StatefulSet': {
        const want = num(entry.content, 'spec', 'replicas') ?? 1;
        return (num(s, 'readyReplicas') ?? 0) >= want && (num(s, 'updatedReplicas') ?? 0) >= want;
      }
      case 'DaemonSet':
        return (num(s, 'numberReady') ?? 0) >= (num(s, 'desiredNumberScheduled') ?? 0);
      default:
        return false;
    }
  }

  /** The status a real cluster would report now (undefined for kinds without status). */
  status(entry: Entry): JsonObject | undefined {
    const kind = entry.type.builtin ? entry.type.kind : '';
    if (
      WORKLOAD_KINDS.has(kind) &&
      kind !== 'Job' &&
      entry.prev &&
      this.now < entry.revisionMs + this.config.delays.controllerObserveMs &&
      entry.revisionMs >= this.config.clusterStartedMs
    )
      return entry.prev.status;
    const statusOf = STATUS_BY_KIND.get(kind);
    if (statusOf) return statusOf(this, entry);
    // Built-in kinds with a status subresource report one; custom resources only what was stored.
    return entry.type.builtin && entry.type.hasStatus ? (entry.status ?? {}) : entry.status;
  }

  crdEstablished(entry: Entry): boolean {
    return this.now >= entry.revisionMs + this.config.delays.crdEstablishedMs;
  }

  customMetricsAvailable(): boolean {
    const svc = this.find('APIService', undefined, 'v1beta1.custom.metrics.k8s.io');
    return svc !== undefined && this.apiServiceAvailable(svc);
  }

  podStatus(pod: PodView | undefined): JsonObject {
    return podStatus(this, pod);
  }

  /** A Pod object for a virtual pod (workload-created) or a stored one. */
  renderPod(pod: PodView): JsonObject {
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: pod.name,
        namespace: pod.namespace,
        uid: podUid(pod),
        resourceVersion: String(pod.owner?.resourceVersion ?? 1),
        creationTimestamp: k8sTime(pod.createdMs),
        labels: pod.labels,
        ...(pod.ownerRef ? { ownerReferences: [pod.ownerRef] } : {}),
        ...(pod.owner?.type.kind === 'Deployment' ? { generateName: `${str(pod.ownerRef, 'name')}-` } : {}),
      },
      spec: { ...pod.spec, ...(pod.nodeName ? { nodeName: pod.nodeName } : {}) },
      status: this.podStatus(pod),
    };
  }
}
