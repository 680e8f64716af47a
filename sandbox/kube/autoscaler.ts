/**
 * AKS agent pools and the cluster autoscaler, as the simulated cluster models them.
 *
 * - Nodes come from the agent pools of the AKS body the simulated ARM stored: `count` nodes per pool at
 *   creation, with the labels and taints AKS puts on them. AKS adds the spot label and taint to spot pools
 *   only (AKS spot node pool docs); GPU sizes get `kubernetes.azure.com/accelerator=nvidia`.
 * - The autoscaler scans on every request (all changes happen at requests, so the state between two scans is
 *   constant and a scan can date what it sees back to the previous one). A pod the scheduler cannot place
 *   (`FailedScheduling`) for which a new node of an autoscaled pool would fit (node selector, affinity,
 *   taints, GPUs), below the pool's maxCount and not in backoff, triggers a scale-up (`TriggeredScaleUp`): the
 *   node joins, Ready, `nodeProvisionMs` later (a GPU size: `gpuNodeProvisionMs`), and the NVIDIA device
 *   plugin advertises `nvidia.com/gpu` when its pod is ready on it. Otherwise the autoscaler says why on the
 *   pod (`NotTriggerScaleUp`, upstream wording: "pod didn't trigger scale-up: 1 in backoff after failed
 *   scale-up", "… max node group size reached", kubernetes/autoscaler
 *   cluster-autoscaler/processors/status/eventing_scale_up_processor.go and its SkippedReasons).
 * - A pool whose scale-up is refused (`refuseScaleUp`: no spot capacity, or the VM family's vCPU quota) fails
 *   `scaleUpFailMs` after the attempt and goes into backoff: 5 min, doubling up to 30 min (the autoscaler's
 *   initial/max node group backoff, cluster-autoscaler FAQ). The pod's events then say so on every scan.
 * - Scale-down: a node of an autoscaled pool above minCount that runs nothing but DaemonSet pods is removed
 *   once it has been unneeded for `scaleDownUnneededMs` (AKS default scale-down-unneeded-time 10 min, and
 *   scale-down-delay-after-add 10 min: MicrosoftDocs/azure-aks-docs articles/aks/cluster-autoscaler.md); the
 *   cluster's `autoScalerProfile` `scale-down-unneeded-time` sets it (`autoscalerDelaysFromAksBody`).
 * - Scale-down mode `Deallocate` (the pool's `scaleDownMode`): a removed node's VM is kept deallocated, and a
 *   scale-up starts a deallocated instance first, under its old name, before it adds a new one ("when your
 *   cluster/node pool needs to scale up, the deallocated nodes are started first", scale-down-mode.md). Its
 *   Node leaves the API while deallocated, and a start takes `deallocatedNodeStartMs`, shorter than a new
 *   node: no allocation from scratch, no driver install, images cached (azure-real-behaviours §2.1; no
 *   measured figure exists, the duration is the sandbox's assumption).
 */
import { hashInt, k8sTime, safeHash, type JsonObject } from './json.js';
import { nodeMismatch, type Taint } from './selectors.js';
import type { Cluster, NodeSpec } from './cluster.js';
import type { PodView, Snapshot } from './simulation.js';

export interface AgentPoolSpec {
  name: string;
  vmSize: string;
  mode: 'System' | 'User';
  /** Nodes at creation. */
  count: number;
  /** The cluster autoscaler manages the pool between minCount and maxCount. */
  autoscaling: boolean;
  minCount: number;
  maxCount: number;
  spot: boolean;
  /** `scaleDownMode`: what a scale-down does with the VM (AKS default Delete). */
  scaleDownMode: 'Delete' | 'Deallocate';
  labels: Record<string, string>;
  /** `key=value:Effect` as in `nodeTaints`. */
  taints: string[];
}

/** Why the cloud refuses to add a node to a pool: no spot capacity in the region, or vCPU quota used up. */
export type ScaleUpRefusal = 'spotCapacity' | 'quota';

/** AKS adds this label and taint to spot pools (and only to them). */
export const SPOT_LABEL = 'kubernetes.azure.com/scalesetpriority';
const SPOT_TAINT = `${SPOT_LABEL}=spot:NoSchedule`;

