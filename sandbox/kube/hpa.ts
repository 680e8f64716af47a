/**
 * The horizontal-pod-autoscaler controller, as far as the platform needs it: each HorizontalPodAutoscaler
 * keeps its Deployment or StatefulSet within [minReplicas, maxReplicas] and, inside that range, follows its
 * metrics (a CPU load set by a test control, a Pods metric from custom.metrics.k8s.io). It writes
 * through the scale subresource as field manager `horizontal-pod-autoscaler`, so it takes ownership of
 * `spec.replicas` (an Update entry with subresource `scale`) and an apply of another replica count meets a
 * 409 Conflict. A target scaled to zero is left alone: Kubernetes' HPA documentation ("Implicit
 * maintenance-mode deactivation") says a target whose desired replicas are 0 while minReplicas > 0 is not
 * adjusted (ScalingActive False) until someone scales it up again.
 *
 * Not simulated: scale-up/down policies and stabilization windows (the recommendation is applied at once),
 * readiness of pods in the metric average, Object/External metrics; a Pods metric counts only once a test
 * set its value (setCustomMetric).
 */
import type { Cluster } from './cluster.js';
import { arr, clone, k8sTime, num, obj, str, type JsonObject } from './json.js';
import { groupVersionOf } from './resources.js';
import { planUpdate, type Entry } from './store.js';

export const HPA_MANAGER = 'horizontal-pod-autoscaler';
/** The controller manager's `--horizontal-pod-autoscaler-sync-period` default. */
export const HPA_SYNC_MS = 15_000;
/** `--horizontal-pod-autoscaler-tolerance`: a metric within 10 % of its target changes nothing. */
const TOLERANCE = 0.1;

/**
 * Syncs every HPA that is due (a new one at once, then once per sync period) and scales its target when it
 * should; called before each request is served (Cluster.sweep). Cheap when nothing is due: no snapshot.
 */
export function reconcileAutoscalers(cluster: Cluster): void {
  const now = cluster.now();
  for (const hpa of [...cluster.store.values()]) {
    if (!hpa.type.builtin || hpa.type.kind !== 'HorizontalPodAutoscaler') continue;
    if (hpa.hpaSyncedMs !== undefined && now < hpa.hpaSyncedMs + HPA_SYNC_MS) continue;
    hpa.hpaSyncedMs = now;
    const target = targetOf(cluster, hpa);
    if (!target) continue;
    const current = num(target.content, 'spec', 'replicas') ?? 1;
    const desired = desiredReplicas(cluster, hpa, target, current);
    if (desired === undefined || desired === current) continue;
    writeScale(cluster, target, desired, HPA_MANAGER);
    hpa.hpaLastScaleMs = now;
  }
}

/** A controller's write of `replicas` through the target's scale subresource, as field manager `manager`. */
export function writeScale(cluster: Cluster, target: Entry, replicas: number, manager: string): void {
  const content = clone(target.content);
  content.spec = { ...obj(content, 'spec'), replicas };
  const candidate = planUpdate(
    target,
    content,
    manager,
    groupVersionOf(target.type),
    k8sTime(cluster.now()),
    'scale',
  );
  cluster.commit(target.type, target.namespace, target.name, target, candidate, false);
  cluster.touch();
}

/** The Deployment or StatefulSet an autoscaler's scaleTargetRef names (KEDA's default kind: Deployment). */
export function targetOf(cluster: Cluster, autoscaler: Entry, defaultKind = ''): Entry | undefined {
  const ref = obj(autoscaler.content, 'spec', 'scaleTargetRef');
  const kind = str(ref, 'kind') ?? defaultKind;
  if (kind !== 'Deployment' && kind !== 'StatefulSet') return undefined;
  return cluster.store.get(
    cluster.key(cluster.builtin('apps', kind), autoscaler.namespace, str(ref, 'name') ?? ''),
  );
}

/** What the controller scales the target to now, or undefined when it does not act (disabled, no metric). */
export function desiredReplicas(
  cluster: Cluster,
  hpa: Entry,
  target: Entry,
  current: number,
): number | undefined {
  const spec = obj(hpa.content, 'spec');
  const min = num(spec, 'minReplicas') ?? 1;
  const max = num(spec, 'maxReplicas') ?? min;
  if (current === 0 && min > 0) return undefined;
  // Outside its bounds the target is brought back without reading any metric.
  if (current > max) return max;
  if (current < min) return min;
  const proposals = arr(spec, 'metrics')
    .map((m) => proposal(cluster, m, target, current))
    .filter((p): p is number => p !== undefined);
  if (proposals.length === 0) return undefined;
  return Math.min(max, Math.max(min, ...proposals));
}

/** The controller's replica count for a metric at `ratio` of its target (unchanged within the tolerance). */
export const scaledByRatio = (current: number, ratio: number): number =>
  Math.abs(ratio - 1) <= TOLERANCE ? current : Math.ceil(current * ratio);

function proposal(cluster: Cluster, metric: unknown, target: Entry, current: number): number | undefined {
  const type = str(metric, 'type');
  const scaled = (ratio: number) => scaledByRatio(current, ratio);
  if (type === 'Resource' && str(metric, 'resource', 'name') === 'cpu') {
    const load = cluster.cpuLoad.get(`${target.namespace}/${target.name}`);
    const wanted = num(metric, 'resource', 'target', 'averageUtilization');
    if (load === undefined || !wanted || current === 0) return undefined;
    return scaled(load / current / wanted);
  }
  if (type === 'Pods') {
    const name = str(metric, 'pods', 'metric', 'name') ?? '';
    if (!cluster.snapshot().customMetricsAvailable() || !cluster.customMetricNames.has(name))
      return undefined;
    const wanted = quantity(str(metric, 'pods', 'target', 'averageValue'));
    const value = quantity(cluster.customMetricValues.get(name) ?? '0');
    if (!wanted || value === undefined) return undefined;
    return scaled(value / wanted);
  }
  return undefined;
}

/** A plain or milli quantity (`60`, `60000m`), as custom metrics carry them. */
export function quantity(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)(m?)$/.exec(value.trim());
  if (!m) return undefined;
  return Number(m[1]) / (m[2] ? 1000 : 1);
}

/** The HPA's status fields the controller owns: replicas, and why it is not scaling. */
export function hpaScaleStatus(hpa: Entry, target: Entry | undefined): JsonObject {
  const spec = obj(hpa.content, 'spec');
  const min = num(spec, 'minReplicas') ?? 1;
  const max = num(spec, 'maxReplicas') ?? min;
  const current = target ? (num(target.content, 'spec', 'replicas') ?? 1) : 0;
  return {
    currentReplicas: current,
    desiredReplicas: !target || (current === 0 && min > 0) ? 0 : Math.min(max, Math.max(min, current)),
    ...(hpa.hpaLastScaleMs !== undefined ? { lastScaleTime: k8sTime(hpa.hpaLastScaleMs) } : {}),
  };
}
