/**
 * A platform's life after provisioning, through the sandbox: PATCH, wipe, power state and probe warnings in
 * the status, the idle sweep beside running flows, and the whole life end to end.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { armFault } from '../../sandbox/azure/arm/faults.js';
import type { VirtualClock } from '../../sandbox/clock.js';
import { getServices } from '../../src/composition.js';
import { HOURS, MINUTES, platformFlows } from '../support/flows.js';
import { startTestApp, type TestApp } from '../support/harness.js';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ arm: { retryAfterSeconds: 0 } });
});
afterAll(() => app?.close());

const { run, record, clusterOf, tagged, sweep, recordAnswers } = platformFlows(() => app);
const clock = () => app.clock as VirtualClock;
const ofType = (id: string, type: string) => tagged(id).find((r) => r.type.toLowerCase() === type);
const PG = 'microsoft.dbforpostgresql/flexibleservers';

/** Steps of the record that started at or after `since` (the ones the last flow ran). */
async function stepsSince(id: string, since: number) {
  return (await record(id)).steps
    .filter((s) => Date.parse(s.startedAt ?? '') >= since)
    .map((s) => s.name)
    .sort();
}

async function ready(id: string, body: Record<string, unknown> = {}) {
  const reply = await app.call('POST', '/platforms', { body: { prefix: id, models: ['phi3.5'], ...body } });
  expect(reply.status).toBe(202);
  await run(id);
  expect((await record(id)).phase).toBe('Ready');
}

