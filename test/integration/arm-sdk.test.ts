/**
 * The real ARM SDK clients (pinned versions, every pipeline policy, their own LRO pollers) against the
 * simulated ARM in sandbox/azure/arm.ts.
 *
 * Time: a VirtualClock drives the simulated durations and the server answers `Retry-After: 0`
 * (`retryAfterSeconds: 0`), so the SDK pollers never sleep in real time (`updateIntervalInMs: 0`) and an
 * LRO completes exactly when the test advances the clock. `drive()` advances it to the end of the next
 * running operation while the SDK promise is pending. One test uses a ScaledClock instead, which is what
 * `npm run sandbox` would do.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ComputeManagementClient } from '@azure/arm-compute';
import { ContainerServiceClient, type ManagedCluster } from '@azure/arm-containerservice';
import { PostgreSQLManagementFlexibleServerClient, type Server } from '@azure/arm-postgresql-flexible';
import { ResourceManagementClient } from '@azure/arm-resources';
import { StorageManagementClient } from '@azure/arm-storage';
import type { TokenCredential } from '@azure/core-auth';
import { createPipelineRequest, type HttpClient } from '@azure/core-rest-pipeline';
import { parse } from 'yaml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { forwardingHttpClient, sandboxCredential } from '../../sandbox/azure/forwarding-client.js';
import {
  ArmFaults,
  armFault,
  DEFAULT_DURATIONS,
  PUBLISHED_BUDGETS,
  SimulatedArm,
  storageKey,
  type SimulatedArmOptions,
} from '../../sandbox/azure/arm.js';
import { ScaledClock, VirtualClock } from '../../sandbox/clock.js';
import { issueToken } from '../../sandbox/azure/entra.js';
import { capacityReader } from '../../src/azure/capacity.js';

// @azure/arm-postgresql-flexible validates the subscription id as a UUID on the client side.
const SUB = '3f1d2c4b-5a69-4788-9a0b-1c2d3e4f5a6b';
const KUBE_SERVER = 'https://127.0.0.1:16443';
/** Where kubeconfigs point (no API server behind it here: test/integration/cluster-identity.test.ts has one). */
const KUBE_ACCESS = {
  server: () => KUBE_SERVER,
  caPem: 'sandbox CA',
  adminCertificate: async () => ({ certificate: 'admin certificate', key: 'admin key' }),
};
const MIN = 60_000;
const LRO = { updateIntervalInMs: 0 };

let clock: VirtualClock;
let arm: SimulatedArm;
let clients: Awaited<ReturnType<typeof connect>>;

/**
 * `resources.getById(id)` sends `https://management.azure.com//subscriptions/…` (path "/{resourceId}" with
 * an id that starts with "/"). Azure accepts the double slash; forwardingHttpClient resolves the path
 * against the loopback URL, where "//subscriptions/…" means host "subscriptions". Collapse it first.
 */
function collapseLeadingSlashes(inner: HttpClient): HttpClient {
  return {
    async sendRequest(request) {
      const url = new URL(request.url);
      if (!url.pathname.startsWith('//')) return inner.sendRequest(request);
      url.pathname = url.pathname.replace(/^\/+/, '/');
      const response = await inner.sendRequest({ ...request, url: url.href });
      return { ...response, request };
    },
  };
}

async function connect(sim: SimulatedArm, retryOptions?: { retryDelayInMs?: number; maxRetries?: number }) {
  return clientsOf(await sim.listen(), retryOptions);
}

/** The SDK clients against the simulator at `base`, with a credential of their own (another principal). */
function clientsOf(
  base: string,
  retryOptions?: { retryDelayInMs?: number; maxRetries?: number },
  credential: TokenCredential = sandboxCredential,
) {
  const options = {
    endpoint: 'https://management.azure.com',
    httpClient: collapseLeadingSlashes(
      forwardingHttpClient((url) => (url.hostname === 'management.azure.com' ? base : undefined)),
    ),
    ...(retryOptions ? { retryOptions } : {}),
  };
  return {
    resources: new ResourceManagementClient(credential, SUB, options),
    aks: new ContainerServiceClient(credential, SUB, options),
    pg: new PostgreSQLManagementFlexibleServerClient(credential, SUB, options),
    storage: new StorageManagementClient(credential, SUB, options),
    compute: new ComputeManagementClient(credential, SUB, options),
  };
}

async function start(options: Partial<SimulatedArmOptions> = {}) {
  clock = new VirtualClock();
  arm = new SimulatedArm({
    clock,
    subscriptionId: SUB,
    retryAfterSeconds: 0,
    kubeAccess: KUBE_ACCESS,
    ...options,
  });
  clients = await connect(arm);
}

beforeEach(() => start());
afterEach(async () => {
  expect(arm.internalErrors).toEqual([]);
  await arm.close();
});

/** While `work` is pending, moves the virtual clock to the end of the next running operation. */
async function drive<T>(work: Promise<T>): Promise<T> {
  let settled = false;
  const watched = work.finally(() => {
    settled = true;
  });
  watched.catch(() => undefined);
  while (!settled) {
    await sleep(2);
    const next = arm.nextCompletionAt();
    if (next !== undefined && next > clock.now()) clock.advanceTo(next);
  }
  return watched;
}

/** Waits (real time) until the simulator has seen `count` requests matching `pred`. */
async function until(pred: (r: SimulatedArm['requests'][number]) => boolean, count = 1) {
  for (let i = 0; i < 2000; i++) {
    if (arm.requests.filter(pred).length >= count) return;
    await sleep(1);
  }
  throw new Error('timed out waiting for requests');
}

const rgPath = (rg: string) => `/subscriptions/${SUB}/resourcegroups/${rg}`;
const statusOf = (method: string, pathPart: string) =>
  arm.requests
    .filter((r) => r.method === method && r.path.toLowerCase().includes(pathPart.toLowerCase()))
    .map((r) => r.status);

function clusterSpec(tags: Record<string, string> = { platform: 'acme' }): ManagedCluster {
  return {
    location: 'eastus',
    tags,
    identity: { type: 'SystemAssigned' },
    dnsPrefix: 'acme-k8s',
    oidcIssuerProfile: { enabled: true },
    agentPoolProfiles: [
      { name: 'system', mode: 'System', count: 1, vmSize: 'Standard_D4s_v5' },
      { name: 'gpu', mode: 'User', count: 0, vmSize: 'Standard_NC4as_T4_v3', scaleSetPriority: 'Spot' },
    ],
    networkProfile: { networkPlugin: 'azure', outboundType: 'loadBalancer' },
  };
}

const serverSpec: Server = {
  location: 'eastus',
  tags: { platform: 'acme' },
  sku: { name: 'Standard_B1ms', tier: 'Burstable' },
  version: '16',
  administratorLogin: 'platformadmin',
  administratorLoginPassword: 'not-a-real-password-1!',
  storage: { storageSizeGB: 32 },
};

async function createGroup(name = 'rg-acme') {
  await clients.resources.resourceGroups.createOrUpdate(name, {
    location: 'eastus',
    tags: { platform: 'acme' },
  });
}

