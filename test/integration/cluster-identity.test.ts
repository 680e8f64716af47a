/**
 * How the sandbox's AKS clusters are reached, as AKS does it (azure-real-behaviours F9, "Local accounts vs
 * Entra ID"), through the real ContainerServiceClient and AuthorizationManagementClient against the
 * simulated ARM, and the real @kubernetes/client-node over TLS against the simulated API servers:
 * - a cluster with local accounts: the admin kubeconfig carries the cluster's CA and a client certificate
 *   (CN=masterclient, O=system:masters), no token; the certificate works for its own cluster only;
 * - a cluster with Entra ID and Azure RBAC, without local accounts: no admin credential; the user
 *   kubeconfig holds no secret (kubelogin); the API server takes tokens for AKS's server application only
 *   (401 otherwise) and authorizes them by role assignment, once it has propagated (403 until then);
 * - role assignments: idempotent by name, one per principal, role and scope, deleted with their group.
 */
import { X509Certificate } from 'node:crypto';
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { ContainerServiceClient, type ManagedCluster } from '@azure/arm-containerservice';
import { ResourceManagementClient } from '@azure/arm-resources';
import { parse } from 'yaml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { clusterAgent, kubeClients, kubeStatus } from '../../src/kube/client.js';
import { DEFAULT_DURATIONS, SimulatedArm } from '../../sandbox/azure/arm.js';
import {
  AKS_SERVER_APP_ID,
  issueToken,
  SANDBOX_API_PRINCIPAL_ID,
  sandboxCredentialOn,
} from '../../sandbox/azure/entra.js';
import { forwardingHttpClient } from '../../sandbox/azure/forwarding-client.js';
import { VirtualClock } from '../../sandbox/clock.js';
import { SimulatedKubernetesFleet } from '../../sandbox/kube/fleet.js';
import { SandboxPki } from '../../sandbox/kube/pki.js';

const SUB = '6b1f0c7e-3a55-4a0e-9a53-0c1d2e3f4a5b';
const CLUSTER_ADMIN_ROLE = 'b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b';
const roleDefinitionId = `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/${CLUSTER_ADMIN_ROLE}`;

let clock: VirtualClock;
let arm: SimulatedArm;
let fleet: SimulatedKubernetesFleet;
let aks: ContainerServiceClient;
let authorization: AuthorizationManagementClient;
let resources: ResourceManagementClient;

beforeEach(async () => {
  clock = new VirtualClock();
  fleet = new SimulatedKubernetesFleet(clock, undefined, undefined, {
    access: (key) => arm.access(key),
    mayUseKubernetes: (key, principal) => arm.mayUseKubernetes(key, principal),
    fqdn: (key) => arm.fqdn(key),
  });
  await fleet.listen();
  arm = new SimulatedArm({ clock, subscriptionId: SUB, retryAfterSeconds: 0, kubeAccess: fleet.frontDoor });
  const base = await arm.listen();
  const credential = sandboxCredentialOn(clock);
  const options = {
    endpoint: 'https://management.azure.com',
    httpClient: forwardingHttpClient((url) => (url.hostname === 'management.azure.com' ? base : undefined)),
  };
  aks = new ContainerServiceClient(credential, SUB, options);
  authorization = new AuthorizationManagementClient(credential, SUB, options);
  resources = new ResourceManagementClient(credential, SUB, options);
  await resources.resourceGroups.createOrUpdate('rg-a', { location: 'eastus' });
});

afterEach(async () => {
  expect(arm.internalErrors).toEqual([]);
  await Promise.all([arm.close(), fleet.close()]);
});

const LOCAL: Partial<ManagedCluster> = {};
const ENTRA: Partial<ManagedCluster> = {
  aadProfile: { managed: true, enableAzureRbac: true },
  disableLocalAccounts: true,
};

async function createCluster(name: string, access: Partial<ManagedCluster>): Promise<string> {
  const poller = await aks.managedClusters.beginCreateOrUpdate(
    'rg-a',
    name,
    {
      location: 'eastus',
      dnsPrefix: name,
      ...access,
      agentPoolProfiles: [{ name: 'system', mode: 'System', count: 1, vmSize: 'Standard_D4s_v5' }],
    },
    { updateIntervalInMs: 0 },
  );
  clock.advanceBy(DEFAULT_DURATIONS.aksCreate);
  return (await poller.pollUntilDone()).id!;
}

