/**
 * provisionPlatform through the sandbox: the real HTTP route, the real orchestrator on durable-functions'
 * replay engine, the real activities and Azure SDK clients against the simulated ARM, on a virtual clock.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getServices } from '../../src/composition.js';
import { startTestApp, type TestApp } from '../support/harness.js';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ arm: { retryAfterSeconds: 0 } });
});
afterAll(() => app?.close());

const done = (id: string) => () => {
  const s = app.instances.instances.get(id)?.runtimeStatus;
  return s === 'Completed' || s === 'Failed' || s === 'Terminated';
};
const record = (id: string) => getServices().registry.get(id);
const byType = (type: string, id: string) =>
  app.arm
    .inventory()
    .filter((r) => r.type.toLowerCase() === type.toLowerCase() && r.tags['platform-id'] === id);

describe('provisionPlatform, Azure half', () => {
  it('creates every resource with the requested properties and records a complete step timeline', async () => {
    const reply = await app.call('POST', '/platforms', {
      body: {
        prefix: 'prov1',
        models: ['llama3.1:8b'],
        gpu: { minNodes: 1, maxNodes: 3 },
        tags: { team: 'nlp' },
      },
    });
    expect(reply.status).toBe(202);
    expect(await app.driver.runUntil(done('prov1'), { maxSimulatedMs: 3 * 3_600_000 })).toBe(true);
    const instance = app.instances.instances.get('prov1')!;
    expect(instance.runtimeStatus, JSON.stringify(instance.output)).toBe('Completed');

    const r = (await record('prov1'))!;
    expect(r.phase).toBe('Configuring');
    expect(r.steps.map((s) => [s.name, s.state])).toEqual(
      expect.arrayContaining([
        ['resourceGroup', 'succeeded'],
        ['secrets', 'succeeded'],
        ['aksCluster', 'succeeded'],
        ['postgresServer', 'succeeded'],
        ['storageAccount', 'succeeded'],
        ['postgresSettings', 'succeeded'],
        ['fileShares', 'succeeded'],
      ]),
    );

    const [cluster] = byType('Microsoft.ContainerService/managedClusters', 'prov1');
    const gpu = (cluster!.properties.agentPoolProfiles as Record<string, unknown>[]).find(
      (p) => p.name === 'gput4',
    )!;
    expect(gpu).toMatchObject({
      scaleSetPriority: 'Spot',
      scaleSetEvictionPolicy: 'Delete',
      spotMaxPrice: -1,
      enableAutoScaling: true,
      minCount: 1,
      maxCount: 3,
      nodeTaints: ['sku=gpu:NoSchedule'],
      nodeLabels: { workload: 'llm', gpu: 'true' },
    });
    expect(cluster!.tags).toEqual({ team: 'nlp', 'managed-by': 'llm-platforms-api', 'platform-id': 'prov1' });

    const serverName = r.names.postgresServer;
    const children = app.arm.inventory().filter((x) => x.id.includes(`/flexibleServers/${serverName}/`));
    const config = (name: string) =>
      children.find((c) => c.id.endsWith(`/configurations/${name}`))?.properties.value;
    expect(config('azure.extensions')).toBe('VECTOR');
    // TLS: Azure's default is ON; it is read, and never written to anything else.
    const tlsRequests = app.arm.requests.filter((q) =>
      q.path.endsWith('/configurations/require_secure_transport'),
    );
    expect(tlsRequests.some((q) => q.method === 'GET' && q.status === 200)).toBe(true);
    expect(
      tlsRequests.filter((q) => q.method === 'PUT' && JSON.stringify(q.body).toUpperCase().includes('OFF')),
    ).toEqual([]);
    const rules = children.filter((c) => c.id.includes('/firewallRules/'));
    expect(rules.length).toBeGreaterThan(0);
    for (const rule of rules) {
      expect(rule.properties.startIpAddress).toBe(rule.properties.endIpAddress);
      expect(rule.properties.startIpAddress).not.toBe('0.0.0.0');
    }
    expect(children.some((c) => c.id.endsWith('/databases/openwebui'))).toBe(true);

    const [account] = byType('Microsoft.Storage/storageAccounts', 'prov1');
    expect(account).toMatchObject({
      properties: expect.objectContaining({ minimumTlsVersion: 'TLS1_2', allowBlobPublicAccess: false }),
    });
  });
});
