/**
 * RFC 9457 problem details: every error this API returns has this shape and the media type
 * `application/problem+json`. `type` is a stable identifier clients can switch on; the OpenAPI document
 * lists them all.
 */
import type { HttpResponseInit } from '@azure/functions';
import type { FieldError } from '../platform/schema.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export const PROBLEM_TYPES = {
  validation: { status: 400, title: 'The request is invalid' },
  'invalid-json': { status: 400, title: 'The body is not valid JSON' },
  unauthorized: { status: 401, title: 'No authenticated caller' },
  forbidden: { status: 403, title: 'The caller may not do this' },
  'not-found': { status: 404, title: 'Not found' },
  conflict: { status: 409, title: 'Conflict' },
  'quota-exceeded': { status: 409, title: 'The platform does not fit the quota of its region' },
  'payload-too-large': { status: 413, title: 'The body is too large' },
  'unsupported-media-type': { status: 415, title: 'The body must be JSON' },
  unavailable: { status: 503, title: 'A dependency is unavailable; retry later' },
  internal: { status: 500, title: 'Internal error' },
} as const;

export type ProblemType = keyof typeof PROBLEM_TYPES;

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  errors?: FieldError[];
  /** quota-exceeded: each quota the platform needs, with its limit, use, need, what is left and missing. */
  quotas?: unknown[];
}

export const problemTypeUri = (type: ProblemType) => `/problems/${type}`;

export function problem(
  type: ProblemType,
  detail: string,
  extra: {
    errors?: FieldError[];
    instance?: string;
    headers?: Record<string, string>;
    quotas?: unknown[];
  } = {},
): HttpResponseInit {
  const { status, title } = PROBLEM_TYPES[type];
  const body: Problem = { type: problemTypeUri(type), title, status, detail };
  if (extra.instance) body.instance = extra.instance;
  if (extra.errors) body.errors = extra.errors;
  if (extra.quotas) body.quotas = extra.quotas;
  return { status, jsonBody: body, headers: { 'content-type': PROBLEM_CONTENT_TYPE, ...extra.headers } };
}
