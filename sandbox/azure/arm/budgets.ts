/**
 * ARM's request budgets: token buckets on the sandbox clock, keyed as Azure keys them.
 *
 * - Resource Manager (azure-real-behaviours §3.1, "request-limits-and-throttling"): a bucket per principal
 *   (the token's `oid`), per subscription, per region and per operation type (reads: GET/HEAD, writes:
 *   PUT/PATCH/POST, deletes: DELETE): 250 tokens refilled at 25/s for reads, 200 at 10/s for writes and
 *   deletes; beside it the subscription's global bucket (every principal) 15 times that. An empty bucket
 *   answers 429 `SubscriptionRequestsThrottled`. Every answer carries the principal's remaining count
 *   (`x-ms-ratelimit-remaining-subscription-reads|writes|deletes`) and the global one
 *   (`…-subscription-global-…`).
 * - The AKS resource provider (azure-real-behaviours §3.2, AKS "quotas-skus-regions"), per region: LIST
 *   ManagedClusters 500 at 1/s per subscription, PUT ManagedCluster 20 at 1/min per cluster, GET
 *   ManagedCluster 60 at 1/s per cluster, GET of an operation status 200 at 2/s per subscription, every
 *   other AKS API (credentials, stop, start, agent pools, maintenance configurations, delete) 60 at 1/s per
 *   subscription. An empty bucket answers 429 `TooManyRequests`.
 *
 * A 429 carries `Retry-After`: the whole seconds until every bucket the request needs has a token again. A
 * refused request takes no token.
 */
import type { ArmOperationName } from './faults.js';

export interface BucketSize {
  /** Tokens when full (the burst). */
  burst: number;
  /** Tokens added per second. */
  perSecond: number;
}

export type OperationType = 'reads' | 'writes' | 'deletes';
export type AksBudget = 'list' | 'putCluster' | 'getCluster' | 'operationStatus' | 'other';

export interface BudgetSizes {
  /** Per principal, subscription, region and operation type. */
  principal: Record<OperationType, BucketSize>;
  /** The subscription's global buckets are this many times the principal's (15). */
  globalFactor: number;
  aks: Record<AksBudget, BucketSize>;
}

/** The published sizes. */
export const PUBLISHED_BUDGETS: BudgetSizes = {
  principal: {
    reads: { burst: 250, perSecond: 25 },
    writes: { burst: 200, perSecond: 10 },
    deletes: { burst: 200, perSecond: 10 },
  },
  globalFactor: 15,
  aks: {
    list: { burst: 500, perSecond: 1 },
    putCluster: { burst: 20, perSecond: 1 / 60 },
    getCluster: { burst: 60, perSecond: 1 },
    operationStatus: { burst: 200, perSecond: 2 },
    other: { burst: 60, perSecond: 1 },
  },
};

/**
 * Every bucket `factor` times smaller (bursts of at least one token, rates kept in proportion), so a test
 * burst of a few platforms meets the limits a fleet of hundreds would.
 */
export function scaledBudgets(factor: number, sizes: BudgetSizes = PUBLISHED_BUDGETS): BudgetSizes {
  const scale = (b: BucketSize): BucketSize => ({
    burst: Math.max(1, Math.floor(b.burst / factor)),
    perSecond: b.perSecond / factor,
  });
  const map = <K extends string>(r: Record<K, BucketSize>) =>
    Object.fromEntries(Object.entries<BucketSize>(r).map(([k, b]) => [k, scale(b)])) as Record<K, BucketSize>;
  return { principal: map(sizes.principal), globalFactor: sizes.globalFactor, aks: map(sizes.aks) };
}

class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    private readonly size: BucketSize,
    now: number,
  ) {
    this.tokens = size.burst;
    this.at = now;
  }

  /** Tokens now (refilled for the time since the last look). */
  level(now: number): number {
    if (now > this.at) {
      this.tokens = Math.min(this.size.burst, this.tokens + ((now - this.at) / 1000) * this.size.perSecond);
      this.at = now;
    }
    return this.tokens;
  }

  /** Seconds until one token is there (0: there is one now). */
  waitSeconds(now: number): number {
    const missing = 1 - this.level(now);
    return missing <= 0 ? 0 : Math.ceil(missing / this.size.perSecond);
  }

  take() {
    this.tokens -= 1;
  }
}

export interface BudgetRequest {
  now: number;
  method: string;
  /** The caller's object id, from its bearer token. */
  principal: string;
  subscriptionId: string;
  region: string;
  op: ArmOperationName;
  /** The AKS cluster's id (lower-cased) for its per-cluster buckets. */
  clusterKey?: string;
  /** The request reads an AKS operation (status or result URL). */
  aksOperation?: boolean;
}

