/**
 * The state shared by every simulated resource provider: resources, long-running operations and the clock.
 *
 * Nothing here runs on a timer. An operation records when it started and when it ends; everything a
 * client can observe (provisioningState, the status endpoint, the Location endpoint) is computed from
 * `clock.now()` at the moment of the request, and the effects of finished operations (a resource removed,
 * a server marked Stopped) are applied by `settle()`, in the order the operations ended, before any
 * request is answered. A VirtualClock therefore fully controls when an operation completes.
 */
import { createHash } from 'node:crypto';
import type { Clock } from '../../clock.js';
import type { KubeAccessPoint } from './aks.js';

export type Obj = Record<string, unknown>;

/** Simulated milliseconds. */
export interface Durations {
  aksCreate: number;
  aksUpdate: number;
  aksDelete: number;
  aksStop: number;
  aksStart: number;
  pgCreate: number;
  pgUpdate: number;
  pgDelete: number;
  pgStop: number;
  pgStart: number;
  /** Configuration, database and firewall-rule writes (each a short LRO holding the server's lock). */
  pgChildWrite: number;
  /**
   * How long after a PostgreSQL server's creation its first child write is accepted and then fails
   * ServerBusy (the service is still busy with its own post-create work); 0: never.
   */
  pgBusyAfterCreate: number;
  storageCreate: number;
  rgDelete: number;
  /** How long a role assignment takes to take effect in a cluster's Azure RBAC for Kubernetes. */
  roleAssignmentPropagation: number;
}

const MINUTE = 60_000;

/**
 * Published figures where there are any (the source beside each); the others are estimates and say so.
 */
export const DEFAULT_DURATIONS: Durations = {
  // "Create an AKS cluster" quickstarts and observed creates: 8–10 minutes with three pools in one PUT.
  aksCreate: 9 * MINUTE,
  aksUpdate: 5 * MINUTE,
  aksDelete: 5 * MINUTE,
  // "The stop action takes about 10 minutes" (Rafay's AKS start/stop documentation): stop deletes the node VMs.
  aksStop: 10 * MINUTE,
  // One observed start took about 235 s, nodes re-created; 6 minutes leaves room for image pulls.
  aksStart: 6 * MINUTE,
  // Flexible server quickstart: "about five minutes".
  pgCreate: 6 * MINUTE,
  pgUpdate: 3 * MINUTE,
  pgDelete: 2 * MINUTE,
  // No published stop/start figure (a restart took about 61 s): an estimate.
  pgStop: 2 * MINUTE,
  pgStart: 2 * MINUTE,
  // A server parameter update took about 10 s (flexible server parameter docs and observed updates).
  pgChildWrite: 10_000,
  pgBusyAfterCreate: 5 * MINUTE,
  // A Premium FileStorage account took 3 min 32 s in an observed Terraform apply (network rules configured).
  storageCreate: 212_000,
  rgDelete: 3 * MINUTE,
  // "It can take up to five minutes" for a role assignment to propagate to the authorization server of a
  // cluster with Azure RBAC for Kubernetes (AKS docs, manage-azure-rbac): the documented upper bound.
  roleAssignmentPropagation: 5 * MINUTE,
};

/** Azure PostgreSQL flexible server starts a server that has been stopped for seven days. */
export const PG_AUTO_START_AFTER_MS = 7 * 24 * 60 * MINUTE;

/** What an ARM error looks like on the wire: `{ "error": { "code", "message" } }` with an HTTP status. */
/** ARM's error body (common-types ErrorDetail): the errors that caused this one, possibly nested. */
export interface ArmErrorDetail {
  code: string;
  message: string;
  details?: ArmErrorDetail[];
}

export class ArmError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
    readonly details?: ArmErrorDetail[],
  ) {
    super(message);
  }

  /** The `error` member of the response body. */
  body(): ArmErrorDetail {
    return { code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) };
  }
}

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** How a long-running operation ends when a fault says it should fail. */
export interface LroFailure {
  code: string;
  message: string;
  /** The causes under `code`, as AKS nests a quota or allocation failure under a generic code. */
  details?: ArmErrorDetail[];
  /**
   * HTTP status the Location endpoint answers with for this failure (default 400). A 5xx here is retried
   * by the SDK's retry policy (3 times, exponential back-off) before the poller fails.
   */
  status?: number;
  /** Fail this many simulated ms after the start instead of at the operation's normal end. */
  afterMs?: number;
}

export type OperationStatus = 'InProgress' | 'Succeeded' | 'Failed' | 'Canceled';

