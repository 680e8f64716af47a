/**
 * The Azure activities (resource group, the generic begin of every resource of the table, ARM operation
 * status) with the real ARM SDK clients against the simulated ARM: what each one sends, read from the
 * simulator's request log, and what it answers.
 */
import { createPipelineRequest } from '@azure/core-rest-pipeline';
import { beforeEach, describe, expect, it } from 'vitest';
import type { ResourceState } from '../../src/activities/contract.js';
import { childInstanceIds, azureResourceInstanceId } from '../../src/orchestrators/names.js';
import {
  armResourceId,
  AZURE_RESOURCE_NAMES,
  AZURE_RESOURCES,
  fileShares,
  type AzureResourceKind,
  type AzureResourceName,
} from '../../src/platform/azure-resources.js';
import { platformTags } from '../../src/platform/tags.js';
import { choosePostgresSku } from '../../src/platform/sizing.js';
import { isStepName, stepPolicy } from '../../src/platform/steps.js';
import { armFault, PUBLISHED_BUDGETS, type BudgetSizes } from '../../sandbox/azure/arm.js';
import {
  answerOf,
  MAINTENANCE_WINDOW,
  startActivitySandbox,
  SUBSCRIPTION_ID,
  type ActivitySandbox,
} from '../support/activities.js';

let sandbox: ActivitySandbox;

beforeEach(async () => {
  sandbox = await startActivitySandbox();
});

const idOf = (record: { names: Parameters<typeof armResourceId>[1] }, kind: keyof typeof AZURE_RESOURCES) =>
  armResourceId(SUBSCRIPTION_ID, record.names, kind);