describe('PATCH /platforms/{id}', () => {
  it('refuses a bad body naming each field, and changes nothing', async () => {
    await ready('pbad');
    const before = await record('pbad');
    const cases: [unknown, string[]][] = [
      [{}, ['']],
      [{ models: [] }, ['/models']],
      [{ models: ['Not A Model'] }, ['/models/0']],
      [{ models: ['phi3.5', 'phi3.5:latest'] }, ['/models/1']],
      [{ webui: { replicas: 99 } }, ['/webui/replicas']],
      [{ webui: {} }, ['/webui/replicas']],
      [{ autoStop: { idleMinutes: 1 } }, ['/autoStop/idleMinutes']],
      [{ gpu: { spot: false } }, ['/gpu']],
      [{ prefix: 'other' }, ['/prefix']],
      [[1], ['']],
    ];
    for (const [body, pointers] of cases) {
      const reply = await app.call('PATCH', '/platforms/pbad', { body });
      expect(reply.status, JSON.stringify(body)).toBe(400);
      expect(reply.headers['content-type']).toBe('application/problem+json');
      expect(reply.json.errors.map((e: { pointer: string }) => e.pointer).sort()).toEqual(pointers);
    }
    const after = await record('pbad');
    expect(after.spec).toEqual(before.spec);
    expect(after.phase).toBe('Ready');
    expect((await app.call('PATCH', '/platforms/nosuch', { body: { webui: { replicas: 2 } } })).status).toBe(
      404,
    );
  });

  it('an auto-stop change alone is recorded at once, without a flow', async () => {
    await ready('pidle');
    const instance = app.instances.instances.get('pidle')!;
    const createdTime = instance.createdTime;
    const reply = await app.call('PATCH', '/platforms/pidle', { body: { autoStop: { idleMinutes: 45 } } });
    expect(reply.status).toBe(200);
    expect(reply.json.spec.autoStop).toEqual({ idleMinutes: 45, gpuIdleMinutes: 10, prewarm: true });
    const off = await app.call('PATCH', '/platforms/pidle', { body: { autoStop: { prewarm: false } } });
    expect(off.json.spec.autoStop).toEqual({ idleMinutes: 45, gpuIdleMinutes: 10, prewarm: false });
    // The GPU tier's limit likewise: the next sweep reads it (and the status plans by it).
    const gpu = await app.call('PATCH', '/platforms/pidle', { body: { autoStop: { gpuIdleMinutes: 20 } } });
    expect(gpu.json.spec.autoStop).toEqual({ idleMinutes: 45, gpuIdleMinutes: 20, prewarm: false });
    expect(app.instances.instances.get('pidle')!.createdTime).toBe(createdTime);
    const status = (await app.call('GET', '/platforms/pidle/status')).json;
    expect(status.phase).toBe('Ready');
    expect(Date.parse(status.autoStop.stopsAt) - Date.parse(status.lastActiveAt)).toBe(45 * MINUTES);
    expect(Date.parse(status.autoStop.gpuReleasesAt) - Date.parse(status.lastActiveAt)).toBe(20 * MINUTES);
  });

  it('adds and removes models, changes replicas, and runs only the steps the change touches', async () => {
    await ready('pchg', { models: ['phi3.5', 'llama3.2:1b'], webui: { replicas: 1 } });
    const cluster = await clusterOf('pchg');
    // The SKU Azure was last asked for: the create's PUT, then a PATCH of the sku alone.
    const skuOf = () =>
      app.arm.requests
        .filter((q) => q.path.toLowerCase().endsWith(`/flexibleservers/${names.postgresServer}`))
        .filter((q) => q.method === 'PUT' || q.method === 'PATCH')
        .map((q) => (q.body as { sku?: { name?: string } }).sku?.name)
        .at(-1);
    const { names } = await record('pchg');
    expect(skuOf()).toBe('Standard_B1ms');
    expect(ofType('pchg', PG)).toBeDefined();

    // Replicas only: a larger PostgreSQL SKU (3 replicas' pools do not fit B1ms's 35 connections) and the
    // manifests.
    let since = clock().now();
    const replicas = await app.call('PATCH', '/platforms/pchg', { body: { webui: { replicas: 3 } } });
    expect(replicas.status).toBe(202);
    expect(replicas.headers['location']).toBe('/platforms/pchg/status');
    expect(replicas.json).toMatchObject({
      phase: 'Updating',
      operation: 'update',
      change: { addedModels: [], removedModels: [], replicas: { from: 1, to: 3 } },
    });
    // While it runs, other operations are refused with the reason.
    const busy = await app.call('POST', '/platforms/pchg/stop');
    expect(busy.status).toBe(409);
    expect(busy.json.detail).toMatch(/Updating/);
    await run('pchg');
    expect((await record('pchg')).phase).toBe('Ready');
    expect(skuOf()).toBe('Standard_B2s');
    expect(cluster.kube.get('apps/v1', 'Deployment', 'open-webui', 'llm')).toMatchObject({
      spec: { replicas: 3 },
    });
    const touched = await stepsSince('pchg', since);
    expect(touched).toContain('postgresResize');
    expect(touched).toContain('workloadsReady');
    for (const untouched of ['models', 'modelsRemove', 'fileShares', 'aksCluster', 'postgresServer'])
      expect(touched).not.toContain(untouched);

    // Models only: one added (pulled by a new preload Job), one removed from Ollama; no Azure write.
    since = clock().now();
    const writes = () => app.arm.requests.filter((q) => ['PUT', 'PATCH', 'DELETE'].includes(q.method));
    const armWrites = writes().length;
    const models = await app.call('PATCH', '/platforms/pchg', { body: { models: ['phi3.5', 'mistral:7b'] } });
    expect(models.status).toBe(202);
    expect(models.json.change).toEqual({ addedModels: ['mistral:7b'], removedModels: ['llama3.2:1b'] });
    await run('pchg');
    const r = await record('pchg');
    expect(r.phase).toBe('Ready');
    expect(r.models).toEqual({ 'phi3.5': 'ready', 'mistral:7b': 'ready' });
    expect(cluster.ollama.pulled()).toContain('mistral:7b');
    expect(cluster.ollama.pulled()).not.toContain('llama3.2:1b');
    const touchedModels = await stepsSince('pchg', since);
    expect(touchedModels).toEqual(expect.arrayContaining(['modelsRemove', 'models', 'fileShares']));
    expect(touchedModels).not.toContain('postgresResize');
    // The share already had room: ensureFileShares read it and wrote nothing to Azure.
    expect(
      writes()
        .slice(armWrites)
        .map((q) => `${q.method} ${q.path}`),
    ).toEqual([]);
  });

  it("changes who may reach the platform: the entry's Caddyfile gets the new ranges and its pod rolls", async () => {
    await ready('pnet', { network: { allowedSourceRanges: ['203.0.113.0/24'] } });
    const cluster = await clusterOf('pnet');
    const caddyfile = () =>
      (cluster.kube.get('v1', 'ConfigMap', 'https-entry', 'llm') as { data: { Caddyfile: string } }).data
        .Caddyfile;
    const configHash = () =>
      (
        cluster.kube.get('apps/v1', 'Deployment', 'https-entry', 'llm') as {
          spec: { template: { metadata: { annotations: Record<string, string> } } };
        }
      ).spec.template.metadata.annotations['llm-platforms-api/config-hash'];
    expect(caddyfile()).toContain('not remote_ip 203.0.113.0/24\n');
    const hash = configHash();

    // An invalid range is refused before anything runs.
    const bad = await app.call('PATCH', '/platforms/pnet', {
      body: { network: { allowedSourceRanges: ['198.51.100.0/24', '2001:db8::/129'] } },
    });
    expect(bad.status).toBe(400);
    expect(bad.json.errors.map((e: { pointer: string }) => e.pointer)).toEqual([
      '/network/allowedSourceRanges/1',
    ]);

    const since = clock().now();
    const reply = await app.call('PATCH', '/platforms/pnet', {
      body: { network: { allowedSourceRanges: ['198.51.100.0/24', '2001:db8::/32'] } },
    });
    expect(reply.status).toBe(202);
    expect(reply.json.change).toEqual({
      addedModels: [],
      removedModels: [],
      allowedSourceRanges: ['198.51.100.0/24', '2001:db8::/32'],
    });
    await run('pnet');
    const r = await record('pnet');
    expect(r.phase).toBe('Ready');
    expect(r.spec.network).toEqual({ allowedSourceRanges: ['198.51.100.0/24', '2001:db8::/32'] });
    expect(caddyfile()).toContain('not remote_ip 198.51.100.0/24 2001:db8::/32\n');
    expect(configHash()).not.toBe(hash);
    const touched = await stepsSince('pnet', since);
    expect(touched).toContain('workloadsReady');
    for (const untouched of ['models', 'modelsRemove', 'fileShares', 'postgresResize'])
      expect(touched).not.toContain(untouched);
  });

  it('a refused resize leaves the platform Failed naming the step; retry converges to the recorded spec', async () => {
    await ready('pfail', { webui: { replicas: 1 } });
    app.arm.faults.script('pg.update', [armFault.error(400, 'InvalidParameterValue')]);
    expect((await app.call('PATCH', '/platforms/pfail', { body: { webui: { replicas: 4 } } })).status).toBe(
      202,
    );
    await run('pfail');
    const failed = await record('pfail');
    expect(failed.phase).toBe('Failed');
    expect(failed.lastError).toMatchObject({ step: 'postgresResize', code: 'InvalidParameterValue' });
    expect(failed.spec.webui.replicas).toBe(4);

    expect((await app.call('POST', '/platforms/pfail/retry')).status).toBe(202);
    await run('pfail');
    expect((await record('pfail')).phase).toBe('Ready');
    const { names } = failed;
    const patches = app.arm.requests.filter(
      (q) =>
        q.method === 'PATCH' && q.path.toLowerCase().endsWith(`/flexibleservers/${names.postgresServer}`),
    );
    expect(patches.map((q) => [q.status, (q.body as { sku: { name: string } }).sku.name])).toEqual([
      [400, 'Standard_B2s'],
      [202, 'Standard_B2s'],
    ]);
    const cluster = await clusterOf('pfail');
    expect(cluster.kube.get('apps/v1', 'Deployment', 'open-webui', 'llm')).toMatchObject({
      spec: { replicas: 4 },
    });
  });

  it('two PATCHes at once are both kept: neither overwrites the other', async () => {
    await ready('pboth');
    const [idle, models] = await Promise.all([
      app.call('PATCH', '/platforms/pboth', { body: { autoStop: { idleMinutes: 90 } } }),
      app.call('PATCH', '/platforms/pboth', { body: { models: ['phi3.5', 'mistral:7b'] } }),
    ]);
    expect([idle.status, models.status]).toEqual([200, 202]);
    await run('pboth');
    const r = await record('pboth');
    expect(r.spec.autoStop.idleMinutes).toBe(90);
    expect(r.spec.models).toEqual(['phi3.5', 'mistral:7b']);
    expect(r.models).toEqual({ 'phi3.5': 'ready', 'mistral:7b': 'ready' });
  });

  it('is refused with a reason while the platform is stopped', async () => {
    await ready('pstop');
    await app.call('POST', '/platforms/pstop/stop');
    await run('pstop');
    const reply = await app.call('PATCH', '/platforms/pstop', { body: { models: ['mistral:7b'] } });
    expect(reply.status).toBe(409);
    expect(reply.json.detail).toMatch(/Stopped.*start it first/);
    expect((await record('pstop')).spec.models).toEqual(['phi3.5']);
    // An auto-stop change needs no cluster: it is accepted in any phase but Deleting/Deleted.
    expect(
      (await app.call('PATCH', '/platforms/pstop', { body: { autoStop: { idleMinutes: 0 } } })).status,
    ).toBe(200);
  });
});

