/**
 * Simulated Azure Resource Manager for the resources a platform consists of: resource groups, AKS managed
 * clusters (and their outbound public IP), PostgreSQL flexible servers with configurations, databases and
 * firewall rules, storage accounts with file shares. The real ARM SDK clients talk to it through
 * `forwardingHttpClient` (they keep https://management.azure.com; this server is plain http on loopback).
 *
 * ARM rules modeled (each provider file says which of its own it models):
 * - long-running operations whose progress is a function of the sandbox clock, announced and polled in the
 *   Azure-AsyncOperation style (status body) or the Location style (202 until done, then the result), with
 *   Retry-After on every in-progress answer;
 * - PUT is idempotent: the same body on a resource in a terminal, non-failed state answers 200 and starts
 *   nothing; a different body is an update (an LRO again where the service makes it one). During a
 *   creation, the same body answers 200 with the in-progress body, and SDK pollers then poll the resource;
 * - one mutating operation at a time per resource (409), delete excepted;
 * - resource group delete is a Location LRO that removes everything inside, and what it owns, at the end;
 * - 404 with `ResourceNotFound` / `ResourceGroupNotFound`, DELETE of what is gone answers 204 (resource
 *   groups: 404), every error is `{ "error": { "code", "message" } }`.
 * - request budgets: ARM's and the AKS resource provider's token buckets, 429 with Retry-After when empty,
 *   the remaining counts on every answer (sandbox/azure/arm/budgets.ts).
 * See sandbox/azure/arm/faults.ts for fault injection and what the SDK does with each fault.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../clock.js';
import type { ClusterAuthority } from '../kube/front-door.js';
import {
  AKS_TYPE,
  aksApiServer,
  clusterFqdn,
  aksListRoute,
  aksRoute,
  clusterAccess,
  startAksUpgrade,
  type ApiServerState,
  type KubeAccessPoint,
} from './arm/aks.js';
import { holdsKubernetesRole, roleAssignmentRoute } from './arm/authorization.js';
import { ArmBudgets, PUBLISHED_BUDGETS, principalOf, type BudgetSizes } from './arm/budgets.js';
import { ArmFaults, type ArmOperationName, type Fault } from './arm/faults.js';
import { computeUsagesRoute, DEFAULT_QUOTA_LIMITS } from './arm/compute.js';
import { publicIpRoute } from './arm/network.js';
import { PLAIN_TYPES, plainRoute } from './arm/plain.js';
import { PG_TYPE, pgRoute, registerPgAutoStart } from './arm/postgres.js';
import {
  assertGroupWritable,
  resourceGroupNotFound,
  resourceGroupRoute,
  resourceGroupsRoute,
} from './arm/resource-groups.js';
import type { ProviderRequest, RequestContext, Route } from './arm/route.js';
import { STORAGE_TYPE, storageRoute } from './arm/storage.js';
import {
  ArmError,
  DEFAULT_DURATIONS,
  fakeGuid,
  normLocation,
  obj,
  World,
  type ArmCreation,
  type ArmEvent,
  type Durations,
  type Obj,
  type Operation as ArmOperation,
  type OperationStatus,
  type Reply,
} from './arm/world.js';

export {
  ArmFaults,
  armFault,
  seededRandom,
  type ArmOperationName,
  type Fault,
  type FaultTarget,
} from './arm/faults.js';
export { type ApiServerState, type KubeAccessPoint } from './arm/aks.js';
export { PUBLISHED_BUDGETS, scaledBudgets, type BudgetSizes } from './arm/budgets.js';
export { CONFIGURATIONS as PG_CONFIGURATIONS } from './arm/postgres.js';
export { storageKey } from './arm/storage.js';
export {
  DEFAULT_DURATIONS,
  PG_AUTO_START_AFTER_MS,
  type ArmCreation,
  type ArmEvent,
  type Durations,
} from './arm/world.js';

export interface SimulatedArmOptions {
  clock: Clock;
  /** The subscription served by default (tests that use one). */
  subscriptionId: string;
  /**
   * Further subscriptions this ARM serves, each with its own resources, operations and quota (one Entra
   * tenant and one ARM endpoint serve every subscription the caller has a role in). Others answer 404
   * SubscriptionNotFound.
   */
  moreSubscriptionIds?: readonly string[];
  durations?: Partial<Durations>;
  /** The API servers returned kubeconfigs point at (their server URL, CA and the admin certificates). */
  kubeAccess?: KubeAccessPoint;
  /**
   * Lower bound of Retry-After on LRO answers, in seconds (default 1, as Azure). SDK pollers sleep that
   * long in real time, so tests pass 0 (the SDK then polls at its `updateIntervalInMs`).
   */
  retryAfterSeconds?: number;
  /** Upper bound of Retry-After, in seconds (default 15). */
  maxRetryAfterSeconds?: number;
  /** The endpoint clients use, written into polling URLs (default https://management.azure.com). */
  publicEndpoint?: string;
  /** Microsoft.Compute quota limits by usage name (`cores`, `lowPriorityCores`, a family), every region. */
  quotaLimits?: Record<string, number>;
  /**
   * ARM's and AKS's request budgets (token buckets on the sandbox clock): the published sizes by default,
   * other sizes for tests (`scaledBudgets`), `false` for none.
   */
  budgets?: BudgetSizes | false;
  /** The region of requests that name none (subscription-level reads), as ARM counts the caller's. */
  callerRegion?: string;
}

