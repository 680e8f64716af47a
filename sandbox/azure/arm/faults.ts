/**
 * Fault injection for the simulated ARM, per operation name, either scripted (consumed in order by the
 * next matching requests) or at a rate drawn from a seeded PRNG (reproducible runs).
 *
 * What the Azure SDK does with each (core-rest-pipeline's default retry policies, 3 retries):
 * - 429 / 503 WITH Retry-After: retried after that many (real) seconds;
 * - 429 WITHOUT Retry-After: not retried, surfaces as RestError 429;
 * - 500/502/503/504 without Retry-After and a dropped connection (ECONNRESET): retried with exponential
 *   back-off (about 1 s, 2 s, 4 s unless the client sets `retryOptions`);
 * - any other ARM error: surfaces immediately as RestError with `code`;
 * - a failed long-running operation: the poller rejects with "The long-running operation has failed.
 *   <code>. <message>" (Azure-AsyncOperation style) or with the RestError of the Location endpoint.
 */

import type { ScaleUpRefusal } from '../../kube/autoscaler.js';
import type { ArmErrorDetail } from './world.js';

/** Operation names faults are attached to; a PUT of an existing resource counts as its `create`/`put`. */
export type ArmOperationName =
  | 'rg.list'
  | 'rg.put'
  | 'rg.get'
  | 'rg.head'
  | 'rg.delete'
  | 'aks.list'
  | 'aks.create'
  | 'aks.get'
  | 'aks.delete'
  | 'aks.stop'
  | 'aks.start'
  | 'aks.listCredential'
  | 'aks.agentPools.list'
  | 'aks.agentPools.get'
  | 'aks.maintenance.put'
  | 'aks.maintenance.get'
  | 'aks.maintenance.delete'
  | 'aks.maintenance.list'
  | 'pg.create'
  | 'pg.get'
  | 'pg.update'
  | 'pg.delete'
  | 'pg.stop'
  | 'pg.start'
  | 'pg.config.put'
  | 'pg.config.get'
  | 'pg.config.list'
  | 'pg.db.put'
  | 'pg.db.get'
  | 'pg.db.delete'
  | 'pg.db.list'
  | 'pg.firewall.put'
  | 'pg.firewall.get'
  | 'pg.firewall.delete'
  | 'pg.firewall.list'
  | 'storage.create'
  | 'storage.get'
  | 'storage.delete'
  | 'storage.listKeys'
  | 'storage.share.put'
  | 'storage.share.patch'
  | 'storage.share.get'
  | 'storage.share.delete'
  | 'storage.share.list'
  | 'network.publicIp.get'
  | 'plain.put'
  | 'plain.get'
  | 'plain.delete'
  /** Any GET on an Azure-AsyncOperation or Location polling URL. */
  | 'compute.usages.list'
  | 'roleAssignment.put'
  | 'roleAssignment.get'
  | 'roleAssignment.delete'
  | 'poll';

export type FaultTarget = ArmOperationName | '*';

/**
 * An agent pool the cloud cannot grow (no spot capacity in the region, or the VM family's vCPU quota used
 * up). Nothing fails at the ARM API: with minCount 0 no VM is allocated at creation, so it shows only when
 * the cluster autoscaler tries to add a node (sandbox/kube/autoscaler.ts).
 */
export type { ScaleUpRefusal } from '../../kube/autoscaler.js';

export type Fault =
  /** 429 TooManyRequests; the Retry-After header only when `retryAfterSeconds` is given. */
  | { kind: 'throttle'; retryAfterSeconds?: number }
  /** 5xx with an ARM error body; Retry-After only when given. */
  | { kind: 'serverError'; status: 500 | 502 | 503 | 504; retryAfterSeconds?: number }
  /** The socket is destroyed after the request was read: the client sees ECONNRESET. */
  | { kind: 'drop' }
  /** An immediate ARM error (nothing is changed). */
  | { kind: 'error'; status: number; code: string; message: string }
  /**
   * The request is accepted as usual but its long-running operation ends Failed with this error (and the
   * errors nested under it in `details`).
   */
  | {
      kind: 'lroFailure';
      code: string;
      message: string;
      details?: ArmErrorDetail[];
      status?: number;
      afterMs?: number;
    }
  /** Let this request through (a placeholder in a script). */
  | { kind: 'pass' };