describe('beginAzureResource', () => {
  /** Calls the begin and checks that it sent nothing that writes; returns its answer. */
  async function beginWithoutWrite(platformId: string, kind: AzureResourceName) {
    const from = sandbox.arm.requests.length;
    const answer = await sandbox.activities.beginAzureResource({ platformId, kind });
    expect(sandbox.armWrites(from)).toEqual([]);
    return answer;
  }

  it('an absent resource: PUT by its resource id with the api-version of its table entry, answered Accepted with the operation to poll', async () => {
    const record = await sandbox.platform();
    const from = sandbox.arm.requests.length;
    const answer = answerOf(
      await sandbox.activities.beginAzureResource({ platformId: record.id, kind: 'postgresServer' }),
    );

    const writes = sandbox.armWrites(from);
    expect(writes.map((w) => [w.method, w.path, w.apiVersion])).toEqual([
      ['PUT', idOf(record, 'postgresServer'), AZURE_RESOURCES.postgresServer.apiVersion],
    ]);
    const [operation] = sandbox.arm.operations();
    expect(answer).toEqual({
      provisioningState: 'Accepted',
      mutated: true,
      operationUrl: expect.stringContaining(operation!.id),
    });
    expect(writes[0]!.body).toMatchObject({
      location: record.spec.location,
      tags: platformTags(record.spec),
      sku: { name: choosePostgresSku(record.spec.webui.replicas).name },
    });
  });

  it("carries Azure's Retry-After on the accepted write", async () => {
    sandbox = await startActivitySandbox({ retryAfterSeconds: 7 });
    const record = await sandbox.platform();
    const answer = answerOf(
      await sandbox.activities.beginAzureResource({ platformId: record.id, kind: 'storageAccount' }),
    );
    expect(answer).toMatchObject({ provisioningState: 'Accepted', retryAfterMs: 7_000 });
  });

  it("puts the PostgreSQL admin password from Key Vault into the PUT body, never into the activity's answer", async () => {
    const record = await sandbox.platform();
    const password = sandbox.keyVault.secrets.get(record.names.secrets['postgres-admin-password'])!.value;
    const from = sandbox.arm.requests.length;
    const answer = await sandbox.activities.beginAzureResource({
      platformId: record.id,
      kind: 'postgresServer',
    });

    const [put] = sandbox.armWrites(from);
    expect(put!.body).toMatchObject({ properties: { administratorLoginPassword: password } });
    expect(password.length).toBeGreaterThan(20);
    expect(JSON.stringify(answer)).not.toContain(password);
  });

  it('ours and Succeeded: no mutating request, Succeeded', async () => {
    const record = await sandbox.platform();
    await sandbox.activities.beginAzureResource({ platformId: record.id, kind: 'storageAccount' });
    sandbox.settle();
    expect(await beginWithoutWrite(record.id, 'storageAccount')).toEqual({
      ok: true,
      value: { provisioningState: 'Succeeded', mutated: false },
    });
  });

  it('ours mid-creation: its provisioning state, without a write', async () => {
    const record = await sandbox.platform();
    await sandbox.activities.beginAzureResource({ platformId: record.id, kind: 'aksCluster' });
    expect(await beginWithoutWrite(record.id, 'aksCluster')).toEqual({
      ok: true,
      value: { provisioningState: 'Creating', mutated: false },
    });
  });

  it('a resource with our name but without our tags: conflict ResourceNotManaged, and no write', async () => {
    const record = await sandbox.platform();
    const id = idOf(record, 'storageAccount');
    // Someone else's account under the name the platform would use.
    await sandbox.clients.resources.resources.beginCreateOrUpdateById(
      id,
      AZURE_RESOURCES.storageAccount.apiVersion,
      {
        location: record.spec.location,
        kind: 'StorageV2',
        sku: { name: 'Standard_LRS' },
        tags: { team: 'x' },
      },
    );
    sandbox.settle();
    const before = sandbox.arm.inventory();

    expect(await beginWithoutWrite(record.id, 'storageAccount')).toMatchObject({
      ok: false,
      kind: 'conflict',
      code: 'ResourceNotManaged',
    });
    expect(sandbox.arm.inventory()).toEqual(before);
  });

  it('a Failed creation: the same PUT again', async () => {
    const record = await sandbox.platform();
    sandbox.arm.faults.script('pg.create', [
      armFault.lroFailed('InternalServerError', 'Provisioning failed.'),
    ]);
    const from = sandbox.arm.requests.length;
    await sandbox.activities.beginAzureResource({ platformId: record.id, kind: 'postgresServer' });
    sandbox.settle();
    expect(sandbox.arm.allOperations().map((o) => o.status)).toEqual(['Failed']);

    const answer = answerOf(
      await sandbox.activities.beginAzureResource({ platformId: record.id, kind: 'postgresServer' }),
    );
    const [first, second] = sandbox.armWrites(from);
    expect(second).toMatchObject({ method: 'PUT', path: first!.path, apiVersion: first!.apiVersion });
    expect(second!.body).toEqual(first!.body);
    expect(answer).toMatchObject({ provisioningState: 'Accepted', mutated: true });
    expect(sandbox.arm.operations()).toHaveLength(1);
  });

  it("a PostgreSQL server Ready on another SKU than the spec's replicas need: a PATCH of the sku alone", async () => {
    const record = await sandbox.platform();
    await sandbox.activities.beginAzureResource({ platformId: record.id, kind: 'postgresServer' });
    sandbox.settle();
    await sandbox.registry.update(record.id, (r) => ({ ...r, spec: { ...r.spec, webui: { replicas: 30 } } }));
    const sku = choosePostgresSku(30);
    expect(sku.name).not.toBe(choosePostgresSku(record.spec.webui.replicas).name);

    const from = sandbox.arm.requests.length;
    const answer = answerOf(
      await sandbox.activities.beginAzureResource({ platformId: record.id, kind: 'postgresServer' }),
    );
    expect(sandbox.armWrites(from).map((w) => [w.method, w.path, w.apiVersion, w.body])).toEqual([
      [
        'PATCH',
        idOf(record, 'postgresServer'),
        AZURE_RESOURCES.postgresServer.apiVersion,
        { sku: { name: sku.name, tier: sku.tier } },
      ],
    ]);
    expect(answer).toMatchObject({ provisioningState: 'Accepted', mutated: true });
    expect(answer.operationUrl).toContain(sandbox.arm.operations()[0]!.id);
  });

  it('a PostgreSQL server Updating: no write, Updating', async () => {
    const record = await sandbox.platform();
    await sandbox.activities.beginAzureResource({ platformId: record.id, kind: 'postgresServer' });
    sandbox.settle();
    await sandbox.registry.update(record.id, (r) => ({ ...r, spec: { ...r.spec, webui: { replicas: 30 } } }));
    await sandbox.activities.beginAzureResource({ platformId: record.id, kind: 'postgresServer' });
    expect(sandbox.arm.operations().map((o) => o.kind)).toEqual(['pg.update']);

    expect(await beginWithoutWrite(record.id, 'postgresServer')).toEqual({
      ok: true,
      value: { provisioningState: 'Updating', mutated: false },
    });
  });
});