/** GPUs per VM size (the sizes the platform uses; others have none). */
export const VM_SIZES: Record<string, { cpu: number; memoryGiB: number; gpus: number }> = {
  Standard_D2s_v5: { cpu: 2, memoryGiB: 8, gpus: 0 },
  Standard_D4s_v5: { cpu: 4, memoryGiB: 16, gpus: 0 },
  Standard_D8s_v5: { cpu: 8, memoryGiB: 32, gpus: 0 },
  Standard_NC4as_T4_v3: { cpu: 4, memoryGiB: 28, gpus: 1 },
  Standard_NC8as_T4_v3: { cpu: 8, memoryGiB: 56, gpus: 1 },
  Standard_NC16as_T4_v3: { cpu: 16, memoryGiB: 110, gpus: 1 },
  Standard_NC64as_T4_v3: { cpu: 64, memoryGiB: 440, gpus: 4 },
};

const gpusOf = (vmSize: string) => VM_SIZES[vmSize]?.gpus ?? 0;

/** The platform's pools as the product creates them (src/platform/azure-resources.ts), for a bare simulator. */
export const DEFAULT_POOLS: readonly AgentPoolSpec[] = [
  {
    name: 'system',
    vmSize: 'Standard_D2s_v5',
    mode: 'System',
    count: 2,
    autoscaling: false,
    minCount: 2,
    maxCount: 2,
    spot: false,
    scaleDownMode: 'Delete',
    labels: { workload: 'system' },
    taints: ['CriticalAddonsOnly=true:NoSchedule'],
  },
  {
    name: 'apps',
    vmSize: 'Standard_D4s_v5',
    mode: 'User',
    count: 1,
    autoscaling: true,
    minCount: 1,
    maxCount: 3,
    spot: false,
    scaleDownMode: 'Delete',
    labels: { workload: 'apps' },
    taints: [],
  },
  {
    name: 'gput4',
    vmSize: 'Standard_NC4as_T4_v3',
    mode: 'User',
    count: 1,
    autoscaling: true,
    minCount: 0,
    maxCount: 2,
    spot: true,
    scaleDownMode: 'Deallocate',
    labels: { workload: 'llm', gpu: 'true' },
    taints: ['sku=gpu:NoSchedule'],
  },
];

/** The agent pools of a managedClusters body (`properties.agentPoolProfiles`). */
export function poolsFromAksBody(properties: unknown): AgentPoolSpec[] {
  const profiles = (properties as { agentPoolProfiles?: unknown[] } | undefined)?.agentPoolProfiles ?? [];
  return profiles.map((raw) => {
    const p = raw as Record<string, unknown>;
    const count = typeof p.count === 'number' ? p.count : 1;
    const autoscaling = p.enableAutoScaling === true;
    return {
      name: String(p.name),
      vmSize: typeof p.vmSize === 'string' ? p.vmSize : 'Standard_D4s_v5',
      mode: p.mode === 'User' ? 'User' : 'System',
      count,
      autoscaling,
      minCount: autoscaling && typeof p.minCount === 'number' ? p.minCount : count,
      maxCount: autoscaling && typeof p.maxCount === 'number' ? p.maxCount : count,
      spot: p.scaleSetPriority === 'Spot',
      scaleDownMode: p.scaleDownMode === 'Deallocate' ? 'Deallocate' : 'Delete',
      labels: { ...((p.nodeLabels as Record<string, string> | undefined) ?? {}) },
      taints: [...((p.nodeTaints as string[] | undefined) ?? [])],
    };
  });
}

/**
 * The autoscaler delays a managedClusters body sets (`properties.autoScalerProfile`, durations as AKS writes
 * them: `10m`, `30s`, `1h`); what it leaves out keeps AKS's defaults.
 */
export function autoscalerDelaysFromAksBody(properties: unknown): { scaleDownUnneededMs?: number } {
  const profile = (properties as { autoScalerProfile?: Record<string, unknown> } | undefined)
    ?.autoScalerProfile;
  const unneeded = durationMs(profile?.['scale-down-unneeded-time']);
  return unneeded === undefined ? {} : { scaleDownUnneededMs: unneeded };
}

function durationMs(value: unknown): number | undefined {
  const m = typeof value === 'string' ? /^(\d+)(s|m|h)$/.exec(value) : null;
  if (!m) return undefined;
  return Number(m[1]) * { s: 1_000, m: 60_000, h: 3_600_000 }[m[2] as 's' | 'm' | 'h'];
}

/** The scale set suffix in node names (`aks-<pool>-<digits>-vmss00000N`); fixed for the default pools. */
const SCALE_SET_IDS: Record<string, string> = { system: '31415926', apps: '27182818', gput4: '16180339' };

