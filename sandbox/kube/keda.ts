/**
 * KEDA, as AKS's managed add-on installs it (`workloadAutoScalerProfile.keda.enabled` in the managed cluster
 * body): its CRDs, served once the add-on is on, and its operator for ScaledObjects with `prometheus`
 * triggers. Each ScaledObject is polled every `pollingInterval` (default 30 s): a trigger whose value is
 * above its `activationThreshold` (default 0) is active; a target at zero with an active trigger goes to
 * max(1, minReplicaCount), one with none goes to zero `cooldownPeriod` (default 300 s) after the last active
 * poll when minReplicaCount is 0; in between the triggers size it as KEDA's HPA would (AverageValue:
 * value / threshold; Value: current × value / threshold), within [max(1, min), maxReplicaCount]
 * (keda.sh: ScaledObject specification, "Scaling Deployments, StatefulSets & Custom Resources").
 *
 * The Prometheus queries are not evaluated: a query that reads Caddy's `caddy_http_requests_in_flight` is
 * the interceptor's count of requests held or in flight (proxy.ts), one that reads DCGM's framebuffer
 * memory is the GPU memory metric tests set (setCustomMetric), while an Ollama pod is ready. Not simulated:
 * the HPA KEDA creates for the range above one (the operator writes those replicas itself, as field manager
 * `keda-operator`), Prometheus' scrape interval, the HPA behavior in `advanced` but its scale-down stabilization window, pause annotations,
 * fallback, ScaledJobs and authentication.
 */
import type { Cluster } from './cluster.js';
import { num, obj, str, type JsonObject } from './json.js';
import { quantity, scaledByRatio, targetOf, writeScale } from './hpa.js';
import { schemalessCrdVersion } from './resources.js';
import type { Entry } from './store.js';

export const KEDA_GROUP = 'keda.sh';
export const KEDA_MANAGER = 'keda-operator';
const DEFAULT_POLLING_S = 30;
const DEFAULT_COOLDOWN_S = 300;
/** The HPA's default scale-down stabilization window. */
const HPA_SCALE_DOWN_STABILIZATION_S = 300;

/** Whether the AKS body (its `properties`) turns the managed KEDA add-on on. */
export function kedaEnabled(properties: unknown): boolean {
  return (
    (obj(obj(obj(properties), 'workloadAutoScalerProfile'), 'keda') as { enabled?: unknown }).enabled === true
  );
}

/** The CRDs the add-on installs (the kinds and their plurals; all namespaced, keda.sh/v1alpha1). */
const KEDA_KINDS: [string, string, boolean][] = [
  ['ScaledObject', 'scaledobjects', true],
  ['ScaledJob', 'scaledjobs', true],
  ['TriggerAuthentication', 'triggerauthentications', true],
  ['ClusterTriggerAuthentication', 'clustertriggerauthentications', false],
];

/** The CustomResourceDefinition objects the add-on installs, as the API server stores them. */
export function kedaCrds(): { name: string; content: JsonObject }[] {
  return KEDA_KINDS.map(([kind, plural, namespaced]) => ({
    name: `${plural}.${KEDA_GROUP}`,
    content: {
      metadata: {
        labels: { 'app.kubernetes.io/part-of': 'keda-operator', 'kubernetes.azure.com/managedby': 'aks' },
      },
      spec: {
        group: KEDA_GROUP,
        names: { kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List` },
        scope: namespaced ? 'Namespaced' : 'Cluster',
        versions: [schemalessCrdVersion('v1alpha1')],
      },
    },
  }));
}

/** One poll of every ScaledObject that is due; called before each request is served (Cluster.sweep). */
export function reconcileScaledObjects(cluster: Cluster): void {
  const now = cluster.now();
  for (const so of [...cluster.store.values()]) {
    if (so.type.builtin || so.type.group !== KEDA_GROUP || so.type.kind !== 'ScaledObject') continue;
    const spec = obj(so.content, 'spec');
    const polling = (num(spec, 'pollingInterval') ?? DEFAULT_POLLING_S) * 1000;
    if (so.kedaPolledMs !== undefined && now < so.kedaPolledMs + polling) continue;
    so.kedaPolledMs = now;
    const target = targetOf(cluster, so, 'Deployment');
    if (!target) continue;
    const current = num(target.content, 'spec', 'replicas') ?? 1;
    const desired = desiredReplicas(cluster, so, current, now);
    if (desired === current) continue;
    writeScale(cluster, target, desired, KEDA_MANAGER);
    so.kedaScaledMs = now;
    // The pods are gone: nothing stays in GPU memory.
    if (desired === 0 && str(obj(spec, 'scaleTargetRef'), 'name') === 'ollama') cluster.ollama?.unloadAll();
  }
}

function desiredReplicas(cluster: Cluster, so: Entry, current: number, now: number): number {
  const spec = obj(so.content, 'spec');
  const min = num(spec, 'minReplicaCount') ?? 0;
  const max = num(spec, 'maxReplicaCount') ?? 100;
  const triggers = (spec.triggers as unknown[] | undefined) ?? [];
  const readings = triggers.map((t) => ({ trigger: t, value: triggerValue(cluster, t) }));
  const active = readings.some(
    ({ trigger, value }) =>
      value !== undefined && value > (quantity(str(trigger, 'metadata', 'activationThreshold')) ?? 0),
  );
  if (active) so.kedaActiveMs = now;
  if (current === 0) return active ? Math.max(1, min) : min;
  const cooldown = (num(spec, 'cooldownPeriod') ?? DEFAULT_COOLDOWN_S) * 1000;
  if (!active && min === 0 && now >= (so.kedaActiveMs ?? so.createdMs) + cooldown) return 0;
  const floor = Math.max(1, min);
  const proposals = readings.flatMap(({ trigger, value }) => {
    const threshold = quantity(str(trigger, 'metadata', 'threshold'));
    if (value === undefined || !threshold) return [];
    return str(trigger, 'metricType') === 'Value'
      ? [scaledByRatio(current, value / threshold)]
      : [Math.ceil(value / threshold)];
  });
  const wanted = Math.min(max, Math.max(floor, ...(proposals.length ? proposals : [current])));
  // KEDA's HPA scales in only after its scale-down stabilization window (advanced.horizontalPodAutoscalerConfig).
  const window =
    (num(
      spec,
      'advanced',
      'horizontalPodAutoscalerConfig',
      'behavior',
      'scaleDown',
      'stabilizationWindowSeconds',
    ) ?? HPA_SCALE_DOWN_STABILIZATION_S) * 1000;
  if (wanted < current && now < (so.kedaScaledMs ?? so.createdMs) + window) return current;
  return wanted;
}

/** What the trigger's query would answer now (undefined: no data, as an empty Prometheus result). */
function triggerValue(cluster: Cluster, trigger: unknown): number | undefined {
  if (str(trigger, 'type') !== 'prometheus') return undefined;
  const query = str(trigger, 'metadata', 'query') ?? '';
  if (query.includes('caddy_http_requests_in_flight')) return cluster.interceptorInFlight;
  if (query.includes('DCGM_FI_DEV_FB_USED')) {
    const value = cluster.customMetricValues.get('gpu_memory_utilization');
    const ollamaReady = cluster
      .snapshot()
      .pods.some((p) => p.name.startsWith('ollama-') && p.readyMs <= cluster.now());
    return value === undefined || !ollamaReady ? undefined : quantity(value);
  }
  return undefined;
}