describe('the table of Azure resources is complete (every entry works end to end)', () => {
  it.each(AZURE_RESOURCE_NAMES)(
    '%s: the simulated ARM accepts its body, its step has a poll policy, provisioning has a child instance for it',
    async (kind) => {
      const entry: AzureResourceKind = AZURE_RESOURCES[kind];
      const record = await sandbox.platform();
      const from = sandbox.arm.requests.length;
      const answer = answerOf(await sandbox.activities.beginAzureResource({ platformId: record.id, kind }));
      // Accepted with an operation to follow, or created within the request (a type ARM creates at once).
      expect(answer.mutated).toBe(true);
      expect(['Accepted', 'Succeeded']).toContain(answer.provisioningState);
      const [put] = sandbox.armWrites(from);
      expect(put).toMatchObject({ method: 'PUT', apiVersion: entry.apiVersion, status: expect.any(Number) });
      expect(put!.status).toBeLessThan(300);
      sandbox.settle();
      const created = sandbox.arm.inventory().find((r) => r.id.toLowerCase() === put!.path.toLowerCase());
      expect(created?.type.toLowerCase()).toBe(entry.type.toLowerCase());

      for (const step of [kind, ...(entry.then ? [entry.then] : [])]) {
        expect(isStepName(step)).toBe(true);
        expect(stepPolicy(step).deadlineMs).toBeGreaterThan(0);
      }
      expect(childInstanceIds(record.id)).toContain(azureResourceInstanceId(record.id, kind));
    },
  );
});

