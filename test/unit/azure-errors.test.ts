import { afterEach, describe, expect, it, vi } from 'vitest';
import { classifyAzureError, classifyOperationError, type ArmErrorDetail } from '../../src/azure/errors.js';
import { operationStatus } from '../../src/azure/lro.js';
import { classifyKube } from '../../src/kube/errors.js';
import type { Failure } from '../../src/platform/result.js';

/** What the Azure SDK throws: a RestError with ARM's error body in `details` and the response headers. */
function restError(
  statusCode: number | undefined,
  armCode?: string,
  options: { message?: string; retryAfter?: string; code?: string; name?: string } = {},
) {
  const headers = new Map(options.retryAfter ? [['retry-after', options.retryAfter]] : []);
  return {
    name: options.name ?? 'RestError',
    code: options.code,
    statusCode,
    message: options.message ?? 'Azure said no.',
    response: { headers: { get: (name: string) => headers.get(name) } },
    details: armCode ? { error: { code: armCode, message: options.message ?? 'Azure said no.' } } : undefined,
  };
}

/** A RestError whose ARM error nests its causes in `details[]` (ARM's ErrorDetail). */
const nested = (statusCode: number, error: ArmErrorDetail) => ({
  name: 'RestError',
  statusCode,
  message: error.message,
  response: { headers: { get: () => undefined } },
  details: { error },
});

const QUOTA_REFUSAL =
  'Operation could not be completed as it results in exceeding approved Standard NCASv3_T4 Family Cores quota.';

const failure = (kind: Failure['kind'], code: string, extra: Partial<Failure> = {}): Failure => ({
  ok: false,
  kind,
  code,
  message: 'Azure said no.',
  ...extra,
});

const QUOTA_CODES = [
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
];
const BUSY_CODES = [
  'ServerIsBusy',
  'ServerBusy',
  'AnotherOperationInProgress',
  'OperationNotAllowedWhileBusy',
  'RetryableErrorDueToAnotherOperation',
  'Conflict.AnotherOperationInProgress',
  'ServerIsNotReady',
];
const UPGRADE_IN_PROGRESS =
  "Operation is not allowed because there's an in progress upgrade managed cluster operation on 'aks-acme'. Please wait for it to finish before starting a new operation.";
const STOPPED_CLUSTER =
  "Operation 'stop' is not allowed: managed cluster 'aks-acme' is in stopped state. Only start and delete are allowed on a stopped cluster.";
const NETWORK_CODES = [
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'REQUEST_SEND_ERROR',
  'UND_ERR_SOCKET',
];