describe('POST /platforms/{id}/wipe', () => {
  it('re-creates the database, runs its Jobs again and restarts Open WebUI; models stay', async () => {
    await ready('pwipe', { webui: { replicas: 2 } });
    const cluster = await clusterOf('pwipe');
    const uid = (name: string) =>
      (cluster.kube.get('batch/v1', 'Job', name, 'llm')?.metadata as { uid?: string } | undefined)?.uid;
    const migrate = cluster.kube
      .pods('llm')
      .map((p) => (p.metadata as { labels?: Record<string, string> }).labels?.['job-name'])
      .find((n) => n?.startsWith('open-webui-migrate'))!;
    const jobsBefore = [uid('database-setup'), uid(migrate)];
    expect(jobsBefore.every(Boolean)).toBe(true);
    const since = app.arm.requests.length;

    const reply = await app.call('POST', '/platforms/pwipe/wipe');
    expect(reply.status).toBe(202);
    expect(reply.json).toMatchObject({ phase: 'Updating', operation: 'wipe' });
    expect((await app.call('POST', '/platforms/pwipe/wipe')).status).toBe(409);
    await run('pwipe');
    const r = await record('pwipe');
    expect(r.phase).toBe('Ready');

    // The database was dropped and created again through ARM, in that order, after Open WebUI stopped.
    const dbCalls = app.arm.requests
      .slice(since)
      .filter((q) => /\/databases\/openwebui$/i.test(q.path) && q.method !== 'GET')
      .map((q) => q.method);
    expect(dbCalls).toEqual(['DELETE', 'PUT']);
    const step = (name: string) => r.steps.find((s) => s.name === name)!;
    expect(Date.parse(step('webuiStopped').endedAt!)).toBeLessThanOrEqual(
      Date.parse(step('webuiDataWipe').startedAt!),
    );
    expect(Date.parse(step('webuiDataWipe').endedAt!)).toBeLessThanOrEqual(
      Date.parse(step('databaseDrop').startedAt!),
    );
    // The Job that removed Open WebUI's files from its share ran to completion.
    const wipeJob = cluster.kube.get('batch/v1', 'Job', 'open-webui-data-wipe', 'llm');
    expect(wipeJob).toMatchObject({ status: { succeeded: 1 } });
    // Both database Jobs ran again (new objects), Open WebUI is back with its replicas, models untouched.
    expect(uid('database-setup')).not.toBe(jobsBefore[0]);
    expect(uid(migrate)).not.toBe(jobsBefore[1]);
    expect(cluster.kube.get('apps/v1', 'Deployment', 'open-webui', 'llm')).toMatchObject({
      spec: { replicas: 2 },
      status: { readyReplicas: 2 },
    });
    expect(cluster.ollama.pulled()).toContain('phi3.5:latest');
    expect(r.models).toEqual({ 'phi3.5': 'ready' });

    // A second wipe runs that Job again (a new object), not the finished one.
    expect((await app.call('POST', '/platforms/pwipe/wipe')).status).toBe(202);
    await run('pwipe');
    expect((await record('pwipe')).phase).toBe('Ready');
    expect(uid('open-webui-data-wipe')).not.toBe((wipeJob!.metadata as { uid: string }).uid);
  });
});

