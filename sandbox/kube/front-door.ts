/**
 * The front of the sandbox's AKS API servers: one HTTPS listener on loopback (server certificate for
 * 127.0.0.1, signed by a CA generated at runtime) for every cluster, each at `<base>/clusters/<key>`. It
 * authenticates and authorizes as AKS does, then forwards to that cluster's simulated API server (plain
 * http, no authentication of its own):
 *
 * - a client certificate issued by the cluster's own CA (the admin kubeconfig's `masterclient`, group
 *   system:masters) is accepted only while the cluster has local accounts;
 * - otherwise a bearer token: on an Entra-integrated cluster, a token of the sandbox's Entra for AKS's
 *   server application (audience 6dae42f8-…), not expired. Anything else, or nothing, is 401 Unauthorized;
 * - with Azure RBAC for Kubernetes, the token's `oid` needs a role assignment granting Kubernetes access at
 *   the cluster's scope or above that has taken effect; without one the answer is 403 Forbidden, a Status
 *   with AKS's message.
 *
 * azure-real-behaviours F9 and the "Local accounts vs Entra ID" row.
 */
import { createServer, type Server } from 'node:https';
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Clock } from '../clock.js';
import { AKS_SERVER_APP_ID, verifyToken } from '../azure/entra.js';
import type { SimulatedKubernetes } from './apiserver.js';
import { sendStatus } from './http.js';
import { SandboxPki, type PemPair } from './pki.js';
import { ApiError } from './store.js';

/** What the simulated ARM knows about a cluster's access (its AKS settings and role assignments). */
export interface ClusterAuthority {
  /** Undefined: no such cluster (every request is then let through, as for a cluster made by a test). */
  access(key: string): { localAccounts: boolean; entra: boolean; azureRbac: boolean } | undefined;
  /** Whether a role assignment granting Kubernetes access to `principalId` has taken effect on the cluster. */
  mayUseKubernetes(key: string, principalId: string): boolean;
  /** The API server's FQDN of the cluster as it exists now (a new one when it was created again). */
  fqdn?(key: string): string | undefined;
}

/** Who a request to a cluster authenticated as. */
export interface FrontDoorRequest {
  key: string;
  method: string;
  path: string;
  /** `cert:<CN>`, `entra:<oid>`, or `anonymous`. */
  user: string;
  /** The bearer token's audience, when one was sent and verified. */
  audience?: string;
  status: number;
}

/** Implements what the simulated ARM puts into kubeconfigs (`KubeAccessPoint`). */
export class AksFrontDoor {
  readonly requests: FrontDoorRequest[] = [];
  /** TLS connections accepted so far (a client that keeps its connections opens one per cluster). */
  connections = 0;
  private listener?: Server;
  private base = '';
  private pki?: SandboxPki;

  constructor(
    private readonly clock: Clock,
    /** The simulated API server of the cluster `key`. */
    private readonly target: (key: string) => Promise<SimulatedKubernetes>,
    private readonly authority?: ClusterAuthority,
  ) {}

  async listen(): Promise<string> {
    this.pki = await SandboxPki.create();
    this.listener = createServer(
      {
        cert: this.pki.server.certificate,
        key: this.pki.server.key,
        // Asked for, verified per cluster in the handler (each cluster has its own CA).
        requestCert: true,
        rejectUnauthorized: false,
      },
      (req, res) => void this.handle(req, res),
    );
    this.listener.on('secureConnection', () => this.connections++);
    await new Promise<void>((resolve) => this.listener!.listen(0, '127.0.0.1', resolve));
    this.base = `https://127.0.0.1:${(this.listener.address() as AddressInfo).port}`;
    return this.base;
  }

  get caPem(): string {
    return this.pkiOrThrow.caPem;
  }

  private get pkiOrThrow(): SandboxPki {
    if (!this.pki) throw new Error('AksFrontDoor: call listen() first');
    return this.pki;
  }

  /**
   * The API server URL of the cluster `key` (the ARM's cluster id, lower-cased); with `fqdn`, of that
   * incarnation of it only (what a kubeconfig from the simulated ARM names).
   */
  serverFor(key: string, fqdn?: string): string {
    return `${this.base}/clusters/${encodeURIComponent(key)}${fqdn ? `@${encodeURIComponent(fqdn)}` : ''}`;
  }