describe('classifyAzureError', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it.each<{ name: string; error: unknown; want: Failure }>([
    {
      name: '429 with Retry-After in seconds waits that long',
      error: restError(429, 'TooManyRequests', { retryAfter: '7' }),
      want: failure('throttled', 'TooManyRequests', { retryAfterMs: 7_000 }),
    },
    {
      name: '429 without Retry-After waits 30 s',
      error: restError(429, 'TooManyRequests'),
      want: failure('throttled', 'TooManyRequests', { retryAfterMs: 30_000 }),
    },
    {
      name: '429 with an unreadable Retry-After waits 30 s',
      error: restError(429, 'TooManyRequests', { retryAfter: 'soon' }),
      want: failure('throttled', 'TooManyRequests', { retryAfterMs: 30_000 }),
    },
    {
      name: '429 wins over a quota code',
      error: restError(429, 'QuotaExceeded'),
      want: failure('throttled', 'QuotaExceeded', { retryAfterMs: 30_000 }),
    },
    ...QUOTA_CODES.map((code) => ({
      name: `${code} is quota`,
      error: restError(400, code),
      want: failure('quota', code),
    })),
    {
      name: 'a code naming quota is quota',
      error: restError(409, 'RegionalQuotaExceeded'),
      want: failure('quota', 'RegionalQuotaExceeded'),
    },
    {
      name: 'a code naming capacity is quota',
      error: restError(409, 'InsufficientCapacity'),
      want: failure('quota', 'InsufficientCapacity'),
    },
    ...BUSY_CODES.map((code) => ({
      name: `${code} is busy`,
      error: restError(409, code),
      want: failure('busy', code),
    })),
    {
      name: 'a busy code keeps its Retry-After',
      error: restError(409, 'ServerIsBusy', { retryAfter: '12' }),
      want: failure('busy', 'ServerIsBusy', { retryAfterMs: 12_000 }),
    },
    {
      name: '404 is notFound',
      error: restError(404, 'ResourceNotFound'),
      want: failure('notFound', 'ResourceNotFound'),
    },
    {
      name: "409 saying 'another operation' is busy",
      error: restError(409, 'Conflict', { message: 'Another operation is in progress on the server.' }),
      want: failure('busy', 'Conflict', { message: 'Another operation is in progress on the server.' }),
    },
    {
      name: "409 saying 'in progress' is busy",
      error: restError(409, 'Conflict', { message: 'An update is in progress.' }),
      want: failure('busy', 'Conflict', { message: 'An update is in progress.' }),
    },
    {
      name: 'AKS refusing a write during an upgrade is busy and keeps its Retry-After',
      error: restError(409, 'OperationNotAllowed', { message: UPGRADE_IN_PROGRESS, retryAfter: '30' }),
      want: failure('busy', 'OperationNotAllowed', { message: UPGRADE_IN_PROGRESS, retryAfterMs: 30_000 }),
    },
    {
      name: 'AKS refusing a write during an upgrade is busy whatever the status it comes with',
      error: restError(400, 'OperationNotAllowed', { message: UPGRADE_IN_PROGRESS }),
      want: failure('busy', 'OperationNotAllowed', { message: UPGRADE_IN_PROGRESS }),
    },
    {
      name: 'AKS refusing a write on a stopped cluster is a conflict, not busy',
      error: restError(409, 'OperationNotAllowed', { message: STOPPED_CLUSTER }),
      want: failure('conflict', 'OperationNotAllowed', { message: STOPPED_CLUSTER }),
    },
    {
      name: 'Compute refusing a quota with OperationNotAllowed is quota',
      error: restError(409, 'OperationNotAllowed', { message: QUOTA_REFUSAL }),
      want: failure('quota', 'OperationNotAllowed', { message: QUOTA_REFUSAL }),
    },
    {
      name: 'the cause AKS nests in details[], several levels deep, is the code and message',
      error: nested(400, {
        code: 'CreateVMSSAgentPoolFailed',
        message: 'Agent pool creation failed.',
        details: [
          {
            code: 'QuotaExceeded',
            message: 'Preflight validation failed.',
            details: [{ code: 'OperationNotAllowed', message: QUOTA_REFUSAL }],
          },
        ],
      }),
      want: failure('quota', 'OperationNotAllowed', { message: QUOTA_REFUSAL }),
    },
    {
      name: 'a nested allocation failure under ReconcileVMSSAgentPoolFailed is quota',
      error: nested(409, {
        code: 'ReconcileVMSSAgentPoolFailed',
        message: 'Reconcile failed.',
        details: [
          { code: 'OverconstrainedAllocationRequest', message: 'Allocation failed.' },
          { code: 'Other', message: 'Second of equals.' },
        ],
      }),
      want: failure('quota', 'OverconstrainedAllocationRequest', { message: 'Allocation failed.' }),
    },
    {
      name: 'details without a code leave the outer error',
      error: nested(400, { code: 'InvalidParameter', message: 'Outer.', details: [{ message: 'no code' }] }),
      want: failure('invalid', 'InvalidParameter', { message: 'Outer.' }),
    },
    {
      name: 'plain 409 is conflict',
      error: restError(409, 'Conflict'),
      want: failure('conflict', 'Conflict'),
    },
    {
      name: '500 with Retry-After is transient and keeps it',
      error: restError(500, 'InternalServerError', { retryAfter: '3' }),
      want: failure('transient', 'InternalServerError', { retryAfterMs: 3_000 }),
    },
    {
      name: '503 without Retry-After is transient',
      error: restError(503, 'ServiceUnavailable'),
      want: failure('transient', 'ServiceUnavailable'),
    },
    {
      name: '400 is invalid',
      error: restError(400, 'InvalidParameter'),
      want: failure('invalid', 'InvalidParameter'),
    },
    {
      name: '403 is invalid',
      error: restError(403, 'AuthorizationFailed'),
      want: failure('invalid', 'AuthorizationFailed'),
    },
    {
      name: 'a status without an ARM code is named by the status',
      error: restError(400),
      want: failure('invalid', 'Http400'),
    },
    ...NETWORK_CODES.map((code) => ({
      name: `${code} is transient`,
      error: restError(undefined, undefined, { code }),
      want: failure('transient', code),
    })),
    {
      name: 'AbortError is transient',
      error: restError(undefined, undefined, { name: 'AbortError', message: 'The operation was aborted.' }),
      want: failure('transient', 'Unknown', { message: 'The operation was aborted.' }),
    },
    {
      name: 'an unknown Error is transient',
      error: new Error('something odd'),
      want: failure('transient', 'Unknown', { message: 'something odd' }),
    },
    {
      name: 'an unknown error code is transient',
      error: restError(undefined, undefined, { code: 'EWHATEVER' }),
      want: failure('transient', 'EWHATEVER'),
    },
    {
      name: 'a thrown string is transient',
      error: 'boom',
      want: failure('transient', 'Unknown', { message: 'boom' }),
    },
  ])('$name', ({ error, want }) => {
    expect(classifyAzureError(error)).toEqual(want);
  });

  it('an HTTP-date Retry-After waits until that time', () => {
    vi.useFakeTimers({ now: new Date('2026-01-05T12:00:00Z') });
    const error = restError(429, 'TooManyRequests', { retryAfter: 'Mon, 05 Jan 2026 12:00:10 GMT' });
    expect(classifyAzureError(error)).toEqual(
      failure('throttled', 'TooManyRequests', { retryAfterMs: 10_000 }),
    );
  });

  it("ARM's code and message win over the SDK's", () => {
    const error = { ...restError(400, 'InvalidParameter', { code: 'RestError' }), message: 'outer' };
    expect(classifyAzureError(error)).toMatchObject({ code: 'InvalidParameter', message: 'Azure said no.' });
  });

  it('only the first line of the message is kept, at most 1000 characters', () => {
    const long = `${'x'.repeat(1200)}\nsecond line`;
    expect(classifyAzureError(restError(400, 'InvalidParameter', { message: long })).message).toBe(
      'x'.repeat(1000),
    );
  });
});