describe('a failed wipe', () => {
  it('is retried as a wipe: the re-created database gets its setup and schema again', async () => {
    await ready('pwfail');
    const cluster = await clusterOf('pwfail');
    const uid = (name: string) =>
      (cluster.kube.get('batch/v1', 'Job', name, 'llm')?.metadata as { uid?: string } | undefined)?.uid;
    const setup = uid('database-setup');
    app.arm.faults.script('pg.db.put', [armFault.error(400, 'InvalidParameterValue')]);
    expect((await app.call('POST', '/platforms/pwfail/wipe')).status).toBe(202);
    await run('pwfail');
    expect((await record('pwfail')).lastError).toMatchObject({ step: 'databaseCreate' });
    expect((await record('pwfail')).phase).toBe('Failed');

    const retry = await app.call('POST', '/platforms/pwfail/retry');
    expect(retry.json).toMatchObject({ phase: 'Updating', operation: 'wipe' });
    await run('pwfail');
    expect((await record('pwfail')).phase).toBe('Ready');
    expect(uid('database-setup')).not.toBe(setup);
    expect(ofType('pwfail', PG)).toBeDefined();
  });
});

describe('Open WebUI scaled by its HPA', () => {
  it('a PATCH of the models, a wipe and a retry succeed, and our applies never reset the HPA replica count', async () => {
    await ready('phpa', { webui: { replicas: 2 } });
    const cluster = await clusterOf('phpa');
    const webui = () =>
      cluster.kube.get('apps/v1', 'Deployment', 'open-webui', 'llm') as {
        spec: { replicas: number };
        status: { readyReplicas?: number };
        metadata: { managedFields: { manager: string; subresource?: string; fieldsV1: object }[] };
      };
    const replicasOwner = () =>
      webui()
        .metadata.managedFields.filter((m) => JSON.stringify(m.fieldsV1).includes('"f:replicas"'))
        .map((m) => `${m.manager}/${m.subresource ?? ''}`);
    // The manifest has no count: created with 1, raised to the HPA's minimum by the HPA.
    expect(webui().spec.replicas).toBe(2);
    expect(replicasOwner()).toEqual(['horizontal-pod-autoscaler/scale']);

    // Load: 140 % of the CPU requests on 2 pods; the HPA settles at 4 (70 % each).
    cluster.kube.setCpuUtilization('llm', 'open-webui', 140);
    clock().advanceBy(15_000);
    expect(webui().spec.replicas).toBe(4);

    // An update applies every manifest again: no conflict, the HPA keeps its count.
    expect(
      (await app.call('PATCH', '/platforms/phpa', { body: { models: ['phi3.5', 'mistral:7b'] } })).status,
    ).toBe(202);
    await run('phpa');
    expect((await record('phpa')).phase).toBe('Ready');
    expect(webui().spec.replicas).toBe(4);
    expect(replicasOwner()).toEqual(['horizontal-pod-autoscaler/scale']);

    // A wipe scales Open WebUI to zero and back through the scale subresource; the HPA, off while it was
    // at zero, takes the count over again.
    const since = cluster.kube.requests.length;
    expect((await app.call('POST', '/platforms/phpa/wipe')).status).toBe(202);
    await run('phpa');
    expect((await record('phpa')).phase).toBe('Ready');
    const scales = cluster.kube.requests
      .slice(since)
      .filter((q) => q.path.endsWith('/deployments/open-webui/scale') && q.method === 'PATCH');
    expect(scales.map((q) => q.status)).toEqual([200, 200]);
    expect(webui()).toMatchObject({ spec: { replicas: 4 }, status: { readyReplicas: 4 } });
    expect(replicasOwner()).toEqual(['horizontal-pod-autoscaler/scale']);

    // A wipe that fails with Open WebUI at zero is retried as a wipe: Open WebUI comes back and the HPA
    // takes its count over again.
    app.arm.faults.script('pg.db.put', [armFault.error(400, 'InvalidParameterValue')]);
    expect((await app.call('POST', '/platforms/phpa/wipe')).status).toBe(202);
    await run('phpa');
    expect((await record('phpa')).phase).toBe('Failed');
    expect(webui().spec.replicas).toBe(0);
    expect((await app.call('POST', '/platforms/phpa/retry')).status).toBe(202);
    await run('phpa');
    expect((await record('phpa')).phase).toBe('Ready');
    expect(webui()).toMatchObject({ spec: { replicas: 4 }, status: { readyReplicas: 4 } });
    expect(replicasOwner()).toEqual(['horizontal-pod-autoscaler/scale']);
    // No apply of ours ever met a conflict.
    expect(cluster.kube.requests.filter((q) => q.status === 409)).toEqual([]);
  });
});

