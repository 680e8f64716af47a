/**
 * What the HTTP routes do, independent of HTTP: validate, record, start or inspect the orchestration.
 * The registry record is the lock that orders operations on one platform (every transition is an
 * ETag-guarded write); the durable runtime's own instance status is the second guard.
 *
 * Every method takes the caller and applies src/platform/access.ts: a caller without a role of this API
 * is refused (forbidden), a platform the caller may not see is answered exactly as an unknown id
 * (not-found: its existence is not revealed), and a role that does not allow the action on a platform
 * the caller sees is forbidden.
 */
import type { Config } from '../config.js';
import { canSee, roleAllows, ROLES, type Action, type Caller } from '../platform/access.js';
import {
  admit,
  describeShortfall,
  placement,
  usagesAfter,
  type Admission,
  type SubscriptionFit,
  type Usage,
} from '../platform/admission.js';
import {
  instanceIdFor,
  childInstanceIds,
  lifecycleInstanceIds,
  ORCHESTRATORS,
  WAKE_GPU_TIER,
  wakeInstanceId,
  type LifecycleInput,
  type UpdateInput,
} from '../orchestrators/names.js';
import { stepDeadlineMs } from '../platform/steps.js';
import { derivePlatformNames } from '../platform/naming.js';
import { DELETION_PHASES, RESTOP, RETRIED_AS, TRANSITIONS, type Transition } from '../platform/phases.js';
import type { TemplateSource } from '../platform/manifests.js';
import { planPlatform, type PlatformPlan } from '../platform/plan.js';
import type { RequestValidator } from '../platform/schema.js';
import {
  carryModelStates,
  links,
  platformOverview,
  platformStatus,
  platformView,
} from '../platform/status.js';
import type { Operation, Phase, PlatformChange, PlatformRecord, PlatformSpec } from '../platform/types.js';
import { RegistryConflictError, type Registry } from '../registry/registry.js';
import { ApiError } from './errors.js';
import { ACTIVE_STATUSES, type OrchestrationState, type Orchestrations } from './orchestrations.js';

/** Where a request-supplied secret goes; production writes Key Vault. Never logs or returns the value. */
export interface SecretWriter {
  set(name: string, value: string): Promise<void>;
  /** Deletes it (a queued platform removed before anything else was created); absent is done. */
  remove(name: string): Promise<void>;
}

/** What bounds a new platform: the quotas of its region and the subscription's counts; production reads Azure. */
export interface CapacityReader {
  usages(location: string, subscriptionId: string): Promise<Usage[]>;
}

/** Subscriptions of the pool whose quota is read at once (each read is three paged ARM listings). */
const CAPACITY_READS_AT_ONCE = 4;

/** Where a platform would go and how it fits each subscription of the pool (the dry run shows it). */
export interface Placement {
  /** The subscription chosen; null: none has room. */
  subscriptionId: string | null;
  /** None with room now: where it would wait (Queued) for the platforms being deleted there. */
  queuedIn: string | null;
  subscriptions: ({ subscriptionId: string } & (
    { fits: boolean; fitsAfterDeletions?: boolean } | { unreadable: true }
  ))[];
}

/** Seconds a client waits before sending a create again when the quota could not be read. */
const QUOTA_READ_RETRY_AFTER_S = 10;

export interface PlatformServiceDeps {
  config: Config;
  registry: Registry;
  validator: RequestValidator;
  secrets: SecretWriter;
  capacity: CapacityReader;
  now: () => Date;
  templates: TemplateSource;
}

export interface Accepted {
  id: string;
  phase: Phase;
  operation: Operation;
  links: ReturnType<typeof links>;
  /** What was done instead of what was asked (a wake of a Stopped platform starts it). */
  detail?: string;
  /** Queued: its place in the queue (1 = next admitted). */
  position?: number;
}

export class PlatformService {
  constructor(private readonly deps: PlatformServiceDeps) {}

