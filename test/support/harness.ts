import { inject } from 'vitest';
import { startSandboxApp, type SandboxApp, type SandboxAppOptions } from '../../sandbox/app.js';

export interface Reply {
  status: number;
  headers: Record<string, string>;
  text: string;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface TestApp extends SandboxApp {
  call(
    method: string,
    path: string,
    options?: { body?: unknown; raw?: string; headers?: Record<string, string>; key?: string | null },
  ): Promise<Reply>;
}

/** The real app, loaded through its registrations, on Azurite and the simulated Key Vault and durable API. */
export async function startTestApp(options: Partial<SandboxAppOptions> = {}): Promise<TestApp> {
  const app = await startSandboxApp({
    storageConnection: inject('azuriteConnection'),
    functionKey: 'test-function-key',
    ...options,
  });
  return {
    ...app,
    async call(method, path, { body, raw, headers = {}, key = app.functionKey } = {}) {
      const text = raw ?? (body === undefined ? undefined : JSON.stringify(body));
      const allHeaders = {
        ...(text !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(key ? { 'x-functions-key': key } : {}),
        ...headers,
      };
      const res = await app.host.http({
        method,
        url: `http://127.0.0.1:7071${path}`,
        headers: allHeaders,
        body: text,
      });
      let json: unknown;
      try {
        json = res.body ? JSON.parse(res.body) : undefined;
      } catch {
        json = undefined;
      }
      return { status: res.status, headers: res.headers, text: res.body, json };
    },
  };
}
