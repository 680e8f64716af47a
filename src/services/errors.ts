/**
 * The refusals a service answers with, in the service's own words: the HTTP layer decides which status
 * and problem type each becomes, so the services never depend on HTTP.
 */
import type { FieldError } from '../platform/schema.js';

/**
 * - validation: the request is not acceptable as written (`errors` says where);
 * - forbidden: the caller has no role of this API, or its role does not allow this on a platform it sees;
 * - not-found: no such platform (or it was deleted, or the caller may not see it);
 * - conflict: the platform's phase or a running operation forbids the request now;
 * - unavailable: a dependency refused (the durable runtime did not start the flow); retrying later may work.
 */
export type Refusal = 'validation' | 'forbidden' | 'not-found' | 'conflict' | 'unavailable';

/** A refusal the caller can act on. */
export class ApiError extends Error {
  constructor(
    readonly type: Refusal,
    message: string,
    readonly errors?: FieldError[],
    cause?: unknown,
  ) {
    super(message, { cause });
    this.name = 'ApiError';
  }
}