export function scaleSetName(pool: string, clusterName: string): string {
  const id = SCALE_SET_IDS[pool] ?? String(hashInt(`${clusterName}/${pool}`) % 100_000_000).padStart(8, '0');
  return `aks-${pool}-${id}-vmss`;
}

/** The Node of instance `index` of a pool, with what AKS adds to it. */
export function poolNode(pool: AgentPoolSpec, index: number, clusterName: string): NodeSpec {
  const gpus = gpusOf(pool.vmSize);
  return {
    name: `${scaleSetName(pool.name, clusterName)}${index.toString(36).padStart(6, '0')}`,
    pool: pool.name,
    vmSize: pool.vmSize,
    mode: pool.mode,
    labels: {
      ...pool.labels,
      ...(pool.spot ? { [SPOT_LABEL]: 'spot' } : {}),
      ...(gpus > 0 ? { 'kubernetes.azure.com/accelerator': 'nvidia' } : {}),
    },
    taints: [...pool.taints, ...(pool.spot ? [SPOT_TAINT] : [])],
    gpus,
  };
}

export function initialPoolNodes(pools: readonly AgentPoolSpec[], clusterName: string): NodeSpec[] {
  return pools.flatMap((pool) =>
    Array.from({ length: pool.count }, (_, i) => poolNode(pool, i, clusterName)),
  );
}

/** Upstream node group backoff after a failed scale-up: 5 min, doubling, at most 30 min. */
const INITIAL_BACKOFF_MS = 5 * 60_000;
const MAX_BACKOFF_MS = 30 * 60_000;

interface InFlight {
  pool: string;
  requestedMs: number;
  /** When the node joins Ready, or when the cloud's refusal arrives. */
  atMs: number;
  refused?: ScaleUpRefusal;
  /** GPUs it brings, already promised to pending pods. */
  freeGpus: number;
  /** The instance index of a deallocated VM being started again (scale-down mode Deallocate). */
  restart?: number;
}

export class Autoscaler {
  private readonly inFlight: InFlight[] = [];
  private readonly backoff = new Map<string, { untilMs: number; failures: number }>();
  private readonly unneededSince = new Map<string, number>();
  private readonly nextIndex = new Map<string, number>();
  private readonly refusals = new Map<string, ScaleUpRefusal>();
  /** Instance indexes of deallocated VMs per pool (scale-down mode Deallocate), oldest first. */
  private readonly deallocated = new Map<string, number[]>();
  private lastScanMs: number;

  constructor(
    readonly pools: readonly AgentPoolSpec[],
    private readonly refusalFor: (pool: string) => ScaleUpRefusal | undefined = () => undefined,
    startMs: number,
  ) {
    for (const p of pools) this.nextIndex.set(p.name, p.count);
    this.lastScanMs = startMs;
  }

  refuseScaleUp(pool: string, refusal: ScaleUpRefusal): void {
    this.refusals.set(pool, refusal);
  }

  allowScaleUp(pool: string): void {
    this.refusals.delete(pool);
  }

  /** Deallocated instances of a pool (scale-down mode Deallocate): their disks are kept, their Nodes are gone. */
  deallocatedNodes(pool: string): number {
    return this.deallocated.get(pool)?.length ?? 0;
  }

  /** One scan at `cluster.now()`: land what arrived, react to pending pods, remove unneeded nodes. */
  scan(cluster: Cluster): void {
    if (cluster.stopped) return;
    const now = cluster.now();
    const since = Math.min(this.lastScanMs, now);
    this.land(cluster, now);
    const snapshot = cluster.snapshot();
    this.scaleUp(cluster, snapshot, now, since);
    this.scaleDown(cluster, snapshot, now, since);
    this.lastScanMs = now;
  }

  private land(cluster: Cluster, now: number): void {
    for (const f of this.inFlight.filter((x) => x.atMs <= now)) {
      this.inFlight.splice(this.inFlight.indexOf(f), 1);
      const pool = this.pools.find((p) => p.name === f.pool)!;
      if (f.refused) {
        const failures = (this.backoff.get(pool.name)?.failures ?? 0) + 1;
        const ms = Math.min(INITIAL_BACKOFF_MS * 2 ** (failures - 1), MAX_BACKOFF_MS);
        this.backoff.set(pool.name, { untilMs: f.atMs + ms, failures });
        continue;
      }
      this.backoff.delete(pool.name);
      let index = f.restart;
      if (index === undefined) {
        index = this.nextIndex.get(pool.name) ?? 0;
        this.nextIndex.set(pool.name, index + 1);
      }
      cluster.addNode(poolNode(pool, index, cluster.clusterName), f.atMs);
    }
  }

