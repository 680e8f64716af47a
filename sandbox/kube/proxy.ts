/**
 * The service proxy (`/api/v1/namespaces/<ns>/services/<name>[:<port>]/proxy/<path>`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
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