export interface Operation {
  readonly id: string;
  /** e.g. 'aks.create', 'aks.update', 'pg.stop', 'rg.delete'. */
  readonly kind: string;
  readonly resourceId: string;
  readonly resourceKey: string;
  /** provisioningState (or PostgreSQL state) shown while the operation runs: 'Creating', 'Stopping', … */
  readonly label: string;
  readonly startedAt: number;
  readonly endsAt: number;
  readonly failure?: LroFailure;
  readonly namespace: string;
  readonly location: string;
  readonly apiVersion: string;
  readonly seq: number;
  /** Set by `settle()` once the operation's end has passed (or it was canceled). */
  outcome?: Exclude<OperationStatus, 'InProgress'>;
  onSucceeded?: () => void;
  onFailed?: () => void;
  /** Terminal answer of the Location endpoint on success (default 204 without a body). */
  finalReply?: () => Reply;
}

export interface Resource {
  /** Lower-cased id: ARM ids are case-insensitive. */
  readonly key: string;
  /** The id with the casing of the request that created the resource (ARM keeps it). */
  readonly id: string;
  readonly type: string;
  readonly name: string;
  /** Key (lower-case name) of the resource group. */
  readonly rg: string;
  /** Key of the parent resource: children go when the parent goes. */
  readonly parent?: string;
  location: string;
  tags: Record<string, string>;
  /** The last accepted PUT body: stored as sent, compared for idempotent PUTs. */
  body: Obj;
  readonly createdAt: number;
  /** The latest operation on this resource (in progress or finished). */
  op?: Operation;
  /** Resource groups removed with this resource (an AKS cluster's node resource group). */
  owns?: string[];
  /**
   * An extension resource's scope (a role assignment's): the id of what it is assigned on, kept in an
   * index so a lookup by scope does not walk every resource.
   */
  readonly scope?: string;
  /** The GET representation. */
  present(): Obj;
}

export interface WorldOptions {
  clock: Clock;
  subscriptionId: string;
  durations: Durations;
  /** Base URL put into Azure-AsyncOperation / Location headers (what the SDK sees). */
  publicEndpoint: string;
  retryAfterSeconds: number;
  maxRetryAfterSeconds: number;
  /** The API servers kubeconfigs point at, with their CA and the clusters' admin certificates. */
  kubeAccess?: KubeAccessPoint;
}

export interface ArmEvent {
  at: number;
  kind: 'pg.autoStart';
  resourceId: string;
}

/** A resource that came into existence (a write to one that already exists is not a creation). */
export interface ArmCreation {
  at: number;
  id: string;
  type: string;
}

export class World {
  readonly resources = new Map<string, Resource>();
  readonly operations = new Map<string, Operation>();
  /**
   * The operations without an outcome: what `settle()` looks through. (Every request settles first; over
   * all operations ever started, a fleet of thousands of platforms would make each request walk them all.)
   */
  private readonly pending = new Set<Operation>();
  /** Extension resources by the lower-cased scope they extend. */
  private readonly byScope = new Map<string, Map<string, Resource>>();
  readonly events: ArmEvent[] = [];
  /** Every resource creation, in order (what duplicate checks count). */
  readonly creations: ArmCreation[] = [];
  private readonly settleHooks: (() => void)[] = [];
  private opSeq = 0;

  constructor(readonly options: WorldOptions) {}

  get clock(): Clock {
    return this.options.clock;
  }
  get durations(): Durations {
    return this.options.durations;
  }
  get subscriptionId(): string {
    return this.options.subscriptionId;
  }

  now(): number {
    return this.options.clock.now();
  }

  iso(at = this.now()): string {
    return new Date(at).toISOString();
  }

  // ---- resources -------------------------------------------------------------------------------------

  get(id: string): Resource | undefined {
    return this.resources.get(id.toLowerCase());
  }

  add(resource: Resource): Resource {
    if (!this.resources.has(resource.key))
      this.creations.push({ at: this.now(), id: resource.id, type: resource.type });
    this.resources.set(resource.key, resource);
    if (resource.scope !== undefined) {
      const scope = resource.scope.toLowerCase();
      const here = this.byScope.get(scope) ?? new Map<string, Resource>();
      this.byScope.set(scope, here.set(resource.key, resource));
    }
    return resource;
  }

  /** The extension resources assigned on exactly `scope` (a resource's, group's or subscription's id). */
  atScope(scope: string): Resource[] {
    return [...(this.byScope.get(scope.toLowerCase())?.values() ?? [])];
  }

  children(parentKey: string): Resource[] {
    return [...this.resources.values()].filter((r) => r.parent === parentKey);
  }

  resourceGroup(name: string): Resource | undefined {
    return this.get(this.rgId(name));
  }

  rgId(name: string): string {
    return `/subscriptions/${this.subscriptionId}/resourceGroups/${name}`;
  }