const QUOTA = {
  code: 'QuotaExceeded',
  message:
    'Operation could not be completed as it results in exceeding approved Standard NCASv3_T4 Family Cores quota. Additional details - Deployment Model: Resource Manager, Location: eastus, Current Limit: 0, Current Usage: 0, Additional Required: 4, (Minimum) New Limit Required: 4.',
};
const ZONAL = {
  code: 'OverconstrainedZonalAllocationRequest',
  message:
    'Allocation failed. VM(s) with the following constraints cannot be allocated, because the condition is too restrictive. Please remove some constraints and try again. Constraints applied are: - Availability Zone - Networking Constraints (such as Accelerated Networking or IPv6) - VM Size',
};

/** PostgreSQL's asynchronous busy outcome (also what the simulator does by default just after a creation). */
export const PG_BUSY = {
  code: 'ServerBusy',
  message:
    'Cannot complete operation while server is busy processing another operation. Please try again later.',
};

/** PostgreSQL's refusal of a stop/start/restart outside a settled state. */
export function serverNotReady(state: string): { code: string; message: string } {
  return {
    code: 'ServerIsNotReady',
    message: `Restart or Stop Server can only be performed on Started servers. Current Server State = ${state}`,
  };
}

/**
 * AKS reports a failed cluster operation under a generic code, the real cause nested in `details[]`, often
 * several levels deep (azure-real-behaviours, F6: ReconcileVMSSAgentPoolFailed, CreateVMSSAgentPoolFailed;
 * ARM's ErrorDetail). Compute's quota refusal itself is OperationNotAllowed with a quota message.
 */
const NESTED_QUOTA = {
  code: 'CreateVMSSAgentPoolFailed',
  message:
    'Code="QuotaExceeded" Message="Preflight validation check for resource(s) for container service failed. Details: see the nested errors."',
  details: [
    {
      code: 'QuotaExceeded',
      message: 'Preflight validation check for resource(s) for container service failed.',
      details: [{ code: 'OperationNotAllowed', message: QUOTA.message }],
    },
  ],
};
const NESTED_ZONAL = {
  code: 'ReconcileVMSSAgentPoolFailed',
  message: 'Reconcile VMSS agent pool failed: the virtual machine scale set could not be allocated.',
  details: [{ code: ZONAL.code, message: ZONAL.message }],
};
const NESTED_SKU = {
  code: 'ReconcileVMSSAgentPoolFailed',
  message: 'Reconcile VMSS agent pool failed.',
  details: [
    {
      code: 'SkuNotAvailable',
      message:
        "The requested VM size for resource 'Following SKUs have failed for Capacity Restrictions: Standard_NC4as_T4_v3' is currently not available in location 'eastus'. Please try another size or deploy to a different location or different zone.",
    },
  ],
};

/** Constructors for the faults tests use most. */
export const armFault = {
  throttle: (retryAfterSeconds?: number): Fault => ({ kind: 'throttle', retryAfterSeconds }),
  serverError: (status: 500 | 502 | 503 | 504 = 500, retryAfterSeconds?: number): Fault => ({
    kind: 'serverError',
    status,
    retryAfterSeconds,
  }),
  unavailable: (retryAfterSeconds?: number): Fault => ({
    kind: 'serverError',
    status: 503,
    retryAfterSeconds,
  }),
  drop: (): Fault => ({ kind: 'drop' }),
  pass: (): Fault => ({ kind: 'pass' }),
  error: (status: number, code: string, message = `Simulated ${code}.`): Fault => ({
    kind: 'error',
    status,
    code,
    message,
  }),
  lroFailed: (code: string, message = `Simulated ${code}.`, afterMs?: number): Fault => ({
    kind: 'lroFailure',
    code,
    message,
    afterMs,
  }),
  /**
   * PostgreSQL accepts a child write (202) and its operation then ends Failed ServerBusy: the server was
   * busy with another operation (Azure/azure-postgresql#134, Azure/bicep-types-az#1507).
   */
  busyOutcome: (): Fault => ({ kind: 'lroFailure', status: 409, ...PG_BUSY }),
  /**
   * A PostgreSQL stop or start refused because the server is not in a settled state: what a power operation
   * meets while Azure runs the server's scheduled maintenance (hashicorp/terraform-provider-azurerm#29219).
   */
  pgMaintenance: (state: 'Updating' | 'Restarting' = 'Updating'): Fault => ({
    kind: 'error',
    status: 409,
    ...serverNotReady(state),
  }),
  /**
   * A role assignment for a principal Entra ID has not replicated to ARM yet (a managed identity created
   * moments ago): 400 PrincipalNotFound, gone after a while (role assignment troubleshooting docs). Script
   * it on 'roleAssignment.put'.
   */
  principalNotFound: (principalId = 'the principal'): Fault => ({
    kind: 'error',
    status: 400,
    code: 'PrincipalNotFound',
    message: `Principal ${principalId} does not exist in the directory.`,
  }),
  /** An operation URL Azure no longer knows (operation records expire): script it on 'poll'. */
  operationNotFound: (): Fault => ({
    kind: 'error',
    status: 404,
    code: 'OperationNotFound',
    message: 'The operation could not be found.',
  }),
  /**
   * Subscription quota for the VM family: 400 up front, or a create that ends Failed with the quota refusal
   * nested two levels under AKS's CreateVMSSAgentPoolFailed.
   */
  quotaExceeded: (how: 'immediate' | 'lro' = 'immediate'): Fault =>
    how === 'immediate'
      ? { kind: 'error', status: 400, ...QUOTA }
      : { kind: 'lroFailure', status: 400, ...NESTED_QUOTA },
  /**
   * No capacity for the size in the requested zone (common for spot GPU pools): 409, or a failed LRO with
   * the allocation failure nested under AKS's ReconcileVMSSAgentPoolFailed.
   */
  zonalAllocation: (how: 'immediate' | 'lro' = 'immediate'): Fault =>
    how === 'immediate'
      ? { kind: 'error', status: 409, ...ZONAL }
      : { kind: 'lroFailure', status: 409, ...NESTED_ZONAL },
  /** The VM size is not offered in the region (or is restricted): a failed LRO, SkuNotAvailable nested. */
  skuNotAvailable: (): Fault => ({ kind: 'lroFailure', status: 400, ...NESTED_SKU }),
};

