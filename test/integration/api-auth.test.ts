/**
 * Callers, roles and owners through the sandbox: the Functions host emulates App Service Authentication
 * (sandbox/easy-auth.ts) and the app reads the caller it injects. Without a caller a platform route
 * answers 401, without a role of this API 403, and in both cases nothing is created or started; an
 * operator sees and acts on the platforms it owns only (others answer as unknown ids), a reader reads
 * and cannot change, an admin sees everything, records without owners included.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTableRegistry } from '../../src/registry/registry.js';
import { encodePrincipal } from '../../sandbox/easy-auth.js';
import { startTestApp, type Reply, type TestApp } from '../support/harness.js';

const OPERATOR_A = 'a0000000-0000-4000-8000-00000000000a';
const OPERATOR_B = 'b0000000-0000-4000-8000-00000000000b';
const READER = 'c0000000-0000-4000-8000-00000000000c';
const TEAM = 'd0000000-0000-4000-8000-00000000000d';
const OID_CLAIM = 'http://schemas.microsoft.com/identity/claims/objectidentifier';

let app: TestApp;
const tokens: Record<string, string> = {};
beforeAll(async () => {
  app = await startTestApp();
  tokens.operatorA = await app.identities.mint({ oid: OPERATOR_A, roles: ['Platforms.Operator'] });
  tokens.operatorB = await app.identities.mint({ oid: OPERATOR_B, roles: ['Platforms.Operator'] });
  tokens.reader = await app.identities.mint({ oid: READER, roles: ['Platforms.Reader'], groups: [TEAM] });
  tokens.noRole = await app.identities.mint({ oid: READER, roles: ['Other.App.Role'], groups: [TEAM] });
});
afterAll(() => app?.close());

const body = (prefix: string, extra: object = {}) => ({ prefix, models: ['phi3.5'], ...extra });
const expectProblem = (reply: Reply, status: number) => {
  expect(reply.status, reply.text).toBe(status);
  expect(reply.headers['content-type']).toBe('application/problem+json');
  expect(reply.json).toMatchObject({ status, type: expect.stringMatching(/^\/problems\//) });
};
const ids = async () =>
  ((await app.call('GET', '/platforms?includeDeleted=true')).json.platforms as { id: string }[])
    .map((p) => p.id)
    .sort();

/** Every platform route, as (method, path, body). */
const ROUTES: [string, string, unknown?][] = [
  ['POST', '/platforms', body('nobody1')],
  ['POST', '/platforms?dryRun=true', body('nobody2')],
  ['GET', '/platforms'],
  ['GET', '/platforms/shared1'],
  ['GET', '/platforms/shared1/status'],
  ['PATCH', '/platforms/shared1', { autoStop: { idleMinutes: 0 } }],
  ['POST', '/platforms/shared1/stop'],
  ['POST', '/platforms/shared1/start'],
  ['POST', '/platforms/shared1/wake'],
  ['POST', '/platforms/shared1/wipe'],
  ['POST', '/platforms/shared1/retry'],
  ['DELETE', '/platforms/shared1'],
];

