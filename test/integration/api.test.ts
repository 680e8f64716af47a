import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type Reply, type TestApp } from '../support/harness.js';
import { AZURE_RESOURCE_NAMES, AZURE_RESOURCES } from '../../src/platform/azure-resources.js';
import { getServices } from '../../src/composition.js';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app?.close());

const body = (prefix: string, extra: object = {}) => ({ prefix, models: ['llama3.1:8b'], ...extra });
const expectProblem = (reply: Reply, status: number) => {
  expect(reply.status).toBe(status);
  expect(reply.headers['content-type']).toBe('application/problem+json');
  expect(reply.json).toMatchObject({
    status,
    type: expect.stringMatching(/^\/problems\//),
    title: expect.any(String),
    detail: expect.any(String),
  });
};

describe('POST /platforms', () => {
  it('accepts a valid body with 202, a Location to the status, and starts provisionPlatform under the platform id', async () => {
    const reply = await app.call('POST', '/platforms', { body: body('alpha') });
    expect(reply.status).toBe(202);
    expect(reply.headers.location).toBe('/platforms/alpha/status');
    expect(reply.json).toEqual({
      id: 'alpha',
      phase: 'Pending',
      operation: 'provision',
      links: { self: '/platforms/alpha', status: '/platforms/alpha/status' },
    });
    const instance = app.instances.instances.get('alpha');
    expect(instance).toMatchObject({ name: 'provisionPlatform', input: { platformId: 'alpha' } });
  });

  it('records the platform with every default applied and its derived names', async () => {
    await app.call('POST', '/platforms', { body: body('bravo', { tags: { team: 'nlp' } }) });
    const reply = await app.call('GET', '/platforms/bravo');
    expect(reply.status).toBe(200);
    expect(reply.json).toMatchObject({
      id: 'bravo',
      phase: 'Pending',
      spec: {
        prefix: 'bravo',
        models: ['llama3.1:8b'],
        gpu: { vmSize: 'Standard_NC4as_T4_v3', minNodes: 0, maxNodes: 2, spot: true },
        webui: { replicas: 3 },
        autoStop: { idleMinutes: 60 },
        tags: { team: 'nlp' },
        huggingFaceToken: false,
      },
      names: { aksCluster: 'aks-bravo', resourceGroup: expect.stringMatching(/^rg-llm-bravo-/) },
    });
  });

  it('refuses a second platform with the same prefix with 409 and starts nothing new', async () => {
    await app.call('POST', '/platforms', { body: body('charlie') });
    const started = app.instances.instances.get('charlie')!.createdTime;
    const reply = await app.call('POST', '/platforms', { body: body('charlie') });
    expectProblem(reply, 409);
    expect(reply.json.detail).toMatch(/charlie.*already exists/);
    expect(app.instances.instances.get('charlie')!.createdTime).toBe(started);
  });

  it('20 concurrent creates of one prefix give one 202 and 19 × 409', async () => {
    const replies = await Promise.all(
      Array.from({ length: 20 }, () => app.call('POST', '/platforms', { body: body('delta') })),
    );
    expect(replies.filter((r) => r.status === 202)).toHaveLength(1);
    expect(replies.filter((r) => r.status === 409)).toHaveLength(19);
  });

  it('with dryRun=true answers 200 with the plan and creates nothing', async () => {
    const reply = await app.call('POST', '/platforms?dryRun=true', {
      body: body('echo', { gpu: { spot: false, maxNodes: 3 } }),
    });
    expect(reply.status).toBe(200);
    expect(reply.json.dryRun).toBe(true);
    const { plan } = reply.json;
    // The resource group, every resource of the table, then the window of the cluster's auto-upgrades.
    expect(plan.azure.map((r: { type: string }) => r.type)).toEqual([
      'Microsoft.Resources/resourceGroups',
      ...AZURE_RESOURCE_NAMES.map((kind) => AZURE_RESOURCES[kind].type),
      'Microsoft.ContainerService/managedClusters/maintenanceConfigurations',
    ]);
    expect(plan.azure.at(-1)).toMatchObject({
      name: expect.stringMatching(/\/aksManagedAutoUpgradeSchedule$/),
      properties: {
        window: 'every Sunday 02:00 UTC, 4 h',
        maintenanceWindow: {
          schedule: { weekly: { intervalWeeks: 1, dayOfWeek: 'Sunday' } },
          durationHours: 4,
          startTime: '02:00',
          utcOffset: '+00:00',
        },
      },
    });
    const gpuPool = plan.azure[1].properties.agentPools.find((p: { name: string }) => p.name === 'gput4');
    expect(gpuPool).toMatchObject({
      priority: 'Regular',
      autoscale: { min: 0, max: 3 },
      taints: ['sku=gpu:NoSchedule'],
    });
    expect(plan.kubernetes.length).toBeGreaterThan(10);
    expect(plan.cost.perHour.running).toBeGreaterThan(plan.cost.perHour.stopped);
    expect((await app.call('GET', '/platforms/echo')).status).toBe(404);
    expect(app.instances.instances.has('echo')).toBe(false);
  });

  it('refuses a bad dryRun value with 400 naming the parameter', async () => {
    const reply = await app.call('POST', '/platforms?dryRun=yes', { body: body('foxtrot') });
    expectProblem(reply, 400);
    expect(reply.json.errors).toEqual([{ parameter: 'dryRun', message: 'must be true or false' }]);
  });

  it('names every invalid field in one 400 and records nothing', async () => {
    const reply = await app.call('POST', '/platforms', {
      body: { prefix: 'Golf!', models: [], webui: { replicas: 50 }, extra: 1 },
    });
    expectProblem(reply, 400);
    expect(reply.json.errors.map((e: { pointer: string }) => e.pointer).sort()).toEqual([
      '/extra',
      '/models',
      '/prefix',
      '/webui/replicas',
    ]);
    expect(
      (await app.call('GET', '/platforms')).json.platforms.map((p: { id: string }) => p.id),
    ).not.toContain('Golf!');
  });

  it('refuses an allowed source range that is not a CIDR with 400 naming the entry', async () => {
    const reply = await app.call('POST', '/platforms', {
      body: body('golfcidr', { network: { allowedSourceRanges: ['203.0.113.0/24', '203.0.113.0/33'] } }),
    });
    expectProblem(reply, 400);
    expect(reply.json.errors).toEqual([
      { pointer: '/network/allowedSourceRanges/1', message: expect.stringMatching(/IPv4 or IPv6 CIDR/) },
    ]);
    expect((await app.call('GET', '/platforms/golfcidr')).status).toBe(404);
  });

  it('answers 415 to a body that is not JSON', async () => {
    const reply = await app.call('POST', '/platforms', {
      raw: 'prefix=hotel',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expectProblem(reply, 415);
  });

  it('answers 400 to malformed JSON without quoting the body', async () => {
    const reply = await app.call('POST', '/platforms', {
      raw: '{"prefix":"india","huggingFaceToken":"hf_abcdefgh12345"',
    });
    expectProblem(reply, 400);
    expect(reply.text).not.toContain('hf_abcdefgh12345');
  });

  it('answers 413 to a body over 64 KiB', async () => {
    const reply = await app.call('POST', '/platforms', {
      raw: JSON.stringify({ prefix: 'juliet', models: ['phi3.5'], tags: { a: 'x'.repeat(70_000) } }),
    });
    expectProblem(reply, 413);
  });

  it('stores the Hugging Face token in Key Vault only: never in the record, the durable input, the response or a log', async () => {
    const token = 'hf_TokenValue0123456789';
    const reply = await app.call('POST', '/platforms', { body: body('kilo', { huggingFaceToken: token }) });
    expect(reply.status).toBe(202);
    expect(app.keyVault.secrets.get('platform-kilo-huggingface-token')?.value).toBe(token);
    const views = [
      reply.text,
      (await app.call('GET', '/platforms/kilo')).text,
      (await app.call('GET', '/platforms/kilo/status')).text,
      (await app.call('GET', '/platforms')).text,
    ];
    for (const text of views) expect(text).not.toContain(token);
    expect(JSON.stringify(app.instances.instances.get('kilo'))).not.toContain(token);
    expect(JSON.stringify(app.host.logs)).not.toContain(token);
    expect((await app.call('GET', '/platforms/kilo')).json.spec.huggingFaceToken).toBe(true);
  });
});

describe('reading platforms', () => {
  it('GET /platforms lists each platform with its phase', async () => {
    await app.call('POST', '/platforms', { body: body('lima') });
    const reply = await app.call('GET', '/platforms');
    expect(reply.status).toBe(200);
    expect(reply.json.platforms).toContainEqual(
      expect.objectContaining({ id: 'lima', phase: 'Pending', links: expect.any(Object) }),
    );
  });

  it('GET /platforms carries each platform’s cost, warnings and planned stop exactly as its status does', async () => {
    await app.call('POST', '/platforms', { body: body('lisa') });
    await getServices().registry.update('lisa', (r) => ({
      ...r,
      phase: 'Ready',
      models: { 'llama3.1:8b': 'failed' },
      lastActiveAt: new Date().toISOString(),
    }));
    const item = (await app.call('GET', '/platforms')).json.platforms.find(
      (p: { id: string }) => p.id === 'lisa',
    );
    const status = (await app.call('GET', '/platforms/lisa/status')).json;
    expect(item.costPerHour).toEqual(status.costPerHour);
    expect(item.costPerHour).toMatchObject({ currency: 'USD', running: expect.any(Number) });
    expect(item.warnings).toEqual(status.warnings);
    expect(item.warnings).toEqual([expect.stringContaining('llama3.1:8b could not be pulled')]);
    expect(item.planned).toEqual(status.planned);
    expect(item.planned.map((p: { action: string }) => p.action)).toContain('stop');
  });

  it('GET /platforms/{id}/status combines the record and the orchestration', async () => {
    await app.call('POST', '/platforms', { body: body('mike') });
    app.instances.update('mike', { runtimeStatus: 'Running', customStatus: { step: 'resourceGroup' } });
    const reply = await app.call('GET', '/platforms/mike/status');
    expect(reply.status).toBe(200);
    expect(reply.json).toMatchObject({
      id: 'mike',
      phase: 'Pending',
      orchestration: {
        instanceId: 'mike',
        name: 'provisionPlatform',
        runtimeStatus: 'Running',
        customStatus: { step: 'resourceGroup' },
      },
      steps: [],
      models: { 'llama3.1:8b': 'pending' },
      credentials: { keyVaultSecrets: expect.arrayContaining(['platform-mike-postgres-admin-password']) },
      autoStop: { idleMinutes: 60, stopsAt: null },
      costPerHour: { currency: 'USD', running: expect.any(Number), stopped: expect.any(Number) },
    });
  });

  it.each(['/platforms/nosuch', '/platforms/nosuch/status', '/platforms/NOT-AN-ID', '/platforms/x/status'])(
    'GET %s is a 404 problem',
    async (path) => {
      expectProblem(await app.call('GET', path), 404);
    },
  );
});

describe('stop, start and delete', () => {
  it('stop is refused with 409 while the platform is not Ready', async () => {
    await app.call('POST', '/platforms', { body: body('november') });
    const reply = await app.call('POST', '/platforms/november/stop');
    expectProblem(reply, 409);
    expect(reply.json.detail).toMatch(/is Pending; stop is possible from Ready/);
  });

  it('DELETE terminates a running provisioning, starts teardownPlatform and answers 202', async () => {
    await app.call('POST', '/platforms', { body: body('oscar') });
    app.instances.update('oscar', { runtimeStatus: 'Running' });
    const reply = await app.call('DELETE', '/platforms/oscar');
    expect(reply.status).toBe(202);
    expect(reply.json).toMatchObject({ id: 'oscar', phase: 'Deleting', operation: 'delete' });
    expect(app.instances.instances.get('oscar')!.runtimeStatus).toBe('Terminated');
    expect(app.instances.instances.get('oscar:teardown')).toMatchObject({
      name: 'teardownPlatform',
      input: { platformId: 'oscar' },
    });
  });

  it('a repeated DELETE is idempotent: 202 and no second teardown', async () => {
    await app.call('POST', '/platforms', { body: body('papa') });
    await app.call('DELETE', '/platforms/papa');
    const first = app.instances.instances.get('papa:teardown')!.createdTime;
    const again = await app.call('DELETE', '/platforms/papa');
    expect(again.status).toBe(202);
    expect(again.json.phase).toBe('Deleting');
    expect(app.instances.instances.get('papa:teardown')!.createdTime).toBe(first);
  });

  it('stop and start on an unknown platform are 404 problems', async () => {
    expectProblem(await app.call('POST', '/platforms/quebec/stop'), 404);
    expectProblem(await app.call('POST', '/platforms/quebec/start'), 404);
    expectProblem(await app.call('DELETE', '/platforms/quebec'), 404);
  });

  it('a create refused by the durable runtime leaves the platform Failed with the reason and answers 503', async () => {
    app.instances.start('provisionPlatform', 'romeo', null);
    app.instances.update('romeo', { runtimeStatus: 'Running' });
    // The registry has no record, but the runtime has an active instance with this id: the service refuses first.
    const reply = await app.call('POST', '/platforms', { body: body('romeo') });
    expectProblem(reply, 409);
    expect(reply.json.detail).toMatch(/provisionPlatform is running/);
  });
});

describe('host behaviour', () => {
  it.each([
    ['GET', '/platforms'],
    ['POST', '/platforms'],
    ['GET', '/platforms/alpha'],
    ['GET', '/platforms/alpha/status'],
    ['DELETE', '/platforms/alpha'],
    ['POST', '/platforms/alpha/stop'],
    ['POST', '/platforms/alpha/start'],
  ])('%s %s needs the function key', async (method, path) => {
    expect((await app.call(method, path, { key: null })).status).toBe(401);
    expect((await app.call(method, path, { key: 'wrong' })).status).toBe(401);
  });

  it('accepts the key as the code query parameter too', async () => {
    expect((await app.call('GET', `/platforms?code=${app.functionKey}`, { key: null })).status).toBe(200);
  });

  it('serves /health and /openapi.json without a key', async () => {
    expect((await app.call('GET', '/health', { key: null })).json).toMatchObject({ status: 'ok' });
    const doc = await app.call('GET', '/openapi.json', { key: null });
    expect(doc.status).toBe(200);
    expect(doc.json.openapi).toBe('3.1.0');
  });
});
