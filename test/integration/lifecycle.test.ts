/**
 * stop, start and delete through the sandbox: the HTTP routes, the real orchestrations, the simulated ARM.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { armFault } from '../../sandbox/azure/arm.js';
import { getServices } from '../../src/composition.js';
import { ORCHESTRATORS } from '../../src/orchestrators/names.js';
import { HOURS, platformFlows } from '../support/flows.js';
import { startTestApp, type TestApp } from '../support/harness.js';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ arm: { retryAfterSeconds: 0 } });
});
afterAll(() => app?.close());

const { run, record, tagged, recordAnswers } = platformFlows(() => app);
const power = (id: string) => {
  const cluster = tagged(id).find(
    (r) => r.type.toLowerCase() === 'microsoft.containerservice/managedclusters',
  );
  const server = tagged(id).find((r) => r.type.toLowerCase() === 'microsoft.dbforpostgresql/flexibleservers');
  return {
    aks: (cluster?.properties.powerState as { code?: string } | undefined)?.code,
    postgres: server?.properties.state,
  };
};

describe('stop, start and delete', () => {
  it('create → Ready → stop → Stopped → start → Ready → delete → nothing left, and the prefix works again', async () => {
    // Every answer of the run is kept, to scan for secret values at the end.
    const { answers, stop } = recordAnswers();
    await app.call('POST', '/platforms', { body: { prefix: 'life', models: ['phi3.5'] } });
    await run('life');
    expect((await record('life')).phase).toBe('Ready');

    expect((await app.call('POST', '/platforms/life/stop')).status).toBe(202);
    await run('life');
    expect((await record('life')).phase).toBe('Stopped');
    expect(power('life')).toEqual({ aks: 'Stopped', postgres: 'Stopped' });
    const steps = (await record('life')).steps;
    expect(Date.parse(steps.find((s) => s.name === 'aksStop')!.endedAt!)).toBeLessThanOrEqual(
      Date.parse(steps.find((s) => s.name === 'postgresStop')!.startedAt!),
    );

    // Started at once: it waits the 15 minutes AKS asks for instead of failing, then PostgreSQL before AKS.
    const stoppedAt = app.clock.now();
    expect((await app.call('POST', '/platforms/life/start')).status).toBe(202);
    await run('life');
    const started = await record('life');
    expect(started.phase).toBe('Ready');
    expect(power('life')).toEqual({ aks: 'Running', postgres: 'Ready' });
    const step = (name: string) => started.steps.find((s) => s.name === name)!;
    expect(step('waitAfterStop').state).toBe('succeeded');
    expect(Date.parse(step('aksStart').startedAt!)).toBeGreaterThanOrEqual(stoppedAt + 15 * 60_000 - 60_000);
    expect(Date.parse(step('postgresStart').endedAt!)).toBeLessThanOrEqual(
      Date.parse(step('aksStart').startedAt!),
    );

    for (const id of ['/platforms/life', '/platforms/life/status', '/platforms']) await app.call('GET', id);
    const secrets = app.keyVault.values();
    expect(secrets.length).toBeGreaterThanOrEqual(5);
    const { names } = await record('life');
    // Role assignments carry no tags: the API's grant on the cluster is found by its scope.
    const grants = () =>
      app.arm
        .inventory()
        .filter(
          (r) =>
            r.type === 'Microsoft.Authorization/roleAssignments' &&
            r.id.includes(`/resourceGroups/${names.resourceGroup}/`),
        );
    expect(grants()).toHaveLength(1);
    expect((await app.call('DELETE', '/platforms/life')).status).toBe(202);
    await run('life:teardown');
    expect((await record('life')).phase).toBe('Deleted');
    expect(tagged('life')).toEqual([]);
    expect(grants()).toEqual([]);
    expect(app.keyVault.inventory().filter((s) => s.name.includes('-life-'))).toEqual([]);
    const status = await app.call('GET', '/platforms/life/status');
    expect(status.json.phase).toBe('Deleted');

    expect(
      (await app.call('POST', '/platforms', { body: { prefix: 'life', models: ['phi3.5'] } })).status,
    ).toBe(202);
    await run('life');
    expect((await record('life')).phase).toBe('Ready');
    expect((await getServices().registry.history('life')).map((r) => r.phase)).toEqual(['Deleted']);

    // No generated secret value in any response body or log line of the whole run.
    stop();
    const logs = app.host.logs.map((l) => l.message);
    for (const secret of secrets) {
      for (const text of [...answers, ...logs]) expect(text.includes(secret)).toBe(false);
    }
    expect(answers.length).toBeGreaterThan(5);
  });

  it('with purge protection: create → Ready → delete → Deleted with the secrets kept → create again → Ready', async () => {
    app.keyVault.purgeProtection = true;
    onTestFinished(() => {
      app.keyVault.purgeProtection = false;
    });
    const create = (token: string) =>
      app.call('POST', '/platforms', {
        body: { prefix: 'guard', models: ['phi3.5'], huggingFaceToken: token },
      });
    expect((await create('hf_first0000')).status).toBe(202);
    await run('guard');
    expect((await record('guard')).phase).toBe('Ready');
    const mine = () => [...app.keyVault.secrets].filter(([name]) => name.includes('-guard-'));
    const generated = new Map(
      mine()
        .filter(([name]) => !name.endsWith('huggingface-token'))
        .map(([name, s]) => [name, s.value]),
    );

    expect((await app.call('DELETE', '/platforms/guard')).status).toBe(202);
    await run('guard:teardown');
    const status = (await app.call('GET', '/platforms/guard/status')).json;
    expect(status.phase).toBe('Deleted');
    expect(tagged('guard')).toEqual([]);
    const kept = status.credentials.softDeleted as { name: string; scheduledPurgeDate: string }[];
    expect(kept.map((s) => s.name).sort()).toEqual([...status.credentials.keyVaultSecrets].sort());
    for (const s of kept) expect(Date.parse(s.scheduledPurgeDate)).toBeGreaterThan(app.clock.now());
    expect(status.warnings).toEqual([expect.stringMatching(/purge protection keeps 6 secret\(s\)/)]);

    expect((await create('hf_second000')).status).toBe(202);
    await run('guard');
    expect((await record('guard')).phase).toBe('Ready');
    // Recovered, not purged: the generated values are back, the token is the new request's.
    expect(
      new Map(
        mine()
          .filter(([name]) => generated.has(name))
          .map(([name, s]) => [name, s.value]),
      ),
    ).toEqual(generated);
    expect(app.keyVault.secrets.get('platform-guard-huggingface-token')?.value).toBe('hf_second000');
    expect(app.keyVault.inventory().filter((s) => s.name.includes('-guard-') && s.deleted)).toEqual([]);
  });

  it('DELETE during provisioning stops it and leaves nothing', async () => {
    await app.call('POST', '/platforms', { body: { prefix: 'early', models: ['phi3.5'] } });
    // Let provisioning get the resource group and the long creations going, then delete.
    await app.driver.runUntil(() => tagged('early').length >= 3, { maxSimulatedMs: HOURS });
    expect((await app.call('DELETE', '/platforms/early')).status).toBe(202);
    await run('early', 'early:teardown');
    expect(app.instances.instances.get('early')!.runtimeStatus).toBe('Terminated');
    // Its sub-orchestrations were stopped too, so nothing writes to the record after the delete.
    for (const child of ['early:aksCluster', 'early:postgresServer'])
      expect(app.instances.instances.get(child)?.runtimeStatus).toBe('Terminated');
    expect((await record('early')).phase).toBe('Deleted');
    await app.driver.runUntil(() => false, { maxSimulatedMs: 2 * HOURS });
    expect(tagged('early')).toEqual([]);
    expect((await record('early')).phase).toBe('Deleted');
  });

  it('two executions of the secret purge at once (a replay after a crash) both end well, nothing left', async () => {
    await app.call('POST', '/platforms', { body: { prefix: 'twice', models: ['phi3.5'] } });
    await run('twice');
    const { purgePlatformSecrets } = getServices().activities;
    const mine = () => app.keyVault.inventory().filter((s) => s.name.includes('-twice-'));
    expect(mine().length).toBeGreaterThanOrEqual(5);
    const results = await Promise.all([
      purgePlatformSecrets({ platformId: 'twice' }),
      purgePlatformSecrets({ platformId: 'twice' }),
    ]);
    // Each is done, or asks to be called again (a secret it saw deleted is not visible yet); never a failure.
    for (const result of results) if (!result.ok) expect(result.kind).toBe('busy');
    expect((await purgePlatformSecrets({ platformId: 'twice' })).ok).toBe(true);
    expect(mine()).toEqual([]);
  });

  it('a stop whose PostgreSQL step meets ServerIsNotReady (maintenance) for a while waits it out and ends Stopped, both stopped', async () => {
    await app.call('POST', '/platforms', { body: { prefix: 'maint', models: ['phi3.5'] } });
    await run('maint');
    app.arm.faults.script(
      'pg.stop',
      Array.from({ length: 4 }, () => armFault.pgMaintenance()),
    );
    expect((await app.call('POST', '/platforms/maint/stop')).status).toBe(202);
    await run('maint');
    expect(app.arm.faults.pending('pg.stop')).toBe(0);
    const stopped = await record('maint');
    expect(stopped.phase).toBe('Stopped');
    expect(stopped.lastError).toBeUndefined();
    expect(power('maint')).toEqual({ aks: 'Stopped', postgres: 'Stopped' });
  });

  it('a stop that fails for good after AKS stopped is Failed as a stop, not silently half-stopped; retry runs the stop again and ends Stopped', async () => {
    await app.call('POST', '/platforms', { body: { prefix: 'halfstop', models: ['phi3.5'] } });
    await run('halfstop');
    app.arm.faults.script('pg.stop', [armFault.lroFailed('InternalServerError', 'Simulated failure.')]);
    expect((await app.call('POST', '/platforms/halfstop/stop')).status).toBe(202);
    await run('halfstop');
    const failed = await record('halfstop');
    expect(failed).toMatchObject({
      phase: 'Failed',
      operation: 'stop',
      lastError: { step: 'postgresStop', code: 'InternalServerError' },
    });
    expect(power('halfstop')).toEqual({ aks: 'Stopped', postgres: 'Ready' });

    const retry = await app.call('POST', '/platforms/halfstop/retry');
    expect(retry.status).toBe(202);
    expect(retry.json).toMatchObject({ operation: 'stop', phase: 'Stopping' });
    await run('halfstop');
    const stopped = await record('halfstop');
    expect(stopped.phase).toBe('Stopped');
    expect(stopped.lastError).toBeUndefined();
    expect(power('halfstop')).toEqual({ aks: 'Stopped', postgres: 'Stopped' });
    // The retry ran the stop, not provisioning.
    expect(app.instances.instances.get('halfstop')!.name).toBe(ORCHESTRATORS.stop);
  });

  it('stop and start refuse while another operation runs, with a clear reason', async () => {
    await app.call('POST', '/platforms', { body: { prefix: 'busy', models: ['phi3.5'] } });
    const reply = await app.call('POST', '/platforms/busy/stop');
    expect(reply.status).toBe(409);
    expect(reply.json.detail).toMatch(/busy/);
  });
});
