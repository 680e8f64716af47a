/** Turning service results and failures into HTTP responses, the same way for every route. */
import type { HttpHandler, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { RegistryStaleError } from '../registry/registry.js';
import { ApiError, type Refusal } from '../services/errors.js';
import { problem, type ProblemType } from './problem.js';

export const json = (
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): HttpResponseInit => ({
  status,
  jsonBody: body,
  headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers },
});

/** The problem type of each refusal; a new refusal without one fails the type-check. */
const REFUSAL_PROBLEMS: Record<Refusal, ProblemType> = {
  validation: 'validation',
  forbidden: 'forbidden',
  'not-found': 'not-found',
  conflict: 'conflict',
  quota: 'quota-exceeded',
  unavailable: 'unavailable',
};

/**
 * Every handler runs inside this: a refusal becomes its problem+json, anything unexpected becomes a
 * generic 500/503 whose detail names no internals. The log line carries the error class and message,
 * never the request body (which may hold a token).
 */
export function handle(
  fn: (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>,
): HttpHandler {
  return async (request, context) => {
    try {
      return await fn(request, context);
    } catch (e) {
      if (e instanceof ApiError) {
        const { retryAfterSeconds, admissions } = e.details;
        const response = problem(REFUSAL_PROBLEMS[e.type], e.message, {
          ...(e.errors ? { errors: e.errors } : {}),
          ...(admissions
            ? {
                quotas: admissions.flatMap(({ subscriptionId, admission }) =>
                  admission.quotas.map((q) => ({ ...q, subscriptionId })),
                ),
              }
            : {}),
          ...(retryAfterSeconds !== undefined
            ? { headers: { 'retry-after': String(retryAfterSeconds) } }
            : {}),
        });
        if (e.type === 'unavailable')
          context.warn(
            `${request.method} ${new URL(request.url).pathname}: ${e.message}`,
            describeCause(e.cause),
          );
        return response;
      }
      const dependency = isDependencyFailure(e);
      context.error(`${request.method} ${new URL(request.url).pathname} failed: ${describeCause(e)}`);
      // The registry write kept losing to concurrent writers (bounded retries): the same request later succeeds.
      if (e instanceof RegistryStaleError)
        return problem('unavailable', 'The platform record kept changing meanwhile; try again later.', {
          headers: { 'retry-after': '5' },
        });
      return dependency
        ? problem('unavailable', 'A storage or orchestration dependency did not answer; try again later.', {
            headers: { 'retry-after': '5' },
          })
        : problem('internal', 'The request could not be completed.');
    }
  };
}

function isDependencyFailure(e: unknown): boolean {
  const err = e as { name?: string; code?: string; statusCode?: number };
  return (
    err?.name === 'RestError' ||
    err?.code === 'ECONNREFUSED' ||
    err?.code === 'ECONNRESET' ||
    err?.name === 'AxiosError'
  );
}

function describeCause(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const code = (e as { code?: unknown }).code;
  return `${e.name}${code ? ` (${String(code)})` : ''}: ${e.message.split('\n')[0]}`;
}
