import { inject } from 'vitest';
import { startSandboxApp, type SandboxApp, type SandboxAppOptions } from '../../sandbox/app.js';
import { asAdminByDefault, callApp, type CallOptions, type Reply } from '../../sandbox/call.js';

export type { Reply };

export interface TestApp extends SandboxApp {
  /** As the sandbox's admin identity unless `token` says otherwise (null: no token). */
  call(method: string, path: string, options?: CallOptions): Promise<Reply>;
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
    call: (method, path, callOptions) =>
      callApp(app.host, app.functionKey, method, path, asAdminByDefault(app.adminToken, callOptions)),
  };
}