  /**
   * Removes a resource with everything that lives under it: children, the resources of a resource group,
   * and resource groups it owns. Operations still running on removed resources end as Canceled.
   */
  remove(key: string): void {
    const target = this.resources.get(key);
    if (!target) return;
    this.resources.delete(key);
    if (target.scope !== undefined) this.byScope.get(target.scope.toLowerCase())?.delete(key);
    this.cancel(target);
    const isGroup = target.type === RESOURCE_GROUP_TYPE;
    for (const r of [...this.resources.values()]) {
      if (r.parent === key || (isGroup && r.rg === target.name.toLowerCase())) this.remove(r.key);
    }
    for (const owned of target.owns ?? []) this.remove(owned);
  }

  private cancel(resource: Resource) {
    const op = resource.op;
    if (op && !op.outcome) op.outcome = 'Canceled';
  }

  // ---- operations ------------------------------------------------------------------------------------

  busy(resource: Resource | undefined): boolean {
    return !!resource?.op && !resource.op.outcome;
  }

  /**
   * provisioningState as ARM derives it: the operation's label while it runs, then Succeeded, or Failed /
   * Canceled when the latest operation ended that way (ARM keeps a resource in Failed until a PUT fixes it).
   */
  provisioningState(resource: Resource): string {
    const op = resource.op;
    if (!op) return 'Succeeded';
    if (!op.outcome) return op.label;
    return op.outcome;
  }

  lastFailed(resource: Resource): boolean {
    return resource.op?.outcome === 'Failed' || resource.op?.outcome === 'Canceled';
  }

  start(options: {
    kind: string;
    resource: Resource;
    label: string;
    durationMs: number;
    failure?: LroFailure;
    namespace: string;
    apiVersion: string;
    /** Attach as the resource's current operation (default true; PostgreSQL child writes lock the server instead). */
    attach?: boolean;
    onSucceeded?: () => void;
    onFailed?: () => void;
    finalReply?: () => Reply;
  }): Operation {
    const startedAt = this.now();
    const seq = ++this.opSeq;
    const duration = options.failure?.afterMs ?? options.durationMs;
    const op: Operation = {
      id: fakeGuid('operation', String(seq), options.resource.key),
      kind: options.kind,
      resourceId: options.resource.id,
      resourceKey: options.resource.key,
      label: options.label,
      startedAt,
      endsAt: startedAt + Math.max(0, duration),
      failure: options.failure,
      namespace: options.namespace,
      location: normLocation(options.resource.location || 'global'),
      apiVersion: options.apiVersion,
      seq,
      onSucceeded: options.onSucceeded,
      onFailed: options.onFailed,
      finalReply: options.finalReply,
    };
    this.operations.set(op.id.toLowerCase(), op);
    this.pending.add(op);
    if (options.attach !== false) {
      // Providers refuse a second operation on a busy resource (409) except a delete, which supersedes
      // whatever runs (ARM lets a delete cancel a create).
      this.cancel(options.resource);
      options.resource.op = op;
    }
    return op;
  }

  status(op: Operation): OperationStatus {
    return op.outcome ?? 'InProgress';
  }

  onSettle(hook: () => void) {
    this.settleHooks.push(hook);
  }

  /** Applies the effects of every operation whose end has passed, oldest first. */
  settle(): void {
    const now = this.now();
    for (;;) {
      let due: Operation | undefined;
      for (const op of this.pending) {
        if (op.outcome)
          this.pending.delete(op); // canceled
        else if (
          op.endsAt <= now &&
          (!due || op.endsAt < due.endsAt || (op.endsAt === due.endsAt && op.seq < due.seq))
        )
          due = op;
      }
      if (!due) break;
      this.pending.delete(due);
      if (due.failure) {
        due.outcome = 'Failed';
        due.onFailed?.();
      } else {
        due.outcome = 'Succeeded';
        due.onSucceeded?.();
      }
    }
    for (const hook of this.settleHooks) hook();
  }

  inProgress(): Operation[] {
    return [...this.pending].filter((op) => !op.outcome).sort((a, b) => a.seq - b.seq);
  }

  // ---- the wire: polling URLs and Retry-After --------------------------------------------------------

  url(path: string): string {
    return new URL(path, this.options.publicEndpoint).href;
  }

  /** Azure-AsyncOperation URL in the form each resource provider uses. */
  statusUrl(op: Operation): string {
    const base = `/subscriptions/${this.subscriptionId}/providers/${op.namespace}/locations/${op.location}`;
    const segment = op.namespace === 'Microsoft.DBforPostgreSQL' ? 'azureAsyncOperation' : 'operations';
    return this.url(`${base}/${segment}/${op.id}?api-version=${op.apiVersion}`);
  }