describe('classifyOperationError (an ARM operation that ended Failed)', () => {
  it.each<{ code: string; message?: string; want: Failure['kind'] }>([
    ...QUOTA_CODES.map((code) => ({ code, want: 'quota' as const })),
    { code: 'RegionalQuotaExceeded', want: 'quota' },
    ...BUSY_CODES.map((code) => ({ code, want: 'busy' as const })),
    {
      code: 'ServerIsNotReady',
      message:
        'Restart or Stop Server can only be performed on Started servers. Current Server State = Updating',
      want: 'busy',
    },
    {
      code: 'OperationNotAllowed',
      message: "Operation is not allowed because there's an in progress upgrade managed cluster operation",
      want: 'busy',
    },
    { code: 'OperationNotAllowed', message: 'The cluster is stopped.', want: 'invalid' },
    { code: 'InternalServerError', want: 'invalid' },
    { code: 'OperationCanceled', message: 'The operation was canceled.', want: 'invalid' },
  ])('$code ($message) is $want', ({ code, message, want }) => {
    expect(classifyOperationError(code, message ?? 'Azure said no.')).toBe(want);
  });

  it('a Failed status read carries the kind to the orchestrator', () => {
    const body = JSON.stringify({
      status: 'Failed',
      error: { code: 'ServerBusy', message: 'Cannot complete operation while server is busy.' },
    });
    expect(operationStatus(200, body, undefined)).toEqual({
      ok: true,
      value: {
        status: 'Failed',
        error: {
          code: 'ServerBusy',
          message: 'Cannot complete operation while server is busy.',
          kind: 'busy',
        },
      },
    });
  });
});

describe('classifyKube', () => {
  const status = (code: number, reason = `Reason${code}`) => ({
    code,
    reason,
    message: 'The API server said no.',
  });
  const kube = (kind: Failure['kind'], code: number): Failure => ({
    ok: false,
    kind,
    code: `Reason${code}`,
    message: 'The API server said no.',
  });

  it.each<{ name: string; code: number; want: Failure['kind'] }>([
    { name: '409 is conflict', code: 409, want: 'conflict' },
    { name: '404 is notFound', code: 404, want: 'notFound' },
    { name: '429 is transient', code: 429, want: 'transient' },
    { name: '401 is transient (credentials are read again)', code: 401, want: 'transient' },
    { name: '500 is transient', code: 500, want: 'transient' },
    { name: '503 is transient', code: 503, want: 'transient' },
    { name: '400 is invalid', code: 400, want: 'invalid' },
    { name: '403 is invalid', code: 403, want: 'invalid' },
    { name: '422 is invalid', code: 422, want: 'invalid' },
  ])('$name', ({ code, want }) => {
    expect(classifyKube(status(code))).toEqual(kube(want, code));
  });

  it('only the first line of the message is kept, at most 1000 characters', () => {
    const long = `${'y'.repeat(1200)}\nsecond line`;
    expect(classifyKube({ code: 422, reason: 'Invalid', message: long }).message).toBe('y'.repeat(1000));
  });
});
