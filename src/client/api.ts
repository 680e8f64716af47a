/**
 * A typed client of this API for the console (in the browser) and the CLI (in Node): one place that knows
 * the routes, the two credentials and the problem+json shape. Only `fetch`, so it runs in both; the types
 * are the service's own (type-only imports, nothing of the server is bundled).
 */
import type { FieldError } from '../platform/schema.js';
import type { platformStatus, platformView } from '../platform/status.js';
import type { Accepted, PlatformService } from '../services/platforms.js';

export type PlatformStatus = ReturnType<typeof platformStatus>;
export type PlatformView = ReturnType<typeof platformView>;
export type PlatformList = Awaited<ReturnType<PlatformService['list']>>;
export type PlatformListItem = PlatformList['platforms'][number];
export type { Accepted };

export interface ClientOptions {
  /** The API's base URL, e.g. http://127.0.0.1:7071 or https://<app>.azurewebsites.net/api. */
  baseUrl: string;
  /** The function key (sent as `x-functions-key`). */
  key?: string;
  /** An Entra ID (or, against the sandbox, a development) bearer token naming the caller. */
  token?: string;
  /** Defaults to the global fetch. */
  fetch?: typeof fetch;
}

/** Actions that answer 202 with where to follow them. */
export const ACTIONS = ['stop', 'start', 'wake', 'wipe', 'retry'] as const;
export type Action = (typeof ACTIONS)[number];

/**
 * An error answer of the API (RFC 9457), or a failure to reach it (status 0). `fields` names each bad
 * field by JSON Pointer or query parameter, with its message.
 */
export class ApiProblem extends Error {
  readonly status: number;
  readonly type: string;
  readonly title: string;
  readonly detail: string;
  readonly errors: FieldError[];
  /** Seconds, when the API said when to retry (503, 429). */
  readonly retryAfter: number | undefined;
  /** The whole problem body, for fields this client does not name (quota-exceeded's `quotas`). */
  readonly body: Record<string, unknown>;

  constructor(status: number, body: Record<string, unknown>, retryAfter?: number) {
    const title = typeof body.title === 'string' ? body.title : `HTTP ${status}`;
    const detail = typeof body.detail === 'string' ? body.detail : '';
    super(detail ? `${title}: ${detail}` : title);
    this.name = 'ApiProblem';
    this.status = status;
    this.type = typeof body.type === 'string' ? body.type : 'about:blank';
    this.title = title;
    this.detail = detail;
    this.errors = Array.isArray(body.errors) ? (body.errors as FieldError[]) : [];
    this.retryAfter = retryAfter;
    this.body = body;
  }

  /** "title: detail", then one line per named field. */
  describe(): string {
    const lines = [this.message];
    for (const e of this.errors) {
      const where = e.pointer !== undefined ? e.pointer || '(body)' : (e.parameter ?? '');
      lines.push(`  ${where}: ${e.message}`);
    }
    return lines.join('\n');
  }
}

/** Titles for answers without a problem body (the Functions host answers a bad key with a bare 401). */
const BARE_TITLES: Record<number, string> = {
  401: 'Unauthorized (missing or wrong function key, or no signed-in caller)',
  403: 'Forbidden',
  404: 'Not found',
  429: 'Too many requests',
  502: 'Bad gateway',
  503: 'Service unavailable',
};

export function createClient(options: ClientOptions) {
  const base = options.baseUrl.replace(/\/+$/, '');
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);

  async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (options.key) headers['x-functions-key'] = options.key;
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await doFetch(`${base}${path}`, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch (e) {
      const reason =
        e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e);
      throw new ApiProblem(0, { title: `Cannot reach the API at ${base}`, detail: reason });
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (response.ok) return parsed as T;
    const retryAfter = Number(response.headers.get('retry-after') ?? NaN);
    const problemBody =
      parsed && typeof parsed === 'object'
        ? (parsed as Record<string, unknown>)
        : { title: BARE_TITLES[response.status] ?? `HTTP ${response.status}`, detail: text.slice(0, 200) };
    throw new ApiProblem(response.status, problemBody, Number.isFinite(retryAfter) ? retryAfter : undefined);
  }

  const at = (id: string) => `/platforms/${encodeURIComponent(id)}`;
  return {
    baseUrl: base,
    /** 202 Accepted, or with dryRun the plan (200). */
    create: (body: unknown, opts: { dryRun?: boolean } = {}) =>
      call<Accepted | Record<string, unknown>>(
        'POST',
        `/platforms${opts.dryRun ? '?dryRun=true' : ''}`,
        body,
      ),
    list: (opts: { includeDeleted?: boolean } = {}) =>
      call<PlatformList>('GET', `/platforms${opts.includeDeleted ? '?includeDeleted=true' : ''}`),
    get: (id: string) => call<PlatformView>('GET', at(id)),
    status: (id: string) => call<PlatformStatus>('GET', `${at(id)}/status`),
    /** 202 with the flow to follow, or 200 with the platform when only settings were recorded. */
    patch: (id: string, body: unknown) => call<Accepted | PlatformView>('PATCH', at(id), body),
    act: (id: string, action: Action) => call<Accepted>('POST', `${at(id)}/${action}`),
    delete: (id: string) => call<Accepted>('DELETE', at(id)),
  };
}

export type Client = ReturnType<typeof createClient>;
