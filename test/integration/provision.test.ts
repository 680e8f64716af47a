/**
 * provisionPlatform through the sandbox: the real HTTP route, the real orchestrator on durable-functions'
 * replay engine, the real activities and Azure SDK clients against the simulated ARM, on a virtual clock.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getServices } from '../../src/composition.js';
import { armFault } from '../../sandbox/azure/arm/faults.js';
import { AKS_SERVER_APP_ID, SANDBOX_API_PRINCIPAL_ID } from '../../sandbox/azure/entra.js';
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
    expect(r.phase).toBe('Ready');
    expect(r.steps.map((s) => [s.name, s.state])).toEqual(
      expect.arrayContaining([
        ['resourceGroup', 'succeeded'],
        ['secrets', 'succeeded'],
        ['aksCluster', 'succeeded'],
        ['postgresServer', 'succeeded'],
        ['storageAccount', 'succeeded'],
        ['postgresSettings', 'succeeded'],
        ['postgresFirewall', 'succeeded'],
        ['fileShares', 'succeeded'],
      ]),
    );

    // AKS, PostgreSQL and storage are created in parallel.
    const step = (name: string) => r.steps.find((s) => s.name === name)!;
    for (const other of ['postgresServer', 'storageAccount'])
      expect(Date.parse(step(other).startedAt!)).toBeLessThan(Date.parse(step('aksCluster').endedAt!));
    // The server's settings and database need only the server: written while AKS is still being created.
    expect(Date.parse(step('postgresSettings').endedAt!)).toBeLessThan(
      Date.parse(step('aksCluster').endedAt!),
    );
    expect(Date.parse(step('postgresFirewall').startedAt!)).toBeGreaterThanOrEqual(
      Date.parse(step('aksCluster').endedAt!),
    );
    // The smoke test's chat waits for Ollama to load llama3.1:8b (4.9 GiB) from the share at 110 MiB/s.
    const smoke = step('smokeTest');
    expect(Date.parse(smoke.endedAt!) - Date.parse(smoke.startedAt!)).toBeGreaterThanOrEqual(45_000);

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

    // Entra ID with Azure RBAC, no local accounts (azure-real-behaviours F9): the API's identity holds its
    // Kubernetes role on the cluster's resource group, granted before the cluster was created, and every
    // request the product sent to the cluster carried an Entra token for AKS's server application, none a
    // certificate.
    expect(cluster!.properties).toMatchObject({
      aadProfile: { managed: true, enableAzureRBAC: true },
      disableLocalAccounts: true,
    });
    const grants = app.arm
      .inventory()
      .filter(
        (x) =>
          x.type === 'Microsoft.Authorization/roleAssignments' &&
          x.properties.scope ===
            `/subscriptions/${app.config.subscriptionId}/resourceGroups/${r.names.resourceGroup}`,
      );
    expect(grants.map((g) => g.properties)).toEqual([
      expect.objectContaining({
        principalId: SANDBOX_API_PRINCIPAL_ID,
        principalType: 'ServicePrincipal',
        roleDefinitionId: expect.stringMatching(/\/b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b$/),
      }),
    ]);
    expect(Date.parse(step('clusterAccess').endedAt!)).toBeLessThanOrEqual(
      Date.parse(step('aksCluster').startedAt!),
    );
    const kubeRequests = app.clusters.frontDoor.requests.filter((q) => q.key === cluster!.id.toLowerCase());
    expect(kubeRequests.length).toBeGreaterThan(20);
    expect(
      kubeRequests.filter(
        (q) => q.user !== `entra:${SANDBOX_API_PRINCIPAL_ID}` || q.audience !== AKS_SERVER_APP_ID,
      ),
    ).toEqual([]);
    expect(app.arm.requests.filter((q) => /listClusterAdminCredential/i.test(q.path))).toEqual([]);

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
    // The firewall admits exactly the cluster's egress IP(s): the public IPs its load balancer uses.
    const egress = app.arm
      .inventory()
      .filter(
        (x) =>
          x.type.toLowerCase() === 'microsoft.network/publicipaddresses' &&
          x.id.includes(`/resourceGroups/${r.names.nodeResourceGroup}/`),
      )
      .map((x) => x.properties.ipAddress)
      .sort();
    const rules = children.filter((c) => c.id.includes('/firewallRules/'));
    expect(egress.length).toBeGreaterThan(0);
    expect(rules.map((rule) => [rule.properties.startIpAddress, rule.properties.endIpAddress])).toEqual(
      egress.map((ip) => [ip, ip]),
    );
    expect(children.some((c) => c.id.endsWith('/databases/openwebui'))).toBe(true);

    const [server] = byType('Microsoft.DBforPostgreSQL/flexibleServers', 'prov1');
    expect(server!.properties).toMatchObject({
      version: '16',
      storage: { storageSizeGB: 32 },
      backup: { backupRetentionDays: 7 },
    });
    // Three Open WebUI replicas need more than B1ms's 35 user connections: the PUT asked for B2s.
    const serverPut = app.arm.requests.find(
      (q) => q.method === 'PUT' && q.path.endsWith(`/flexibleServers/${serverName}`),
    );
    expect((serverPut?.body as { sku?: unknown }).sku).toEqual({ name: 'Standard_B2s', tier: 'Burstable' });
    expect(JSON.stringify(serverPut?.body)).toContain('administratorLoginPassword');

    const [account] = byType('Microsoft.Storage/storageAccounts', 'prov1');
    expect(account!.properties).toMatchObject({
      minimumTlsVersion: 'TLS1_2',
      allowBlobPublicAccess: false,
      supportsHttpsTrafficOnly: true,
    });
    const shares = app.arm
      .inventory()
      .filter((x) =>
        x.id.includes(`/storageAccounts/${r.names.storageAccount}/fileServices/default/shares/`),
      );
    expect(Object.fromEntries(shares.map((x) => [x.id.split('/').pop(), x.properties.shareQuota]))).toEqual({
      models: 100,
      'webui-data': 100,
    });
  });
});

const MUTATING = new Set(['PUT', 'POST', 'PATCH', 'DELETE']);
const mutatingCalls = (from: number) =>
  app.arm.requests
    .slice(from)
    .filter((q) => MUTATING.has(q.method) && !/\/listCluster(Admin|User)Credential|\/listKeys/.test(q.path));

describe('provisionPlatform, idempotency and failures', () => {
  it('provisioning a platform that is already provisioned makes no mutating ARM call', async () => {
    await app.call('POST', '/platforms', { body: { prefix: 'twice', models: ['phi3.5'] } });
    expect(await app.driver.runUntil(done('twice'), { maxSimulatedMs: 3 * 3_600_000 })).toBe(true);
    const before = app.arm.requests.length;
    const secretVersions = () =>
      [...app.keyVault.secrets.values()]
        .filter((x) => x.name.includes('-twice-'))
        .map((x) => `${x.name}@${x.version}`);
    const versions = secretVersions();
    expect(versions).toHaveLength(5);
    app.instances.start('provisionPlatform', 'twice', { platformId: 'twice' });
    expect(await app.driver.runUntil(done('twice'), { maxSimulatedMs: 3 * 3_600_000 })).toBe(true);
    expect(app.instances.instances.get('twice')!.runtimeStatus).toBe('Completed');
    expect(mutatingCalls(before)).toEqual([]);
    // Secrets are generated once: a second run keeps every value (a new WEBUI_SECRET_KEY would log users out).
    expect(secretVersions()).toEqual(versions);
  });

  it('a platform whose cluster has local accounts (an earlier release) is moved to Entra ID and Azure RBAC by running provisioning again', async () => {
    await app.call('POST', '/platforms', { body: { prefix: 'legacy', models: ['phi3.5'] } });
    expect(await app.driver.runUntil(done('legacy'), { maxSimulatedMs: 3 * 3_600_000 })).toBe(true);
    // The cluster as an earlier release created it: local accounts, no Entra ID integration.
    const [cluster] = byType('Microsoft.ContainerService/managedClusters', 'legacy');
    const live = app.arm.resource(cluster!.id)!;
    const legacy = await fetch(`${app.arm.url}${cluster!.id}?api-version=2026-04-01`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        location: live.location,
        tags: live.tags,
        identity: { type: 'SystemAssigned' },
        properties: { ...cluster!.properties, aadProfile: undefined, disableLocalAccounts: false },
      }),
    });
    expect(legacy.status).toBe(200);
    await app.driver.runUntil(() => app.arm.operations().length === 0, { maxSimulatedMs: 3_600_000 });
    expect(app.arm.access(cluster!.id)).toEqual({ localAccounts: true, entra: false, azureRbac: false });

    app.instances.start('provisionPlatform', 'legacy', { platformId: 'legacy' });
    expect(await app.driver.runUntil(done('legacy'), { maxSimulatedMs: 3 * 3_600_000 })).toBe(true);
    expect(app.instances.instances.get('legacy')!.runtimeStatus).toBe('Completed');
    expect(app.arm.access(cluster!.id)).toEqual({ localAccounts: false, entra: true, azureRbac: true });
    expect((await record('legacy'))!.phase).toBe('Ready');
  });

  it('a spot capacity refusal fails the platform at aksCluster with Azure’s code and the on-demand hint; retry converges', async () => {
    app.arm.faults.script('aks.create', [armFault.zonalAllocation('lro')]);
    await app.call('POST', '/platforms', { body: { prefix: 'spotfail', models: ['phi3.5'] } });
    expect(await app.driver.runUntil(done('spotfail'), { maxSimulatedMs: 3 * 3_600_000 })).toBe(true);
    expect(app.instances.instances.get('spotfail')!.runtimeStatus).toBe('Failed');
    const failed = (await record('spotfail'))!;
    expect(failed.phase).toBe('Failed');
    expect(failed.lastError).toMatchObject({
      step: 'aksCluster',
      code: 'OverconstrainedZonalAllocationRequest',
      message: expect.stringContaining('"spot": false'),
    });
    expect(failed.steps.find((s) => s.name === 'aksCluster')).toMatchObject({
      state: 'failed',
      error: { code: 'OverconstrainedZonalAllocationRequest' },
    });
    const status = await app.call('GET', '/platforms/spotfail/status');
    expect(status.json.lastError.code).toBe('OverconstrainedZonalAllocationRequest');

    const retry = await app.call('POST', '/platforms/spotfail/retry');
    expect(retry.status).toBe(202);
    expect(await app.driver.runUntil(done('spotfail'), { maxSimulatedMs: 3 * 3_600_000 })).toBe(true);
    const after = (await record('spotfail'))!;
    expect(after.phase).toBe('Ready');
    expect(after.lastError).toBeUndefined();
    expect(byType('Microsoft.ContainerService/managedClusters', 'spotfail')).toHaveLength(1);
    expect(byType('Microsoft.DBforPostgreSQL/flexibleServers', 'spotfail')).toHaveLength(1);
  });

  it('crash-and-replay after every episode reaches the same end state', async () => {
    app.driver.crashAfterEveryEpisode = true;
    try {
      await app.call('POST', '/platforms', {
        body: {
          prefix: 'crashy',
          models: ['llama3.1:8b'],
          gpu: { minNodes: 1, maxNodes: 3 },
          tags: { team: 'nlp' },
        },
      });
      expect(await app.driver.runUntil(done('crashy'), { maxSimulatedMs: 3 * 3_600_000 })).toBe(true);
    } finally {
      app.driver.crashAfterEveryEpisode = false;
    }
    expect(app.instances.instances.get('crashy')!.runtimeStatus).toBe('Completed');
    // Same resources, same properties as the uninterrupted run of 'prov1' (names differ only by prefix and hash).
    const shape = (id: string) =>
      app.arm
        .inventory()
        .filter((r) => r.tags['platform-id'] === id)
        .map((r) => r.type.toLowerCase())
        .sort();
    expect(shape('crashy')).toEqual(shape('prov1'));
    expect((await record('crashy'))!.steps.map((s) => [s.name, s.state]).sort()).toEqual(
      (await record('prov1'))!.steps.map((s) => [s.name, s.state]).sort(),
    );
  });
});