describe('resource groups (classic client, Location-style delete)', () => {
  it('creates (201), re-PUTs idempotently (200), updates tags, checks existence, lists', async () => {
    await createGroup();
    const before = arm.inventory();
    const again = await clients.resources.resourceGroups.createOrUpdate('rg-acme', {
      location: 'eastus',
      tags: { platform: 'acme' },
    });
    expect(statusOf('PUT', rgPath('rg-acme'))).toEqual([201, 200]);
    expect(arm.inventory()).toEqual(before);
    expect(again).toMatchObject({ name: 'rg-acme', location: 'eastus', tags: { platform: 'acme' } });
    expect(again.properties?.provisioningState).toBe('Succeeded');

    await clients.resources.resourceGroups.createOrUpdate('rg-acme', {
      location: 'eastus',
      tags: { team: 'x' },
    });
    expect((await clients.resources.resourceGroups.get('rg-acme')).tags).toEqual({ team: 'x' });
    expect((await clients.resources.resourceGroups.checkExistence('rg-acme')).body).toBe(true);
    expect((await clients.resources.resourceGroups.checkExistence('rg-none')).body).toBe(false);
    const names = [];
    for await (const g of clients.resources.resourceGroups.list()) names.push(g.name);
    expect(names).toEqual(['rg-acme']);
    expect(arm.requests.every((r) => r.apiVersion === '2025-04-01')).toBe(true);

    await expect(clients.resources.resourceGroups.get('rg-none')).rejects.toMatchObject({
      statusCode: 404,
      code: 'ResourceGroupNotFound',
    });
  });

  it('delete is an LRO polled at its Location and cascades to everything inside', async () => {
    await createGroup();
    await drive(clients.aks.managedClusters.createOrUpdate('rg-acme', 'aks-acme', clusterSpec(), LRO));
    await drive(clients.pg.servers.beginCreateOrUpdateAndWait('rg-acme', 'pg-acme', serverSpec, LRO));
    await drive(
      clients.storage.storageAccounts.create(
        'rg-acme',
        'stacme',
        { location: 'eastus', sku: { name: 'Standard_LRS' }, kind: 'StorageV2' },
        LRO,
      ),
    );
    await clients.storage.fileShares.create('rg-acme', 'stacme', 'models', { shareQuota: 100 });
    const types = arm.inventory().map((r) => r.type);
    expect(types).toEqual(
      expect.arrayContaining([
        'Microsoft.Resources/resourceGroups',
        'Microsoft.ContainerService/ManagedClusters',
        'Microsoft.Network/publicIPAddresses',
        'Microsoft.DBforPostgreSQL/flexibleServers',
        'Microsoft.Storage/storageAccounts',
        'Microsoft.Storage/storageAccounts/fileServices/shares',
      ]),
    );

    const poller = await clients.resources.resourceGroups.beginDelete('rg-acme', LRO);
    expect(poller.isDone()).toBe(false);
    // Nothing is gone until the operation completes; the group reports Deleting and refuses writes.
    expect(arm.inventory().length).toBe(types.length);
    expect((await clients.resources.resourceGroups.get('rg-acme')).properties?.provisioningState).toBe(
      'Deleting',
    );
    await expect(clients.storage.fileShares.create('rg-acme', 'stacme', 'other', {})).rejects.toMatchObject({
      statusCode: 409,
      code: 'ResourceGroupBeingDeleted',
    });
    await expect(
      clients.resources.resourceGroups.createOrUpdate('rg-acme', { location: 'eastus' }),
    ).rejects.toMatchObject({ statusCode: 409, code: 'ResourceGroupBeingDeleted' });

    // Classic pollers poll only inside pollUntilDone.
    const done = poller.pollUntilDone();
    clock.advanceBy(3 * MIN - 1);
    await until((r) => r.op === 'poll' && r.at === clock.now(), 2);
    expect(poller.isDone()).toBe(false);
    clock.advanceBy(1);
    await done;

    expect(arm.inventory()).toEqual([]);
    const deleteAt = arm.requests.findIndex((r) => r.op === 'rg.delete');
    expect(arm.requests[deleteAt]!.status).toBe(202);
    const polls = arm.requests.slice(deleteAt).filter((r) => r.op === 'poll');
    expect(polls.every((p) => p.path.startsWith(`/subscriptions/${SUB}/operationresults/`))).toBe(true);
    expect(polls.at(-1)!.status).toBe(200);
    expect(new Set(polls.slice(0, -1).map((p) => p.status))).toEqual(new Set([202]));
    expect((await clients.resources.resourceGroups.checkExistence('rg-acme')).body).toBe(false);
    await expect(clients.aks.managedClusters.get('rg-acme', 'aks-acme')).rejects.toMatchObject({
      statusCode: 404,
      code: 'ResourceGroupNotFound',
    });
    // Deleting a group that is gone is a 404 (unlike resources, whose DELETE answers 204).
    await expect(clients.resources.resourceGroups.beginDeleteAndWait('rg-acme', LRO)).rejects.toMatchObject({
      statusCode: 404,
    });
  });
});

