/**
 * One request to the app through the Functions host emulation, as a client would send it: JSON body,
 * function key header, bearer token, the answer's body parsed as JSON when it is JSON. Shared by the tests' harness and
 * the benchmark scripts.
 */
import type { FunctionsHost } from './host.js';

export interface Reply {
  status: number;
  headers: Record<string, string>;
  text: string;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface CallOptions {
  body?: unknown;
  /** Sent as is (instead of `body`). */
  raw?: string | Uint8Array;
  headers?: Record<string, string>;
  /** The function key to send (default the app's); null sends none. */
  key?: string | null;
  /** A bearer token for the emulated App Service Authentication (sandbox/easy-auth.ts); null sends none. */
  token?: string | null;
}

export async function callApp(
  host: FunctionsHost,
  functionKey: string,
  method: string,
  path: string,
  { body, raw, headers = {}, key = functionKey, token }: CallOptions = {},
): Promise<Reply> {
  const payload = raw ?? (body === undefined ? undefined : JSON.stringify(body));
  const allHeaders = {
    ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
    ...(key ? { 'x-functions-key': key } : {}),
    ...(token ? { authorization: `Bearer ${token}` } : {}),
    ...headers,
  };
  const res = await host.http({
    method,
    url: `http://127.0.0.1:7071${path}`,
    headers: allHeaders,
    body: payload,
  });
  let json: unknown;
  try {
    json = res.body ? JSON.parse(res.body) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text: res.body, json };
}

/** Callers that name no identity act as the sandbox's admin: tests and benchmarks about other things need no roles. */
export const asAdminByDefault = (adminToken: string, options: CallOptions = {}): CallOptions => ({
  ...options,
  token: options.token === undefined ? adminToken : options.token,
});