export type BudgetAnswer =
  | { ok: true; headers: Record<string, string> }
  | { ok: false; retryAfterSeconds: number; code: string; message: string; headers: Record<string, string> };

export const operationType = (method: string): OperationType =>
  method === 'GET' || method === 'HEAD' ? 'reads' : method === 'DELETE' ? 'deletes' : 'writes';

/** The AKS resource provider's bucket a request counts against, if any. */
function aksBudget(r: BudgetRequest): { name: AksBudget; key: string } | undefined {
  const regional = `${r.subscriptionId}|${r.region}`;
  if (r.op === 'poll') return r.aksOperation ? { name: 'operationStatus', key: regional } : undefined;
  if (!r.op.startsWith('aks.')) return undefined;
  if (r.op === 'aks.list') return { name: 'list', key: regional };
  if (r.op === 'aks.create') return { name: 'putCluster', key: r.clusterKey ?? regional };
  if (r.op === 'aks.get') return { name: 'getCluster', key: r.clusterKey ?? regional };
  return { name: 'other', key: regional };
}

export class ArmBudgets {
  private readonly buckets = new Map<string, TokenBucket>();
  /** Requests refused 429 so far, by the bucket that refused them. */
  readonly throttled: Record<string, number> = {};

  constructor(readonly sizes: BudgetSizes) {}

  /** Takes a token from every bucket the request counts against, or says how long until it may. */
  admit(r: BudgetRequest): BudgetAnswer {
    const type = operationType(r.method);
    const scope = `${r.subscriptionId}|${r.region}|${type}`;
    const own = this.bucket(`principal|${scope}|${r.principal}`, this.sizes.principal[type], r.now);
    const global = this.bucket(`global|${scope}`, this.globalSize(type), r.now);
    const aks = aksBudget(r);
    const rp = aks && this.bucket(`aks|${aks.name}|${aks.key}`, this.sizes.aks[aks.name], r.now);

    const armWait = Math.max(own.waitSeconds(r.now), global.waitSeconds(r.now));
    const rpWait = rp ? rp.waitSeconds(r.now) : 0;
    if (armWait > 0 || rpWait > 0) {
      const headers = this.remaining(type, own, global, r.now);
      const retryAfterSeconds = Math.max(armWait, rpWait);
      if (armWait > 0) {
        this.count(`arm.${type}`);
        return {
          ok: false,
          retryAfterSeconds,
          headers,
          code: 'SubscriptionRequestsThrottled',
          message: `Number of '${type.slice(0, -1)}' requests for subscription '${r.subscriptionId}' actor '${r.principal}' exceeded. Please try again after '${retryAfterSeconds}' seconds after additional tokens are available.`,
        };
      }
      this.count(`aks.${aks!.name}`);
      return {
        ok: false,
        retryAfterSeconds,
        headers,
        code: 'TooManyRequests',
        message: `Too many requests to Microsoft.ContainerService (${aks!.name}). Please retry after ${retryAfterSeconds} seconds.`,
      };
    }
    own.take();
    global.take();
    rp?.take();
    return { ok: true, headers: this.remaining(type, own, global, r.now) };
  }

  /** Every 429 answered so far. */
  get throttledTotal(): number {
    return Object.values(this.throttled).reduce((a, b) => a + b, 0);
  }

  private count(name: string) {
    this.throttled[name] = (this.throttled[name] ?? 0) + 1;
  }

  private globalSize(type: OperationType): BucketSize {
    const { burst, perSecond } = this.sizes.principal[type];
    return { burst: burst * this.sizes.globalFactor, perSecond: perSecond * this.sizes.globalFactor };
  }

  private bucket(key: string, size: BucketSize, now: number): TokenBucket {
    let bucket = this.buckets.get(key);
    if (!bucket) this.buckets.set(key, (bucket = new TokenBucket(size, now)));
    return bucket;
  }

  private remaining(type: OperationType, own: TokenBucket, global: TokenBucket, now: number) {
    return {
      [`x-ms-ratelimit-remaining-subscription-${type}`]: String(Math.floor(own.level(now))),
      [`x-ms-ratelimit-remaining-subscription-global-${type}`]: String(Math.floor(global.level(now))),
    };
  }
}

/** The `oid` of a bearer token (unverified: ARM's front door has checked it); `unknown` without one. */
export function principalOf(authorization: string | undefined): string {
  const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
  const payload = token?.split('.')[1];
  if (!payload) return 'unknown';
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { oid?: unknown };
    return typeof claims.oid === 'string' ? claims.oid : 'unknown';
  } catch {
    return 'unknown';
  }
}