  /** Validates a create request; with dryRun returns the plan and creates nothing. */
  async create(
    caller: Caller,
    body: unknown,
    orchestrations: Orchestrations,
    options: { dryRun: boolean },
  ): Promise<Accepted | (PlatformPlan & { admission: Admission; placement: Placement })> {
    authorize(caller, 'create');
    const result = this.deps.validator.validateCreate(body);
    if (!result.ok) throw new ApiError('validation', 'The request body is invalid.', result.errors);
    // Owners are who may act on the platform, not what it is: kept beside the spec, never in it.
    const { huggingFaceToken, owners = [caller.objectId], ...rest } = result.value;
    const spec: PlatformSpec = { ...rest, huggingFaceToken: huggingFaceToken !== undefined };
    if (options.dryRun) {
      const { chosen, queueIn, admission, fits, afterDeletions } = await this.place(spec);
      const plan = planPlatform(
        spec,
        chosen ?? queueIn ?? this.deps.config.subscriptionId,
        this.deps.templates,
        this.deps.config.maintenanceWindow,
      );
      const subscriptions = fits.map((f, i) =>
        'admission' in f
          ? {
              subscriptionId: f.subscriptionId,
              fits: f.admission.fits,
              ...(afterDeletions[i] !== undefined ? { fitsAfterDeletions: afterDeletions[i] } : {}),
            }
          : { subscriptionId: f.subscriptionId, unreadable: true as const },
      );
      return {
        ...plan,
        admission,
        placement: { subscriptionId: chosen ?? null, queuedIn: queueIn ?? null, subscriptions },
      };
    }

    const id = spec.prefix;
    const existing = await this.deps.registry.get(id);
    if (existing && existing.phase !== 'Deleted') {
      // The same request again after a failure resumes it (every step is idempotent); anything else is a
      // clash. A prefix is one set of Azure names, so a platform the caller cannot see still takes it,
      // but its phase is not shown.
      const visible = canSee(caller, existing.owners);
      if (visible && existing.phase === 'Failed' && sameSpec(existing.spec, spec))
        return this.retry(caller, id, orchestrations);
      throw prefixTaken(existing, visible);
    }
    await this.refuseIfActive(id, orchestrations);
    // Before any write (record, secret, resource group): a platform that cannot fit is refused now, not
    // half-built when Azure refuses its VMs. A resumed platform (above) is not measured again: what it
    // already has counts in the usages. Two creates at once may both fit alone; Azure still refuses the
    // VMs of the second, and the flows report that quota failure.
    const { chosen, queueIn, fits } = await this.place(spec);
    if (!chosen && !queueIn) {
      const admissions = fits.flatMap((f) => ('admission' in f ? [f] : []));
      const shortfall = admissions
        .map((f) =>
          admissions.length > 1
            ? `subscription ${f.subscriptionId}: ${describeShortfall(f.admission)}`
            : describeShortfall(f.admission),
        )
        .join('; ');
      throw new ApiError(
        'quota',
        `Platform '${id}' does not fit the quota: ${shortfall}. Request a quota increase, choose another region or smaller GPU limits.`,
        undefined,
        undefined,
        { admissions },
      );
    }
    // No room now, but room once the platforms being deleted there are gone: accepted and queued (nothing
    // is created in Azure until it is admitted; its subscription and names are fixed now).
    const placedIn = (chosen ?? queueIn)!;
    const now = this.deps.now().toISOString();
    const record: PlatformRecord = {
      id,
      spec,
      phase: chosen ? 'Pending' : 'Queued',
      operation: 'provision',
      createdAt: now,
      updatedAt: now,
      owners,
      subscriptionId: placedIn,
      // Names derive from the subscription they live in: unique per subscription (and in the registry).
      names: derivePlatformNames(placedIn, id),
      resourceIds: {},
      endpoints: {},
      steps: [],
      models: Object.fromEntries(spec.models.map((m) => [m, 'pending' as const])),
    };
    try {
      await this.deps.registry.create(record);
    } catch (e) {
      if (e instanceof RegistryConflictError) {
        const winner = await this.deps.registry.get(id);
        throw prefixTaken(winner, canSee(caller, winner?.owners));
      }
      throw e;
    }
    // The token goes straight to Key Vault, before the flow starts, so it never enters durable history.
    if (huggingFaceToken !== undefined)
      await this.deps.secrets.set(record.names.secrets['huggingface-token'], huggingFaceToken);
    if (!chosen) {
      const position = (await this.queuePositions()).get(id);
      return {
        id,
        phase: 'Queued',
        operation: 'provision',
        links: links(id),
        ...(position ? { position } : {}),
      };
    }
    await this.startOrRevert(record, 'provision', orchestrations, { phase: 'Failed' });
    return { id, phase: 'Pending', operation: 'provision', links: links(id) };
  }