describe('callers without an identity or a role', () => {
  beforeAll(async () => {
    expect((await app.call('POST', '/platforms', { body: body('shared1') })).status).toBe(202);
  });

  it('answer 401 problem+json with a Bearer challenge on every platform route, and change nothing', async () => {
    const instances = app.instances.instances.size;
    const before = (await app.call('GET', '/platforms/shared1')).json;
    for (const [method, path, payload] of ROUTES) {
      const reply = await app.call(method, path, { body: payload, token: null });
      expectProblem(reply, 401);
      expect(reply.headers['www-authenticate']).toBe('Bearer');
    }
    expect(app.instances.instances.size).toBe(instances);
    expect(await ids()).toEqual(['shared1']);
    expect((await app.call('GET', '/platforms/shared1')).json).toEqual(before);
  });

  it('a client-made principal header is removed by App Service, so it names no caller (401)', async () => {
    const forged = encodePrincipal([
      { typ: OID_CLAIM, val: OPERATOR_A },
      { typ: 'roles', val: 'Platforms.Admin' },
    ]);
    for (const headers of <Record<string, string>[]>[
      { 'x-ms-client-principal': forged },
      { 'X-MS-CLIENT-PRINCIPAL': forged, 'x-ms-client-principal-id': OPERATOR_A },
    ])
      expectProblem(await app.call('GET', '/platforms', { headers, token: null }), 401);
  });

  it('a token this sandbox did not sign, or not a bearer token, is no caller (401)', async () => {
    const [, payload] = tokens.operatorA!.split('.');
    expectProblem(await app.call('GET', '/platforms', { token: `eyJhbGciOiJub25lIn0.${payload}.` }), 401);
    expectProblem(await app.call('GET', '/platforms', { token: 'garbage' }), 401);
    expectProblem(
      await app.call('GET', '/platforms', {
        token: null,
        headers: { authorization: `Basic ${tokens.reader}` },
      }),
      401,
    );
  });

  it('a caller with none of the three roles gets 403 on every platform route, and changes nothing', async () => {
    const instances = app.instances.instances.size;
    for (const [method, path, payload] of ROUTES)
      expectProblem(await app.call(method, path, { body: payload, token: tokens.noRole }), 403);
    expect(app.instances.instances.size).toBe(instances);
    expect(await ids()).toEqual(['shared1']);
  });

  it('the function key is still the first gate: a valid token without it is refused by the host', async () => {
    expect((await app.call('GET', '/platforms', { key: null, token: tokens.operatorA })).status).toBe(401);
  });
});