export interface ArmRequestRecord {
  method: string;
  path: string;
  apiVersion?: string;
  body?: unknown;
  /** 0 when the connection was dropped. */
  status: number;
  /** Sandbox clock time of arrival. */
  at: number;
  op?: ArmOperationName;
  fault?: Fault['kind'];
  /** The Retry-After (seconds) the answer carried, if any. */
  retryAfter?: number;
}

export interface InventoryItem {
  id: string;
  type: string;
  tags: Record<string, string>;
  properties: Obj;
}

export interface OperationSummary {
  id: string;
  kind: string;
  resourceId: string;
  startedAt: number;
  endsAt: number;
  status: OperationStatus;
}

const PROVIDERS: Record<string, (ctx: ProviderRequest) => Route> = {
  'microsoft.containerservice/managedclusters': aksRoute,
  'microsoft.dbforpostgresql/flexibleservers': pgRoute,
  'microsoft.storage/storageaccounts': storageRoute,
  'microsoft.network/publicipaddresses': publicIpRoute,
  ...Object.fromEntries(Object.keys(PLAIN_TYPES).map((type) => [type.toLowerCase(), plainRoute(type)])),
};

/**
 * How long the simulated ARM takes to create a resource of a type (what a benchmark's lower bound needs):
 * the long-running creations their duration setting, the types created within the request none.
 */
export function creationMs(durations: Durations, type: string): number {
  const lro: Record<string, keyof Durations> = {
    [AKS_TYPE.toLowerCase()]: 'aksCreate',
    [PG_TYPE.toLowerCase()]: 'pgCreate',
    [STORAGE_TYPE.toLowerCase()]: 'storageCreate',
  };
  const setting = lro[type.toLowerCase()];
  if (setting) return durations[setting];
  if (Object.keys(PLAIN_TYPES).some((t) => t.toLowerCase() === type.toLowerCase())) return 0;
  throw new Error(`the sandbox ARM does not create resources of type ${type}`);
}

const STATUS_SEGMENTS = new Set(['operations', 'azureasyncoperation', 'operationstatuses']);
const RESULT_SEGMENTS = new Set(['operationresults', 'asyncoperations']);

export class SimulatedArm implements ClusterAuthority {
  readonly faults = new ArmFaults();
  /** Every request received, in order. */
  readonly requests: ArmRequestRecord[] = [];
  /** Exceptions thrown by the simulator itself (answered 500): a test should expect none. */
  readonly internalErrors: Error[] = [];
  /** The default subscription's world. */
  private readonly world: World;
  /** Every subscription served, by lower-case id: its resources, operations and quota limits. */
  private readonly subscriptions = new Map<string, { world: World; quotaLimits: Record<string, number> }>();
  private server?: Server;
  private base?: string;
  private requestSeq = 0;

  /** The request budgets in force (undefined: none); `budgets.throttled` counts the 429s answered. */
  readonly budgets?: ArmBudgets;
  private readonly callerRegion: string;