describe('ensureAksMaintenanceWindow', () => {
  async function cluster() {
    const record = await sandbox.platform();
    answerOf(await sandbox.activities.beginAzureResource({ platformId: record.id, kind: 'aksCluster' }));
    sandbox.settle();
    return record;
  }
  const configId = (record: Awaited<ReturnType<typeof cluster>>) =>
    `${idOf(record, 'aksCluster')}/maintenanceConfigurations/aksManagedAutoUpgradeSchedule`;
  const WANTED = {
    schedule: { weekly: { intervalWeeks: 1, dayOfWeek: MAINTENANCE_WINDOW.day } },
    durationHours: MAINTENANCE_WINDOW.durationHours,
    startTime: MAINTENANCE_WINDOW.startTime,
    utcOffset: '+00:00',
  };

  it("writes the cluster's aksManagedAutoUpgradeSchedule with the setting's weekly window, then writes nothing while it holds", async () => {
    const record = await cluster();
    const from = sandbox.arm.requests.length;
    expect(answerOf(await sandbox.activities.ensureAksMaintenanceWindow({ platformId: record.id }))).toEqual({
      provisioningState: 'Succeeded',
      mutated: true,
    });
    const writes = sandbox.armWrites(from);
    expect(writes.map((w) => [w.method, w.path, w.apiVersion])).toEqual([
      ['PUT', configId(record), AZURE_RESOURCES.aksCluster.apiVersion],
    ]);
    expect(writes[0]!.body).toEqual({ properties: { maintenanceWindow: WANTED } });
    expect(sandbox.arm.resource(configId(record))).toMatchObject({
      name: 'aksManagedAutoUpgradeSchedule',
      type: 'Microsoft.ContainerService/managedClusters/maintenanceConfigurations',
      properties: { maintenanceWindow: WANTED },
    });

    const again = sandbox.arm.requests.length;
    expect(answerOf(await sandbox.activities.ensureAksMaintenanceWindow({ platformId: record.id }))).toEqual({
      provisioningState: 'Succeeded',
      mutated: false,
    });
    expect(sandbox.armWrites(again)).toEqual([]);
  });

  it("right after the run's own write of the cluster: the window is written without a read (one call of AKS's budget)", async () => {
    const record = await cluster();
    const from = sandbox.arm.requests.length;
    expect(
      answerOf(
        await sandbox.activities.ensureAksMaintenanceWindow({ platformId: record.id, clusterWritten: true }),
      ),
    ).toEqual({ provisioningState: 'Succeeded', mutated: true });
    expect(sandbox.arm.requests.slice(from).map((r) => [r.method, r.path])).toEqual([
      ['PUT', configId(record)],
    ]);
  });

  it('puts back a window someone changed', async () => {
    const record = await cluster();
    const { resourceGroup, aksCluster } = record.names;
    await sandbox.clients.aks.maintenanceConfigurations.createOrUpdate(
      resourceGroup,
      aksCluster,
      'aksManagedAutoUpgradeSchedule',
      {
        maintenanceWindow: {
          schedule: { weekly: { intervalWeeks: 1, dayOfWeek: 'Monday' } },
          durationHours: 4,
          startTime: '09:00',
        },
      },
    );
    expect(
      answerOf(await sandbox.activities.ensureAksMaintenanceWindow({ platformId: record.id })),
    ).toMatchObject({ mutated: true });
    expect(sandbox.arm.resource(configId(record))).toMatchObject({
      properties: { maintenanceWindow: WANTED },
    });
  });

  it('the simulated AKS refuses a window AKS would refuse, and removes the configuration with the cluster', async () => {
    const record = await cluster();
    const { resourceGroup, aksCluster } = record.names;
    const write = (durationHours: number, name = 'aksManagedAutoUpgradeSchedule') =>
      sandbox.clients.aks.maintenanceConfigurations.createOrUpdate(resourceGroup, aksCluster, name, {
        maintenanceWindow: {
          schedule: { weekly: { intervalWeeks: 1, dayOfWeek: 'Sunday' } },
          durationHours,
          startTime: '02:00',
        },
      });
    await expect(write(3)).rejects.toMatchObject({ statusCode: 400, code: 'InvalidParameter' });
    await expect(write(4, 'nightly')).rejects.toMatchObject({ statusCode: 400, code: 'InvalidParameter' });
    await write(4);
    // The deletion is followed on the simulated clock, not by the SDK's poller.
    await sandbox.clients.aks.managedClusters.delete(resourceGroup, aksCluster).submitted();
    sandbox.settle();
    expect(sandbox.arm.resource(configId(record))).toBeUndefined();
  });
});

