/**
 * The typed outcome of an operation on Azure or Kubernetes, and what ARM's asynchronous protocol reports:
 * the adapters classify what the SDKs threw into it, the activities return it, and the orchestrators
 * decide on it. It lives in the domain so that none of
 * those layers has to import another's module to share it.
 */

/**
 * Why an operation did not succeed, as far as the orchestrator cares:
 * - throttled: wait `retryAfterMs` and retry;  busy: the resource is in another operation, wait and retry;
 * - transient: a 5xx or a dropped connection, retry with backoff;
 * - conflict: a resource with our name that is not ours, or a state that forbids the operation;
 * - quota: subscription quota or regional capacity (spot included) refused;  invalid: Azure rejected the request;
 * - notFound: the resource (or its parent) does not exist;  timeout: a step passed its deadline.
 */
export type FailureKind =
  'throttled' | 'busy' | 'transient' | 'conflict' | 'quota' | 'invalid' | 'notFound' | 'timeout';

export interface Failure {
  ok: false;
  kind: FailureKind;
  /** Azure's error code (e.g. QuotaExceeded), or ours for local decisions. */
  code: string;
  message: string;
  retryAfterMs?: number;
}

export type Result<T> = { ok: true; value: T } | Failure;

export const RETRYABLE_KINDS: ReadonlySet<FailureKind> = new Set(['throttled', 'busy', 'transient']);

/** What a begin activity reports about one Azure resource. */
export interface ResourceState {
  /** ARM provisioningState (Succeeded, Failed, Canceled, or an in-progress value such as Creating). */
  provisioningState: string;
  /** True when this call sent a mutating request. */
  mutated: boolean;
  /** The long-running operation Azure accepted (Azure-AsyncOperation or Location URL), to poll. */
  operationUrl?: string;
  /** Azure's Retry-After on accepting it: the first poll waits at least this long. */
  retryAfterMs?: number;
}

/** One read of an ARM asynchronous operation (the Azure-AsyncOperation / Location protocol). */
export interface OperationStatus {
  status: 'InProgress' | 'Succeeded' | 'Failed' | 'Canceled';
  /** Azure's error of a Failed operation, with what it means for the step (absent: `invalid`). */
  error?: { code: string; message: string; kind?: FailureKind };
  /** Azure's Retry-After for the next poll. */
  retryAfterMs?: number;
}
