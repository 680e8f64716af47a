/**
 * The refusals a service answers with, in the service's own words: the HTTP layer decides which status
 * and problem type each becomes, so the services never depend on HTTP.
 */
import type { Admission } from '../platform/admission.js';
import type { FieldError } from '../platform/schema.js';

/**
 * - validation: the request is not acceptable as written (`errors` says where);
 * - forbidden: the caller has no role of this API, or its role does not allow this on a platform it sees;
 * - not-found: no such platform (or it was deleted, or the caller may not see it);
 * - conflict: the platform's phase or a running operation forbids the request now;
 * - quota: the platform does not fit the subscription's quota in its region (`admission` says which);
 * - unavailable: a dependency refused (the durable runtime did not start the flow); retrying later may work.
 */
export type Refusal = 'validation' | 'forbidden' | 'not-found' | 'conflict' | 'quota' | 'unavailable';

/** What a refusal carries besides its message. */
export interface RefusalDetails {
  /** When to try again (an unavailable dependency). */
  retryAfterSeconds?: number;
  /** The quotas a refused platform was measured against, per subscription of the pool. */
  admissions?: { subscriptionId: string; admission: Admission }[];
}

/** A refusal the caller can act on. */
export class ApiError extends Error {
  constructor(
    readonly type: Refusal,
    message: string,
    readonly errors?: FieldError[],
    cause?: unknown,
    readonly details: RefusalDetails = {},
  ) {
    super(message, { cause });
    this.name = 'ApiError';
  }
}