/** mulberry32: small, fast, good enough for reproducible fault sequences. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Rate {
  probability: number;
  choices: Fault[];
  random: () => number;
}

export class ArmFaults {
  private readonly scripts = new Map<FaultTarget, Fault[]>();
  private readonly rates = new Map<FaultTarget, Rate>();
  private readonly scaleUps = new Map<string, ScaleUpRefusal>();
  /** Every fault applied, in order. */
  readonly applied: { op: ArmOperationName; fault: Fault }[] = [];

  /** The next requests for `op` get these faults, one each, in order (appended to a pending script). */
  script(op: FaultTarget, faults: Fault[]): this {
    this.scripts.set(op, [...(this.scripts.get(op) ?? []), ...faults]);
    return this;
  }

  /**
   * Each request for `op` gets a fault with `probability`, chosen uniformly from `choices`. `random` is a
   * PRNG (e.g. `seededRandom(42)`) or a seed.
   */
  rate(op: FaultTarget, probability: number, choices: Fault[], random: (() => number) | number): this {
    if (!(probability >= 0 && probability <= 1)) throw new RangeError('probability must be in [0, 1]');
    if (choices.length === 0) throw new RangeError('at least one fault to choose from');
    this.rates.set(op, {
      probability,
      choices,
      random: typeof random === 'number' ? seededRandom(random) : random,
    });
    return this;
  }

  /** Scripted faults not yet consumed. */
  pending(op: FaultTarget): number {
    return this.scripts.get(op)?.length ?? 0;
  }

  clear(): void {
    this.scripts.clear();
    this.rates.clear();
    this.scaleUps.clear();
  }

  /** Scale-ups of agent pool `pool` (in any cluster) are refused from now on, until allowScaleUp. */
  refuseScaleUp(pool: string, refusal: ScaleUpRefusal = 'spotCapacity'): this {
    this.scaleUps.set(pool, refusal);
    return this;
  }

  allowScaleUp(pool: string): this {
    this.scaleUps.delete(pool);
    return this;
  }

  scaleUpRefusal(pool: string): ScaleUpRefusal | undefined {
    return this.scaleUps.get(pool);
  }

  /** The fault for this request, if any: a script for the op, then for '*', then a rate for the op, then '*'. */
  take(op: ArmOperationName): Fault | undefined {
    const fault = this.fromScript(op) ?? this.fromScript('*') ?? this.fromRate(op) ?? this.fromRate('*');
    if (!fault || fault.kind === 'pass') return undefined;
    this.applied.push({ op, fault });
    return fault;
  }

  private fromScript(target: FaultTarget): Fault | undefined {
    const queue = this.scripts.get(target);
    const next = queue?.shift();
    if (queue && queue.length === 0) this.scripts.delete(target);
    return next;
  }

  private fromRate(target: FaultTarget): Fault | undefined {
    const rate = this.rates.get(target);
    if (!rate || rate.random() >= rate.probability) return undefined;
    return rate.choices[Math.floor(rate.random() * rate.choices.length)];
  }
}