describe('AKS upgrading by itself', () => {
  const UPGRADE_MS = 25 * 60_000;

  it('refuses a stop (and a PUT) with OperationNotAllowed, classified busy, until the upgrade ends; then the stop is accepted', async () => {
    const record = await sandbox.platform();
    answerOf(await sandbox.activities.beginAzureResource({ platformId: record.id, kind: 'aksCluster' }));
    sandbox.settle();
    const id = idOf(record, 'aksCluster');
    sandbox.arm.upgradeAksCluster(id, UPGRADE_MS);
    expect(sandbox.arm.resource(id)).toMatchObject({ properties: { provisioningState: 'Upgrading' } });

    const refused = await sandbox.activities.beginAksClusterPower({ platformId: record.id, action: 'stop' });
    expect(refused).toMatchObject({
      ok: false,
      kind: 'busy',
      code: 'OperationNotAllowed',
      message: expect.stringContaining('in progress upgrade'),
    });
    const { resourceGroup, aksCluster } = record.names;
    const live = await sandbox.clients.aks.managedClusters.get(resourceGroup, aksCluster);
    await expect(
      sandbox.clients.aks.managedClusters.beginCreateOrUpdate(resourceGroup, aksCluster, {
        ...live,
        tags: { ...live.tags, extra: 'x' },
      }),
    ).rejects.toMatchObject({ statusCode: 409, code: 'OperationNotAllowed' });

    sandbox.clock.advanceBy(UPGRADE_MS);
    const accepted = answerOf(
      await sandbox.activities.beginAksClusterPower({ platformId: record.id, action: 'stop' }),
    );
    expect(accepted).toMatchObject({ mutated: true, operationUrl: expect.any(String) });
  });
});

describe('getArmOperationStatus', () => {
  async function begun(kind: AzureResourceName) {
    const record = await sandbox.platform();
    const state: ResourceState = answerOf(
      await sandbox.activities.beginAzureResource({ platformId: record.id, kind }),
    );
    return state.operationUrl!;
  }

  it('InProgress while the operation runs (Azure-AsyncOperation status)', async () => {
    const operationUrl = await begun('postgresServer');
    expect(operationUrl).toMatch(/azureAsyncOperation/i);
    expect(await sandbox.activities.getArmOperationStatus({ operationUrl })).toEqual({
      ok: true,
      value: { status: 'InProgress' },
    });
  });

  it('Succeeded once it ended (Location: 202 while running, then the result)', async () => {
    const operationUrl = await begun('storageAccount');
    expect(await sandbox.activities.getArmOperationStatus({ operationUrl })).toEqual({
      ok: true,
      value: { status: 'InProgress' },
    });
    sandbox.settle();
    expect(await sandbox.activities.getArmOperationStatus({ operationUrl })).toEqual({
      ok: true,
      value: { status: 'Succeeded' },
    });
  });

  it("Failed with Azure's error", async () => {
    sandbox.arm.faults.script('pg.create', [
      armFault.lroFailed('InternalServerError', 'Provisioning failed.'),
    ]);
    const operationUrl = await begun('postgresServer');
    sandbox.settle();
    const status = answerOf(await sandbox.activities.getArmOperationStatus({ operationUrl }));
    expect(status).toEqual({
      status: 'Failed',
      error: { code: 'InternalServerError', message: 'Provisioning failed.', kind: 'invalid' },
    });
  });

  it('a PostgreSQL child write accepted and then failed as busy: Failed, ServerBusy, kind busy', async () => {
    const record = await sandbox.platform();
    await sandbox.activities.beginAzureResource({ platformId: record.id, kind: 'postgresServer' });
    sandbox.settle();
    // Right after the creation (the simulator's default, as Azure does it).
    const written = answerOf(
      await sandbox.activities.ensurePostgresChild({
        platformId: record.id,
        child: { kind: 'configuration', name: 'azure.extensions', value: 'VECTOR' },
      }),
    );
    sandbox.settle();
    const status = answerOf(
      await sandbox.activities.getArmOperationStatus({ operationUrl: written.operationUrl! }),
    );
    expect(status).toEqual({
      status: 'Failed',
      error: { code: 'ServerBusy', message: expect.stringContaining('busy'), kind: 'busy' },
    });
  });

  it.each([
    {
      fault: armFault.quotaExceeded('lro'),
      wrapper: 'CreateVMSSAgentPoolFailed',
      code: 'OperationNotAllowed',
      message: 'exceeding approved Standard NCASv3_T4 Family Cores quota',
    },
    {
      fault: armFault.zonalAllocation('lro'),
      wrapper: 'ReconcileVMSSAgentPoolFailed',
      code: 'OverconstrainedZonalAllocationRequest',
      message: 'Allocation failed',
    },
    {
      fault: armFault.skuNotAvailable(),
      wrapper: 'ReconcileVMSSAgentPoolFailed',
      code: 'SkuNotAvailable',
      message: 'not available',
    },
  ])(
    'a failed AKS operation: the innermost of the errors AKS nests under $wrapper ($code)',
    async ({ fault, wrapper, code, message }) => {
      sandbox.arm.faults.script('aks.create', [fault]);
      const operationUrl = await begun('aksCluster');
      sandbox.settle();
      // On the wire, the cause sits in details[] under AKS's generic code.
      const raw = await sandbox.clients.resources.sendRequest(
        createPipelineRequest({ url: operationUrl, method: 'GET' }),
      );
      expect(JSON.parse(raw.bodyAsText!)).toMatchObject({
        status: 'Failed',
        error: { code: wrapper, details: [expect.objectContaining({ code: expect.any(String) })] },
      });
      const status = answerOf(await sandbox.activities.getArmOperationStatus({ operationUrl }));
      expect(status).toEqual({
        status: 'Failed',
        error: { code, message: expect.stringContaining(message), kind: 'quota' },
      });
    },
  );

  it('an operation Azure no longer knows: notFound OperationNotFound', async () => {
    const operationUrl = await begun('postgresServer');
    const unknown = operationUrl.replace(
      sandbox.arm.operations()[0]!.id,
      '00000000-0000-4000-8000-000000000000',
    );
    expect(unknown).not.toBe(operationUrl);
    expect(await sandbox.activities.getArmOperationStatus({ operationUrl: unknown })).toMatchObject({
      ok: false,
      kind: 'notFound',
      code: 'OperationNotFound',
    });
  });

  it("carries Azure's Retry-After for the next poll", async () => {
    sandbox = await startActivitySandbox({ retryAfterSeconds: 12 });
    const operationUrl = await begun('postgresServer');
    expect(await sandbox.activities.getArmOperationStatus({ operationUrl })).toEqual({
      ok: true,
      value: { status: 'InProgress', retryAfterMs: 12_000 },
    });
  });
});

