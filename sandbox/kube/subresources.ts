/**
 * Subresources and virtual objects: scale, pods created by workloads, endpoints derived from Services.
 */
import type { ServerResponse } from 'node:http';
import { parse as parseYaml } from 'yaml';
import type { Cluster } from './cluster.js';
import { defaultManager, notFound, send, type Call } from './http.js';
import {
  arr,
  clone,
  jsonPatch,
  k8sTime,
  mergePatch,
  num,
  obj,
  str,
  strMap,
  type Json,
  type JsonObject,
} from './json.js';
import type { PodView, Snapshot } from './simulation.js';
import { ApiError, planUpdate, type Entry } from './store.js';

export function scale(call: Call, existing: Entry | undefined): void {
  const { cluster, req, res, route, body, dryRun } = call;
  const method = req.method ?? 'GET';
  const { type, name } = route;
  if (!existing) throw notFound(type, name!);
  const scaleObject = (e: Entry): JsonObject => {
    const status = cluster.snapshot().status(e);
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
  if (method === 'GET') return send(res, 200, scaleObject(existing));
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
  const manager = new URL(req.url ?? '/', 'http://x').searchParams.get('fieldManager') ?? defaultManager(req);
  const candidate = planUpdate(
    existing,
    content,
    manager,
    route.group ? `${route.group}/${route.version}` : route.version,
    k8sTime(cluster.now()),
    'scale',
  );
  const { entry } = cluster.commit(
    existing.type,
    existing.namespace,
    existing.name,
    existing,
    candidate,
    dryRun,
  );
  send(res, 200, scaleObject(entry));
}

export function virtualPod(
  cluster: Cluster,
  res: ServerResponse,
  method: string,
  pod: PodView,
  subresource: string | undefined,
): void {
  const snapshot = cluster.snapshot();
  if (subresource === 'log') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    return void res.end(pod.failureMessage ? `${pod.failureMessage}\n` : '');
  }
  if (method === 'GET') return send(res, 200, snapshot.renderPod(pod));
  if (method === 'DELETE') {
    // The controller replaces the pod: it starts over from now.
    const owner = pod.owner;
    if (owner && (owner.type.kind === 'Deployment' || owner.type.kind === 'StatefulSet')) {
      const index = snapshot.podsOf(owner).indexOf(pod);
      const times = owner.podTimes ?? [];
      times[index] = cluster.now();
      owner.podTimes = times;
      cluster.touch();
    }
    return send(res, 200, snapshot.renderPod(pod));
  }
  throw new ApiError(
    405,
    'MethodNotAllowed',
    'pods created by controllers can only be read or deleted in the simulator',
  );
}

export function endpointsObject(service: Entry, snapshot: Snapshot): JsonObject {
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

export function log(call: Call, existing: Entry | undefined): void {
  if (!existing) throw notFound(call.route.type, call.route.name!);
  const pod = call.cluster.snapshot().pods.find((p) => p.entry === existing);
  call.res.writeHead(200, { 'content-type': 'text/plain' });
  call.res.end(pod?.failureMessage ? `${pod.failureMessage}\n` : '');
}

/** `status` and `finalize`: readable; the simulator computes status itself. */
export function statusOnly(call: Call, existing: Entry | undefined): void {
  if (!existing) throw notFound(call.route.type, call.route.name!);
  if (call.method === 'GET') return send(call.res, 200, call.cluster.render(existing, call.apiVersion));
  throw new ApiError(
    405,
    'MethodNotAllowed',
    `the simulated API server computes status itself; ${call.route.subresource} writes are not supported`,
  );
}