  constructor(options: SimulatedArmOptions) {
    if (options.budgets !== false) this.budgets = new ArmBudgets(options.budgets ?? PUBLISHED_BUDGETS);
    this.callerRegion = normLocation(options.callerRegion ?? 'eastus');
    for (const subscriptionId of [options.subscriptionId, ...(options.moreSubscriptionIds ?? [])]) {
      const world = new World({
        clock: options.clock,
        subscriptionId,
        durations: { ...DEFAULT_DURATIONS, ...options.durations },
        publicEndpoint: options.publicEndpoint ?? 'https://management.azure.com',
        retryAfterSeconds: options.retryAfterSeconds ?? 1,
        maxRetryAfterSeconds: options.maxRetryAfterSeconds ?? 15,
        kubeAccess: options.kubeAccess,
      });
      registerPgAutoStart(world);
      this.subscriptions.set(subscriptionId.toLowerCase(), {
        world,
        quotaLimits: { ...DEFAULT_QUOTA_LIMITS, ...options.quotaLimits },
      });
    }
    this.world = this.subscriptions.get(options.subscriptionId.toLowerCase())!.world;
  }

  private get worlds(): World[] {
    return [...this.subscriptions.values()].map((s) => s.world);
  }

  /** The world of the subscription a resource id names (the default one when it names none served). */
  private worldOf(id: string): World {
    const sub = /^\/subscriptions\/([^/]+)/i.exec(id)?.[1]?.toLowerCase();
    return (sub && this.subscriptions.get(sub)?.world) || this.world;
  }

  private settleAll(): void {
    for (const world of this.worlds) world.settle();
  }

