/**
 * The polling policies that pace and bound every wait of the flows, named, with explicit backoff and caps.
 * The step catalogue (steps.ts) and the resource table (azure-resources.ts) name a policy for each step.
 * Pure: times only feed durable timers and the status.
 */

export interface PollPolicy {
  /** First wait between two state reads. */
  initialMs: number;
  /** Backoff factor between waits, up to maxMs. */
  factor: number;
  maxMs: number;
  /** The step fails as `timeout` when it has not converged this long after it started. */
  deadlineMs: number;
}

const minutes = (n: number) => n * 60_000;

export const POLL = {
  // AKS creation takes 5–15 minutes (GPU pools longer); Azure asks clients to poll no faster than Retry-After.
  // Reads are cheap beside a GPU node idling: a 30 s cap keeps the wait after the end short (Azure's
  // Retry-After, when larger, still wins: nextWaitMs).
  aksCluster: { initialMs: 30_000, factor: 1.5, maxMs: 30_000, deadlineMs: minutes(60) },
  postgresServer: { initialMs: 20_000, factor: 1.5, maxMs: 90_000, deadlineMs: minutes(40) },
  // Storage accounts, resource groups, secrets, file shares and the AKS maintenance window: seconds.
  storageAccount: { initialMs: 5_000, factor: 2, maxMs: 30_000, deadlineMs: minutes(10) },
  postgresChild: { initialMs: 2_500, factor: 2, maxMs: 30_000, deadlineMs: minutes(15) },
  // AKS stop ≈ 10 min, start ≈ 4–6 min; PostgreSQL stop/start ≈ 2 min; a group delete takes what it holds.
  // A stop or start may first wait out an upgrade (AKS refuses writes while one runs, which can outlast 20
  // minutes), then take its own 10 minutes or so.
  aksPower: { initialMs: 30_000, factor: 1.5, maxMs: 120_000, deadlineMs: minutes(60) },
  postgresPower: { initialMs: 15_000, factor: 1.5, maxMs: 60_000, deadlineMs: minutes(30) },
  resourceGroupDelete: { initialMs: 30_000, factor: 1.5, maxMs: 120_000, deadlineMs: minutes(90) },
  // Key Vault shows a deleted secret within seconds of the delete.
  keyVault: { initialMs: 2_000, factor: 2, maxMs: 15_000, deadlineMs: minutes(10) },
  // A role assignment takes effect in Azure RBAC for Kubernetes within about five minutes (AKS
  // manage-azure-rbac docs); the deadline leaves three times that.
  clusterAccess: { initialMs: 15_000, factor: 1.5, maxMs: 60_000, deadlineMs: minutes(15) },
  // GPU nodes from zero, image pulls and the device plugin take minutes; spot capacity can take longer.
  kubernetes: { initialMs: 5_000, factor: 1.5, maxMs: 15_000, deadlineMs: minutes(45) },
  // Model pulls are gigabytes over the network onto Azure Files.
  models: { initialMs: 10_000, factor: 1.5, maxMs: 30_000, deadlineMs: minutes(180) },
  // AKS asks for 15–30 minutes between a stop and a start: a fixed durable timer, bounded by its upper end.
  startAfterStop: { initialMs: minutes(15), factor: 1, maxMs: minutes(15), deadlineMs: minutes(30) },
} as const satisfies Record<string, PollPolicy>;
export type PolicyName = keyof typeof POLL;

/**
 * A retryable refusal (throttled, busy, transient) is retried until the step's deadline, not a number of
 * times. Azure's Retry-After still sets the wait, but never past the deadline: a refusal asking for more than
 * the step has left gets one last call at the deadline (the backoff itself stays within the policy's maxMs).
 */
export function refusalWaitMs(retryAfterMs: number | undefined, remainingMs: number): number | undefined {
  return retryAfterMs === undefined ? undefined : Math.min(retryAfterMs, Math.max(0, remainingMs));
}

/** The wait before the next poll: Azure's Retry-After when it gave one, else our backoff; never past maxMs. */
export function nextWaitMs(policy: PollPolicy, attempt: number, retryAfterMs?: number): number {
  const backoff = Math.min(policy.maxMs, policy.initialMs * policy.factor ** attempt);
  return Math.min(Math.max(backoff, retryAfterMs ?? 0), Math.max(policy.maxMs, retryAfterMs ?? 0));
}