  /** The platforms the caller sees: an admin all, anyone else those it owns. */
  async list(caller: Caller, options: { includeDeleted: boolean }) {
    authorize(caller, 'read');
    const records = await this.deps.registry.list(options);
    const now = this.deps.now();
    const positions = queuePositionsOf(records);
    return {
      platforms: records
        .filter((r) => canSee(caller, r.owners))
        .map((r) => ({
          id: r.id,
          phase: r.phase,
          ...(positions.has(r.id) ? { position: positions.get(r.id) } : {}),
          operation: r.operation,
          location: r.spec.location,
          models: r.spec.models,
          createdAt: r.createdAt,
          updatedAt: r.updatedAt,
          // Cost, warnings and the planned stop/wake as the status computes them, so a list needs no reads.
          ...platformOverview(r, now, stepDeadlineMs),
          links: links(r.id),
        })),
    };
  }

  async get(caller: Caller, id: string) {
    return platformView(await this.require(caller, id, 'read'));
  }

  async status(caller: Caller, id: string, orchestrations: Orchestrations) {
    const r = await this.require(caller, id, 'read');
    const instance = await this.activeOrLatest(id, orchestrations);
    const status = platformStatus(r, instance, this.deps.now(), stepDeadlineMs);
    if (r.phase !== 'Queued') return status;
    // Its place in the queue (first in, first out over every queued platform), read now.
    return { ...status, queue: { position: (await this.queuePositions()).get(id) ?? null } };
  }

  /**
   * Runs the failed flow again for a Failed platform, as `RETRIED_AS` says: the same flow (finished steps
   * are found and skipped), except a failed update, which provisioning converges.
   */
  async retry(caller: Caller, id: string, orchestrations: Orchestrations): Promise<Accepted> {
    const current = await this.require(caller, id, 'operate');
    if (current.phase !== 'Failed')
      throw new ApiError('conflict', `Platform '${id}' is ${current.phase}; retry is possible from Failed.`);
    await this.refuseIfActive(id, orchestrations);
    let operation: Operation = 'provision';
    const updated = await this.deps.registry.update(id, (r) => {
      if (r.phase !== 'Failed')
        throw new ApiError('conflict', `Platform '${id}' is ${r.phase}; retry is possible from Failed.`);
      const retried = RETRIED_AS[r.operation];
      operation = retried.operation;
      const next: PlatformRecord = {
        ...r,
        phase: retried.phase,
        operation,
        updatedAt: this.deps.now().toISOString(),
      };
      delete next.lastError;
      return next;
    });
    await this.startOrRevert(updated, operation, orchestrations, { phase: 'Failed' });
    return accepted(updated);
  }

