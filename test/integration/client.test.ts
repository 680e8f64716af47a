/**
 * The typed client (src/client/api.ts) over real HTTP against the sandbox: the routes it calls are the
 * app's, both credentials reach it, and every error becomes an ApiProblem with the API's title, detail
 * and named fields (a bare 401 of the host included, and an unreachable API as status 0).
 */
import type { AddressInfo, Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveSandbox } from '../../sandbox/server.js';
import { ApiProblem, createClient, type Client } from '../../src/client/api.js';
import { startTestApp, type TestApp } from '../support/harness.js';

let app: TestApp;
let server: Server;
let client: Client;
let baseUrl: string;
beforeAll(async () => {
  app = await startTestApp();
  server = await serveSandbox(app, 0, () => undefined);
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  client = createClient({ baseUrl, key: app.functionKey, token: app.adminToken });
});
afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await app?.close();
});

const problemOf = async (p: Promise<unknown>) => {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ApiProblem);
  return e as ApiProblem;
};

describe('client', () => {
  it('creates, lists, reads the status and acts through the API', async () => {
    const accepted = await client.create({ prefix: 'cli1', models: ['phi3.5'] });
    expect(accepted).toMatchObject({ id: 'cli1', phase: 'Pending', operation: 'provision' });
    expect((await client.list()).platforms.map((p) => p.id)).toContain('cli1');
    expect(await client.get('cli1')).toMatchObject({ id: 'cli1', spec: { models: ['phi3.5'] } });
    const status = await client.status('cli1');
    expect(status.id).toBe('cli1');
    expect(Array.isArray(status.steps)).toBe(true);
    expect(await client.delete('cli1')).toMatchObject({ id: 'cli1', operation: 'delete' });
  });

  it('turns a validation error into a problem naming each field', async () => {
    const e = await problemOf(client.create({ prefix: 'X', models: [] }));
    expect(e.status).toBe(400);
    expect(e.type).toBe('/problems/validation');
    expect(e.errors.map((f) => f.pointer)).toEqual(expect.arrayContaining(['/prefix', '/models']));
    expect(e.describe()).toMatch(/\/prefix: /);
    expect(e.describe()).toMatch(/\/models: /);
  });

  it('an unknown id is a 404 problem; an action not possible in the phase a 409', async () => {
    expect((await problemOf(client.status('nosuch1'))).status).toBe(404);
    await client.create({ prefix: 'cli2', models: ['phi3.5'] });
    const e = await problemOf(client.act('cli2', 'wake'));
    expect(e.status).toBe(409);
    expect(e.title).toBe('Conflict');
  });

  it('a wrong key is the host’s bare 401, still a problem with a title; no token a 401 problem', async () => {
    const wrongKey = createClient({ baseUrl, key: 'wrong', token: app.adminToken });
    const bare = await problemOf(wrongKey.list());
    expect(bare.status).toBe(401);
    expect(bare.title).toMatch(/function key/);
    const noToken = createClient({ baseUrl, key: app.functionKey });
    const e = await problemOf(noToken.list());
    expect(e.status).toBe(401);
    expect(e.type).toBe('/problems/unauthorized');
  });

  it('an API that does not answer is status 0 naming the URL', async () => {
    const closed = await serveSandbox(app, 0, () => undefined);
    const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((resolve) => closed.close(resolve));
    const e = await problemOf(createClient({ baseUrl: url, key: 'k' }).list());
    expect(e.status).toBe(0);
    expect(e.title).toContain(url);
  });
});
