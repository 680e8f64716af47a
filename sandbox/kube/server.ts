/**
 * HTTP: authentication, one instant per request, discovery, and the route to each verb and subresource.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CUSTOM_METRICS_GROUP, type Cluster } from './cluster.js';
import { notFound, send, sendStatus, type Call, type KubeRequest, type Route } from './http.js';
import { customMetrics } from './metrics.js';
import { proxy } from './proxy.js';
import { apiGroup, resourceList, type ResourceType } from './resources.js';
import { SelectorError } from './selectors.js';
import { ApiError, type Entry } from './store.js';
import { endpointsObject, log, scale, statusOnly, virtualPod } from './subresources.js';
import { create, deleteCollection, listCollection, patch, read, remove, replace } from './verbs.js';

export async function handle(cluster: Cluster, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const record: KubeRequest = {
    method: req.method ?? 'GET',
    path: url.pathname,
    query: url.search.replace(/^\?/, ''),
    ...(req.headers['content-type'] ? { contentType: req.headers['content-type'] } : {}),
    status: 0,
  };
  cluster.requests.push(record);
  if (cluster.stopped) {
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
    if (cluster.token !== undefined && req.headers.authorization !== `Bearer ${cluster.token}`)
      throw new ApiError(401, 'Unauthorized', 'Unauthorized');
    // One instant per request: with a ScaledClock, time would otherwise move between reads.
    let routed: Promise<void>;
    cluster.frozenNow = cluster.clock.now();
    try {
      cluster.sweep();
      routed = route(cluster, req, res, url, body);
    } finally {
      cluster.frozenNow = undefined;
    }
    await routed;
  } catch (e) {
    if (res.headersSent) {
      res.end();
      return;
    }
    if (e instanceof ApiError) return sendStatus(res, e);
    if (e instanceof SelectorError) return sendStatus(res, new ApiError(400, 'BadRequest', e.message));
    return sendStatus(
      res,
      new ApiError(500, 'InternalError', `simulator error: ${(e as Error).stack ?? String(e)}`),
    );
  }
}

async function route(
  cluster: Cluster,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  body: Buffer,
): Promise<void> {
  const method = req.method ?? 'GET';
  const segments = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  const [root, ...rest] = segments;

  if (method === 'GET' && ['healthz', 'readyz', 'livez'].includes(root ?? '') && rest.length === 0) {
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    return void res.end('ok');
  }
  if (method === 'GET' && root === 'version' && rest.length === 0) {
    const [major, minor] = cluster.kubernetesVersion.replace(/^v/, '').split('.');
    return send(res, 200, {
      major,
      minor,
      gitVersion: cluster.kubernetesVersion,
      platform: 'linux/amd64',
      goVersion: 'go1.23.10',
      compiler: 'gc',
    });
  }
  if (root === 'api' && rest.length === 0 && method === 'GET')
    return send(res, 200, {
      kind: 'APIVersions',
      versions: ['v1'],
      serverAddressByClientCIDRs: [
        { clientCIDR: '0.0.0.0/0', serverAddress: `${cluster.clusterName}.hcp.westeurope.azmk8s.io:443` },
      ],
    });
  if (root === 'apis' && rest.length === 0 && method === 'GET') {
    const groups = [...cluster.allGroupVersions()].map(([name, versions]) => apiGroup(name, versions));
    return send(res, 200, { kind: 'APIGroupList', apiVersion: 'v1', groups });
  }
  if (root === 'apis' && rest.length === 1 && method === 'GET') {
    const versions = cluster.allGroupVersions().get(rest[0]!);
    if (!versions) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    return send(res, 200, { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(rest[0]!, versions) });
  }
  let group: string;
  let version: string;
  let tail: string[];
  if (root === 'api' && rest[0] === 'v1') [group, version, tail] = ['', 'v1', rest.slice(1)];
  else if (root === 'apis' && rest.length >= 2) [group, version, tail] = [rest[0]!, rest[1]!, rest.slice(2)];
  else throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');

  if (group === CUSTOM_METRICS_GROUP) return customMetrics(cluster, res, method, version, tail, url);

  const types = cluster.typesFor(group, version);
  if (types.length === 0)
    throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
  if (tail.length === 0) {
    if (method !== 'GET')
      throw new ApiError(
        405,
        'MethodNotAllowed',
        `the server does not allow this method on the requested resource`,
      );
    return send(res, 200, resourceList(group ? `${group}/${version}` : version, types));
  }
  const route = parseRoute(group, version, types, tail, url.pathname);
  return dispatch(cluster, req, res, url, route, body);
}

function parseRoute(
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

async function dispatch(
  cluster: Cluster,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  route: Route,
  body: Buffer,
): Promise<void> {
  const query = url.searchParams;
  const call: Call = {
    cluster,
    req,
    res,
    route,
    body,
    method: req.method ?? 'GET',
    apiVersion: route.group ? `${route.group}/${route.version}` : route.version,
    query,
    dryRun: query.get('dryRun') === 'All',
  };
  if (query.get('watch') === 'true' || query.get('watch') === '1')
    throw new ApiError(400, 'BadRequest', 'watch is not supported by the simulated API server');

  if (route.subresource === 'proxy') return proxy(cluster, req, res, route, url, body);
  if (route.name === undefined) return (COLLECTION_VERBS.get(call.method) ?? methodNotAllowed)(call);
  return object(call, route.name);
}

const COLLECTION_VERBS = new Map<string, (call: Call) => void>([
  ['GET', listCollection],
  ['POST', create],
  ['DELETE', deleteCollection],
]);

/** Subresources served here; any other allowed one (e.g. a ServiceAccount's token) reaches the object. */
const SUBRESOURCES = new Map<string, (call: Call, existing: Entry | undefined) => void>([
  ['log', log],
  ['scale', scale],
  ['status', statusOnly],
  ['finalize', statusOnly],
]);

const OBJECT_VERBS = new Map<string, (call: Call, existing: Entry | undefined) => void>([
  ['GET', read],
  ['DELETE', remove],
  ['PUT', replace],
  ['PATCH', patch],
]);

function object(call: Call, name: string): void {
  const { cluster, res, method, route } = call;
  const { type, namespace, subresource } = route;
  const builtinKind = type.builtin ? type.kind : '';
  const existing = cluster.store.get(cluster.key(type, namespace, name));
  const snapshot = cluster.snapshot();

  // Virtual objects: pods created by workloads, endpoints of services.
  if (builtinKind === 'Pod' && !existing) {
    const pod = snapshot.pods.find((p) => p.namespace === namespace && p.name === name && !p.entry);
    if (pod) return virtualPod(cluster, res, method, pod, subresource);
  }
  if (builtinKind === 'Endpoints' && !existing && method === 'GET') {
    const service = snapshot.find('Service', namespace, name);
    if (!service) throw notFound(type, name);
    return send(res, 200, endpointsObject(service, snapshot));
  }

  const handler = subresource === undefined ? undefined : SUBRESOURCES.get(subresource);
  if (handler) return handler(call, existing);
  return (OBJECT_VERBS.get(method) ?? methodNotAllowed)(call, existing);
}

function methodNotAllowed(): never {
  throw new ApiError(
    405,
    'MethodNotAllowed',
    'the server does not allow this method on the requested resource',
  );
}
