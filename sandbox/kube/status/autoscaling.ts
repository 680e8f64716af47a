/** HorizontalPodAutoscaler and PodDisruptionBudget status. */
import { hpaScaleStatus } from '../hpa.js';
import { arr, num, obj, str, type JsonObject } from '../json.js';
import { matchesLabelSelector } from '../selectors.js';
import type { Snapshot } from '../simulation.js';
import type { Entry } from '../store.js';
import { condition } from './common.js';

export function hpaStatus(s: Snapshot, entry: Entry): JsonObject {
  const spec = obj(entry.content, 'spec');
  const ref = obj(spec, 'scaleTargetRef');
  const targetKind = str(ref, 'kind') ?? '';
  const target = s.find(targetKind, entry.namespace, str(ref, 'name') ?? '');
  const min = num(spec, 'minReplicas') ?? 1;
  const current = target ? (num(target.content, 'spec', 'replicas') ?? 1) : 0;
  const metrics = arr(spec, 'metrics');
  const custom = metrics.filter((m) => ['Pods', 'Object', 'External'].includes(str(m, 'type') ?? ''));
  const metricName = (m: unknown) =>
    str(m, 'pods', 'metric', 'name') ??
    str(m, 'object', 'metric', 'name') ??
    str(m, 'external', 'metric', 'name') ??
    '';
  const active = custom.length === 0 || s.customMetricsAvailable();
  const group = targetKind === 'Deployment' || targetKind === 'StatefulSet' ? '.apps' : '';
  // A target scaled to zero switches the HPA off until it is scaled up again (hpa.ts).
  const disabled = target !== undefined && current === 0 && min > 0;
  return {
    ...hpaScaleStatus(entry, target),
    conditions: [
      target
        ? condition(
            s.now,
            'AbleToScale',
            true,
            'ReadyForNewScale',
            'recommended size matches current size',
            entry.createdMs,
          )
        : condition(
            s.now,
            'AbleToScale',
            false,
            'FailedGetScale',
            `the HPA controller was unable to get the target's current scale: ${targetKind.toLowerCase()}s${group} "${str(ref, 'name')}" not found`,
            entry.createdMs,
          ),
      disabled
        ? condition(
            s.now,
            'ScalingActive',
            false,
            'ScalingDisabled',
            'scaling is disabled since the replica count of the target is zero',
            entry.createdMs,
          )
        : active
          ? condition(
              s.now,
              'ScalingActive',
              true,
              'ValidMetricFound',
              'the HPA was able to successfully calculate a replica count',
              entry.createdMs,
            )
          : condition(
              s.now,
              'ScalingActive',
              false,
              custom[0] && str(custom[0], 'type') === 'Pods'
                ? 'FailedGetPodsMetric'
                : 'FailedGetObjectMetric',
              `the HPA was unable to compute the replica count: unable to get metric ${metricName(custom[0])}: unable to fetch metrics from custom metrics API: the server could not find the requested resource (get pods.custom.metrics.k8s.io *)`,
              entry.createdMs,
            ),
    ],
  };
}

export function pdbStatus(s: Snapshot, entry: Entry): JsonObject {
  const spec = obj(entry.content, 'spec');
  const selector = spec.selector;
  const pods = s.pods.filter(
    (p) =>
      p.namespace === entry.namespace &&
      p.finishMs === undefined &&
      matchesLabelSelector(p.labels, selector ?? undefined),
  );
  const healthy = pods.filter((p) => p.readyMs <= s.now).length;
  const resolve = (v: unknown) =>
    typeof v === 'string' && v.endsWith('%')
      ? Math.ceil((pods.length * Number(v.slice(0, -1))) / 100)
      : Number(v ?? 0);
  const desired =
    spec.minAvailable !== undefined
      ? resolve(spec.minAvailable)
      : spec.maxUnavailable !== undefined
        ? Math.max(0, pods.length - resolve(spec.maxUnavailable))
        : 0;
  const allowed = Math.max(0, healthy - desired);
  return {
    observedGeneration: entry.generation,
    currentHealthy: healthy,
    desiredHealthy: desired,
    expectedPods: pods.length,
    disruptionsAllowed: allowed,
    conditions: [
      condition(
        s.now,
        'DisruptionAllowed',
        allowed > 0,
        allowed > 0 ? 'SufficientPods' : 'InsufficientPods',
        '',
        entry.createdMs,
      ),
    ],
  };
}
