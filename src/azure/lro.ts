/**
 * The parts of ARM's asynchronous protocol the activities share: capturing what Azure answered to a write
 * (without letting the SDK poll), turning that answer into a ResourceState, reading "absent" from a 404, and
 * turning what the SDK threw into a typed failure. No clients here: they are passed in.
 */
import type { OperationStatus, ResourceState, Result } from '../platform/result.js';
import { classifyAzureError, classifyOperationError, innermostError, type ArmErrorDetail } from './errors.js';

/** What Azure answered to a write: the operation to follow, the state in the body, Retry-After. */
export interface Answered {
  url?: string;
  state?: string;
  retryAfterMs?: number;
}

/**
 * Captures what Azure answered to the PUT: the operation URL (Azure-AsyncOperation or Location), the
 * provisioningState in the body, and Retry-After. Classic `begin*` methods poll once straight after the
 * PUT; aborting once the answer is in stops that poll, because the orchestrator polls durably, and not
 * before Retry-After. `submit` treats exactly that abort as success.
 */
export function captureOperation() {
  const seen: Answered = {};
  const controller = new AbortController();
  const onResponse = (raw: {
    headers: { get(name: string): string | null | undefined };
    bodyAsText?: string | null;
  }) => {
    if (controller.signal.aborted) return;
    seen.url = raw.headers.get('azure-asyncoperation') ?? raw.headers.get('location') ?? undefined;
    const body = parseJson(raw.bodyAsText ?? undefined) as
      { properties?: { provisioningState?: string } } | undefined;
    seen.state = body?.properties?.provisioningState;
    seen.retryAfterMs = retryAfterMs(raw.headers.get('retry-after'));
    controller.abort();
  };
  const submit = async (operation: Promise<unknown>) => {
    try {
      await operation;
    } catch (e) {
      if (!(controller.signal.aborted && (e as Error).name === 'AbortError')) throw e;
    }
  };
  return { seen, onResponse, abortSignal: controller.signal, submit };
}

/**
 * Azure answered the write: with an operation to follow, or (an identical PUT while the first still runs)
 * with the resource's current provisioningState, which the orchestrator then polls.
 */
export function accepted(seen: Answered): Result<ResourceState> {
  return {
    ok: true,
    value: seen.url
      ? {
          provisioningState: 'Accepted',
          mutated: true,
          operationUrl: seen.url,
          ...(seen.retryAfterMs ? { retryAfterMs: seen.retryAfterMs } : {}),
        }
      : { provisioningState: seen.state ?? 'Succeeded', mutated: true },
  };
}

/** Nothing was sent: the resource is where it should be (Succeeded) or on its way (its state, to poll). */
export const unchanged = (provisioningState = 'Succeeded'): Result<ResourceState> => ({
  ok: true,
  value: { provisioningState, mutated: false },
});

/** A GET whose 404 means "absent", not failure. */
export async function readOrUndefined<T>(fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (e) {
    if ((e as { statusCode?: number }).statusCode === 404) return undefined;
    throw e;
  }
}

/** Runs `fn`, turning what Azure threw into a typed failure. */
export async function attempt<T>(fn: () => Promise<Result<T>>): Promise<Result<T>> {
  try {
    return await fn();
  } catch (e) {
    return classifyAzureError(e);
  }
}

/** One read of an operation URL's answer: Location style (202 while running) or Azure-AsyncOperation style. */
export function operationStatus(
  status: number,
  bodyText: string | undefined,
  headers: { get(name: string): string | null | undefined } | undefined,
): Result<OperationStatus> {
  if (status === 404)
    return {
      ok: false,
      kind: 'notFound',
      code: 'OperationNotFound',
      message: 'The operation is no longer known to Azure.',
    };
  // A throttled read (AKS answers operation-status reads from a budget of 2 per second per subscription,
  // azure-real-behaviours §3.2) carries the wait Azure asked for to the orchestrator.
  if (status >= 400) return classifyAzureError(restLike(status, bodyText, headers));
  const body = parseJson(bodyText) as { status?: string; error?: ArmErrorDetail } | undefined;
  // Location-style operations answer 202 while running and 200/201/204 once done; async-operation style carries `status`.
  const state: OperationStatus['status'] = body?.status
    ? normaliseStatus(body.status)
    : status === 202
      ? 'InProgress'
      : 'Succeeded';
  const wait = retryAfterMs(headers?.get('retry-after'));
  const value: OperationStatus = { status: state, ...(wait ? { retryAfterMs: wait } : {}) };
  // The cause, not AKS's wrapper around it: the step, the status and lastError name the quota or allocation.
  const error = body?.error?.code ? innermostError(body.error) : undefined;
  if (error?.code) {
    const { code, message = '' } = error;
    value.error = { code, message, kind: classifyOperationError(code, message) };
  }
  return { ok: true, value };
}

function retryAfterMs(header: string | null | undefined): number | undefined {
  const seconds = Number(header ?? '');
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : undefined;
}

function normaliseStatus(s: string): OperationStatus['status'] {
  const lower = s.toLowerCase();
  if (lower === 'succeeded') return 'Succeeded';
  if (lower === 'failed') return 'Failed';
  if (lower === 'canceled' || lower === 'cancelled') return 'Canceled';
  return 'InProgress';
}

export function parseJson(text: string | undefined): unknown {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}

function restLike(
  statusCode: number,
  body: string | undefined,
  headers: { get(name: string): string | null | undefined } | undefined,
) {
  const error = (parseJson(body) as { error?: ArmErrorDetail } | undefined)?.error;
  return {
    statusCode,
    response: { headers: { get: (name: string) => headers?.get(name) ?? undefined } },
    code: error?.code,
    message: error?.message ?? `HTTP ${statusCode}`,
    details: { error },
  };
}