  private poolNodes(snapshot: Snapshot, pool: string) {
    return snapshot.nodes.filter((n) => n.entry.node?.pool === pool);
  }

  private scaleUp(cluster: Cluster, snapshot: Snapshot, now: number, since: number): void {
    const pending = snapshot.pods
      .filter((p) => p.unschedulable !== undefined && p.owner?.type.kind !== 'DaemonSet')
      .sort((a, b) => a.createdMs - b.createdMs);
    if (pending.length === 0) return;
    // GPUs that existing nodes will offer once the device plugin advertises them, and in-flight nodes.
    const spare = new Map<string, number>();
    for (const node of snapshot.nodes) {
      const used = snapshot.pods
        .filter((p) => p.nodeName === node.name && p.finishMs === undefined)
        .reduce((sum, p) => sum + p.gpu, 0);
      if (node.ready && !node.unschedulable) spare.set(node.name, node.gpus - used);
    }
    // The autoscaler counts on a node it asked for until the cloud answers, refused or not.
    for (const f of this.inFlight) f.freeGpus = gpusOf(this.pool(f.pool).vmSize);

    for (const pod of pending) {
      cluster.recordEvent(
        pod,
        pod.createdMs,
        'Warning',
        'default-scheduler',
        'FailedScheduling',
        pod.unschedulable!,
      );
      // A pod waiting for a claim or for its GPU to be advertised on a node it fits is no case for new nodes.
      if (/PersistentVolumeClaim|persistentvolumeclaim/.test(pod.unschedulable!)) continue;
      const fitting = this.pools.filter((p) => p.autoscaling && !this.mismatch(p, pod, cluster));
      const waitsFor = snapshot.nodes.find(
        (n) =>
          pod.gpu > 0 &&
          (spare.get(n.name) ?? 0) >= pod.gpu &&
          !nodeMismatch(pod.spec, { labels: n.labels, taints: n.taints.filter(notReadyTaint) }),
      );
      if (waitsFor) {
        spare.set(waitsFor.name, spare.get(waitsFor.name)! - pod.gpu);
        continue;
      }
      const coming = this.inFlight.find(
        (f) => fitting.some((p) => p.name === f.pool) && f.freeGpus >= pod.gpu,
      );
      if (coming) {
        coming.freeGpus -= pod.gpu;
        continue;
      }
      const size = (p: AgentPoolSpec) =>
        this.poolNodes(snapshot, p.name).length + this.inFlight.filter((f) => f.pool === p.name).length;
      const skipped = new Map<string, number>();
      const skip = (reason: string, n: number) => skipped.set(reason, (skipped.get(reason) ?? 0) + n);
      let chosen: AgentPoolSpec | undefined;
      for (const p of this.pools.filter((x) => x.autoscaling)) {
        const mismatch = this.mismatch(p, pod, cluster);
        if (mismatch) skip(mismatch, 1);
        else if ((this.backoff.get(p.name)?.untilMs ?? 0) > now) skip('in backoff after failed scale-up', 1);
        else if (size(p) >= p.maxCount) skip('max node group size reached', 1);
        else chosen ??= p;
      }
      if (!chosen) {
        const why = [...skipped].map(([reason, n]) => `${n} ${reason}`).join(', ');
        cluster.recordEvent(
          pod,
          Math.max(pod.createdMs, since),
          'Normal',
          'cluster-autoscaler',
          'NotTriggerScaleUp',
          fitting.length
            ? `pod didn't trigger scale-up: ${why}`
            : `pod didn't trigger scale-up (it wouldn't fit if a new node is added): ${why}`,
        );
        continue;
      }
      const from = size(chosen);
      // The autoscaler notices the pod on its next scan (scan-interval 10 s, new-pod-scale-up-delay 0 s).
      const requestedMs = Math.max(pod.createdMs, since);
      const refused = this.refusals.get(chosen.name) ?? this.refusalFor(chosen.name);
      const gpus = gpusOf(chosen.vmSize);
      // A deallocated instance is started first; a start can be refused like a new VM (spot capacity).
      const restart = refused ? undefined : this.deallocated.get(chosen.name)?.shift();
      this.inFlight.push({
        pool: chosen.name,
        requestedMs,
        atMs:
          requestedMs +
          cluster.delays.autoscalerScanMs +
          (refused
            ? cluster.delays.scaleUpFailMs
            : restart !== undefined
              ? cluster.delays.deallocatedNodeStartMs
              : gpus > 0
                ? cluster.delays.gpuNodeProvisionMs
                : cluster.delays.nodeProvisionMs),
        ...(refused ? { refused } : {}),
        ...(restart !== undefined ? { restart } : {}),
        freeGpus: gpus - pod.gpu,
      });
      cluster.recordEvent(
        pod,
        requestedMs,
        'Normal',
        'cluster-autoscaler',
        'TriggeredScaleUp',
        `pod triggered scale-up: [{${scaleSetName(chosen.name, cluster.clusterName)} ${from}->${from + 1} (max: ${chosen.maxCount})}]`,
      );
    }
  }