  server(cluster: { id: string; fqdn?: string }): string {
    return this.serverFor(cluster.id.toLowerCase(), cluster.fqdn);
  }

  adminCertificate(cluster: { id: string }): Promise<PemPair> {
    return this.pkiOrThrow.adminCertificate(cluster.id.toLowerCase());
  }

  async close(): Promise<void> {
    if (!this.listener) return;
    this.listener.closeAllConnections();
    await new Promise<void>((resolve) => this.listener!.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const match = /^\/clusters\/([^/?]+)(.*)$/.exec(req.url ?? '');
    if (!match) {
      res.writeHead(404).end();
      return;
    }
    const [encodedKey, encodedFqdn] = match[1]!.split('@');
    const key = decodeURIComponent(encodedKey!);
    const rest = match[2] || '/';
    // The address of a cluster deleted since (re-created under the same name at a new FQDN) resolves
    // nowhere: the connection fails, as a name that no longer exists does.
    const fqdn = encodedFqdn === undefined ? undefined : decodeURIComponent(encodedFqdn);
    if (this.authority?.fqdn && fqdn !== undefined && this.authority.fqdn(key) !== fqdn) {
      req.socket.destroy();
      return;
    }
    const record: FrontDoorRequest = {
      key,
      method: req.method ?? 'GET',
      path: new URL(rest, 'http://localhost').pathname,
      user: 'anonymous',
      status: 0,
    };
    this.requests.push(record);
    try {
      await this.authenticate(key, req, record);
    } catch (e) {
      req.resume();
      if (e instanceof ApiError) {
        record.status = e.code;
        return sendStatus(res, e);
      }
      throw e;
    }
    const kube = await this.target(key);
    const headers = { ...req.headers };
    delete headers.authorization;
    const upstream = httpRequest(new URL(rest, kube.url), { method: req.method, headers }, (answer) => {
      record.status = answer.statusCode ?? 502;
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  }

  private async authenticate(key: string, req: IncomingMessage, record: FrontDoorRequest): Promise<void> {
    const access = this.authority?.access(key);
    const unauthorized = () => new ApiError(401, 'Unauthorized', 'Unauthorized');
    const peer = (req.socket as TLSSocket).getPeerCertificate?.();
    if (peer?.raw) {
      const user = await this.pkiOrThrow.clientUser(key, peer.raw, Date.now());
      if (!user || (access && !access.localAccounts)) throw unauthorized();
      record.user = `cert:${user.name}`;
      return;
    }
    const bearer = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (!bearer || (access && !access.entra)) throw unauthorized();
    const verified = await verifyToken(bearer, AKS_SERVER_APP_ID, this.clock.now());
    if (!verified.ok) throw unauthorized();
    record.user = `entra:${verified.claims.oid}`;
    record.audience = verified.claims.aud;
    if (access?.azureRbac && !this.authority!.mayUseKubernetes(key, verified.claims.oid))
      throw forbidden(verified.claims.oid, record.method, record.path);
  }
}

/** AKS's refusal with Azure RBAC and no effective role assignment (the resource and verb from the path). */
function forbidden(user: string, method: string, path: string): ApiError {
  const segments = path.split('/').filter(Boolean);
  const core = segments[0] === 'api';
  const group = core ? '' : (segments[1] ?? '');
  let tail = segments.slice(core ? 2 : 3);
  let namespace: string | undefined;
  if (tail[0] === 'namespaces' && tail.length > 2) {
    namespace = tail[1];
    tail = tail.slice(2);
  }
  const resource = tail[0] ?? '';
  const verb =
    {
      GET: tail.length > 1 ? 'get' : 'list',
      POST: 'create',
      PUT: 'update',
      PATCH: 'patch',
      DELETE: 'delete',
    }[method] ?? method.toLowerCase();
  const where = namespace ? `in the namespace "${namespace}"` : 'at the cluster scope';
  return new ApiError(
    403,
    'Forbidden',
    `${resource} is forbidden: User "${user}" cannot ${verb} resource "${resource}" in API group "${group}" ${where}: User does not have access to the resource in Azure. Update role assignment to allow access.`,
    { kind: resource },
  );
}
