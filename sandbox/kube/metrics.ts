/**
 * custom.metrics.k8s.io, served once its APIService is Available.
 */
import type { ServerResponse } from 'node:http';
import { k8sTime } from './json.js';
import { matchesRequirements, parseLabelSelector } from './selectors.js';
import { ApiError } from './store.js';
import type { Cluster } from './cluster.js';
import { CUSTOM_METRICS_APISERVICE, CUSTOM_METRICS_GROUP } from './cluster.js';
import { send } from './http.js';

export function customMetrics(
  cluster: Cluster,
  res: ServerResponse,
  method: string,
  version: string,
  tail: string[],
  url: URL,
): void {
  const apiService = cluster.store.get(
    cluster.key(
      cluster.builtin('apiregistration.k8s.io', 'APIService'),
      undefined,
      CUSTOM_METRICS_APISERVICE,
    ),
  );
  if (!apiService || version !== 'v1beta1')
    throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
  const snapshot = cluster.snapshot();
  if (!snapshot.apiServiceAvailable(apiService))
    throw new ApiError(503, 'ServiceUnavailable', 'the server is currently unable to handle the request');
  if (method !== 'GET')
    throw new ApiError(
      405,
      'MethodNotAllowed',
      'the server does not allow this method on the requested resource',
    );
  const metrics = [...cluster.customMetricNames].sort();
  if (tail.length === 0)
    return send(res, 200, {
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
    !cluster.customMetricNames.has(metric)
  )
    throw new ApiError(404, 'NotFound', `the server could not find the metric ${metric ?? ''} for pods`);
  const selector = url.searchParams.get('labelSelector');
  const requirements = selector ? parseLabelSelector(selector) : [];
  const items = snapshot.pods
    .filter(
      (p) =>
        p.namespace === ns &&
        (podName === '*' || p.name === podName) &&
        p.readyMs <= cluster.now() &&
        matchesRequirements(p.labels, requirements),
    )
    .map((p) => ({
      describedObject: { kind: 'Pod', namespace: ns, name: p.name, apiVersion: '/v1' },
      metricName: metric,
      timestamp: k8sTime(cluster.now()),
      value: cluster.customMetricValues.get(metric) ?? '0',
      selector: null,
    }));
  send(res, 200, {
    kind: 'MetricValueList',
    apiVersion: `${CUSTOM_METRICS_GROUP}/v1beta1`,
    metadata: {},
    items,
  });
}