  /** stop, start or delete: a guarded phase transition, then the orchestration. */
  async transition(
    caller: Caller,
    id: string,
    operation: Transition,
    orchestrations: Orchestrations,
    options: { restop?: boolean } = {},
  ): Promise<Accepted> {
    const rule = options.restop && operation === 'stop' ? RESTOP : TRANSITIONS[operation];
    const current = await this.require(caller, id, 'operate');
    if (current.phase === 'Deleted' && operation !== 'delete') {
      throw new ApiError('not-found', `Platform '${id}' was deleted.`);
    }
    if (rule.idempotent.includes(current.phase)) return accepted(current);
    if (operation === 'delete' && current.phase === 'Queued') return this.removeQueued(current);
    if (!rule.from.includes(current.phase)) {
      throw new ApiError(
        'conflict',
        `Platform '${id}' is ${current.phase}; ${operation} is possible from ${rule.from.join(' or ')}.`,
      );
    }

    if (operation === 'delete') {
      // A delete wins over whatever runs: stop that flow (and its sub-orchestrations) first; teardown
      // tolerates their half-done work.
      for (const instanceId of [...lifecycleInstanceIds(id), ...childInstanceIds(id), wakeInstanceId(id)]) {
        const s = await orchestrations.get(instanceId);
        if (s && ACTIVE_STATUSES.has(s.runtimeStatus) && s.name !== ORCHESTRATORS.delete) {
          await orchestrations.terminate(instanceId, 'Platform deletion was requested.');
        }
      }
    } else {
      await this.refuseIfActive(id, orchestrations);
    }

    let previous: Phase = current.phase;
    let idempotent = false;
    const updated = await this.deps.registry.update(id, (r) => {
      // Re-checked on the fresh record: a concurrent request may have moved the platform meanwhile.
      if (rule.idempotent.includes(r.phase)) {
        idempotent = true;
        return undefined;
      }
      if (!rule.from.includes(r.phase))
        throw new ApiError(
          'conflict',
          `Platform '${id}' is ${r.phase}; ${operation} is possible from ${rule.from.join(' or ')}.`,
        );
      previous = r.phase;
      return { ...r, phase: rule.to, operation, updatedAt: this.deps.now().toISOString() };
    });
    if (idempotent) return accepted(updated);
    await this.startOrRevert(updated, operation, orchestrations, { phase: previous });
    return accepted(updated);
  }

  /**
   * POST /wake: a Ready platform whose GPU tier the idle sweep released gets Ollama back (the wake flow);
   * waking or running already: 202, nothing new; any other phase: 409 naming it. The record's `gpu` is the
   * guard (an ETag-guarded write), so two wakes start one flow.
   */
  async wake(caller: Caller, id: string, orchestrations: Orchestrations): Promise<Accepted> {
    const current = await this.require(caller, id, 'operate');
    if (current.phase === 'Deleted') throw new ApiError('not-found', `Platform '${id}' was deleted.`);
    const refuse = (phase: Phase) =>
      new ApiError('conflict', `Platform '${id}' is ${phase}; wake is possible from Ready or Stopped.`);
    // A chat cannot reach a stopped cluster at all (no API server, no interceptor): a wake of a Stopped
    // platform is a start, which wakes the GPU tier too, and the answer says so instead of refusing.
    if (current.phase === 'Stopped') {
      const started = await this.transition(caller, id, 'start', orchestrations);
      return {
        ...started,
        detail: `Platform '${id}' was Stopped: it is being started, GPU tier included (operation start).`,
      };
    }
    if (current.phase !== 'Ready') throw refuse(current.phase);
    if (current.gpu?.state !== 'released') return accepted(current);
    let released = false;
    const updated = await this.deps.registry.update(id, (r) => {
      if (r.phase !== 'Ready') throw refuse(r.phase);
      released = r.gpu?.state === 'released';
      if (!released) return undefined;
      return { ...r, gpu: { state: 'waking', since: this.deps.now().toISOString() } };
    });
    if (!released) return accepted(updated);
    try {
      await orchestrations.start(WAKE_GPU_TIER, wakeInstanceId(id), {
        platformId: id,
      } satisfies LifecycleInput);
    } catch (e) {
      await this.deps.registry.update(id, (r) =>
        r.gpu?.state === 'waking'
          ? { ...r, gpu: { state: 'released', since: current.gpu!.since } }
          : undefined,
      );
      throw new ApiError('unavailable', 'The wake flow could not be started; try again later.', undefined, e);
    }
    return accepted(updated);
  }

