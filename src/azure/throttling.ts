/**
 * Throttled answers go to the orchestrator, not to a sleep inside the activity. The SDK's default retry
 * policy retries a 429 (or 503) that carries Retry-After, `retry-after-ms` or `x-ms-retry-after-ms` after
 * sleeping that long, and one without them not at all (style-and-reliability-anchors, core-rest-pipeline's
 * throttlingRetryStrategy). ARM's budgets ask for seconds to a minute (a PUT of an AKS cluster refills at
 * one a minute: azure-real-behaviours §3.2), so the SDK would hold the activity that long, up to three
 * times. This policy sits next to the transport, inside the retry loop: on a 429 it moves the wait Azure
 * asked for into `THROTTLED_RETRY_AFTER_MS`, so the retry policy sees a 429 it does not retry and the
 * classifier (errors.ts) hands the wait to the orchestrator's durable timer with the `throttled` failure.
 */
import type { HttpHeaders, PipelinePolicy } from '@azure/core-rest-pipeline';

/** Milliseconds Azure asked a throttled caller to wait, moved here from the headers the SDK would act on. */
export const THROTTLED_RETRY_AFTER_MS = 'x-llm-platforms-throttled-retry-after-ms';

/** Azure's Retry-After in milliseconds: `retry-after-ms`, `x-ms-retry-after-ms`, or `Retry-After` (seconds or a date). */
export function retryAfterHeaderMs(
  headers: Pick<HttpHeaders, 'get'> | undefined,
  now = Date.now(),
): number | undefined {
  for (const name of [THROTTLED_RETRY_AFTER_MS, 'retry-after-ms', 'x-ms-retry-after-ms']) {
    const ms = Number(headers?.get(name) ?? '');
    if (headers?.get(name) && Number.isFinite(ms)) return Math.max(0, ms);
  }
  const header = headers?.get('retry-after');
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export function throttledToOrchestratorPolicy(): PipelinePolicy {
  return {
    name: 'throttledToOrchestrator',
    async sendRequest(request, next) {
      const response = await next(request);
      if (response.status !== 429) return response;
      const ms = retryAfterHeaderMs(response.headers);
      for (const name of ['retry-after', 'retry-after-ms', 'x-ms-retry-after-ms'])
        response.headers.delete(name);
      if (ms !== undefined) response.headers.set(THROTTLED_RETRY_AFTER_MS, String(ms));
      return response;
    },
  };
}