describe('status', () => {
  it('shows AKS and PostgreSQL power state and a failing idle probe as a warning', async () => {
    await ready('pstat', { autoStop: { idleMinutes: 30 } });
    const status = async () => (await app.call('GET', '/platforms/pstat/status')).json;
    expect((await status()).power).toMatchObject({ aks: 'Running', postgres: 'Ready' });

    // The cluster's API server does not answer: the sweep never stops it, and says so.
    const cluster = await clusterOf('pstat');
    cluster.kube.stop();
    clock().advanceBy(HOURS);
    for (let i = 0; i < 2; i++) {
      const summary = await sweep();
      expect(summary.probeFailures).toContain('pstat');
      expect(summary.stopped).not.toContain('pstat');
    }
    const failing = await status();
    expect(failing.phase).toBe('Ready');
    expect(failing.warnings.join('\n')).toMatch(/idle probe failed 2 time\(s\) in a row/);
    cluster.kube.start();
    clock().advanceBy(10 * MINUTES); // the pods restart and Ollama's endpoint is ready again
    cluster.ollama.setLoaded(['phi3.5']);
    await sweep();
    expect((await status()).warnings.join('\n')).not.toMatch(/idle probe/);

    await app.call('POST', '/platforms/pstat/stop');
    await run('pstat');
    expect((await status()).power).toMatchObject({ aks: 'Stopped', postgres: 'Stopped' });
  });
});

