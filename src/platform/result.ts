/**
 * The typed outcome of an operation on Azure or Kubernetes: the adapters classify what the SDKs threw into
 * it, the activities return it, and the orchestrators decide on it. It lives in the domain so that none of
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