describe('ensureResourceGroup', () => {
  const rgPath = (name: string) => `/subscriptions/${SUBSCRIPTION_ID}/resourcegroups/${name}`;

  it.each([
    ['a group of ours in another location', 'LocationMismatch', { location: 'northeurope' }],
    ['a group with our name that is not ours', 'ResourceNotManaged', { tags: { team: 'x' } }],
  ])('%s: conflict %s, and no write', async (_, code, group) => {
    const record = await sandbox.register('acme');
    await sandbox.clients.resources.resourceGroups.createOrUpdate(record.names.resourceGroup, {
      location: record.spec.location,
      tags: platformTags(record.spec),
      ...group,
    });
    const from = sandbox.arm.requests.length;
    expect(await sandbox.activities.ensureResourceGroup({ platformId: record.id })).toMatchObject({
      ok: false,
      kind: 'conflict',
      code,
    });
    expect(sandbox.armWrites(from)).toEqual([]);
  });

  it("writes the group's tags only when they differ from the spec's", async () => {
    const record = await sandbox.register('acme');
    const ensure = () => sandbox.activities.ensureResourceGroup({ platformId: record.id });
    const puts = () =>
      sandbox
        .armWrites()
        .filter(
          (w) =>
            w.method === 'PUT' && w.path.toLowerCase() === rgPath(record.names.resourceGroup).toLowerCase(),
        );

    expect(await ensure()).toEqual({ ok: true, value: { provisioningState: 'Succeeded', mutated: true } });
    expect(await ensure()).toEqual({ ok: true, value: { provisioningState: 'Succeeded', mutated: false } });
    expect(puts()).toHaveLength(1);

    await sandbox.registry.update(record.id, (r) => ({
      ...r,
      spec: { ...r.spec, tags: { costCenter: '42' } },
    }));
    expect(await ensure()).toMatchObject({ ok: true, value: { mutated: true } });
    expect(puts()).toHaveLength(2);
    expect(puts()[1]!.body).toMatchObject({ tags: { costCenter: '42', 'platform-id': record.id } });
  });
});

