/**
 * The API's access to a platform's cluster (Entra ID, Azure RBAC, no local accounts; azure-real-behaviours
 * F9): the grant of its role, the readiness check that waits for the grant to take effect, and the Entra
 * token every Kubernetes request carries, through the real SDK clients and @kubernetes/client-node against
 * the simulated ARM and API server.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { roleAssignmentName } from '../../src/activities/access.js';
import { AKS_RBAC_CLUSTER_ADMIN_ROLE } from '../../src/platform/azure-resources.js';
import type { PlatformRecord } from '../../src/platform/types.js';
import { armFault, DEFAULT_DURATIONS } from '../../sandbox/azure/arm.js';
import { AKS_SERVER_APP_ID, SANDBOX_API_PRINCIPAL_ID } from '../../sandbox/azure/entra.js';
import {
  answerOf,
  startActivitySandbox,
  SUBSCRIPTION_ID,
  type ActivitySandbox,
} from '../support/activities.js';

let sandbox: ActivitySandbox;
let record: PlatformRecord;

beforeEach(async () => {
  sandbox = await startActivitySandbox();
  record = await sandbox.platform();
  answerOf(await sandbox.activities.beginAzureResource({ platformId: record.id, kind: 'aksCluster' }));
  sandbox.settle();
});

const access = () => sandbox.activities.checkPlatformReadiness({ platformId: record.id, check: 'access' });

describe('ensureClusterAccess', () => {
  it("grants Azure Kubernetes Service RBAC Cluster Admin on the platform's resource group under a derived name, once", async () => {
    const scope = `/subscriptions/${SUBSCRIPTION_ID}/resourceGroups/${record.names.resourceGroup}`;
    expect(answerOf(await sandbox.activities.ensureClusterAccess({ platformId: record.id }))).toEqual({
      provisioningState: 'Succeeded',
      mutated: true,
    });
    const name = roleAssignmentName(scope, SANDBOX_API_PRINCIPAL_ID, AKS_RBAC_CLUSTER_ADMIN_ROLE);
    const assignment = await sandbox.clients.authorization.roleAssignments.get(scope, name);
    expect(assignment).toMatchObject({
      scope,
      principalId: SANDBOX_API_PRINCIPAL_ID,
      principalType: 'ServicePrincipal',
      roleDefinitionId: expect.stringMatching(new RegExp(`/roleDefinitions/${AKS_RBAC_CLUSTER_ADMIN_ROLE}$`)),
    });

    const from = sandbox.arm.requests.length;
    expect(answerOf(await sandbox.activities.ensureClusterAccess({ platformId: record.id }))).toEqual({
      provisioningState: 'Succeeded',
      mutated: false,
    });
    expect(sandbox.armWrites(from)).toEqual([]);
  });

  it('waits out a principal Entra ID has not replicated yet (400 PrincipalNotFound is transient)', async () => {
    sandbox.arm.faults.script('roleAssignment.put', [armFault.principalNotFound(SANDBOX_API_PRINCIPAL_ID)]);
    expect(await sandbox.activities.ensureClusterAccess({ platformId: record.id })).toMatchObject({
      ok: false,
      kind: 'transient',
      code: 'PrincipalNotFound',
    });
    expect(answerOf(await sandbox.activities.ensureClusterAccess({ platformId: record.id }))).toMatchObject({
      mutated: true,
    });
  });

  it('is satisfied by the same grant under another name (409 RoleAssignmentExists)', async () => {
    const scope = `/subscriptions/${SUBSCRIPTION_ID}/resourceGroups/${record.names.resourceGroup}`;
    await sandbox.clients.authorization.roleAssignments.create(
      scope,
      '0a0b0c0d-0e0f-4a1b-8c2d-3e4f5a6b7c8d',
      {
        roleDefinitionId: `/subscriptions/${SUBSCRIPTION_ID}/providers/Microsoft.Authorization/roleDefinitions/${AKS_RBAC_CLUSTER_ADMIN_ROLE}`,
        principalId: SANDBOX_API_PRINCIPAL_ID,
      },
    );
    expect(answerOf(await sandbox.activities.ensureClusterAccess({ platformId: record.id }))).toMatchObject({
      mutated: false,
    });
  });
});

describe("checkPlatformReadiness 'access'", () => {
  it('waits (403 Forbidden) without a role assignment and until it has propagated, then holds', async () => {
    expect(answerOf(await access())).toEqual({
      ready: false,
      detail: expect.stringContaining('User does not have access to the resource in Azure'),
    });
    expect(sandbox.frontDoor.requests.at(-1)).toMatchObject({ status: 403 });

    answerOf(await sandbox.activities.ensureClusterAccess({ platformId: record.id }));
    sandbox.clock.advanceBy(DEFAULT_DURATIONS.roleAssignmentPropagation - 60_000);
    expect(answerOf(await access())).toMatchObject({ ready: false });
    sandbox.clock.advanceBy(60_000);
    expect(answerOf(await access())).toMatchObject({ ready: true });
  });
});

describe('the Entra ID token of every Kubernetes request', () => {
  it('is for AKS, from the credential the Azure clients use, kept until shortly before it expires', async () => {
    await sandbox.grantClusterAccess(record);
    const asked = () => sandbox.credential.requests.filter((t) => t.aud === AKS_SERVER_APP_ID).length;
    const before = asked();
    for (let i = 0; i < 3; i++) answerOf(await access());
    expect(asked()).toBe(before + 1);
    // Within five minutes of its expiry (one hour), a fresh one is asked for.
    sandbox.clock.advanceBy(56 * 60_000);
    answerOf(await access());
    expect(asked()).toBe(before + 2);

    expect(sandbox.frontDoor.requests.length).toBeGreaterThan(0);
    for (const request of sandbox.frontDoor.requests)
      expect(request).toMatchObject({
        user: `entra:${SANDBOX_API_PRINCIPAL_ID}`,
        audience: AKS_SERVER_APP_ID,
      });
  });
});
