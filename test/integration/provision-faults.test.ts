/**
 * provisionPlatform under failures through the sandbox with the real SDK clients: what needs the real ARM,
 * Key Vault and SDKs. Random transient faults still converge, operations are never polled sooner than
 * their Retry-After, and for a refusal at a representative step of each kind (Key Vault secrets, the AKS
 * create in its sub-orchestration, a PostgreSQL child after the server, the file shares after the
 * firewall) the retry converges with no duplicate and a DELETE leaves nothing.
 *
 * That a refusal at EVERY step of the Azure half marks the platform Failed naming the step and Azure's
 * code, and how refusals are retried and operations followed, is proved on stub activities in
 * test/unit/orchestrators/provision.test.ts and flow.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getServices } from '../../src/composition.js';
import { AZURE_RESOURCE_NAMES, AZURE_RESOURCES } from '../../src/platform/azure-resources.js';
import { armFault, type Fault } from '../../sandbox/azure/arm/faults.js';
import { startTestApp, type TestApp } from '../support/harness.js';

let app: TestApp;
beforeAll(async () => {
  // Default Retry-After bounds (at least 1 s, as Azure): the orchestrator must honour them in simulated time.
  app = await startTestApp();
});
afterAll(() => app?.close());

const HOURS = 3_600_000;
const finished = (id: string) => () =>
  ['Completed', 'Failed', 'Terminated'].includes(app.instances.instances.get(id)?.runtimeStatus ?? '');
const run = async (id: string) =>
  expect(await app.driver.runUntil(finished(id), { maxSimulatedMs: 6 * HOURS })).toBe(true);
const record = async (id: string) => (await getServices().registry.get(id))!;
const resourceTypes = (id: string) =>
  app.arm
    .inventory()
    .filter((r) => r.tags['platform-id'] === id)
    .map((r) => r.type.toLowerCase())
    .sort();
/** The resource group and every resource of the table, nothing twice. */
const EXPECTED_TYPES = [
  'Microsoft.Resources/resourceGroups',
  ...AZURE_RESOURCE_NAMES.map((k) => AZURE_RESOURCES[k].type),
]
  .map((type) => type.toLowerCase())
  .sort();

/** One step of each kind; the other steps' refusals are proved on stub activities (see above). */
const STEPS: { step: string; code: string; inject: () => void }[] = [
  {
    step: 'secrets',
    code: 'Forbidden',
    inject: () =>
      app.keyVault.writeFaults.push({
        status: 403,
        code: 'Forbidden',
        message: 'The user does not have secrets set permission.',
      }),
  },
  {
    step: 'aksCluster',
    code: 'QuotaExceeded',
    inject: () => app.arm.faults.script('aks.create', [armFault.quotaExceeded('immediate')]),
  },
  {
    step: 'postgresSettings',
    code: 'InvalidParameterValue',
    inject: () => app.arm.faults.script('pg.config.put', [armFault.error(400, 'InvalidParameterValue')]),
  },
  {
    step: 'fileShares',
    code: 'InvalidHeaderValue',
    inject: () => app.arm.faults.script('storage.share.put', [armFault.error(400, 'InvalidHeaderValue')]),
  },
];

describe('a refusal at a representative provisioning step', () => {
  it.each(STEPS.map((s, i) => [s.step, s, `fail${i}`] as const))(
    'at %s: Failed naming the step and Azure’s code; retry converges with no duplicate',
    async (_, { step, code, inject }, id) => {
      inject();
      expect(
        (await app.call('POST', '/platforms', { body: { prefix: id, models: ['phi3.5'] } })).status,
      ).toBe(202);
      await run(id);
      expect(app.instances.instances.get(id)!.runtimeStatus).toBe('Failed');
      const failed = await record(id);
      expect(failed.phase).toBe('Failed');
      expect(failed.lastError).toMatchObject({ step, code });
      expect(failed.steps.find((s) => s.name === step)).toMatchObject({ state: 'failed', error: { code } });

      expect((await app.call('POST', `/platforms/${id}/retry`)).status).toBe(202);
      await run(id);
      const after = await record(id);
      expect(after.phase).toBe('Ready');
      expect(after.lastError).toBeUndefined();
      expect(after.steps.every((s) => s.state === 'succeeded')).toBe(true);
      expect(resourceTypes(id)).toEqual(EXPECTED_TYPES);
    },
  );
});

