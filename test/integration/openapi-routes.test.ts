/**
 * The OpenAPI document served by the app lists exactly the HTTP routes and methods the app registers with
 * the Functions host: no undocumented route, no documented route that does not exist.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getRegistrations } from '../../sandbox/host.js';
import { startTestApp, type TestApp } from '../support/harness.js';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app?.close());

/** An Azure route template as an OpenAPI path: no slashes at the ends, `{id:int}` or `{id?}` as `{id}`. */
const openApiPath = (route: string) =>
  route.replace(/^\/+|\/+$/g, '').replace(/\{\*?(\w+)(?::[^}]*)?\??\}/g, '{$1}');

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

describe('OpenAPI document against the registered routes', () => {
  it('documents exactly the routes and methods the app registers', async () => {
    const registered = [...getRegistrations().values()]
      .filter((r) => r.trigger.type === 'httpTrigger')
      .flatMap((r) =>
        // The host's default for a trigger without methods is GET and POST.
        (r.trigger.methods ?? ['GET', 'POST']).map(
          (m) => `${m.toUpperCase()} /${openApiPath(r.trigger.route ?? r.name)}`,
        ),
      )
      .sort();
    expect(registered.length).toBeGreaterThan(0);

    const reply = await app.call('GET', '/openapi.json', { key: null });
    expect(reply.status).toBe(200);
    const paths = reply.json.paths as Record<string, Record<string, unknown>>;
    const documented = Object.entries(paths)
      .flatMap(([path, item]) =>
        Object.keys(item)
          .filter((k) => HTTP_METHODS.includes(k))
          .map((m) => `${m.toUpperCase()} ${path}`),
      )
      .sort();

    expect(documented).toEqual(registered);
  });
});