const decode = (value: Uint8Array | undefined) => new TextDecoder().decode(value);

async function adminKubeconfig(name: string): Promise<string> {
  const credentials = await aks.managedClusters.listClusterAdminCredentials('rg-a', name);
  return decode(credentials.kubeconfigs![0]!.value);
}

/** A client-node call's Kubernetes Status (code, reason), or 'ok'. */
async function outcome(call: Promise<unknown>): Promise<{ code: number; reason: string } | 'ok'> {
  try {
    await call;
    return 'ok';
  } catch (e) {
    const status = kubeStatus(e);
    if (!status) throw e;
    return { code: status.code, reason: status.reason };
  }
}

describe('a cluster with local accounts', () => {
  it('returns an admin kubeconfig with the CA and a client certificate (no token) that works over TLS', async () => {
    await createCluster('aks-a', LOCAL);
    const yaml = await adminKubeconfig('aks-a');
    const config = parse(yaml) as {
      clusters: { cluster: Record<string, string> }[];
      users: { user: Record<string, string> }[];
    };
    const { server, 'certificate-authority-data': ca } = config.clusters[0]!.cluster;
    expect(server).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/clusters\//);
    expect(ca).toBeTruthy();
    const user = config.users[0]!.user;
    expect(Object.keys(user).sort()).toEqual(['client-certificate-data', 'client-key-data']);
    const certificate = new X509Certificate(Buffer.from(user['client-certificate-data']!, 'base64'));
    expect(certificate.subject.split('\n').sort()).toEqual(['CN=masterclient', 'O=system:masters']);

    const kube = kubeClients(yaml);
    const namespaces = await kube.core.listNamespace();
    expect(namespaces.items.map((n) => n.metadata?.name)).toContain('kube-system');
    expect(fleet.frontDoor.requests.at(-1)).toMatchObject({ user: 'cert:masterclient', status: 200 });
  });

  it("refuses another cluster's admin certificate (401), and a request without credentials", async () => {
    await createCluster('aks-a', LOCAL);
    const idB = await createCluster('aks-b', LOCAL);
    const configA = parse(await adminKubeconfig('aks-a')) as {
      clusters: { cluster: { server: string } }[];
    };
    const configB = parse(await adminKubeconfig('aks-b')) as {
      clusters: { cluster: { server: string } }[];
    };
    const fqdnB = (await aks.managedClusters.get('rg-a', 'aks-b')).fqdn;
    expect(configB.clusters[0]!.cluster.server).toBe(fleet.serverFor(idB.toLowerCase(), fqdnB));
    // A's certificate and key, pointed at B's API server.
    configA.clusters[0]!.cluster.server = configB.clusters[0]!.cluster.server;
    const crossed = kubeClients(JSON.stringify(configA));
    expect(await outcome(crossed.core.listNamespace())).toMatchObject({ code: 401 });

    const anonymous = kubeClients({
      name: 'aks-b',
      server: configB.clusters[0]!.cluster.server,
      caData: Buffer.from(fleet.frontDoor.caPem).toString('base64'),
      token: '',
    });
    expect(await outcome(anonymous.core.listNamespace())).toMatchObject({ code: 401 });
  });
});