  /**
   * PATCH: an autoStop or owners change is recorded at once (200); a change of models, replicas or allowed
   * source ranges (the HTTPS entry's Caddyfile) needs the running
   * cluster, so it is accepted from Ready only and runs the update flow (202), which runs only the steps
   * the change touches.
   */
  async update(
    caller: Caller,
    id: string,
    body: unknown,
    orchestrations: Orchestrations,
  ): Promise<
    | { status: 200; body: ReturnType<typeof platformView> }
    | { status: 202; body: Accepted & { change: PlatformChange } }
  > {
    const current = await this.require(caller, id, 'operate');
    if (current.phase === 'Deleted') throw new ApiError('not-found', `Platform '${id}' was deleted.`);
    // Validated against the record being written (inside the guarded update), so a concurrent change is
    // merged with, never overwritten; the first check only answers early.
    const validate = (spec: PlatformSpec) => {
      const result = this.deps.validator.validateUpdate(body, spec);
      if (!result.ok) throw new ApiError('validation', 'The request body is invalid.', result.errors);
      const { change } = result.value;
      const needsCluster =
        change.addedModels.length + change.removedModels.length > 0 ||
        !!change.replicas ||
        !!change.allowedSourceRanges;
      return { ...result.value, needsCluster };
    };
    const { needsCluster } = validate(current.spec);
    const changedMeanwhile = () =>
      new ApiError('conflict', `Platform '${id}' changed meanwhile; send the request again.`);

    if (!needsCluster) {
      const updated = await this.deps.registry.update(id, (r) => {
        if (DELETION_PHASES.includes(r.phase))
          throw new ApiError('conflict', `Platform '${id}' is ${r.phase}; it can no longer be changed.`);
        const fresh = validate(r.spec);
        if (fresh.needsCluster) throw changedMeanwhile();
        return {
          ...r,
          spec: fresh.spec,
          models: carryModelStates(fresh.spec.models, r.models, []),
          ...(fresh.owners ? { owners: fresh.owners } : {}),
        };
      });
      return { status: 200, body: platformView(updated) };
    }

    const refuse = (phase: Phase) =>
      new ApiError(
        'conflict',
        `Platform '${id}' is ${phase}; models, replicas and allowed source ranges can be changed when it is Ready${phase === 'Stopped' ? ' (start it first)' : ''}.`,
      );
    if (current.phase !== 'Ready') throw refuse(current.phase);
    await this.refuseIfActive(id, orchestrations);
    let before: Pick<PlatformRecord, 'spec' | 'models'> = current;
    let change: PlatformChange | undefined;
    const updated = await this.deps.registry.update(id, (r) => {
      if (r.phase !== 'Ready') throw refuse(r.phase);
      const fresh = validate(r.spec);
      if (!fresh.needsCluster) throw changedMeanwhile();
      before = { spec: r.spec, models: r.models };
      change = fresh.change;
      return {
        ...r,
        spec: fresh.spec,
        models: carryModelStates(fresh.spec.models, r.models, fresh.change.addedModels),
        ...(fresh.owners ? { owners: fresh.owners } : {}),
        phase: 'Updating',
        operation: 'update',
        updatedAt: this.deps.now().toISOString(),
      };
    });
    const input: UpdateInput = { platformId: id, change: change! };
    await this.startOrRevert(
      updated,
      'update',
      orchestrations,
      { phase: 'Ready', spec: before.spec, models: before.models },
      input,
    );
    return { status: 202, body: { ...accepted(updated), change: change! } };
  }

  /**
   * The platform, if the caller sees it and its role allows the action. Not seen: the same answer as an
   * unknown id, so ids of other owners' platforms cannot be probed.
   */
  private async require(caller: Caller, id: string, action: Action): Promise<PlatformRecord> {
    authorize(caller, 'read');
    const record = await this.deps.registry.get(id);
    if (!record || !canSee(caller, record.owners))
      throw new ApiError('not-found', `No platform with id '${id}'.`);
    if (!roleAllows(caller, action)) throw notAllowed(caller, action);
    return record;
  }

