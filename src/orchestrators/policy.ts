/**
 * The runtime's retry policy for faults an activity throws, and the idle sweep's cadence. The polling
 * policies of the steps live with the step catalogue (src/platform/steps.ts).
 */
import * as df from 'durable-functions';

/** Faults an activity throws (programming or infrastructure errors inside the worker) are retried blindly, a few times. */
export function activityRetry(): df.RetryOptions {
  const options = new df.RetryOptions(5_000, 4);
  options.backoffCoefficient = 2;
  options.maxRetryIntervalInMilliseconds = 60_000;
  return options;
}

/** Platforms probed at once by one idle sweep. */
export const SWEEP_CONCURRENCY = 20;
/** Platforms per sub-orchestration of a sweep: five batches, about twelve history events per platform. */
export const SWEEP_CHUNK = 5 * SWEEP_CONCURRENCY;