  private scaleDown(cluster: Cluster, snapshot: Snapshot, now: number, since: number): void {
    for (const pool of this.pools.filter((p) => p.autoscaling)) {
      const nodes = this.poolNodes(snapshot, pool.name);
      let removable = nodes.length - pool.minCount;
      for (const node of nodes) {
        const busy = snapshot.pods.some(
          (p) => p.nodeName === node.name && p.owner?.type.kind !== 'DaemonSet' && p.finishMs === undefined,
        );
        if (busy) {
          this.unneededSince.delete(node.name);
          continue;
        }
        const from = Math.max(this.unneededSince.get(node.name) ?? since, node.joinedMs);
        this.unneededSince.set(node.name, from);
        if (removable > 0 && now >= from + cluster.delays.scaleDownUnneededMs) {
          cluster.store.delete(cluster.key(cluster.builtin('', 'Node'), undefined, node.name));
          this.unneededSince.delete(node.name);
          if (pool.scaleDownMode === 'Deallocate') {
            const kept = this.deallocated.get(pool.name) ?? [];
            kept.push(instanceIndex(node.name));
            this.deallocated.set(pool.name, kept);
          }
          cluster.touch();
          removable--;
        }
      }
    }
  }

  private pool(name: string): AgentPoolSpec {
    return this.pools.find((p) => p.name === name)!;
  }

  /** Why a new node of the pool would not take the pod (scheduler wording), if it would not. */
  private mismatch(pool: AgentPoolSpec, pod: PodView, cluster: Cluster): string | undefined {
    const node = poolNode(pool, 0, cluster.clusterName);
    const taints = (node.taints ?? []).map((t) => (typeof t === 'string' ? parseTaint(t) : t));
    const reason = nodeMismatch(pod.spec, { labels: { ...node.labels, agentpool: pool.name }, taints });
    if (reason) return reason;
    return gpusOf(pool.vmSize) < pod.gpu ? 'Insufficient nvidia.com/gpu' : undefined;
  }
}

/** The instance index in a node's name (`…vmss00000N`, base 36, as `poolNode` writes it). */
function instanceIndex(nodeName: string): number {
  return parseInt(nodeName.slice(-6), 36);
}

const notReadyTaint = (t: Taint) => t.key !== 'node.kubernetes.io/not-ready';

function parseTaint(t: string): Taint {
  const m = /^([^=:]+)(?:=([^:]*))?:(\w+)$/.exec(t);
  if (!m) throw new Error(`invalid taint ${t}`);
  return { key: m[1]!, ...(m[2] !== undefined ? { value: m[2] } : {}), effect: m[3]! };
}

/**
 * An Event about a pod, as the scheduler and the autoscaler write them: one object per reason and message,
 * its count and lastTimestamp moving on while the condition lasts (the autoscaler re-evaluates every scan).
 */
export function podEvent(
  pod: PodView,
  uid: string,
  type: 'Normal' | 'Warning',
  component: string,
  reason: string,
  message: string,
  firstMs: number,
  lastMs: number,
  scanMs: number,
): { name: string; content: JsonObject } {
  return {
    name: `${pod.name}.${safeHash(`${reason}/${message}`, 16)}`,
    content: {
      involvedObject: {
        kind: 'Pod',
        namespace: pod.namespace,
        name: pod.name,
        uid,
        apiVersion: 'v1',
      },
      reason,
      message,
      source: { component },
      firstTimestamp: k8sTime(firstMs),
      lastTimestamp: k8sTime(lastMs),
      count: 1 + Math.floor((lastMs - firstMs) / Math.max(scanMs, 1)),
      type,
      reportingComponent: component,
      reportingInstance: '',
    },
  };
}