  private async refuseIfActive(id: string, orchestrations: Orchestrations) {
    for (const instanceId of lifecycleInstanceIds(id)) {
      const s = await orchestrations.get(instanceId);
      if (s && ACTIVE_STATUSES.has(s.runtimeStatus)) {
        throw new ApiError(
          'conflict',
          `Operation ${s.name} is ${s.runtimeStatus.toLowerCase()} on platform '${id}'; try again when it has finished.`,
        );
      }
    }
  }

  private async activeOrLatest(
    id: string,
    orchestrations: Orchestrations,
  ): Promise<OrchestrationState | undefined> {
    const states = (await Promise.all(lifecycleInstanceIds(id).map((i) => orchestrations.get(i)))).filter(
      (s) => s !== undefined,
    );
    return (
      states.find((s) => ACTIVE_STATUSES.has(s.runtimeStatus)) ??
      states.sort((a, b) => (b.lastUpdatedTime ?? '').localeCompare(a.lastUpdatedTime ?? ''))[0]
    );
  }

  /**
   * The platform against the quotas of its region in each subscription of the pool (read in parallel, a
   * few at a time), and the subscription it goes to (`placement`: the first with room). Room is what the
   * usages leave after the platforms queued ahead there (their room is promised first). Without room now,
   * `queueIn` is the first subscription where it fits once the platforms being deleted there are gone.
   * A subscription whose quota could not be read is passed over; when none with room remains and one was
   * unreadable, 503 with Retry-After rather than refusing, queueing or admitting blind: nothing has been
   * written, the same request later is measured, and admitting would bring back the late quota failure
   * admission exists to prevent.
   */
  private async place(
    spec: PlatformSpec,
    options: {
      /** Only these subscriptions (a queued platform's own); default: the whole pool. */
      subscriptions?: readonly string[];
      /** Which queued platforms are ahead of this one; default: every queued platform. */
      ahead?: (queued: PlatformRecord) => boolean;
      /** Platforms admitted a moment ago whose VMs the usages do not show yet. */
      admitted?: readonly PlatformRecord[];
    } = {},
  ): Promise<{
    chosen: string | undefined;
    queueIn: string | undefined;
    /** The chosen subscription's fit; none chosen: the one it would be queued in, else the first's. */
    admission: Admission;
    fits: SubscriptionFit[];
    /** Per subscription, whether it fits once the deletions there are done (none there: undefined). */
    afterDeletions: (boolean | undefined)[];
  }> {
    const pool = options.subscriptions ?? this.deps.config.subscriptionIds;
    const region = normalizeLocation(spec.location);
    const records = (await this.deps.registry.list({ phases: ['Queued', 'Deleting'] })).filter(
      (r) => normalizeLocation(r.spec.location) === region,
    );
    const where = (r: PlatformRecord) => (r.subscriptionId ?? this.deps.config.subscriptionId).toLowerCase();
    const ahead = options.ahead ?? (() => true);
    const fits: SubscriptionFit[] = new Array(pool.length);
    const afterDeletions: (boolean | undefined)[] = new Array(pool.length);
    const failures: unknown[] = [];
    let next = 0;
    const reader = async () => {
      for (let i = next++; i < pool.length; i = next++) {
        const subscriptionId = pool[i]!;
        const here = records.filter((r) => where(r) === subscriptionId.toLowerCase());
        const freed = here.filter((r) => r.phase === 'Deleting').map((r) => r.spec);
        const reserved = [
          ...here.filter((r) => r.phase === 'Queued' && ahead(r)),
          ...(options.admitted ?? []).filter((r) => where(r) === subscriptionId.toLowerCase()),
        ].map((r) => r.spec);
        try {
          const usages = await this.deps.capacity.usages(spec.location, subscriptionId);
          fits[i] = { subscriptionId, admission: admit(spec, usagesAfter(usages, { freed: [], reserved })) };
          if (freed.length > 0)
            afterDeletions[i] = admit(spec, usagesAfter(usages, { freed, reserved })).fits;
        } catch (e) {
          failures.push(e);
          fits[i] = { subscriptionId, unreadable: true };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(CAPACITY_READS_AT_ONCE, pool.length) }, reader));
    const chosen = placement(fits);
    const queueIn = chosen ? undefined : pool.find((_, i) => afterDeletions[i] === true);
    if (!chosen && !queueIn && failures.length > 0)
      throw new ApiError(
        'unavailable',
        `The quota of region ${spec.location} could not be read; nothing was created. Try again later.`,
        undefined,
        failures[0],
        { retryAfterSeconds: QUOTA_READ_RETRY_AFTER_S },
      );
    const shown = fits.find((f) => f.subscriptionId === (chosen ?? queueIn ?? pool[0])) ?? fits[0];
    if (!shown || !('admission' in shown)) throw new Error('no subscription in the pool');
    return { chosen, queueIn, admission: shown.admission, fits, afterDeletions };
  }