  /** Location URL: ARM's own operationresults for resource groups, the provider's otherwise. */
  resultUrl(op: Operation): string {
    if (op.namespace === 'Microsoft.Resources')
      return this.url(
        `/subscriptions/${this.subscriptionId}/operationresults/${op.id}?api-version=${op.apiVersion}`,
      );
    const base = `/subscriptions/${this.subscriptionId}/providers/${op.namespace}/locations/${op.location}`;
    if (op.namespace === 'Microsoft.Storage')
      return this.url(`${base}/asyncoperations/${op.id}?monitor=true&api-version=${op.apiVersion}`);
    const segment = op.namespace === 'Microsoft.DBforPostgreSQL' ? 'operationResults' : 'operationresults';
    return this.url(`${base}/${segment}/${op.id}?api-version=${op.apiVersion}`);
  }

  /**
   * Retry-After in seconds. Derived from the time left, converted to real seconds for a ScaledClock (a
   * VirtualClock only moves when a test moves it, so waiting in real time would not help), floored, then
   * clamped to [retryAfterSeconds, maxRetryAfterSeconds]. SDK pollers sleep this long in REAL time, so
   * tests set `retryAfterSeconds: 0`: the header then reads 0 and the SDK uses its own `updateIntervalInMs`.
   */
  retryAfter(op: Operation): string {
    const { retryAfterSeconds: min, maxRetryAfterSeconds: max } = this.options;
    const speed = (this.options.clock as { speed?: unknown }).speed;
    const remainingMs = Math.max(0, op.endsAt - this.now());
    const realSeconds = typeof speed === 'number' && speed > 0 ? Math.floor(remainingMs / 1000 / speed) : 0;
    return String(Math.max(min, Math.min(max, realSeconds)));
  }

  /** Headers of an accepted long-running request, in the styles the resource provider uses. */
  acceptedHeaders(
    op: Operation,
    style: { asyncOperation?: boolean; location?: boolean },
  ): Record<string, string> {
    return {
      ...(style.asyncOperation ? { 'azure-asyncoperation': this.statusUrl(op) } : {}),
      ...(style.location ? { location: this.resultUrl(op) } : {}),
      'retry-after': this.retryAfter(op),
    };
  }

  /** GET on an Azure-AsyncOperation URL. */
  pollStatus(op: Operation): Reply {
    const status = this.status(op);
    const body: Obj = {
      id: new URL(this.statusUrl(op)).pathname,
      name: op.id,
      status,
      startTime: this.iso(op.startedAt),
      ...(status === 'InProgress' ? {} : { endTime: this.iso(op.endsAt) }),
      ...(status === 'Failed' && op.failure ? { error: lroError(op.failure) } : {}),
      ...(status === 'Canceled'
        ? { error: { code: 'OperationCanceled', message: 'The operation was canceled.' } }
        : {}),
    };
    return {
      status: 200,
      body,
      headers: status === 'InProgress' ? { 'retry-after': this.retryAfter(op) } : {},
    };
  }

  /** GET on a Location URL: 202 while running, then the operation's final answer or its error. */
  pollResult(op: Operation): Reply {
    const status = this.status(op);
    if (status === 'InProgress')
      return { status: 202, headers: { location: this.resultUrl(op), 'retry-after': this.retryAfter(op) } };
    if (status === 'Succeeded') return op.finalReply?.() ?? { status: 204 };
    if (status === 'Failed' && op.failure)
      throw new ArmError(
        op.failure.status ?? 400,
        op.failure.code,
        op.failure.message,
        {},
        op.failure.details,
      );
    throw new ArmError(409, 'OperationCanceled', 'The operation was canceled.');
  }
}

function lroError({ code, message, details }: LroFailure): ArmErrorDetail {
  return { code, message, ...(details ? { details } : {}) };
}

export const RESOURCE_GROUP_TYPE = 'Microsoft.Resources/resourceGroups';

// ---- small helpers -------------------------------------------------------------------------------------

export function sha256(...parts: string[]): Buffer {
  return createHash('sha256').update(parts.join('\u0000')).digest();
}

/** A GUID-shaped value derived from its inputs, so runs are reproducible. */
export function fakeGuid(...parts: string[]): string {
  const h = sha256(...parts).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** JSON equality independent of key order; `undefined` members are ignored as they are on the wire. */
export function sameJson(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Obj)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export function obj(value: unknown): Obj {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Obj) : {};
}

export function tagsOf(body: Obj): Record<string, string> {
  const tags = obj(body.tags);
  return Object.fromEntries(Object.entries(tags).map(([k, v]) => [k, String(v)]));
}

export function notFound(type: string, name: string, rg: string): ArmError {
  return new ArmError(
    404,
    'ResourceNotFound',
    `The Resource '${type}/${name}' under resource group '${rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
  );
}

/** ARM answers with normalized region names ('East US' → 'eastus'). */
export function normLocation(location: string): string {
  return location.replace(/\s+/g, '').toLowerCase();
}

export function requireLocation(body: Obj): string {
  if (typeof body.location !== 'string' || !body.location)
    throw new ArmError(400, 'LocationRequired', 'The location property is required for this definition.');
  return normLocation(body.location);
}