describe('a cluster with Entra ID, Azure RBAC and no local accounts', () => {
  it('is refused without AKS-managed Entra ID integration (400)', async () => {
    await expect(createCluster('aks-x', { disableLocalAccounts: true })).rejects.toMatchObject({
      statusCode: 400,
      code: 'BadRequest',
    });
  });

  it('has no admin credential, and a user kubeconfig without secrets (kubelogin)', async () => {
    const id = await createCluster('aks-e', ENTRA);
    const live = await aks.managedClusters.get('rg-a', 'aks-e');
    expect(live.aadProfile).toMatchObject({
      managed: true,
      enableAzureRbac: true,
      tenantID: expect.any(String),
    });
    expect(live.disableLocalAccounts).toBe(true);
    await expect(adminKubeconfig('aks-e')).rejects.toMatchObject({ statusCode: 400 });

    const user = await aks.managedClusters.listClusterUserCredentials('rg-a', 'aks-e');
    const config = parse(decode(user.kubeconfigs![0]!.value)) as {
      clusters: { cluster: Record<string, string> }[];
      users: { user: { exec?: { command: string; args: string[] } } & Record<string, unknown> }[];
    };
    // The address of this cluster's incarnation: its FQDN (new if it is ever created again).
    expect(config.clusters[0]!.cluster.server).toBe(fleet.serverFor(id.toLowerCase(), live.fqdn));
    const userEntry = config.users[0]!.user;
    expect(Object.keys(userEntry)).toEqual(['exec']);
    expect(userEntry.exec!.command).toBe('kubelogin');
    expect(userEntry.exec!.args).toContain(AKS_SERVER_APP_ID);
  });

  it('takes only AKS-audience tokens (401), authorizes by role assignment once it has propagated (403 until then)', async () => {
    const id = await createCluster('aks-e', ENTRA);
    const connect = async (token: string) =>
      kubeClients({
        name: 'aks-e',
        server: fleet.serverFor(id.toLowerCase()),
        caData: Buffer.from(fleet.frontDoor.caPem).toString('base64'),
        token,
      });
    const now = clock.now();
    const aksToken = await issueToken({ aud: AKS_SERVER_APP_ID }, now);
    const armToken = await issueToken({ aud: 'https://management.azure.com' }, now);
    const expired = await issueToken(
      { aud: AKS_SERVER_APP_ID, iat: now / 1000 - 7200, exp: now / 1000 - 3600 },
      now,
    );
    const list = async (token: string) => outcome((await connect(token)).core.listNamespace());

    expect(await list(armToken)).toMatchObject({ code: 401 });
    expect(await list(expired)).toMatchObject({ code: 401 });
    expect(await list(`${aksToken.slice(0, -4)}AAAA`)).toMatchObject({ code: 401 });
    expect(await list(aksToken)).toEqual({ code: 403, reason: 'Forbidden' });
    const forbidden = fleet.frontDoor.requests.at(-1)!;
    expect(forbidden).toMatchObject({ user: `entra:${SANDBOX_API_PRINCIPAL_ID}`, status: 403 });

    // A role on another scope (another group) grants nothing here.
    await resources.resourceGroups.createOrUpdate('rg-other', { location: 'eastus' });
    await authorization.roleAssignments.create(
      `/subscriptions/${SUB}/resourceGroups/rg-other`,
      '0f0e0d0c-0b0a-4909-8807-060504030201',
      { roleDefinitionId, principalId: SANDBOX_API_PRINCIPAL_ID, principalType: 'ServicePrincipal' },
    );
    const name = '11111111-2222-4333-8444-555555555555';
    const assigned = await authorization.roleAssignments.create(id, name, {
      roleDefinitionId,
      principalId: SANDBOX_API_PRINCIPAL_ID,
      principalType: 'ServicePrincipal',
    });
    expect(assigned).toMatchObject({ name, scope: id, principalId: SANDBOX_API_PRINCIPAL_ID });
    // Not yet in effect: Azure RBAC for Kubernetes sees it after its propagation.
    expect(await list(aksToken)).toEqual({ code: 403, reason: 'Forbidden' });
    clock.advanceBy(DEFAULT_DURATIONS.roleAssignmentPropagation);
    const fresh = await issueToken({ aud: AKS_SERVER_APP_ID }, clock.now());
    expect(await list(fresh)).toBe('ok');
  });

  it("is reached by a kept agent that trusts the cluster's CA and no other", async () => {
    const id = await createCluster('aks-e', ENTRA);
    const token = await issueToken({ aud: AKS_SERVER_APP_ID }, clock.now());
    const through = (caPem: string) =>
      kubeClients({
        name: 'aks-e',
        server: fleet.serverFor(id.toLowerCase()),
        token,
        agent: clusterAgent(Buffer.from(caPem).toString('base64')),
      }).core.listNamespace();
    // Reached (the API server answers: no role yet), over a connection that verified the server.
    expect(await outcome(through(fleet.frontDoor.caPem))).toEqual({ code: 403, reason: 'Forbidden' });
    const stranger = (await SandboxPki.create()).caPem;
    await expect(through(stranger)).rejects.toMatchObject({
      // A verification failure (both CAs carry the same name: the signature is what fails).
      code: expect.stringMatching(
        /^(CERT_SIGNATURE_FAILURE|UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN)$/,
      ),
    });
  });

  it('forbids with the Status AKS sends', async () => {
    const id = await createCluster('aks-e', ENTRA);
    const kube = kubeClients({
      name: 'aks-e',
      server: fleet.serverFor(id.toLowerCase()),
      caData: Buffer.from(fleet.frontDoor.caPem).toString('base64'),
      token: await issueToken({ aud: AKS_SERVER_APP_ID }, clock.now()),
    });
    const error = await kube.core.readNamespace({ name: 'kube-system' }).catch((e: unknown) => e);
    expect(JSON.parse((error as { body: string }).body)).toMatchObject({
      kind: 'Status',
      status: 'Failure',
      reason: 'Forbidden',
      code: 403,
      message: expect.stringMatching(
        /^namespaces is forbidden: User ".+" cannot get resource "namespaces" in API group "" at the cluster scope: User does not have access to the resource in Azure\./,
      ),
    });
  });
});