  /**
   * DELETE of a queued platform: nothing exists in Azure, so no flow runs; the record goes to Deleted at
   * once (a guarded write: admitted meanwhile, the DELETE is asked to come again and then tears it down)
   * and the request's Hugging Face token, the one thing stored for it, is deleted.
   */
  private async removeQueued(current: PlatformRecord): Promise<Accepted> {
    const updated = await this.deps.registry.update(current.id, (r) => {
      if (r.phase !== 'Queued')
        throw new ApiError(
          'conflict',
          `Platform '${r.id}' is ${r.phase} now (it was admitted meanwhile); send the DELETE again.`,
        );
      return { ...r, phase: 'Deleted', operation: 'delete', updatedAt: this.deps.now().toISOString() };
    });
    if (updated.spec.huggingFaceToken)
      await this.deps.secrets.remove(updated.names.secrets['huggingface-token']);
    return accepted(updated);
  }

  /**
   * Admits queued platforms whose room has freed, first in first out: each is measured again in its
   * subscription (counting those admitted before it in this pass); one that fits goes to Pending and its
   * provisioning starts; one that still waits for deletions keeps its place and the ones behind it in its
   * region wait too; one with no deletion left to wait for and still no room is Failed with the shortfall.
   * Called when a delete completes and by the idle sweep; two passes at once admit each platform once (the
   * move out of Queued is a guarded write).
   */
  async admitQueued(orchestrations: Orchestrations): Promise<{ admitted: string[]; failed: string[] }> {
    const queued = (await this.deps.registry.list({ phases: ['Queued'] })).sort(queueOrder);
    const admitted: PlatformRecord[] = [];
    const failed: string[] = [];
    const blocked = new Set<string>();
    for (const q of queued) {
      const region = normalizeLocation(q.spec.location);
      if (blocked.has(region)) continue;
      const subscriptionId = q.subscriptionId ?? this.deps.config.subscriptionId;
      let measured: Awaited<ReturnType<PlatformService['place']>>;
      try {
        measured = await this.place(q.spec, {
          subscriptions: [subscriptionId],
          ahead: (r) => queueOrder(r, q) < 0,
          admitted,
        });
      } catch {
        // The quota could not be read: the next pass (a delete's end, the sweep) measures again.
        blocked.add(region);
        continue;
      }
      if (measured.chosen) {
        let moved = false;
        const updated = await this.deps.registry.update(q.id, (r) => {
          moved = r.phase === 'Queued';
          if (!moved) return undefined;
          return { ...r, phase: 'Pending', updatedAt: this.deps.now().toISOString() };
        });
        if (!moved) continue;
        try {
          await this.startOrRevert(updated, 'provision', orchestrations, { phase: 'Queued' });
        } catch {
          blocked.add(region);
          continue;
        }
        admitted.push(updated);
      } else if (measured.queueIn) {
        blocked.add(region);
      } else {
        const message = `Platform '${q.id}' no longer fits once the deletions it waited for ended: ${describeShortfall(measured.admission)}.`;
        const updated = await this.deps.registry.update(q.id, (r) =>
          r.phase === 'Queued'
            ? {
                ...r,
                phase: 'Failed',
                updatedAt: this.deps.now().toISOString(),
                lastError: { code: 'QuotaExceeded', message },
              }
            : undefined,
        );
        if (updated.phase === 'Failed') failed.push(q.id);
      }
    }
    return { admitted: admitted.map((r) => r.id), failed };
  }

