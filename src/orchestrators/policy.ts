/**
 * Every retry and polling policy of the orchestrations, named, with explicit backoff and caps, in one place.
 * Times are simulated-time safe: they only feed durable timers and RetryOptions.
 */
import * as df from 'durable-functions';

/** Faults an activity throws (programming or infrastructure errors inside the worker) are retried blindly, a few times. */
export function activityRetry(): df.RetryOptions {
  const options = new df.RetryOptions(5_000, 4);
  options.backoffCoefficient = 2;
  options.maxRetryIntervalInMilliseconds = 60_000;
  return options;
}

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
  storageAccount: { initialMs: 5_000, factor: 2, maxMs: 30_000, deadlineMs: minutes(10) },
  postgresChild: { initialMs: 2_500, factor: 2, maxMs: 30_000, deadlineMs: minutes(15) },
  // AKS stop ≈ 4 min, start ≈ 6 min; PostgreSQL stop/start ≈ 2 min; a group delete takes what it holds.
  aksPower: { initialMs: 30_000, factor: 1.5, maxMs: 120_000, deadlineMs: minutes(45) },
  postgresPower: { initialMs: 15_000, factor: 1.5, maxMs: 60_000, deadlineMs: minutes(30) },
  resourceGroupDelete: { initialMs: 30_000, factor: 1.5, maxMs: 120_000, deadlineMs: minutes(90) },
  // Key Vault shows a deleted secret within seconds of the delete.
  keyVault: { initialMs: 2_000, factor: 2, maxMs: 15_000, deadlineMs: minutes(10) },
  // GPU nodes from zero, image pulls and the device plugin take minutes; spot capacity can take longer.
  kubernetes: { initialMs: 5_000, factor: 1.5, maxMs: 15_000, deadlineMs: minutes(45) },
  // Model pulls are gigabytes over the network onto Azure Files.
  models: { initialMs: 10_000, factor: 1.5, maxMs: 30_000, deadlineMs: minutes(180) },
} as const satisfies Record<string, PollPolicy>;

/** The policy whose deadline bounds each named step (a step not listed is a Kubernetes wait). */
const STEP_POLICIES: Record<string, PollPolicy> = {
  resourceGroup: POLL.storageAccount,
  secrets: POLL.storageAccount,
  fileShares: POLL.storageAccount,
  modelsRemove: POLL.storageAccount,
  webuiStop: POLL.postgresChild,
  aksCluster: POLL.aksCluster,
  postgresServer: POLL.postgresServer,
  postgresResize: POLL.postgresServer,
  storageAccount: POLL.storageAccount,
  postgresSettings: POLL.postgresChild,
  postgresFirewall: POLL.postgresChild,
  databaseDrop: POLL.postgresChild,
  databaseCreate: POLL.postgresChild,
  aksStop: POLL.aksPower,
  aksStart: POLL.aksPower,
  postgresStop: POLL.postgresPower,
  postgresStart: POLL.postgresPower,
  resourceGroupDelete: POLL.resourceGroupDelete,
  secretsPurge: POLL.keyVault,
  firstModel: POLL.models,
  models: POLL.models,
};

/** How long a step may run before it fails as a timeout (the status warns once it is past that). */
export function stepDeadlineMs(step: string): number {
  // waitAfterStop is a fixed durable timer of Azure's 15 minutes; the rest follow their policies.
  if (step === 'waitAfterStop') return 30 * 60_000;
  return (STEP_POLICIES[step] ?? POLL.kubernetes).deadlineMs;
}

/** Platforms probed at once by one idle sweep. */
export const SWEEP_CONCURRENCY = 20;
/** Platforms per sub-orchestration of a sweep: five batches, about twelve history events per platform. */
export const SWEEP_CHUNK = 5 * SWEEP_CONCURRENCY;

/** A retryable refusal (throttled, busy, transient) is retried this many times within one step. */
export const MAX_RETRYABLE_REFUSALS = 12;

/** The wait before the next poll: Azure's Retry-After when it gave one, else our backoff; never past maxMs. */
export function nextWaitMs(policy: PollPolicy, attempt: number, retryAfterMs?: number): number {
  const backoff = Math.min(policy.maxMs, policy.initialMs * policy.factor ** attempt);
  return Math.min(Math.max(backoff, retryAfterMs ?? 0), Math.max(policy.maxMs, retryAfterMs ?? 0));
}
