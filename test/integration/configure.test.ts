/**
 * The in-cluster half of provisioning through the sandbox: the real activities apply the rendered manifests
 * to the simulated Kubernetes API with @kubernetes/client-node and wait on its simulated readiness.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderManifests } from '../../src/platform/manifests.js';
import { platformFlows } from '../support/flows.js';
import { startTestApp, type TestApp } from '../support/harness.js';
import { TEMPLATES } from '../support/manifests.js';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ arm: { retryAfterSeconds: 0 } });
});
afterAll(() => app?.close());

const { run, record, clusterOf } = platformFlows(() => app);

describe('configurePlatform', () => {
  it('reaches Ready with every rendered object in the cluster, endpoints, models and a GPU smoke test', async () => {
    expect(
      (
        await app.call('POST', '/platforms', {
          body: {
            prefix: 'kready',
            models: ['phi3.5', 'llama3.1:8b'],
            webui: { adminEmail: 'ops@example.com' },
          },
        })
      ).status,
    ).toBe(202);
    await run('kready');
    expect(app.instances.instances.get('kready')!.runtimeStatus).toBe('Completed');
    const r = await record('kready');
    expect(r.phase).toBe('Ready');
    expect(r.models).toEqual({ 'phi3.5': 'ready', 'llama3.1:8b': 'ready' });
    expect(r.smokeTest).toMatchObject({ model: 'phi3.5', onGpu: true });
    expect(r.smokeTest!.tokensPerSecond).toBeGreaterThan(0);
    expect(r.warnings).toEqual([]);
    expect(Object.keys(r.endpoints).sort()).toEqual(['grafana', 'open-webui']);

    const { kube } = await clusterOf('kready');
    const live = new Set(
      kube.inventory().map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`),
    );
    for (const o of renderManifests(r.spec, r.names, TEMPLATES, { adminEmail: 'ops@example.com' })) {
      expect(live, `${o.kind} ${o.metadata.name}`).toContain(
        `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`,
      );
    }
    // The Secrets exist in the cluster, built from Key Vault; their values appear nowhere in the API's answers.
    expect(live).toContain('Secret/llm/open-webui');
    const status = await app.call('GET', '/platforms/kready/status');
    expect(status.json).toMatchObject({
      phase: 'Ready',
      models: { 'phi3.5': 'ready' },
      // HTTPS on the platform's stable host only, Grafana under it; no address, no plain HTTP.
      endpoints: {
        'open-webui': `https://llm-${r.names.aksDnsPrefix}.${r.spec.location}.cloudapp.azure.com`,
        grafana: `https://llm-${r.names.aksDnsPrefix}.${r.spec.location}.cloudapp.azure.com/grafana/`,
      },
      credentials: {
        accounts: {
          openWebuiAdmin: {
            user: 'ops@example.com',
            keyVaultSecret: 'platform-kready-openwebui-admin-password',
          },
        },
      },
    });
    for (const value of app.keyVault.values()) expect(status.text).not.toContain(value);
    expect(status.json.credentials.keyVaultSecrets).toContain('platform-kready-openwebui-admin-password');
  });

  it('provisioning again changes nothing in Azure or in the cluster', async () => {
    const { kube } = await clusterOf('kready');
    const versions = () =>
      kube
        .inventory()
        .map(
          (o) =>
            `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}@${String(o.metadata.resourceVersion)}`,
        )
        .sort();
    const before = versions();
    const armBefore = app.arm.requests.length;
    app.instances.start('provisionPlatform', 'kready', { platformId: 'kready' });
    await run('kready');
    expect((await record('kready')).phase).toBe('Ready');
    expect(
      app.arm.requests
        .slice(armBefore)
        .filter(
          (q) =>
            q.method !== 'GET' &&
            !q.path.endsWith('/listClusterUserCredential') &&
            !q.path.endsWith('/listKeys'),
        ),
    ).toEqual([]);
    expect(versions()).toEqual(before);
  });

  it('one failing model pull marks that model failed, not the platform', async () => {
    await app.call('POST', '/platforms', { body: { prefix: 'kpull', models: ['phi3.5', 'mistral:7b'] } });
    // The cluster's Ollama refuses one model before the preload Job runs.
    await app.driver.runUntil(() => false, { maxSimulatedMs: 60_000 });
    (await clusterOf('kpull')).ollama.failPull('mistral:7b');
    await run('kpull');
    const r = await record('kpull');
    expect(r.phase).toBe('Ready');
    expect(r.models).toEqual({ 'phi3.5': 'ready', 'mistral:7b': 'failed' });
    // The warning is derived from the model's state, so it goes away when the model is removed or pulled.
    const status = (await app.call('GET', '/platforms/kpull/status')).json as { warnings: string[] };
    expect(status.warnings).toEqual([
      'Model mistral:7b could not be pulled; the platform serves the others.',
    ]);
  });

  it('a model answering from the CPU is a visible warning, not silence', async () => {
    await app.call('POST', '/platforms', { body: { prefix: 'kcpu', models: ['phi3.5'] } });
    await app.driver.runUntil(() => false, { maxSimulatedMs: 60_000 });
    (await clusterOf('kcpu')).ollama.setGpu(false);
    await run('kcpu');
    const r = await record('kcpu');
    expect(r.phase).toBe('Ready');
    expect(r.smokeTest).toMatchObject({ onGpu: false });
    expect(r.warnings?.[0]).toMatch(/runs on the CPU/);
    const status = (await app.call('GET', '/platforms/kcpu/status')).json;
    expect(status.warnings[0]).toMatch(/runs on the CPU/);
    expect(status.smokeTest).toMatchObject({ model: 'phi3.5', onGpu: false });
  });
});

describe('staged apply', () => {
  it('applies Open WebUI only after the database setup and the migration Jobs completed', async () => {
    await app.call('POST', '/platforms', { body: { prefix: 'kstage', models: ['phi3.5'] } });
    await run('kstage');
    const { kube } = await clusterOf('kstage');
    const created = (kind: string, name: RegExp) =>
      kube
        .inventory()
        .filter((o) => o.kind === kind && name.test(String(o.metadata.name)))
        .map((o) => Date.parse(String(o.metadata.creationTimestamp)));
    const [setup] = created('Job', /^database-setup$/);
    const [migrate] = created('Job', /migrate/);
    const [webui] = created('Deployment', /^open-webui$/);
    const r = await record('kstage');
    // Kubernetes timestamps have whole seconds.
    const ended = (step: string) =>
      Math.floor(Date.parse(r.steps.find((s) => s.name === step)!.endedAt!) / 1000) * 1000;
    expect(setup).toBeLessThan(migrate!);
    expect(ended('databaseSetup')).toBeLessThanOrEqual(migrate!);
    expect(ended('databaseMigration')).toBeLessThanOrEqual(webui!);
  });
});