  /** Each queued platform's place in the queue (1 = next). */
  private async queuePositions(): Promise<Map<string, number>> {
    return queuePositionsOf(await this.deps.registry.list({ phases: ['Queued'] }));
  }

  /** Starts the flow; if the runtime refuses, the record returns to where it was and says why. */
  private async startOrRevert(
    record: PlatformRecord,
    operation: Operation,
    orchestrations: Orchestrations,
    revert: Partial<Pick<PlatformRecord, 'spec' | 'models'>> & { phase: Phase },
    input: LifecycleInput = { platformId: record.id },
  ) {
    try {
      await orchestrations.start(ORCHESTRATORS[operation], instanceIdFor(record.id, operation), input);
    } catch (e) {
      await this.deps.registry.update(record.id, (r) => ({
        ...r,
        ...revert,
        updatedAt: this.deps.now().toISOString(),
        lastError: {
          code: 'OrchestrationStartFailed',
          message: `The ${operation} flow could not be started.`,
        },
      }));
      throw new ApiError(
        'unavailable',
        `The ${operation} flow could not be started; try again later.`,
        undefined,
        e,
      );
    }
  }
}

/** First in, first out: by creation time, then id (two of the same instant keep one order). */
const queueOrder = (a: PlatformRecord, b: PlatformRecord) =>
  a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id);

/** Each queued platform's place in the queue (1 = next), counted over every queued platform. */
const queuePositionsOf = (records: readonly PlatformRecord[]) =>
  new Map(
    records
      .filter((r) => r.phase === 'Queued')
      .sort(queueOrder)
      .map((r, i) => [r.id, i + 1]),
  );

/** ARM compares locations without case or spaces ("East US" is eastus). */
const normalizeLocation = (location: string) => location.replace(/\s+/g, '').toLowerCase();

const prefixTaken = (r: PlatformRecord | undefined, visible: boolean) =>
  new ApiError(
    'conflict',
    visible
      ? `A platform with prefix '${r?.id ?? ''}' already exists (phase ${r?.phase ?? 'unknown'}); delete it first or choose another prefix.`
      : `The prefix '${r?.id ?? ''}' is taken; choose another prefix.`,
  );

/** A caller without any role of this API is refused everything; with one, the role must allow the action. */
function authorize(caller: Caller, action: Action) {
  if (caller.roles.length === 0)
    throw new ApiError(
      'forbidden',
      `The caller has none of this API's roles (${Object.values(ROLES).join(', ')}).`,
    );
  if (!roleAllows(caller, action)) throw notAllowed(caller, action);
}

const DOING: Record<Action, string> = {
  read: 'reading platforms',
  create: 'creating platforms',
  operate: 'changing, stopping, starting or deleting platforms',
};
const notAllowed = (caller: Caller, action: Action) =>
  new ApiError('forbidden', `The caller's roles (${caller.roles.join(', ')}) do not allow ${DOING[action]}.`);

/** Two specs ask for the same platform (the token itself is never stored, only whether one was given). */
function sameSpec(a: PlatformSpec, b: PlatformSpec): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

const accepted = (r: PlatformRecord): Accepted => ({
  id: r.id,
  phase: r.phase,
  operation: r.operation,
  links: links(r.id),
});