describe('the idle sweep beside running flows', () => {
  it('leaves a platform alone while it stops, starts, changes or is deleted', async () => {
    await ready('sbusy', { autoStop: { idleMinutes: 30 } });
    clock().advanceBy(2 * HOURS);
    const flowsOf = () => [...app.instances.instances.keys()].filter((k) => k.startsWith('sbusy')).sort();

    for (const [method, path, phase] of [
      ['POST', '/platforms/sbusy/stop', 'Stopped'],
      ['POST', '/platforms/sbusy/start', 'Ready'],
      ['PATCH', '/platforms/sbusy', 'Ready'],
      ['DELETE', '/platforms/sbusy', 'Deleted'],
    ] as const) {
      // More replicas: the HPA adds pods and the update waits for them, so it is still running at the sweep.
      const body = method === 'PATCH' ? { body: { webui: { replicas: 4 } } } : {};
      expect((await app.call(method, path, body)).status).toBe(202);
      const during = (await record('sbusy')).phase;
      const instances = flowsOf();
      const summary = await sweep();
      expect(summary.stopped).not.toContain('sbusy');
      expect(summary.restopped).not.toContain('sbusy');
      expect(flowsOf()).toEqual(instances);
      expect((await record('sbusy')).phase).toBe(during);
      await run(method === 'DELETE' ? 'sbusy:teardown' : 'sbusy');
      expect((await record('sbusy')).phase).toBe(phase);
    }
    expect(tagged('sbusy')).toEqual([]);
  });
});

describe('end to end', () => {
  it('create → Ready → idle → stopped by the sweep → start → PATCH → wipe → delete; nothing left, prefix reusable, no secret anywhere', async () => {
    const { answers, stop } = recordAnswers();
    try {
      await ready('e2e', { autoStop: { idleMinutes: 30 } });
      // Idle past the limit: the sweep stops it.
      clock().advanceBy(45 * MINUTES);
      expect((await sweep()).stopped).toContain('e2e');
      await run('e2e');
      expect((await record('e2e')).phase).toBe('Stopped');

      expect((await app.call('POST', '/platforms/e2e/start')).status).toBe(202);
      await run('e2e');
      expect((await record('e2e')).phase).toBe('Ready');

      const patch = await app.call('PATCH', '/platforms/e2e', {
        body: { models: ['phi3.5', 'mistral:7b'], webui: { replicas: 2 } },
      });
      expect(patch.status).toBe(202);
      await run('e2e');
      const changed = await record('e2e');
      expect(changed.phase).toBe('Ready');
      expect(changed.models).toEqual({ 'phi3.5': 'ready', 'mistral:7b': 'ready' });
      expect(changed.spec.webui.replicas).toBe(2);

      expect((await app.call('POST', '/platforms/e2e/wipe')).status).toBe(202);
      await run('e2e');
      expect((await record('e2e')).phase).toBe('Ready');

      for (const path of ['/platforms/e2e', '/platforms/e2e/status', '/platforms'])
        await app.call('GET', path);
      const secrets = app.keyVault.values();
      expect(secrets.length).toBeGreaterThanOrEqual(5);

      expect((await app.call('DELETE', '/platforms/e2e')).status).toBe(202);
      await run('e2e:teardown');
      expect((await record('e2e')).phase).toBe('Deleted');
      expect(tagged('e2e')).toEqual([]);
      expect(app.keyVault.inventory().filter((s) => s.name.includes('-e2e-'))).toEqual([]);

      await ready('e2e');
      expect((await getServices().registry.history('e2e')).map((r) => r.phase)).toEqual(['Deleted']);

      const logs = app.host.logs.map((l) => l.message);
      for (const secret of secrets)
        for (const text of [...answers, ...logs]) expect(text.includes(secret)).toBe(false);
      expect(answers.length).toBeGreaterThan(8);
    } finally {
      stop();
    }
  });
});