describe('ensureFileShares', () => {
  it("grows an existing share with a PATCH of its quota alone, keeping the share's other properties", async () => {
    const record = await sandbox.platform();
    await sandbox.activities.beginAzureResource({ platformId: record.id, kind: 'storageAccount' });
    sandbox.settle();
    const { resourceGroup, storageAccount, modelsFileShare } = record.names;
    const [models] = fileShares(record.spec, record.names);
    // The share as an earlier, smaller spec left it, with metadata an operator added since.
    await sandbox.clients.storage.fileShares.create(resourceGroup, storageAccount, modelsFileShare, {
      shareQuota: models!.quotaGiB - 1,
      enabledProtocols: 'SMB',
      metadata: { owner: 'ops' },
    });

    const from = sandbox.arm.requests.length;
    expect(answerOf(await sandbox.activities.ensureFileShares({ platformId: record.id }))).toEqual({
      mutated: true,
    });
    const writes = sandbox
      .armWrites(from)
      .map((w) => ({ method: w.method, share: w.path.split('/').pop(), body: w.body }));
    expect(writes).toContainEqual({
      method: 'PATCH',
      share: modelsFileShare,
      body: { properties: { shareQuota: models!.quotaGiB } },
    });
    expect(writes.filter((w) => w.share === modelsFileShare)).toHaveLength(1);
    const grown = await sandbox.clients.storage.fileShares.get(
      resourceGroup,
      storageAccount,
      modelsFileShare,
    );
    expect(grown).toMatchObject({ shareQuota: models!.quotaGiB, metadata: { owner: 'ops' } });
  });
});

describe('throttled answers (ARM and AKS budgets): handed to the orchestrator with the wait Azure asked for', () => {
  const budgets = (change: (b: BudgetSizes) => void): BudgetSizes => {
    const sizes = structuredClone(PUBLISHED_BUDGETS);
    change(sizes);
    return sizes;
  };

  it('an ARM 429 is not retried (slept) inside the activity: one request, throttled with its Retry-After', async () => {
    sandbox = await startActivitySandbox({
      budgets: budgets((b) => (b.principal.reads = { burst: 1, perSecond: 0.2 })),
    });
    const record = await sandbox.register('acme');
    await sandbox.clients.resources.resourceGroups.checkExistence('rg-elsewhere');
    const from = sandbox.arm.requests.length;
    const started = Date.now();
    expect(await sandbox.activities.ensureResourceGroup({ platformId: record.id })).toEqual({
      ok: false,
      kind: 'throttled',
      code: 'SubscriptionRequestsThrottled',
      message: expect.stringContaining("'read' requests"),
      retryAfterMs: 5_000,
    });
    expect(sandbox.arm.requests.slice(from).map((r) => r.status)).toEqual([429]);
    // The SDK's own policy would have slept Retry-After (5 s) twice in real time.
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("an AKS operation-status read throttled: throttled with AKS's Retry-After, not a default wait", async () => {
    sandbox = await startActivitySandbox({
      budgets: budgets((b) => (b.aks.operationStatus = { burst: 1, perSecond: 0.5 })),
    });
    const record = await sandbox.platform();
    const { operationUrl } = answerOf(
      await sandbox.activities.beginAzureResource({ platformId: record.id, kind: 'aksCluster' }),
    );
    expect(await sandbox.activities.getArmOperationStatus({ operationUrl: operationUrl! })).toMatchObject({
      ok: true,
    });
    const from = sandbox.arm.requests.length;
    expect(await sandbox.activities.getArmOperationStatus({ operationUrl: operationUrl! })).toEqual({
      ok: false,
      kind: 'throttled',
      code: 'TooManyRequests',
      message: expect.any(String),
      retryAfterMs: 2_000,
    });
    expect(sandbox.arm.requests.slice(from).map((r) => r.status)).toEqual([429]);
  });
});