describe('role assignments', () => {
  it('are idempotent by name, one per principal, role and scope (409 RoleAssignmentExists), and go with their group', async () => {
    const id = await createCluster('aks-e', ENTRA);
    const body = {
      roleDefinitionId,
      principalId: SANDBOX_API_PRINCIPAL_ID,
      principalType: 'ServicePrincipal' as const,
    };
    const name = '11111111-2222-4333-8444-555555555555';
    await authorization.roleAssignments.create(id, name, body);
    await authorization.roleAssignments.create(id, name, body);
    await expect(
      authorization.roleAssignments.create(id, '99999999-2222-4333-8444-555555555555', body),
    ).rejects.toMatchObject({ statusCode: 409, code: 'RoleAssignmentExists' });
    await expect(authorization.roleAssignments.create(id, 'not-a-guid', body)).rejects.toMatchObject({
      statusCode: 400,
    });
    expect((await authorization.roleAssignments.get(id, name)).principalId).toBe(SANDBOX_API_PRINCIPAL_ID);

    const deletion = await resources.resourceGroups.beginDelete('rg-a', { updateIntervalInMs: 0 });
    clock.advanceBy(DEFAULT_DURATIONS.rgDelete + DEFAULT_DURATIONS.aksDelete);
    await deletion.pollUntilDone();
    expect(arm.inventory().filter((r) => r.type === 'Microsoft.Authorization/roleAssignments')).toEqual([]);
    // Gone for good: the same grant under another name is no longer a twin.
    await resources.resourceGroups.createOrUpdate('rg-a', { location: 'eastus' });
    const again = await createCluster('aks-e', ENTRA);
    await expect(
      authorization.roleAssignments.create(again, '99999999-2222-4333-8444-555555555555', body),
    ).resolves.toMatchObject({ principalId: SANDBOX_API_PRINCIPAL_ID });
  });

  it('on the subscription reach every cluster in it, and a deleted one grants nothing', async () => {
    const id = await createCluster('aks-e', ENTRA);
    const list = async () =>
      outcome(
        kubeClients({
          name: 'aks-e',
          server: fleet.serverFor(id.toLowerCase()),
          caData: Buffer.from(fleet.frontDoor.caPem).toString('base64'),
          token: await issueToken({ aud: AKS_SERVER_APP_ID }, clock.now()),
        }).core.listNamespace(),
      );
    const scope = `/subscriptions/${SUB}`;
    const name = '21111111-2222-4333-8444-555555555555';
    await authorization.roleAssignments.create(scope, name, {
      roleDefinitionId,
      principalId: SANDBOX_API_PRINCIPAL_ID,
      principalType: 'ServicePrincipal',
    });
    clock.advanceBy(DEFAULT_DURATIONS.roleAssignmentPropagation);
    expect(await list()).toBe('ok');
    await authorization.roleAssignments.delete(scope, name);
    expect(await list()).toEqual({ code: 403, reason: 'Forbidden' });
  });
});