  async listen(port = 0): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.base;
  }

  /** Where this server listens (plain http on loopback), for callers that speak ARM's HTTP API directly. */
  get url(): string {
    if (!this.base) throw new Error('SimulatedArm: call listen() first');
    return this.base;
  }

  async close() {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  /** Every resource that exists now (resource groups included), sorted by id. */
  inventory(): InventoryItem[] {
    this.settleAll();
    return this.worlds
      .flatMap((w) => [...w.resources.values()])
      .sort((a, b) => a.key.localeCompare(b.key))
      .map((r) => ({ id: r.id, type: r.type, tags: { ...r.tags }, properties: obj(r.present().properties) }));
  }

  /** The GET representation of a resource, or undefined. */
  resource(id: string): Obj | undefined {
    const world = this.worldOf(id);
    world.settle();
    return world.get(id)?.present();
  }

  /** Long-running operations still in progress. */
  operations(): OperationSummary[] {
    this.settleAll();
    return this.worlds.flatMap((world) => world.inProgress().map((op) => summary(world, op)));
  }

  /** Every long-running operation started so far, finished ones included, in the order they started. */
  allOperations(): OperationSummary[] {
    this.settleAll();
    return this.worlds.flatMap((world) =>
      [...world.operations.values()].sort((a, b) => a.seq - b.seq).map((op) => summary(world, op)),
    );
  }

  /**
   * Whether the API server of the AKS cluster `id` answers now (a stopped cluster's does not), for the
   * simulated Kubernetes API server to follow; without `id`, the cluster created last. Undefined: no cluster.
   */
  aksApiServer(id?: string): ApiServerState | undefined {
    if (id !== undefined) {
      const world = this.worldOf(id);
      world.settle();
      return aksApiServer(world, id);
    }
    const last = this.creations.filter((c) => c.type === AKS_TYPE).at(-1);
    return last ? aksApiServer(this.worldOf(last.id), last.id) : undefined;
  }

  /** How the AKS cluster `id` may be reached (local accounts, Entra ID, Azure RBAC); undefined: no cluster. */
  access(id: string): ReturnType<ClusterAuthority['access']> {
    const world = this.worldOf(id);
    world.settle();
    return clusterAccess(world, id);
  }

  /** The API server's FQDN of the AKS cluster `id` (new with each creation); undefined: no cluster. */
  fqdn(id: string): string | undefined {
    return clusterFqdn(this.worldOf(id), id);
  }

  /** Whether a Kubernetes role of `principalId` on the cluster `id` (or above) has taken effect. */
  mayUseKubernetes(id: string, principalId: string): boolean {
    const world = this.worldOf(id);
    world.settle();
    return holdsKubernetesRole(world, id, principalId);
  }

  /** When the next running operation ends (for tests driving a VirtualClock), or undefined. */
  nextCompletionAt(): number | undefined {
    const ends = this.operations().map((op) => op.endsAt);
    return ends.length ? Math.min(...ends) : undefined;
  }

  /** Every resource that came into existence, in order: a write to an existing resource is not one. */
  get creations(): readonly ArmCreation[] {
    this.settleAll();
    return this.worlds.flatMap((w) => w.creations).sort((a, b) => a.at - b.at);
  }

  /**
   * AKS starts an upgrade of a running cluster by itself (auto-upgrade): for `durationMs` of simulated time
   * the cluster is `Upgrading` and refuses every write with 409 OperationNotAllowed.
   */
  upgradeAksCluster(id: string, durationMs: number): void {
    startAksUpgrade(this.worldOf(id), id, durationMs);
  }

  /**
   * Sets a Microsoft.Compute quota limit (`cores`, `lowPriorityCores`, `standardNCASv3_T4Family`, …) of a
   * subscription (quota is per subscription and region); without one, the default subscription's.
   */
  setQuotaLimit(name: string, limit: number, subscriptionId?: string): void {
    const served = this.subscriptions.get((subscriptionId ?? this.world.subscriptionId).toLowerCase());
    if (!served) throw new Error(`the sandbox ARM does not serve subscription ${subscriptionId}`);
    served.quotaLimits[name] = limit;
  }

  /** Things Azure did by itself (a PostgreSQL server started after seven days stopped). */
  get events(): readonly ArmEvent[] {
    this.settleAll();
    return this.worlds.flatMap((w) => w.events).sort((a, b) => a.at - b.at);
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const at = this.world.now();
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const method = (req.method ?? 'GET').toUpperCase();
    // ARM tolerates the doubled leading slash the SDK's getById sends (`/{resourceId}` with an id that starts with `/`).
    const url = new URL((req.url ?? '/').replace(/^\/{2,}/, '/'), 'http://localhost');
    // The SDK may percent-encode the key (`api%2Dversion`); URLSearchParams decodes it.
    const query = new URLSearchParams(url.search);
    const path = url.pathname.replace(/\/{2,}/g, '/');
    const apiVersion = query.get('api-version') ?? undefined;
    let body: unknown;
    let invalidJson = false;
    if (raw) {
      try {
        body = JSON.parse(raw);
      } catch {
        body = raw;
        invalidJson = true;
      }
    }
    const record: ArmRequestRecord = { method, path, apiVersion, body, status: 0, at };
    this.requests.push(record);

    let reply: Reply;
    let budgetHeaders: Record<string, string> = {};
    try {
      this.settleAll();
      if (!apiVersion)
        throw new ArmError(
          400,
          'MissingApiVersionParameter',
          'The api-version query parameter (?api-version=) is required for all requests.',
        );
      if (invalidJson)
        throw new ArmError(
          400,
          'InvalidRequestContent',
          'The request content was invalid and could not be deserialized.',
        );
      const served = this.served(method, path);
      const route = this.route(
        { world: served.world, method, apiVersion, body: obj(body), query },
        path,
        served.quotaLimits,
      );
      record.op = route.op;
      const budget = this.budgets?.admit(this.budgetRequest(req, method, path, body, route.op));
      if (budget) budgetHeaders = budget.headers;
      if (budget && !budget.ok)
        throw new ArmError(429, budget.code, budget.message, {
          'retry-after': String(budget.retryAfterSeconds),
        });
      const fault = this.faults.take(route.op);
      record.fault = fault?.kind;
      if (fault?.kind === 'drop') {
        // Mid-flight connection loss: nothing was processed, the client sees ECONNRESET.
        req.socket.destroy();
        return;
      }
      reply = await (fault ? this.faultReply(fault, route) : route.run());
    } catch (e) {
      if (e instanceof ArmError)
        reply = {
          status: e.status,
          body: { error: e.body() },
          headers: e.headers,
        };
      else {
        const error = e instanceof Error ? e : new Error(String(e));
        this.internalErrors.push(error);
        reply = {
          status: 500,
          body: { error: { code: 'InternalServerError', message: `sandbox ARM bug: ${error.message}` } },
        };
      }
    }
    record.status = reply.status;
    const retryAfter = Object.entries(reply.headers ?? {}).find(
      ([k]) => k.toLowerCase() === 'retry-after',
    )?.[1];
    if (retryAfter !== undefined) record.retryAfter = Number(retryAfter);
    const requestId = fakeGuid('request', String(++this.requestSeq));
    const payload = reply.body === undefined || method === 'HEAD' ? '' : JSON.stringify(reply.body);
    res.writeHead(reply.status, {
      ...(payload ? { 'content-type': 'application/json; charset=utf-8' } : {}),
      'x-ms-request-id': requestId,
      'x-ms-correlation-request-id': requestId,
      ...budgetHeaders,
      ...reply.headers,
    });
    res.end(payload);
  }

  /** What the budgets key a request by: its principal, subscription, region, operation, AKS cluster. */
  private budgetRequest(
    req: IncomingMessage,
    method: string,
    path: string,
    body: unknown,
    op: ArmOperationName,
  ) {
    const lower = path
      .split('/')
      .filter(Boolean)
      .map((s) => decodeURIComponent(s).toLowerCase());
    const rest = lower.slice(2);
    // The region of the resource (its group's), of the operation URL, of the group being written; else the caller's.
    let region: string | undefined;
    if (rest[0] === 'providers' && rest[2] === 'locations' && rest[3]) region = rest[3];
    else if (rest[0] === 'resourcegroups' && rest[1]) {
      const group = this.world.resourceGroup(rest[1]);
      const sent = rest.length === 2 ? obj(body).location : undefined;
      region = group?.location ?? (typeof sent === 'string' ? sent : undefined);
    }
    const isCluster = rest[2] === 'providers' && rest[4] === 'managedclusters' && rest[5];
    return {
      now: this.world.now(),
      method,
      principal: principalOf(req.headers.authorization),
      subscriptionId: this.world.subscriptionId.toLowerCase(),
      region: normLocation(region ?? this.callerRegion),
      op,
      ...(isCluster ? { clusterKey: lower.slice(0, 8).join('/') } : {}),
      aksOperation: op === 'poll' && rest[1] === 'microsoft.containerservice',
    };
  }

  private faultReply(fault: Fault, route: Route): Reply | Promise<Reply> {
    const retryAfter = (s: number | undefined): Record<string, string> =>
      s === undefined ? {} : { 'retry-after': String(s) };
    switch (fault.kind) {
      case 'throttle':
        return {
          status: 429,
          body: {
            error: {
              code: 'TooManyRequests',
              message: 'The request is being throttled. Please retry later.',
            },
          },
          headers: retryAfter(fault.retryAfterSeconds),
        };
      case 'serverError': {
        const code = {
          500: 'InternalServerError',
          502: 'BadGateway',
          503: 'ServiceUnavailable',
          504: 'GatewayTimeout',
        }[fault.status];
        return {
          status: fault.status,
          body: { error: { code, message: `Simulated ${code}.` } },
          headers: retryAfter(fault.retryAfterSeconds),
        };
      }
      case 'error':
        return { status: fault.status, body: { error: { code: fault.code, message: fault.message } } };
      case 'lroFailure': {
        const { code, message, details } = fault;
        if (route.lro)
          return route.run({ code, message, details, status: fault.status, afterMs: fault.afterMs });
        return {
          status: fault.status ?? 400,
          body: { error: { code, message, ...(details ? { details } : {}) } },
        };
      }
      default:
        return route.run();
    }
  }

  /** The subscription a request path names; 404 SubscriptionNotFound for one this ARM does not serve. */
  private served(method: string, path: string) {
    const segments = path.split('/').filter(Boolean).map(decodeURIComponent);
    if (segments[0]?.toLowerCase() !== 'subscriptions' || !segments[1]) throw noRoute(method, path);
    const served = this.subscriptions.get(segments[1].toLowerCase());
    if (!served)
      throw new ArmError(
        404,
        'SubscriptionNotFound',
        `The subscription '${segments[1]}' could not be found.`,
      );
    return served;
  }

  private route(ctx: RequestContext, path: string, quotaLimits: Record<string, number>): Route {
    const world = ctx.world;
    const segments = path.split('/').filter(Boolean).map(decodeURIComponent);
    const lower = segments.map((s) => s.toLowerCase());
    const rest = segments.slice(2);
    const lrest = lower.slice(2);

    // Polling: /providers/{ns}/locations/{loc}/{operations|operationresults|…}/{id}, /operationresults/{id}
    const pollKind =
      lrest[0] === 'providers' && lrest[2] === 'locations' && rest.length === 6
        ? lrest[4]
        : lrest[0] === 'operationresults' && rest.length === 2
          ? 'operationresults'
          : undefined;
    if (
      pollKind &&
      (STATUS_SEGMENTS.has(pollKind) || RESULT_SEGMENTS.has(pollKind)) &&
      ctx.method === 'GET'
    ) {
      const id = rest[rest.length - 1]!;
      return {
        op: 'poll',
        run: () => {
          const op = world.operations.get(id.toLowerCase());
          if (!op) throw new ArmError(404, 'OperationNotFound', `The operation '${id}' could not be found.`);
          return STATUS_SEGMENTS.has(pollKind) ? world.pollStatus(op) : world.pollResult(op);
        },
      };
    }

    // A role assignment at any scope: `{scope}/providers/Microsoft.Authorization/roleAssignments/{name}`.
    const at = lrest.findIndex(
      (s, i) =>
        s === 'providers' && lrest[i + 1] === 'microsoft.authorization' && lrest[i + 2] === 'roleassignments',
    );
    if (at >= 0 && rest.length === at + 4) {
      const scope = `/subscriptions/${segments[1]}${at > 0 ? `/${rest.slice(0, at).join('/')}` : ''}`;
      return roleAssignmentRoute(ctx, scope, rest[at + 3]!);
    }

    // Quota of a region: /providers/Microsoft.Compute/locations/{location}/usages.
    if (
      rest.length === 5 &&
      lrest[0] === 'providers' &&
      lrest[1] === 'microsoft.compute' &&
      lrest[2] === 'locations' &&
      lrest[4] === 'usages'
    )
      return computeUsagesRoute(ctx, rest[3]!, quotaLimits);

    if (rest.length === 3 && lrest.join('/') === 'providers/microsoft.containerservice/managedclusters')
      return aksListRoute(ctx);

    if (lrest[0] !== 'resourcegroups') throw noRoute(ctx.method, path);
    if (rest.length === 1) return resourceGroupsRoute(ctx);
    const rgName = rest[1]!;
    if (rest.length === 2) return resourceGroupRoute(ctx, rgName);
    if (lrest[2] !== 'providers' || rest.length < 6) throw noRoute(ctx.method, path);
    const [namespace, type, name] = [rest[3]!, rest[4]!, rest[5]!];
    const provider = PROVIDERS[`${namespace}/${type}`.toLowerCase()];
    if (!provider)
      throw new ArmError(
        404,
        'InvalidResourceType',
        `The resource type '${type}' could not be found in the namespace '${namespace}' for api version '${ctx.apiVersion}'.`,
      );
    const route = provider({ ...ctx, rgName, name, tail: rest.slice(6), ltail: lrest.slice(6) });
    return {
      ...route,
      // ARM answers for the group before the resource provider sees the request: a missing group is 404
      // for every method, a group being deleted refuses PUT/PATCH of anything in it.
      run: (failure) => {
        if (!world.resourceGroup(rgName)) throw resourceGroupNotFound(rgName);
        if (ctx.method === 'PUT' || ctx.method === 'PATCH') assertGroupWritable(world, rgName);
        return route.run(failure);
      },
    };
  }
}

/** What a test sees of an operation. */
function summary(world: World, op: ArmOperation): OperationSummary {
  const { id, kind, resourceId, startedAt, endsAt } = op;
  return { id, kind, resourceId, startedAt, endsAt, status: world.status(op) };
}

function noRoute(method: string, path: string): ArmError {
  return new ArmError(404, 'InvalidResourceType', `The sandbox ARM has no route for ${method} ${path}.`);
}