describe('owners and roles', () => {
  beforeAll(async () => {
    const a = await app.call('POST', '/platforms', { body: body('owna1'), token: tokens.operatorA });
    expect(a.status, a.text).toBe(202);
    const b = await app.call('POST', '/platforms', {
      body: body('ownb1', { owners: [OPERATOR_B, TEAM.toUpperCase()] }),
      token: tokens.operatorB,
    });
    expect(b.status, b.text).toBe(202);
  });

  it('records the creator as the owner by default, and the request owners (lower case) when given', async () => {
    expect((await app.call('GET', '/platforms/owna1')).json.owners).toEqual([OPERATOR_A]);
    expect((await app.call('GET', '/platforms/ownb1')).json.owners).toEqual([OPERATOR_B, TEAM]);
  });

  it('an operator lists and reads only the platforms it owns', async () => {
    const list = await app.call('GET', '/platforms', { token: tokens.operatorA });
    expect(list.json.platforms.map((p: { id: string }) => p.id)).toEqual(['owna1']);
    expect((await app.call('GET', '/platforms/owna1', { token: tokens.operatorA })).status).toBe(200);
    expect((await app.call('GET', '/platforms/owna1/status', { token: tokens.operatorA })).status).toBe(200);
  });

  it("another owner's platform answers exactly as an unknown id, for reads and changes, and is not changed", async () => {
    const instances = app.instances.instances.size;
    const unknown = await app.call('GET', '/platforms/nosuch1', { token: tokens.operatorA });
    expectProblem(unknown, 404);
    for (const [method, path] of [
      ['GET', ''],
      ['GET', '/status'],
      ['POST', '/stop'],
      ['POST', '/wake'],
      ['POST', '/wipe'],
      ['DELETE', ''],
    ] as const) {
      const hidden = await app.call(method, `/platforms/ownb1${path}`, { token: tokens.operatorA });
      expectProblem(hidden, 404);
      expect(hidden.json.detail).toBe(unknown.json.detail.replace('nosuch1', 'ownb1'));
    }
    const patch = await app.call('PATCH', '/platforms/ownb1', {
      body: { owners: [OPERATOR_A] },
      token: tokens.operatorA,
    });
    expectProblem(patch, 404);
    expect(app.instances.instances.size).toBe(instances);
    expect((await app.call('GET', '/platforms/ownb1')).json).toMatchObject({
      phase: 'Pending',
      owners: [OPERATOR_B, TEAM],
    });
  });

  it("a taken prefix is a conflict without the other owner's phase", async () => {
    const reply = await app.call('POST', '/platforms', { body: body('ownb1'), token: tokens.operatorA });
    expectProblem(reply, 409);
    expect(reply.json.detail).not.toMatch(/phase|Pending/);
  });

  it('a reader owning through a group reads the platform but cannot stop, change, delete or create (403)', async () => {
    const list = await app.call('GET', '/platforms', { token: tokens.reader });
    expect(list.json.platforms.map((p: { id: string }) => p.id)).toEqual(['ownb1']);
    expect((await app.call('GET', '/platforms/ownb1', { token: tokens.reader })).status).toBe(200);
    expect((await app.call('GET', '/platforms/ownb1/status', { token: tokens.reader })).status).toBe(200);

    const instances = app.instances.instances.size;
    expectProblem(await app.call('POST', '/platforms/ownb1/stop', { token: tokens.reader }), 403);
    expectProblem(await app.call('POST', '/platforms/ownb1/wake', { token: tokens.reader }), 403);
    expectProblem(await app.call('DELETE', '/platforms/ownb1', { token: tokens.reader }), 403);
    expectProblem(
      await app.call('PATCH', '/platforms/ownb1', {
        body: { autoStop: { idleMinutes: 0 } },
        token: tokens.reader,
      }),
      403,
    );
    expectProblem(await app.call('POST', '/platforms', { body: body('read1'), token: tokens.reader }), 403);
    // A platform the reader does not see stays hidden: 404, not 403.
    expectProblem(await app.call('POST', '/platforms/owna1/stop', { token: tokens.reader }), 404);
    expect(app.instances.instances.size).toBe(instances);
    expect((await app.call('GET', '/platforms/ownb1')).json).toMatchObject({
      phase: 'Pending',
      spec: { autoStop: { idleMinutes: 60 } },
    });
    expect(await ids()).not.toContain('read1');
  });

  it('an owning operator changes the owners (PATCH); whoever it leaves out no longer sees the platform', async () => {
    const reply = await app.call('PATCH', '/platforms/ownb1', {
      body: { owners: [OPERATOR_B] },
      token: tokens.operatorB,
    });
    expect(reply.status, reply.text).toBe(200);
    expect(reply.json.owners).toEqual([OPERATOR_B]);
    expectProblem(await app.call('GET', '/platforms/ownb1', { token: tokens.reader }), 404);
  });

  it('refuses owners that are not Entra object ids, an empty list or too many, naming the field (400)', async () => {
    for (const [owners, pointer] of [
      [['not-a-guid'], '/owners/0'],
      [[], '/owners'],
      [
        Array.from({ length: 21 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`),
        '/owners',
      ],
      ['a0000000-0000-4000-8000-00000000000a', '/owners'],
    ] as const) {
      const reply = await app.call('POST', '/platforms', {
        body: body('badown1', { owners }),
        token: tokens.operatorA,
      });
      expectProblem(reply, 400);
      expect(reply.json.errors.map((e: { pointer: string }) => e.pointer)).toContain(pointer);
    }
  });

  it('an admin sees every platform, one without owners (made before owners were recorded) included', async () => {
    const { storage } = app.config;
    if (storage.kind !== 'connectionString') throw new Error('the sandbox stores in Azurite');
    const registry = createTableRegistry(storage.connectionString, app.config.registryTable);
    await registry.update('shared1', ({ owners: _dropped, ...legacy }) => legacy);
    const admin = await app.call('GET', '/platforms');
    expect(admin.json.platforms.map((p: { id: string }) => p.id).sort()).toEqual([
      'owna1',
      'ownb1',
      'shared1',
    ]);
    expect((await app.call('GET', '/platforms/shared1')).json.owners).toEqual([]);
    expectProblem(await app.call('GET', '/platforms/shared1', { token: tokens.operatorA }), 404);
    // And acts on platforms it does not own.
    expect((await app.call('DELETE', '/platforms/owna1')).status).toBe(202);
  });
});

describe('with App Service Authentication off', () => {
  let plain: TestApp;
  beforeAll(async () => {
    plain = await startTestApp({ settings: { WEBSITE_AUTH_ENABLED: 'False' } });
  });
  afterAll(() => plain?.close());

  it('ignores a principal header a client sent (anyone could) and answers 401', async () => {
    const forged = encodePrincipal([
      { typ: OID_CLAIM, val: OPERATOR_A },
      { typ: 'roles', val: 'Platforms.Admin' },
    ]);
    const reply = await plain.call('POST', '/platforms', {
      body: body('forged1'),
      headers: { 'x-ms-client-principal': forged },
    });
    expectProblem(reply, 401);
    expect(plain.instances.instances.size).toBe(0);
  });
});
