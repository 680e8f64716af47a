/**
 * The sandbox's HTTP front: serves a started sandbox app on 127.0.0.1, converting each request into a
 * `FunctionsHost.http` call (method, absolute URL, headers, raw body bytes), so routing, function keys and
 * the app's answers are those of the deployed app. `GET /_sandbox/inventory` (no key) lists what exists in
 * the simulated cloud: names, types, tags and properties, never a secret value. `GET /_sandbox/token`
 * (no key) mints a development bearer token: `?roles=` (comma-separated), `?oid=`, `?groups=`.
 *
 * Used by `npm run sandbox` (sandbox/cli.ts) and by the benchmarks (bench/).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SandboxApp } from './app.js';
import type { Json, JsonObject } from './kube/json.js';

export const HOST = '127.0.0.1';
/** The Functions host's own request size limit (100 MB); the app refuses anything over 64 KiB itself. */
const MAX_REQUEST_BYTES = 100 * 1024 * 1024;
export const INVENTORY_PATH = '/_sandbox/inventory';
export const TOKEN_PATH = '/_sandbox/token';

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';
const isObject = (v: Json | undefined): v is JsonObject =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** What exists in the simulated cloud: identities, tags and non-secret properties only. */
export function inventory(app: SandboxApp, includeSystem: boolean) {
  return {
    azure: app.arm.inventory().map(({ id, type, tags, properties }) => ({ id, type, tags, properties })),
    kubernetes: app.clusters
      .all()
      .flatMap(({ key, kube }) => kube.inventory({ includeSystem }).map((o) => ({ ...o, cluster: key })))
      .map(({ apiVersion, kind, metadata, cluster }) => {
        // Client-side apply copies a whole object, a Secret's data included, into this annotation: never show it.
        const annotations = metadata.annotations;
        if (isObject(annotations) && LAST_APPLIED in annotations) {
          const { [LAST_APPLIED]: _omitted, ...rest } = annotations;
          metadata = { ...metadata, annotations: rest };
        }
        return { cluster, apiVersion, kind, metadata };
      }),
    keyVault: app.keyVault.inventory().map(({ name, deleted }) => ({ name, deleted })),
  };
}

class TooLarge extends Error {}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_REQUEST_BYTES) throw new TooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function send(res: ServerResponse, status: number, headers: Record<string, string>, body: string) {
  const out: Record<string, string | number> = {};
  // Framing is this server's business: the body is re-sent whole, with its own length.
  for (const [name, value] of Object.entries(headers))
    if (!/^(content-length|transfer-encoding|keep-alive)$/i.test(name)) out[name] = value;
  const bodyAllowed = status !== 204 && status !== 304 && !(status >= 100 && status < 200);
  if (bodyAllowed) out['content-length'] = Buffer.byteLength(body);
  res.writeHead(status, out);
  res.end(bodyAllowed && res.req.method !== 'HEAD' ? body : undefined);
}

/**
 * Serves `app` on 127.0.0.1:`port` (0: any free port) until the returned server is closed. `log` receives
 * one line per request that failed inside the sandbox (answered 500).
 */
export function serveSandbox(app: SandboxApp, port: number, log: (message: string) => void): Promise<Server> {
  const server = createServer((req, res) => {
    void (async () => {
      const fallbackBase = `http://${HOST}:${(server.address() as AddressInfo).port}`;
      let url: URL;
      try {
        url = new URL(req.url ?? '/', req.headers.host ? `http://${req.headers.host}` : fallbackBase);
      } catch {
        url = new URL(req.url ?? '/', fallbackBase);
      }
      try {
        if (url.pathname === INVENTORY_PATH) {
          if (req.method !== 'GET' && req.method !== 'HEAD') {
            send(res, 405, { allow: 'GET, HEAD' }, '');
            return;
          }
          const body = JSON.stringify(
            inventory(app, url.searchParams.get('includeSystem') === 'true'),
            null,
            2,
          );
          send(res, 200, { 'content-type': 'application/json' }, `${body}\n`);
          return;
        }
        if (url.pathname === TOKEN_PATH) {
          const list = (name: string) =>
            (url.searchParams.get(name) ?? '')
              .split(',')
              .map((v) => v.trim())
              .filter(Boolean);
          const oid = url.searchParams.get('oid') ?? undefined;
          const token = await app.identities.mint({
            roles: list('roles'),
            groups: list('groups'),
            ...(oid ? { oid } : {}),
          });
          send(res, 200, { 'content-type': 'application/json' }, `${JSON.stringify({ token })}\n`);
          return;
        }
        const body = await readBody(req);
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(req.headers))
          if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
        const reply = await app.host.http({ method: req.method ?? 'GET', url: url.href, headers, body });
        send(res, reply.status, reply.headers, reply.body);
      } catch (e) {
        if (e instanceof TooLarge) {
          // The rest of the body is not read: close the connection once the answer is out.
          res.once('finish', () => req.destroy());
          send(res, 413, { connection: 'close' }, '');
          return;
        }
        log(`${req.method} ${url.pathname}: ${(e as Error).stack ?? String(e)}`);
        if (!res.headersSent) send(res, 500, {}, '');
        else res.destroy();
      }
    })();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, HOST, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
