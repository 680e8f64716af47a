/**
 * Classifies what Azure (through the SDK) threw into the typed failure the orchestrator decides on.
 * Codes are ARM's (`error.code` of the response body); see "Troubleshoot common Azure deployment errors".
 */
import type { Failure, FailureKind } from '../platform/result.js';
import { retryAfterHeaderMs } from './throttling.js';

const QUOTA_CODES = new Set([
  'QuotaExceeded',
  'OperationNotAllowed.Quota',
  'OverconstrainedAllocationRequest',
  'OverconstrainedZonalAllocationRequest',
  'ZonalAllocationFailed',
  'AllocationFailed',
  'SkuNotAvailable',
  'InsufficientVCPUQuota',
  'SpotQuotaExceeded',
  'LowPriorityQuotaExceeded',
]);
const BUSY_CODES = new Set([
  'ServerIsBusy',
  'ServerBusy',
  'AnotherOperationInProgress',
  'OperationNotAllowedWhileBusy',
  'RetryableErrorDueToAnotherOperation',
  'Conflict.AnotherOperationInProgress',
  // PostgreSQL refuses stop/start/restart outside a settled state, e.g. "Restart or Stop Server can only be
  // performed on Started servers. Current Server State = Updating" (hashicorp/terraform-provider-azurerm#29219,
  // azure-real-behaviours F2): the state moves on by itself, so it is waited out, never a conflict.
  'ServerIsNotReady',
]);
/** A 409 whose message says the resource is in another operation (the code alone is often generic). */
const BUSY_MESSAGE = /another operation|in progress|busy/i;

/** ARM's error body (common-types `ErrorDetail`): a code and message, and the errors that caused it. */
export interface ArmErrorDetail {
  code?: string;
  message?: string;
  details?: ArmErrorDetail[];
}

/**
 * The cause of an ARM error: AKS wraps the real one (a quota, an allocation failure) in `details[]` under a
 * generic code such as ReconcileVMSSAgentPoolFailed, possibly several levels deep (ARM's ErrorDetail;
 * azure-real-behaviours, F6). The deepest detail with a code wins (the first of equals); without details,
 * the error itself.
 */
export function innermostError<E extends ArmErrorDetail>(error: E): E | ArmErrorDetail {
  let best: { detail: ArmErrorDetail; depth: number } = { detail: error, depth: 0 };
  const visit = (detail: ArmErrorDetail, depth: number) => {
    if (detail.code && depth > best.depth) best = { detail, depth };
    for (const inner of Array.isArray(detail.details) ? detail.details : []) visit(inner, depth + 1);
  };
  visit(error, 0);
  return best.detail;
}

/** Compute refuses a VM family's quota with OperationNotAllowed "… exceeding approved … quota …". */
export const isQuotaRefusal = (code: string, message: string) =>
  QUOTA_CODES.has(code) ||
  /quota|capacity|allocation failed/i.test(code) ||
  (code === 'OperationNotAllowed' && /quota/i.test(message));

interface RestErrorLike {
  name?: string;
  code?: string;
  statusCode?: number;
  message?: string;
  response?: { headers?: { get?(name: string): string | undefined } };
  details?: { error?: ArmErrorDetail };
}

export function classifyAzureError(e: unknown): Failure {
  const err = (e ?? {}) as RestErrorLike;
  const status = err.statusCode;
  const armError = err.details?.error ? innermostError(err.details.error) : undefined;
  const code = armError?.code ?? err.code ?? (status ? `Http${status}` : 'Unknown');
  const message = firstLine(armError?.message ?? err.message ?? String(e));
  const fail = (kind: FailureKind, extra: Partial<Failure> = {}): Failure => ({
    ok: false,
    kind,
    code,
    message,
    ...extra,
  });

  if (status === 429) return fail('throttled', { retryAfterMs: retryAfterMs(err) ?? 30_000 });
  if (isQuotaRefusal(code, message)) return fail('quota');
  if (BUSY_CODES.has(code)) return fail('busy', { retryAfterMs: retryAfterMs(err) });
  // AKS refuses every write while another operation runs on the cluster, its own auto-upgrades included
  // (which can outlast 20 minutes), with OperationNotAllowed "… in progress … operation …"
  // (azure-real-behaviours, F4): the refusal clears by itself, so it is waited out.
  if (code === 'OperationNotAllowed' && /in progress|another operation/i.test(message))
    return fail('busy', { retryAfterMs: retryAfterMs(err) });
  if (status === 404) return fail('notFound');
  if (status === 409 && BUSY_MESSAGE.test(message)) return fail('busy');
  if (status === 409) return fail('conflict');
  if (status !== undefined && status >= 500) return fail('transient', { retryAfterMs: retryAfterMs(err) });
  if (status !== undefined && status >= 400) return fail('invalid');
  // No status: a dropped connection, an abort or something unknown; every activity is idempotent, so retry.
  return fail('transient');
}

/**
 * What an ARM operation that ended Failed means for the step: quota, busy (PostgreSQL accepts a write and
 * then fails its operation with ServerBusy/ServerIsBusy while the server is still busy, typically just after
 * its creation: Azure/azure-postgresql#134, Azure/bicep-types-az#1507, azure-real-behaviours F1), or a
 * rejection of the request.
 */
export function classifyOperationError(code: string, message: string): FailureKind {
  if (isQuotaRefusal(code, message) || /allocation|SkuNotAvailable/i.test(code)) return 'quota';
  if (BUSY_CODES.has(code) || BUSY_MESSAGE.test(message)) return 'busy';
  return 'invalid';
}

function retryAfterMs(err: RestErrorLike): number | undefined {
  const headers = err.response?.headers;
  return headers?.get ? retryAfterHeaderMs({ get: (name) => headers.get!(name) }) : undefined;
}

/** Azure messages can be long and multi-line; the first line carries the meaning. */
const firstLine = (s: string) => s.split('\n')[0]!.slice(0, 1000);
