/**
 * The service proxy (`/api/v1/namespaces/<ns>/services/<name>[:<port>]/proxy/<path>`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { waitUntil } from '../clock.js';
import { num, obj, str, type Json } from './json.js';
import { ApiError } from './store.js';
import type { Cluster } from './cluster.js';
import { notFound, type Route } from './http.js';

export async function proxy(
  cluster: Cluster,
  req: IncomingMessage,
  res: ServerResponse,
  route: Route,
  url: URL,
  body: Buffer,
): Promise<void> {
  const raw = route.name!;
  const type = route.type;
  if (!(type.builtin && type.kind === 'Service'))
    throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
  const parts = raw.split(':');
  const [serviceName, port] = parts.length === 3 ? [parts[1]!, parts[2]] : [parts[0]!, parts[1]];
  const snapshot = cluster.snapshot();
  const service = snapshot.find('Service', route.namespace, serviceName);
  if (!service) throw notFound(type, serviceName);
  const ports = (obj(service.content, 'spec').ports as Json[] | undefined) ?? [];
  if (
    port !== undefined &&
    port !== '' &&
    !ports.some((p) => String(num(p, 'port')) === port || str(p, 'name') === port)
  )
    throw new ApiError(
      503,
      'ServiceUnavailable',
      `no service port "${port}" found for service "${serviceName}"`,
    );
  const { ready } = snapshot.endpoints(service);
  if (cluster.proxyRequiresEndpoints && ready.length === 0)
    throw new ApiError(503, 'ServiceUnavailable', `no endpoints available for service "${raw}"`);
  const path = `${route.proxyPath || '/'}${url.search
    .replace(/^\?/, '')
    .split('&')
    .filter((p) => p && !p.startsWith('path='))
    .join('&')
    .replace(/^(.)/, '?$1')}`;
  if (serviceName === cluster.interceptorService && cluster.ollama)
    return intercept(cluster, route.namespace ?? 'default', req.method ?? 'GET', path, body, res);
  if (serviceName === cluster.ollamaService && cluster.ollama) {
    const backend = ready[0];
    return cluster.ollama.serve(
      req.method ?? 'GET',
      path,
      body,
      res,
      backend ? { gpu: backend.gpu > 0 } : {},
    );
  }
  const target = `${snapshot.clusterIp(service)}:${port ?? String(num(ports[0], 'port') ?? 80)}`;
  throw new ApiError(
    503,
    'ServiceUnavailable',
    `error trying to reach service: dial tcp ${target}: connect: connection refused`,
  );
}

/**
 * The interceptor in front of Ollama (manifests/62-ollama-wake.yaml: Caddy's reverse_proxy): it tries the
 * `ollama` Service every `lb_try_interval` until `lb_try_duration` has passed; while the Service has no
 * ready endpoint each dial is refused and tried again, so the request is held, and counted in
 * caddy_http_requests_in_flight (what KEDA reads), until an Ollama pod is ready, which then answers it. After
 * the try duration Caddy answers 502. The durations are read from the ConfigMap's Caddyfile as deployed.
 * While it holds a request, the cluster's controllers (KEDA, the autoscaler) move on with simulated time.
 */
async function intercept(
  cluster: Cluster,
  namespace: string,
  method: string,
  path: string,
  body: Buffer,
  res: ServerResponse,
): Promise<void> {
  const caddyfile = String(
    obj(cluster.snapshot().find('ConfigMap', namespace, cluster.interceptorService)?.content, 'data')
      .Caddyfile ?? '',
  );
  const tryMs = caddyDuration(/lb_try_duration\s+(\S+)/.exec(caddyfile)?.[1]) ?? 0;
  const intervalMs = caddyDuration(/lb_try_interval\s+(\S+)/.exec(caddyfile)?.[1]) ?? 250;
  const deadline = cluster.now() + tryMs;
  cluster.interceptorInFlight++;
  try {
    for (;;) {
      cluster.sweep();
      const snapshot = cluster.snapshot();
      const service = snapshot.find('Service', namespace, cluster.ollamaService);
      const backend = service ? snapshot.endpoints(service).ready[0] : undefined;
      if (backend) return await cluster.ollama!.serve(method, path, body, res, { gpu: backend.gpu > 0 });
      if (cluster.now() >= deadline) {
        res.writeHead(502, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('');
        return;
      }
      await waitUntil(cluster.clock, Math.min(deadline, cluster.now() + intervalMs));
    }
  } finally {
    cluster.interceptorInFlight--;
  }
}

/** A Caddyfile duration (`10m`, `2s`, `500ms`, `1h`) in milliseconds. */
function caddyDuration(value: string | undefined): number | undefined {
  const m = value ? /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(value) : null;
  if (!m) return undefined;
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
}