describe('random transient faults', () => {
  it('with 10% of ARM calls failing (429 with and without Retry-After, 500, 503, dropped connections, ServerIsBusy) it still converges', async () => {
    const transient: Fault[] = [
      armFault.throttle(1),
      armFault.throttle(),
      armFault.serverError(500),
      armFault.unavailable(1),
      armFault.drop(),
    ];
    app.arm.faults.rate('*', 0.1, transient, 42);
    for (const op of ['pg.config.put', 'pg.db.put', 'pg.firewall.put'] as const) {
      app.arm.faults.rate(
        op,
        0.1,
        [
          armFault.error(
            409,
            'ServerIsBusy',
            'Server is busy with another operation. Please try your operation later.',
          ),
        ],
        7,
      );
    }
    try {
      const ids = ['noisy1', 'noisy2', 'noisy3'];
      for (const id of ids)
        expect(
          (await app.call('POST', '/platforms', { body: { prefix: id, models: ['phi3.5'] } })).status,
        ).toBe(202);
      expect(
        await app.driver.runUntil(() => ids.every((id) => finished(id)()), { maxSimulatedMs: 6 * HOURS }),
      ).toBe(true);
      for (const id of ids) {
        expect(
          app.instances.instances.get(id)!.runtimeStatus,
          JSON.stringify((await record(id)).lastError),
        ).toBe('Completed');
        expect((await record(id)).phase).toBe('Ready');
        expect(resourceTypes(id)).toEqual(EXPECTED_TYPES);
      }
      expect(app.arm.faults.applied.length).toBeGreaterThan(0);
    } finally {
      app.arm.faults.rate('*', 0, [armFault.pass()], 1);
      for (const op of ['pg.config.put', 'pg.db.put', 'pg.firewall.put'] as const)
        app.arm.faults.rate(op, 0, [armFault.pass()], 1);
    }
    // Three provisionings through SDK retries with real back-off delays: a guard against a hang, not a speed limit.
  }, 120_000);
});

describe('operations Azure no longer knows', () => {
  it('an operation URL answering 404 sends the step back to read its resource: provisioning still ends Ready, nothing twice', async () => {
    app.arm.faults.script('poll', [armFault.operationNotFound(), armFault.operationNotFound()]);
    await app.call('POST', '/platforms', { body: { prefix: 'lostop', models: ['phi3.5'] } });
    await run('lostop');
    expect(app.arm.faults.pending('poll')).toBe(0);
    expect((await record('lostop')).phase).toBe('Ready');
    expect(resourceTypes('lostop')).toEqual(EXPECTED_TYPES);
  });
});

describe('polling discipline', () => {
  it('counts the ARM requests of one provisioning by method, and never polls an operation sooner than its Retry-After', async () => {
    const from = app.arm.requests.length;
    await app.call('POST', '/platforms', { body: { prefix: 'counted', models: ['phi3.5'] } });
    await run('counted');
    expect((await record('counted')).phase).toBe('Ready');
    const requests = app.arm.requests.slice(from);
    const byMethod = Object.fromEntries(
      ['GET', 'PUT', 'POST', 'DELETE', 'PATCH', 'HEAD'].map((m) => [
        m,
        requests.filter((q) => q.method === m).length,
      ]),
    );
    // One PUT per thing written (group, cluster, server, the extension list — TLS is already ON —, database,
    // firewall rule, account, two shares), and one more: the extension list, the first write after the
    // server's creation, is accepted and then failed ServerBusy by Azure, so it is sent again.
    const puts = requests.filter((q) => q.method === 'PUT').map((q) => q.path);
    expect(puts.filter((p, i) => puts.indexOf(p) !== i)).toEqual([
      expect.stringMatching(/\/configurations\/azure\.extensions$/),
    ]);
    expect(byMethod.DELETE).toBe(0);
    expect(byMethod.GET).toBeLessThan(150);

    const polls = new Map<string, { at: number; retryAfter?: number }[]>();
    for (const q of requests.filter((r) => r.op === 'poll'))
      polls.set(q.path, [...(polls.get(q.path) ?? []), { at: q.at, retryAfter: q.retryAfter }]);
    expect(polls.size).toBeGreaterThan(0);
    for (const [path, seen] of polls) {
      for (let i = 1; i < seen.length; i++) {
        const waited = seen[i]!.at - seen[i - 1]!.at;
        expect(waited, `${path} polled after ${waited} ms`).toBeGreaterThanOrEqual(
          (seen[i - 1]!.retryAfter ?? 0) * 1000,
        );
      }
    }
    console.info(
      'ARM requests of one provisioning by method:',
      JSON.stringify(byMethod),
      'operations polled:',
      polls.size,
    );
  });
});

describe('teardown after a failure', () => {
  it.each(STEPS.map((s, i) => [s.step, s, `gone${i}`] as const))(
    'after a refusal at %s, DELETE leaves nothing in Azure or Key Vault',
    async (_, { inject }, id) => {
      inject();
      await app.call('POST', '/platforms', { body: { prefix: id, models: ['phi3.5'] } });
      await run(id);
      expect((await record(id)).phase).toBe('Failed');
      expect((await app.call('DELETE', `/platforms/${id}`)).status).toBe(202);
      await run(`${id}:teardown`);
      expect((await record(id)).phase).toBe('Deleted');
      expect(resourceTypes(id)).toEqual([]);
      expect(app.keyVault.inventory().filter((s) => s.name.includes(`-${id}-`))).toEqual([]);
    },
  );
});
