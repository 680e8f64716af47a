/**
 * Kubernetes resource arithmetic: quantities, a pod's effective requests and limits, and the ResourceQuota
 * that admits a namespace's workloads at their largest.
 */
import type { KubernetesObject } from './templates.js';

const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'Job']);

interface PodSpec {
  containers?: {
    resources?: { requests?: Record<string, string | number>; limits?: Record<string, string | number> };
  }[];
  initContainers?: PodSpec['containers'];
}

/**
 * Every workload of `namespace` at its largest: a Deployment or StatefulSet at its HPA's maxReplicas or its
 * ScaledObject's maxReplicaCount (else its replicas), every Job's pods at once. A pod counts max(sum of its
 * containers, largest init container), as Kubernetes does. Updates add no pods: Open WebUI and Redis use Recreate, a StatefulSet replaces one
 * pod at a time, and failed Job pods no longer count.
 */
export function quotaFor(objects: readonly KubernetesObject[], namespace: string): Record<string, string> {
  const inNamespace = objects.filter((o) => o.metadata.namespace === namespace);
  const hpaMax = new Map<string, number>();
  for (const o of inNamespace.filter((o) => o.kind === 'HorizontalPodAutoscaler')) {
    const spec = o.spec as { scaleTargetRef: { kind: string; name: string }; maxReplicas: number };
    hpaMax.set(`${spec.scaleTargetRef.kind}/${spec.scaleTargetRef.name}`, spec.maxReplicas);
  }
  // A KEDA ScaledObject is an autoscaler too (KEDA's HPA takes its maxReplicaCount).
  for (const o of inNamespace.filter((o) => o.kind === 'ScaledObject')) {
    const spec = o.spec as { scaleTargetRef: { kind?: string; name: string }; maxReplicaCount: number };
    hpaMax.set(
      `${spec.scaleTargetRef.kind ?? 'Deployment'}/${spec.scaleTargetRef.name}`,
      spec.maxReplicaCount,
    );
  }
  const total = { pods: 0, cpuReq: 0, cpuLim: 0, memReq: 0, memLim: 0, gpu: 0 };
  for (const o of inNamespace) {
    if (o.kind === 'DaemonSet' || o.kind === 'Pod' || o.kind === 'ReplicaSet' || o.kind === 'CronJob')
      throw new Error(`quota: ${o.kind} ${o.metadata.name} in ${namespace} is not accounted for`);
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
  const pvcs = inNamespace.filter((o) => o.kind === 'PersistentVolumeClaim');
  const storage = pvcs.reduce(
    (sum, o) =>
      sum +
      parseQuantity((o.spec as { resources: { requests: { storage: string } } }).resources.requests.storage),
    0,
  );
  const services = inNamespace.filter((o) => o.kind === 'Service');
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