describe('AKS managed clusters (modular client, Azure-AsyncOperation)', () => {
  it('create completes through the SDK poller only once the clock passes 9 minutes', async () => {
    await createGroup();
    const poller = clients.aks.managedClusters.createOrUpdate('rg-acme', 'aks-acme', clusterSpec(), LRO);
    await poller.submitted();
    const put = arm.requests.find((r) => r.method === 'PUT' && r.op === 'aks.create')!;
    expect(put.status).toBe(201);
    expect(put.apiVersion).toBe('2026-04-01');
    // Modular pollers, too, poll only once awaited (pollUntilDone / then).
    const done = poller.pollUntilDone();
    await until((r) => r.op === 'poll', 5);
    expect(poller.isDone).toBe(false);
    expect(arm.resource(put.path)?.properties).toMatchObject({ provisioningState: 'Creating' });

    clock.advanceBy(9 * MIN - 1);
    await until((r) => r.op === 'poll' && r.at === clock.now(), 2);
    expect(poller.isDone).toBe(false);
    clock.advanceBy(1);
    const cluster = await done;

    expect(cluster.provisioningState).toBe('Succeeded');
    expect(cluster.powerState?.code).toBe('Running');
    expect(cluster.fqdn).toMatch(/^acme-k8s-[0-9a-f]{8}\.hcp\.eastus\.azmk8s\.io$/);
    expect(cluster.identity?.principalId).toMatch(/^[0-9a-f-]{36}$/);
    expect(cluster.oidcIssuerProfile?.issuerURL).toMatch(/^https:\/\/eastus\.oic\.prod-aks\.azure\.com\//);
    expect(cluster.agentPoolProfiles?.map((p) => [p.name, p.vmSize, p.scaleSetPriority])).toEqual([
      ['system', 'Standard_D4s_v5', undefined],
      ['gpu', 'Standard_NC4as_T4_v3', 'Spot'],
    ]);
    expect(cluster.networkProfile?.networkPlugin).toBe('azure');
    expect(cluster.nodeResourceGroup).toBe('MC_rg-acme_aks-acme_eastus');

    // The outbound IP is a real resource id in the node resource group, readable through ARM.
    const ipId = cluster.networkProfile?.loadBalancerProfile?.effectiveOutboundIPs?.[0]?.id;
    expect(ipId).toMatch(
      /\/resourceGroups\/MC_rg-acme_aks-acme_eastus\/providers\/Microsoft\.Network\/publicIPAddresses\//,
    );
    const ip = await clients.resources.resources.getById(ipId!, '2024-05-01');
    expect(ip.properties).toMatchObject({ ipAddress: expect.stringMatching(/^20\.\d+\.\d+\.\d+$/) });

    // The polls went to the Azure-AsyncOperation URL, then a final GET of the cluster.
    const polls = arm.requests.filter((r) => r.op === 'poll');
    expect(
      polls.every((p) =>
        /\/providers\/Microsoft\.ContainerService\/locations\/eastus\/operations\//.test(p.path),
      ),
    ).toBe(true);
    expect(arm.requests.at(-2)).toMatchObject({ method: 'GET', op: 'aks.get', status: 200 });
  });

  it('agent pools, admin kubeconfig, idempotent PUT, update, stop/start, 409 while stopped, delete', async () => {
    await createGroup();
    await drive(clients.aks.managedClusters.createOrUpdate('rg-acme', 'aks-acme', clusterSpec(), LRO));

    const pools = [];
    for await (const p of clients.aks.agentPools.list('rg-acme', 'aks-acme')) pools.push(p);
    expect(pools.map((p) => [p.name, p.mode, p.provisioningState])).toEqual([
      ['system', 'System', 'Succeeded'],
      ['gpu', 'User', 'Succeeded'],
    ]);
    expect((await clients.aks.agentPools.get('rg-acme', 'aks-acme', 'gpu')).vmSize).toBe(
      'Standard_NC4as_T4_v3',
    );

    const creds = await clients.aks.managedClusters.listClusterAdminCredentials('rg-acme', 'aks-acme');
    expect(creds.kubeconfigs?.[0]?.name).toBe('clusterAdmin');
    const kubeconfig = parse(Buffer.from(creds.kubeconfigs![0]!.value!).toString('utf8'));
    expect(kubeconfig.clusters[0].cluster.server).toBe(KUBE_SERVER);
    // AKS's admin kubeconfig carries the admin's client certificate and key, not a token (F9).
    expect(kubeconfig.users[0].user).toEqual({
      'client-certificate-data': Buffer.from('admin certificate').toString('base64'),
      'client-key-data': Buffer.from('admin key').toString('base64'),
    });
    expect(kubeconfig.clusters[0].cluster['certificate-authority-data']).toBe(
      Buffer.from('sandbox CA').toString('base64'),
    );

    // Same body: 200, no operation, nothing changed.
    const inventory = arm.inventory();
    const same = await clients.aks.managedClusters.createOrUpdate('rg-acme', 'aks-acme', clusterSpec(), LRO);
    expect(same.provisioningState).toBe('Succeeded');
    expect(statusOf('PUT', 'managedClusters/aks-acme')).toEqual([201, 200]);
    expect(arm.operations()).toEqual([]);
    expect(arm.inventory()).toEqual(inventory);

    // A different body is an update: 200 + Azure-AsyncOperation, Updating until it completes.
    const update = clients.aks.managedClusters.createOrUpdate(
      'rg-acme',
      'aks-acme',
      clusterSpec({ platform: 'acme', v: '2' }),
      LRO,
    );
    await update.submitted();
    expect((await clients.aks.managedClusters.get('rg-acme', 'aks-acme')).provisioningState).toBe('Updating');
    await expect(clients.aks.managedClusters.stop('rg-acme', 'aks-acme', LRO)).rejects.toMatchObject({
      statusCode: 409,
      code: 'OperationNotAllowed',
    });
    expect((await drive(update)).tags).toEqual({ platform: 'acme', v: '2' });

    const stop = clients.aks.managedClusters.stop('rg-acme', 'aks-acme', LRO);
    await stop.submitted();
    const stopping = await clients.aks.managedClusters.get('rg-acme', 'aks-acme');
    expect([stopping.provisioningState, stopping.powerState?.code]).toEqual(['Stopping', 'Stopped']);
    await drive(stop);
    expect(arm.operations()).toEqual([]);
    // Stop ends with the Location GET (resourceLocationConfig "location") answering 204.
    expect(statusOf('GET', '/operationresults/').at(-1)).toBe(204);
    const stopped = await clients.aks.managedClusters.get('rg-acme', 'aks-acme');
    expect([stopped.provisioningState, stopped.powerState?.code]).toEqual(['Succeeded', 'Stopped']);

    await expect(
      clients.aks.managedClusters.createOrUpdate('rg-acme', 'aks-acme', clusterSpec({ changed: 'yes' }), LRO),
    ).rejects.toMatchObject({ statusCode: 409, code: 'OperationNotAllowed' });
    await expect(clients.aks.managedClusters.stop('rg-acme', 'aks-acme', LRO)).rejects.toMatchObject({
      statusCode: 409,
      code: 'OperationNotAllowed',
    });

    await drive(clients.aks.managedClusters.start('rg-acme', 'aks-acme', LRO));
    expect((await clients.aks.managedClusters.get('rg-acme', 'aks-acme')).powerState?.code).toBe('Running');

    await drive(clients.aks.managedClusters.delete('rg-acme', 'aks-acme', LRO));
    await expect(clients.aks.managedClusters.get('rg-acme', 'aks-acme')).rejects.toMatchObject({
      statusCode: 404,
      code: 'ResourceNotFound',
    });
    // The node resource group and its public IP went with the cluster.
    expect(arm.inventory().map((r) => r.id)).toEqual([`/subscriptions/${SUB}/resourceGroups/rg-acme`]);
    // DELETE of what is gone: 204, which the SDK treats as done.
    await clients.aks.managedClusters.delete('rg-acme', 'aks-acme', LRO);
  });

  it('a repeated PUT with the same body during creation answers 200 and the SDK polls the resource', async () => {
    await createGroup();
    // What a retried activity does after a crash: the same PUT again while the first one runs.
    await clients.aks.managedClusters.createOrUpdate('rg-acme', 'aks-acme', clusterSpec(), LRO).submitted();
    const again = clients.aks.managedClusters.createOrUpdate('rg-acme', 'aks-acme', clusterSpec(), LRO);
    await again.submitted();
    expect(statusOf('PUT', 'managedClusters/aks-acme')).toEqual([201, 200]);
    expect(arm.operations().map((op) => op.kind)).toEqual(['aks.create']);
    const afterSecondPut = arm.requests.length;
    const cluster = await drive(again.pollUntilDone());
    expect(cluster.provisioningState).toBe('Succeeded');
    // No Azure-AsyncOperation header on the 200: the poller polled the cluster itself (GETs, no 'poll'). How
    // many GETs depends on when the poller reads relative to the simulated completion: at least one.
    const polls = arm.requests.slice(afterSecondPut);
    expect(polls.filter((r) => r.op === 'aks.get').length).toBeGreaterThanOrEqual(1);
    expect(polls.filter((r) => r.op === 'poll')).toEqual([]);

    await drive(clients.pg.servers.beginCreateOrUpdate('rg-acme', 'pg-acme', serverSpec, LRO));
    const pgAgain = await clients.pg.servers.beginCreateOrUpdate('rg-acme', 'pg-acme', serverSpec, LRO);
    expect(arm.requests.filter((r) => r.op === 'pg.create').map((r) => r.status)).toEqual([202, 200]);
    expect((await drive(pgAgain.pollUntilDone())).state).toBe('Ready');
  });

  it('a PUT into a missing resource group is 404 ResourceGroupNotFound', async () => {
    await expect(
      clients.aks.managedClusters.createOrUpdate('rg-missing', 'aks-acme', clusterSpec(), LRO),
    ).rejects.toMatchObject({ statusCode: 404, code: 'ResourceGroupNotFound' });
  });
});

describe('PostgreSQL flexible server (classic client)', () => {
  it('create, children, ServerIsBusy on overlapping child writes, stop/start rules, auto-start after 7 days', async () => {
    await createGroup();
    const created = await drive(
      clients.pg.servers.beginCreateOrUpdateAndWait('rg-acme', 'pg-acme', serverSpec, LRO),
    );
    expect(created).toMatchObject({
      state: 'Ready',
      fullyQualifiedDomainName: 'pg-acme.postgres.database.azure.com',
    });
    expect(created.administratorLoginPassword).toBeUndefined();
    expect(arm.requests.find((r) => r.op === 'pg.create')).toMatchObject({
      status: 202,
      apiVersion: '2025-08-01',
    });
    expect(statusOf('GET', '/azureAsyncOperation/').length).toBeGreaterThan(0);
    // Past the post-create busy window (its own test below).
    clock.advanceBy(DEFAULT_DURATIONS.pgBusyAfterCreate);

    // Two overlapping child writes: the second is refused while the first holds the server.
    const first = await clients.pg.configurations.beginPut(
      'rg-acme',
      'pg-acme',
      'azure.extensions',
      { value: 'VECTOR', source: 'user-override' },
      LRO,
    );
    await expect(
      clients.pg.configurations.beginPutAndWait(
        'rg-acme',
        'pg-acme',
        'require_secure_transport',
        { value: 'off' },
        LRO,
      ),
    ).rejects.toMatchObject({ statusCode: 409, code: 'ServerIsBusy' });
    await expect(
      clients.pg.firewallRules.beginCreateOrUpdateAndWait(
        'rg-acme',
        'pg-acme',
        'aks-egress',
        { startIpAddress: '20.1.2.3', endIpAddress: '20.1.2.3' },
        LRO,
      ),
    ).rejects.toMatchObject({ statusCode: 409, code: 'ServerIsBusy' });
    expect((await clients.pg.servers.get('rg-acme', 'pg-acme')).state).toBe('Updating');
    const ext = await drive(first.pollUntilDone());
    expect(ext).toMatchObject({ value: 'VECTOR', source: 'user-override' });
    expect(arm.operations()).toEqual([]);

    const tls = await drive(
      clients.pg.configurations.beginPutAndWait(
        'rg-acme',
        'pg-acme',
        'require_secure_transport',
        { value: 'off' },
        LRO,
      ),
    );
    expect(tls).toMatchObject({ value: 'off', source: 'user-override' });
    expect(
      (await clients.pg.configurations.get('rg-acme', 'pg-acme', 'require_secure_transport')).value,
    ).toBe('off');
    // Same value again: 200, no operation.
    await clients.pg.configurations.beginPutAndWait(
      'rg-acme',
      'pg-acme',
      'require_secure_transport',
      { value: 'off' },
      LRO,
    );
    expect(arm.requests.at(-1)).toMatchObject({ op: 'pg.config.put', status: 200 });

    await drive(
      clients.pg.databases.beginCreateAndWait('rg-acme', 'pg-acme', 'openwebui', { charset: 'UTF8' }, LRO),
    );
    expect((await clients.pg.databases.get('rg-acme', 'pg-acme', 'openwebui')).charset).toBe('UTF8');
    await drive(
      clients.pg.firewallRules.beginCreateOrUpdateAndWait(
        'rg-acme',
        'pg-acme',
        'aks-egress',
        { startIpAddress: '20.1.2.3', endIpAddress: '20.1.2.3' },
        LRO,
      ),
    );
    const rules = [];
    for await (const r of clients.pg.firewallRules.listByServer('rg-acme', 'pg-acme')) rules.push(r.name);
    expect(rules).toEqual(['aks-egress']);
    await drive(clients.pg.firewallRules.beginDeleteAndWait('rg-acme', 'pg-acme', 'aks-egress', LRO));
    await expect(clients.pg.firewallRules.get('rg-acme', 'pg-acme', 'aks-egress')).rejects.toMatchObject({
      statusCode: 404,
    });
    await drive(clients.pg.databases.beginDeleteAndWait('rg-acme', 'pg-acme', 'openwebui', LRO));

    // Idempotent server PUT.
    await clients.pg.servers.beginCreateOrUpdateAndWait('rg-acme', 'pg-acme', serverSpec, LRO);
    expect(arm.requests.at(-1)).toMatchObject({ op: 'pg.create', status: 200 });

    // Stop only from Ready; start only from Stopped.
    await expect(clients.pg.servers.beginStartAndWait('rg-acme', 'pg-acme', LRO)).rejects.toMatchObject({
      statusCode: 409,
      code: 'ServerIsNotStopped',
    });
    const stop = await clients.pg.servers.beginStop('rg-acme', 'pg-acme', LRO);
    expect((await clients.pg.servers.get('rg-acme', 'pg-acme')).state).toBe('Stopping');
    await expect(clients.pg.servers.beginStopAndWait('rg-acme', 'pg-acme', LRO)).rejects.toMatchObject({
      statusCode: 409,
      code: 'ServerIsNotReady',
      message: expect.stringContaining('Current Server State = Stopping'),
    });
    await drive(stop.pollUntilDone());
    expect((await clients.pg.servers.get('rg-acme', 'pg-acme')).state).toBe('Stopped');
    await expect(clients.pg.servers.beginStopAndWait('rg-acme', 'pg-acme', LRO)).rejects.toMatchObject({
      statusCode: 409,
      code: 'ServerIsNotReady',
    });
    const stoppedAt = clock.now();

    // Azure starts a server that stayed stopped for seven days.
    clock.advanceBy(7 * 24 * 60 * MIN - 1);
    expect((await clients.pg.servers.get('rg-acme', 'pg-acme')).state).toBe('Stopped');
    clock.advanceBy(1);
    expect((await clients.pg.servers.get('rg-acme', 'pg-acme')).state).toBe('Ready');
    expect(arm.events).toEqual([
      { kind: 'pg.autoStart', at: stoppedAt + 7 * 24 * 60 * MIN, resourceId: created.id },
    ]);

    await drive(clients.pg.servers.beginDeleteAndWait('rg-acme', 'pg-acme', LRO));
    await expect(clients.pg.servers.get('rg-acme', 'pg-acme')).rejects.toMatchObject({
      statusCode: 404,
      code: 'ResourceNotFound',
    });
  });
});

describe('PostgreSQL flexible server: busy outcomes and power refusals', () => {
  const createServer = async () => {
    await createGroup();
    await drive(clients.pg.servers.beginCreateOrUpdateAndWait('rg-acme', 'pg-acme', serverSpec, LRO));
  };
  const EXTENSIONS = [
    'rg-acme',
    'pg-acme',
    'azure.extensions',
    { value: 'VECTOR', source: 'user-override' },
    LRO,
  ] as const;
  const putExtensions = () => clients.pg.configurations.beginPutAndWait(...EXTENSIONS);

  it('the first child write right after the creation is accepted (202), then its operation ends Failed ServerBusy; the same write again succeeds', async () => {
    await createServer();
    await expect(drive(putExtensions())).rejects.toThrow(/ServerBusy/);
    expect(arm.requests.filter((r) => r.op === 'pg.config.put').map((r) => r.status)).toEqual([202]);
    expect((await clients.pg.configurations.get('rg-acme', 'pg-acme', 'azure.extensions')).value).toBe('');
    expect(await drive(putExtensions())).toMatchObject({ value: 'VECTOR' });
  });

  it('a child write later than the busy window after the creation goes through at once', async () => {
    await createServer();
    clock.advanceBy(DEFAULT_DURATIONS.pgBusyAfterCreate);
    expect(await drive(putExtensions())).toMatchObject({ value: 'VECTOR' });
  });

  it('as a named fault: any child write is accepted and then fails ServerBusy', async () => {
    await createServer();
    clock.advanceBy(DEFAULT_DURATIONS.pgBusyAfterCreate);
    arm.faults.script('pg.config.put', [armFault.busyOutcome()]);
    await expect(drive(putExtensions())).rejects.toThrow(/ServerBusy/);
    expect(await drive(putExtensions())).toMatchObject({ value: 'VECTOR' });
  });

  it('a stop or start while the server is Updating is refused 409 ServerIsNotReady naming the state; maintenance as a named fault', async () => {
    await createServer();
    clock.advanceBy(DEFAULT_DURATIONS.pgBusyAfterCreate);
    const write = await clients.pg.configurations.beginPut(...EXTENSIONS);
    expect((await clients.pg.servers.get('rg-acme', 'pg-acme')).state).toBe('Updating');
    for (const power of [clients.pg.servers.beginStopAndWait, clients.pg.servers.beginStartAndWait])
      await expect(power.call(clients.pg.servers, 'rg-acme', 'pg-acme', LRO)).rejects.toMatchObject({
        statusCode: 409,
        code: 'ServerIsNotReady',
        message: expect.stringContaining('Current Server State = Updating'),
      });
    await drive(write.pollUntilDone());

    arm.faults.script('pg.stop', [armFault.pgMaintenance()]);
    await expect(clients.pg.servers.beginStopAndWait('rg-acme', 'pg-acme', LRO)).rejects.toMatchObject({
      statusCode: 409,
      code: 'ServerIsNotReady',
    });
    await drive(clients.pg.servers.beginStopAndWait('rg-acme', 'pg-acme', LRO));
    expect((await clients.pg.servers.get('rg-acme', 'pg-acme')).state).toBe('Stopped');
  });
});

describe('storage accounts (modular client, Location style)', () => {
  it('create 202 + Location, keys, file shares, delete', async () => {
    await createGroup();
    const poller = clients.storage.storageAccounts.create(
      'rg-acme',
      'stacme',
      { location: 'eastus', sku: { name: 'Standard_LRS' }, kind: 'StorageV2', tags: { platform: 'acme' } },
      LRO,
    );
    await poller.submitted();
    expect(arm.requests.find((r) => r.op === 'storage.create')).toMatchObject({
      status: 202,
      apiVersion: '2025-08-01',
    });
    const done = poller.pollUntilDone();
    await until((r) => r.op === 'poll', 3);
    expect(poller.isDone).toBe(false);
    clock.advanceBy(DEFAULT_DURATIONS.storageCreate);
    const account = await done;
    expect(account).toMatchObject({
      name: 'stacme',
      provisioningState: 'Succeeded',
      tags: { platform: 'acme' },
    });
    const polls = arm.requests.filter((r) => r.op === 'poll');
    expect(
      polls.every((p) => p.path.includes('/providers/Microsoft.Storage/locations/eastus/asyncoperations/')),
    ).toBe(true);
    expect(polls.at(-1)!.status).toBe(200);

    expect(
      (await clients.storage.storageAccounts.getProperties('rg-acme', 'stacme')).primaryEndpoints?.file,
    ).toBe('https://stacme.file.core.windows.net/');
    const keys = await clients.storage.storageAccounts.listKeys('rg-acme', 'stacme');
    expect(keys.keys?.map((k) => k.keyName)).toEqual(['key1', 'key2']);
    expect(keys.keys?.[0]?.value).toBe(storageKey(account.id!, 'key1'));

    const share = await clients.storage.fileShares.create('rg-acme', 'stacme', 'models', { shareQuota: 100 });
    expect(share.shareQuota).toBe(100);
    await clients.storage.fileShares.create('rg-acme', 'stacme', 'models', { shareQuota: 100 });
    expect(statusOf('PUT', '/shares/models')).toEqual([201, 200]);
    // enabledProtocols is create-only: a PUT or PATCH that changes it is refused; growing is a PATCH that
    // merges the quota and keeps what it does not name, where a PUT replaces the whole share.
    const nfs = { shareQuota: 100, enabledProtocols: 'NFS' } as const;
    await expect(clients.storage.fileShares.create('rg-acme', 'stacme', 'models', nfs)).rejects.toMatchObject(
      {
        statusCode: 400,
      },
    );
    await expect(clients.storage.fileShares.update('rg-acme', 'stacme', 'models', nfs)).rejects.toMatchObject(
      {
        statusCode: 400,
      },
    );
    await clients.storage.fileShares.create('rg-acme', 'stacme', 'models', {
      shareQuota: 100,
      metadata: { owner: 'ops' },
    });
    const grown = await clients.storage.fileShares.update('rg-acme', 'stacme', 'models', { shareQuota: 200 });
    expect(grown).toMatchObject({ shareQuota: 200, enabledProtocols: 'SMB', metadata: { owner: 'ops' } });
    await clients.storage.fileShares.create('rg-acme', 'stacme', 'models', { shareQuota: 300 });
    expect((await clients.storage.fileShares.get('rg-acme', 'stacme', 'models')).metadata).toBeUndefined();
    await expect(
      clients.storage.fileShares.update('rg-acme', 'stacme', 'absent', { shareQuota: 1 }),
    ).rejects.toMatchObject({ statusCode: 404 });
    expect((await clients.storage.fileShares.get('rg-acme', 'stacme', 'models')).name).toBe('models');
    await clients.storage.fileShares.delete('rg-acme', 'stacme', 'models');
    await expect(clients.storage.fileShares.get('rg-acme', 'stacme', 'models')).rejects.toMatchObject({
      statusCode: 404,
    });

    await clients.storage.storageAccounts.delete('rg-acme', 'stacme');
    await clients.storage.storageAccounts.delete('rg-acme', 'stacme');
    expect(
      arm.requests
        .filter((r) => r.method === 'DELETE' && r.path.endsWith('/storageAccounts/stacme'))
        .map((r) => r.status),
    ).toEqual([200, 204]);
    await expect(clients.storage.storageAccounts.getProperties('rg-acme', 'stacme')).rejects.toMatchObject({
      statusCode: 404,
      code: 'ResourceNotFound',
    });
  });
});

describe('resources ARM creates within the request (generic client, by id)', () => {
  const identityId = `/subscriptions/${SUB}/resourceGroups/rg-acme/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-acme`;

  it('a user-assigned identity: PUT answers 201 Succeeded with its principal, GET reads it, the group takes it', async () => {
    await createGroup();
    const created = await clients.resources.resources.beginCreateOrUpdateByIdAndWait(
      identityId,
      '2023-01-31',
      {
        location: 'eastus',
        tags: { team: 'a' },
      },
    );
    expect(
      arm.requests.find((r) => r.method === 'PUT' && r.path.includes('userAssignedIdentities'))?.status,
    ).toBe(201);
    expect(created.properties).toMatchObject({
      provisioningState: 'Succeeded',
      principalId: expect.any(String),
    });
    expect((await clients.resources.resources.getById(identityId, '2023-01-31')).tags).toEqual({ team: 'a' });
    await drive(clients.resources.resourceGroups.beginDeleteAndWait('rg-acme', LRO));
    await expect(clients.resources.resources.getById(identityId, '2023-01-31')).rejects.toMatchObject({
      statusCode: 404,
    });
  });

  it('a type ARM does not know is 404 InvalidResourceType', async () => {
    await createGroup();
    await expect(
      clients.resources.resources.getById(
        `/subscriptions/${SUB}/resourceGroups/rg-acme/providers/Microsoft.Nothing/things/x`,
        '2024-01-01',
      ),
    ).rejects.toMatchObject({ statusCode: 404, code: 'InvalidResourceType' });
  });
});

describe('faults', () => {
  it('a 429 with Retry-After: 1 is retried by the SDK after about a second', async () => {
    await createGroup();
    arm.faults.script('rg.get', [armFault.throttle(1)]);
    const t0 = Date.now();
    const group = await clients.resources.resourceGroups.get('rg-acme');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
    expect(group.name).toBe('rg-acme');
    expect(statusOf('GET', rgPath('rg-acme'))).toEqual([429, 200]);
  });

  it('a 429 without Retry-After is not retried: the error surfaces', async () => {
    await createGroup();
    arm.faults.script('storage.create', [armFault.throttle()]);
    await expect(
      clients.storage.storageAccounts.create(
        'rg-acme',
        'stacme',
        { location: 'eastus', sku: { name: 'Standard_LRS' }, kind: 'StorageV2' },
        LRO,
      ),
    ).rejects.toMatchObject({ statusCode: 429, code: 'TooManyRequests' });
    expect(arm.requests.filter((r) => r.op === 'storage.create').map((r) => r.status)).toEqual([429]);
  });

  it('a failed LRO surfaces the ARM error code (AKS wraps the cause, which sits in details[]); the resource is Failed and a re-PUT provisions it again', async () => {
    await createGroup();
    arm.faults.script('aks.create', [armFault.zonalAllocation('lro')]);
    await expect(
      drive(clients.aks.managedClusters.createOrUpdate('rg-acme', 'aks-acme', clusterSpec(), LRO)),
    ).rejects.toThrow(/The long-running operation has failed.*ReconcileVMSSAgentPoolFailed/);
    expect((await clients.aks.managedClusters.get('rg-acme', 'aks-acme')).provisioningState).toBe('Failed');
    const retried = await drive(
      clients.aks.managedClusters.createOrUpdate('rg-acme', 'aks-acme', clusterSpec(), LRO),
    );
    expect(retried.provisioningState).toBe('Succeeded');

    // Location style: the Location URL answers with the error.
    arm.faults.script('storage.create', [
      armFault.lroFailed('StorageAccountProvisioningFailed', 'Simulated failure.'),
    ]);
    await expect(
      drive(
        clients.storage.storageAccounts.create(
          'rg-acme',
          'stacme',
          { location: 'eastus', sku: { name: 'Standard_LRS' }, kind: 'StorageV2' },
          LRO,
        ),
      ),
    ).rejects.toMatchObject({ code: 'StorageAccountProvisioningFailed' });

    // Immediate quota error: nothing is created.
    arm.faults.script('pg.create', [armFault.quotaExceeded()]);
    await expect(
      clients.pg.servers.beginCreateOrUpdateAndWait('rg-acme', 'pg-acme', serverSpec, LRO),
    ).rejects.toMatchObject({ statusCode: 400, code: 'QuotaExceeded' });
    expect(
      arm.resource(
        `/subscriptions/${SUB}/resourceGroups/rg-acme/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg-acme`,
      ),
    ).toBeUndefined();
  });

  it('dropped connections and 500s are retried by the SDK; rate faults are reproducible with a seed', async () => {
    // A client with a short retry back-off (the default starts at about a second).
    const fresh = async () => {
      await arm.close();
      clock = new VirtualClock();
      arm = new SimulatedArm({ clock, subscriptionId: SUB, retryAfterSeconds: 0 });
      clients = await connect(arm, { retryDelayInMs: 5 });
      await createGroup();
    };
    await fresh();
    arm.faults.script('rg.get', [armFault.drop(), armFault.serverError(500), armFault.unavailable(0)]);
    expect((await clients.resources.resourceGroups.get('rg-acme')).name).toBe('rg-acme');
    expect(statusOf('GET', rgPath('rg-acme'))).toEqual([0, 500, 503, 200]);

    // 3 retries absorb most faults at 30 %; four in a row surface. The same seed replays the same run.
    const run = async (seed: number) => {
      await fresh();
      arm.faults.rate('rg.get', 0.3, [armFault.serverError(500), armFault.drop()], seed);
      const outcomes: string[] = [];
      for (let i = 0; i < 10; i++)
        outcomes.push(
          await clients.resources.resourceGroups.get('rg-acme').then(
            () => 'ok',
            (e: { code?: string }) => e.code ?? 'error',
          ),
        );
      return { outcomes, statuses: statusOf('GET', rgPath('rg-acme')) };
    };
    const first = await run(7);
    expect(first.statuses.filter((s) => s !== 200).length).toBeGreaterThan(2);
    expect(first.outcomes.filter((o) => o === 'ok').length).toBeGreaterThan(5);
    expect(await run(7)).toEqual(first);
    expect((await run(8)).statuses).not.toEqual(first.statuses);

    const decisions = (seed: number) => {
      const faults = new ArmFaults().rate('*', 0.5, [armFault.serverError(503), armFault.drop()], seed);
      return Array.from({ length: 20 }, () => faults.take('aks.get')?.kind ?? 'none');
    };
    expect(decisions(42)).toEqual(decisions(42));
  });
});

describe('ScaledClock', () => {
  it('an AKS create of 9 simulated minutes completes in real milliseconds at speed 60000', async () => {
    await arm.close();
    const clock = new ScaledClock(60_000);
    arm = new SimulatedArm({ clock, subscriptionId: SUB, retryAfterSeconds: 0 });
    clients = await connect(arm);
    await createGroup();
    const t0 = clock.now();
    const cluster = await clients.aks.managedClusters.createOrUpdate('rg-acme', 'aks-acme', clusterSpec(), {
      updateIntervalInMs: 2,
    });
    expect(cluster.provisioningState).toBe('Succeeded');
    // The create took its 9 simulated minutes; at speed 1 they would be 9 real minutes, far past the test's
    // timeout (no wall-clock bound here: a busy machine must not fail it).
    expect(clock.now() - t0).toBeGreaterThanOrEqual(9 * 60_000);
  });
});

describe('Microsoft.Compute usages (quota of a region)', () => {
  const usages = async (location: string) => {
    const found: Record<string, { currentValue: number; limit: number; localized?: string }> = {};
    for await (const u of clients.compute.usage.list(location))
      found[u.name.value!] = {
        currentValue: u.currentValue,
        limit: u.limit,
        localized: u.name.localizedValue,
      };
    return found;
  };

  it("counts the agent pools of the region's running clusters: on-demand against family and total, spot against low-priority", async () => {
    arm.setQuotaLimit('standardNCASv3_T4Family', 8);
    await createGroup();
    const spec = clusterSpec();
    spec.agentPoolProfiles = [
      { name: 'system', mode: 'System', count: 2, vmSize: 'Standard_D2s_v5' },
      { name: 'apps', mode: 'User', count: 1, vmSize: 'Standard_D4s_v5' },
      { name: 'gpu', mode: 'User', count: 2, vmSize: 'Standard_NC4as_T4_v3', scaleSetPriority: 'Spot' },
      { name: 'gpuod', mode: 'User', count: 1, vmSize: 'Standard_NC8as_T4_v3' },
    ];
    await drive(clients.aks.managedClusters.beginCreateOrUpdateAndWait('rg-acme', 'aks-acme', spec, LRO));

    const east = await usages('eastus');
    expect(east).toMatchObject({
      cores: { currentValue: 4 + 4 + 8, limit: 350, localized: 'Total Regional vCPUs' },
      lowPriorityCores: { currentValue: 8, limit: 350 },
      standardDSv5Family: { currentValue: 8 },
      standardNCASv3_T4Family: { currentValue: 8, limit: 8, localized: 'Standard NCASv3_T4 Family vCPUs' },
    });
    expect(arm.requests.at(-1)).toMatchObject({ apiVersion: '2026-04-01', status: 200 });
    // Another region's quota is untouched; a stopped cluster's VMs are deleted and use none.
    expect((await usages('westeurope')).cores).toMatchObject({ currentValue: 0 });
    await drive(clients.aks.managedClusters.beginStopAndWait('rg-acme', 'aks-acme', LRO));
    expect((await usages('eastus')).lowPriorityCores).toMatchObject({ currentValue: 0 });
  });

  it("admission's reader: the usages, the subscription's resource groups and its clusters in the region", async () => {
    await createGroup();
    await createGroup('rg-other');
    await drive(
      clients.aks.managedClusters.beginCreateOrUpdateAndWait('rg-acme', 'aks-acme', clusterSpec(), LRO),
    );
    const read = capacityReader({ of: () => clients as never }, 100);
    const byName = async (location: string) =>
      Object.fromEntries((await read.usages(location, SUB)).map((u) => [u.name, u]));
    const east = await byName('eastus');
    expect(east.managedClusters).toMatchObject({
      inUse: 1,
      limit: 100,
      localizedName: 'AKS clusters per region',
    });
    // Two groups of ours and the cluster's node resource group.
    expect(east.resourceGroups).toMatchObject({ inUse: 3, limit: 980 });
    expect(east.cores).toMatchObject({ inUse: 4, limit: 350, localizedName: 'Total Regional vCPUs' });
    expect((await byName('westeurope')).managedClusters).toMatchObject({ inUse: 0 });
  });
});

describe('request budgets (ARM and AKS token buckets on the sandbox clock)', () => {
  const sizes = (
    principal: Partial<typeof PUBLISHED_BUDGETS.principal> = {},
    aks: Partial<typeof PUBLISHED_BUDGETS.aks> = {},
    globalFactor = PUBLISHED_BUDGETS.globalFactor,
  ) => ({
    principal: { ...PUBLISHED_BUDGETS.principal, ...principal },
    aks: { ...PUBLISHED_BUDGETS.aks, ...aks },
    globalFactor,
  });
  /** Clients that surface a 429 at once (the SDK's own retry would sleep its Retry-After in real time). */
  const noRetry = (credential?: TokenCredential) => clientsOf(arm.url, { maxRetries: 0 }, credential);
  /** A credential for another service principal of the same tenant. */
  const principal = (oid: string): TokenCredential => ({
    getToken: async () => ({
      token: await issueToken({ aud: 'https://management.azure.com', oid }, clock.now()),
      expiresOnTimestamp: clock.now() + 3_600_000,
    }),
  });
  const remainingReads = async (c: ReturnType<typeof noRetry>) => {
    let remaining: string | undefined;
    await c.resources.resourceGroups.get('rg-acme', {
      onResponse: (raw) => {
        remaining = raw.headers.get('x-ms-ratelimit-remaining-subscription-reads');
      },
    });
    return remaining;
  };

  it('the published sizes by default: the 251st read in a second is refused 429 SubscriptionRequestsThrottled with Retry-After', async () => {
    expect(arm.budgets?.sizes).toEqual(PUBLISHED_BUDGETS);
    const c = noRetry();
    await createGroup();
    const answers = [];
    for (let i = 0; i < 250; i++) answers.push(await remainingReads(c));
    expect(answers.at(0)).toBe('249');
    expect(answers.at(-1)).toBe('0');
    await expect(c.resources.resourceGroups.get('rg-acme')).rejects.toMatchObject({
      statusCode: 429,
      code: 'SubscriptionRequestsThrottled',
      message: expect.stringContaining("Number of 'read' requests for subscription"),
    });
    expect(arm.requests.at(-1)).toMatchObject({ status: 429, retryAfter: 1 });
    // Writes are another bucket: the group is written at once.
    await c.resources.resourceGroups.createOrUpdate('rg-acme', { location: 'eastus', tags: { v: '2' } });
    // 25 tokens a second: one second of sandbox time later reads answer again.
    clock.advanceBy(1_000);
    expect(await remainingReads(c)).toBe('24');
    expect(arm.budgets?.throttled).toEqual({ 'arm.reads': 1 });
  });

  it("an empty bucket's Retry-After is the whole seconds until its next token; refused requests take none", async () => {
    await arm.close();
    await start({ budgets: sizes({ reads: { burst: 2, perSecond: 0.25 } }) });
    const c = noRetry();
    await createGroup();
    expect([await remainingReads(c), await remainingReads(c)]).toEqual(['1', '0']);
    for (let i = 0; i < 3; i++)
      await expect(c.resources.resourceGroups.get('rg-acme')).rejects.toMatchObject({ statusCode: 429 });
    expect(arm.requests.slice(-3).map((r) => r.retryAfter)).toEqual([4, 4, 4]);
    clock.advanceBy(3_000);
    await expect(c.resources.resourceGroups.get('rg-acme')).rejects.toMatchObject({ statusCode: 429 });
    expect(arm.requests.at(-1)?.retryAfter).toBe(1);
    clock.advanceBy(1_000);
    expect(await remainingReads(c)).toBe('0');
  });

  it("each principal has its own bucket; the subscription's global bucket (15× by default) is every principal's", async () => {
    await arm.close();
    await start({ budgets: sizes({ reads: { burst: 2, perSecond: 0.001 } }, {}, 2) });
    await createGroup();
    const [a, b, c] = ['a', 'b', 'c'].map((p) =>
      noRetry(principal(`00000000-0000-4000-8000-00000000000${p}`)),
    );
    await a!.resources.resourceGroups.get('rg-acme');
    await a!.resources.resourceGroups.get('rg-acme');
    await expect(a!.resources.resourceGroups.get('rg-acme')).rejects.toMatchObject({ statusCode: 429 });
    // Another principal still has its two reads, which empty the global bucket (2 × 2).
    await b!.resources.resourceGroups.get('rg-acme');
    await b!.resources.resourceGroups.get('rg-acme');
    await expect(c!.resources.resourceGroups.get('rg-acme')).rejects.toMatchObject({
      statusCode: 429,
      code: 'SubscriptionRequestsThrottled',
    });
  });

  it('buckets are per region: reads of another region are not counted against eastus', async () => {
    await arm.close();
    await start({ budgets: sizes({ reads: { burst: 1, perSecond: 0.001 } }) });
    const c = noRetry();
    await createGroup();
    await c.resources.resourceGroups.createOrUpdate('rg-west', { location: 'westeurope' });
    await c.resources.resourceGroups.get('rg-acme');
    await expect(c.resources.resourceGroups.get('rg-acme')).rejects.toMatchObject({ statusCode: 429 });
    expect((await c.resources.resourceGroups.get('rg-west')).location).toBe('westeurope');
  });

  it("AKS's own budgets: a cluster's PUTs refill at one a minute (429 TooManyRequests), another cluster's are its own", async () => {
    await arm.close();
    await start({ budgets: sizes({}, { putCluster: { burst: 1, perSecond: 1 / 60 } }) });
    const c = noRetry();
    await createGroup();
    await c.aks.managedClusters.createOrUpdate('rg-acme', 'aks-acme', clusterSpec(), LRO).submitted();
    await expect(
      c.aks.managedClusters.createOrUpdate('rg-acme', 'aks-acme', clusterSpec(), LRO).submitted(),
    ).rejects.toMatchObject({ statusCode: 429, code: 'TooManyRequests' });
    expect(arm.requests.at(-1)).toMatchObject({ status: 429, retryAfter: 60 });
    await c.aks.managedClusters
      .createOrUpdate('rg-acme', 'aks-other', { ...clusterSpec(), dnsPrefix: 'other-k8s' }, LRO)
      .submitted();
    clock.advanceBy(60_000);
    await c.aks.managedClusters.createOrUpdate('rg-acme', 'aks-acme', clusterSpec(), LRO).submitted();
    expect(arm.budgets?.throttled).toEqual({ 'aks.putCluster': 1 });
  });

  it("AKS's operation-status reads come from the subscription's budget of 2 a second; the other APIs from 1 a second", async () => {
    await arm.close();
    await start({
      budgets: sizes({}, { operationStatus: { burst: 1, perSecond: 2 }, other: { burst: 1, perSecond: 1 } }),
    });
    const c = noRetry();
    await createGroup();
    let operationUrl = '';
    await c.aks.managedClusters
      .createOrUpdate('rg-acme', 'aks-acme', clusterSpec(), {
        ...LRO,
        onResponse: (raw) => {
          operationUrl ||= raw.headers.get('azure-asyncoperation') ?? '';
        },
      })
      .submitted();
    const status = async () =>
      (await c.resources.sendRequest(createPipelineRequest({ url: operationUrl, method: 'GET' }))).status;
    expect(await status()).toBe(200);
    expect(await status()).toBe(429);
    expect(arm.requests.at(-1)).toMatchObject({ op: 'poll', retryAfter: 1 });
    clock.advanceBy(500);
    expect(await status()).toBe(200);

    clock.advanceTo(arm.nextCompletionAt()!);
    await c.aks.managedClusters.listClusterUserCredentials('rg-acme', 'aks-acme');
    await expect(
      c.aks.managedClusters.listClusterUserCredentials('rg-acme', 'aks-acme'),
    ).rejects.toMatchObject({
      statusCode: 429,
      code: 'TooManyRequests',
    });
    expect(arm.budgets?.throttled).toEqual({ 'aks.operationStatus': 1, 'aks.other': 1 });
  });
});

describe('several subscriptions (a pool)', () => {
  const OTHER = '7b2e9c1d-4f3a-4e8b-9c0d-1a2b3c4d5e6f';
  const clientsOf = (subscriptionId: string) => {
    const options = {
      endpoint: 'https://management.azure.com',
      httpClient: collapseLeadingSlashes(
        forwardingHttpClient((url) => (url.hostname === 'management.azure.com' ? arm.url : undefined)),
      ),
    };
    return {
      resources: new ResourceManagementClient(sandboxCredential, subscriptionId, options),
      compute: new ComputeManagementClient(sandboxCredential, subscriptionId, options),
    };
  };
  const names = async (c: ReturnType<typeof clientsOf>) => {
    const found: string[] = [];
    for await (const g of c.resources.resourceGroups.list()) found.push(g.name!);
    return found;
  };

  it('each subscription has its own resources and quota; one not served is SubscriptionNotFound', async () => {
    await arm.close();
    await start({ moreSubscriptionIds: [OTHER] });
    const other = clientsOf(OTHER);
    await createGroup('rg-default');
    await other.resources.resourceGroups.createOrUpdate('rg-other', { location: 'eastus' });
    expect(await names(clientsOf(SUB))).toEqual(['rg-default']);
    expect(await names(other)).toEqual(['rg-other']);
    expect(arm.inventory().map((r) => r.id)).toEqual(
      expect.arrayContaining([
        `/subscriptions/${SUB}/resourceGroups/rg-default`,
        `/subscriptions/${OTHER}/resourceGroups/rg-other`,
      ]),
    );

    arm.setQuotaLimit('lowPriorityCores', 4, OTHER);
    const spot = async (c: ReturnType<typeof clientsOf>) => {
      for await (const u of c.compute.usage.list('eastus'))
        if (u.name.value === 'lowPriorityCores') return u.limit;
      return undefined;
    };
    expect(await spot(other)).toBe(4);
    expect(await spot(clientsOf(SUB))).toBe(350);

    await expect(names(clientsOf('0f0f0f0f-0000-4000-8000-000000000000'))).rejects.toMatchObject({
      statusCode: 404,
      code: 'SubscriptionNotFound',
    });
  });
});
