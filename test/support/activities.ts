/**
 * The activity factories wired as the composition root wires them: the real SDK clients (ARM, Key Vault,
 * Kubernetes) over HTTP to the simulated ARM, Key Vault and Kubernetes API server, all on one virtual
 * clock, and the real table registry on the run's Azurite. Only the transport and the credential differ
 * from production; nothing inside a client is replaced.
 */
import { randomBytes } from 'node:crypto';
import { expect, inject, onTestFinished } from 'vitest';
import type { ActivityHandlers, ActivityName, Result } from '../../src/activities/contract.js';
import { createAccessActivities } from '../../src/activities/access.js';
import { createAzureActivities } from '../../src/activities/azure.js';
import { createKubernetesActivities } from '../../src/activities/kubernetes.js';
import { createPostgresActivities } from '../../src/activities/postgres.js';
import { createSecretActivities } from '../../src/activities/secrets.js';
import { createAzureClientPool, type AzureClientPool, type AzureClients } from '../../src/azure/clients.js';
import { kubeClients } from '../../src/kube/client.js';
import { aksTokenSource } from '../../src/kube/token.js';
import type { MaintenanceWindow } from '../../src/platform/maintenance.js';
import { derivePlatformNames } from '../../src/platform/naming.js';
import type { PlatformRecord } from '../../src/platform/types.js';
import { createTableRegistry, type Registry } from '../../src/registry/registry.js';
import {
  DEFAULT_DURATIONS,
  SimulatedArm,
  type ArmRequestRecord,
  type SimulatedArmOptions,
} from '../../sandbox/azure/arm.js';
import { SANDBOX_API_PRINCIPAL_ID, sandboxCredentialOn } from '../../sandbox/azure/entra.js';
import { simulatedAzureHttpClient } from '../../sandbox/azure/forwarding-client.js';
import { SimulatedKeyVault, type SimulatedKeyVaultOptions } from '../../sandbox/azure/keyvault.js';
import { VirtualClock } from '../../sandbox/clock.js';
import { SimulatedKubernetes } from '../../sandbox/kube/apiserver.js';
import { AksFrontDoor } from '../../sandbox/kube/front-door.js';
import { makeRecord } from './records.js';
import { TEMPLATES } from './manifests.js';

/** The window the activities write (not the default, so a test sees it is the setting's). */
export const MAINTENANCE_WINDOW: MaintenanceWindow = {
  day: 'Saturday',
  startTime: '22:30',
  durationHours: 6,
};

// @azure/arm-postgresql-flexible validates the subscription id as a UUID on the client side.
export const SUBSCRIPTION_ID = '3f1d2c4b-5a69-4788-9a0b-1c2d3e4f5a6b';

type WiredActivity = Exclude<
  ActivityName,
  | 'recordProgress'
  | 'getPlatformSpec'
  | 'getLastStopTime'
  | 'listSweepCandidates'
  | 'requestPlatformStop'
  | 'requestPlatformStart'
  | 'admitQueuedPlatforms'
>;

export interface ActivitySandbox {
  clock: VirtualClock;
  arm: SimulatedArm;
  keyVault: SimulatedKeyVault;
  /** The one cluster every AKS kubeconfig of this sandbox points at (behind `frontDoor`). */
  kube: SimulatedKubernetes;
  /** The HTTPS listener in front of it that authenticates and authorizes as AKS does. */
  frontDoor: AksFrontDoor;
  /** The credential of the Azure clients and the Kubernetes activities (it records what it issued). */
  credential: ReturnType<typeof sandboxCredentialOn>;
  /** The default subscription's clients. */
  clients: AzureClients;
  /** The clients of every subscription the simulated ARM serves, as the activities have them. */
  pool: AzureClientPool;
  registry: Registry;
  activities: ActivityHandlers<WiredActivity>;
  /** Registers a freshly requested platform (names derived for this subscription) and returns its record. */
  register(id: string, overrides?: Partial<PlatformRecord>): Promise<PlatformRecord>;
  /**
   * A registered platform (a fresh id) with its resource group and generated secrets, as provisioning has
   * it before it creates the resources of the table.
   */
  platform(overrides?: Partial<PlatformRecord>): Promise<PlatformRecord>;
  /**
   * Grants the API's identity its role on the platform's cluster (ensureClusterAccess) and moves the clock
   * past the role assignment's propagation, as provisioning has it before the in-cluster half.
   */
  grantClusterAccess(record: PlatformRecord): Promise<void>;
  /** Moves the clock to the end of every ARM operation running now (and of those their ends start). */
  settle(): void;
  /** ARM requests from index `from` on that changed or could change something (no reads, no list*). */
  armWrites(from?: number): ArmRequestRecord[];
}

/**
 * Starts a sandbox for the current test (from a test or its beforeEach); it is closed when the test ends,
 * which also fails the test if the simulated ARM itself threw.
 */
export async function startActivitySandbox(
  arm: Partial<Omit<SimulatedArmOptions, 'clock' | 'subscriptionId'>> = {},
  keyVaultOptions: Omit<SimulatedKeyVaultOptions, 'clock'> = {},
): Promise<ActivitySandbox> {
  const clock = new VirtualClock();
  // KEDA on: the platform's AKS body turns the managed add-on on (workloadAutoScalerProfile.keda).
  const kube = new SimulatedKubernetes({ clock, keda: true });
  await kube.listen();
  const frontDoor: AksFrontDoor = new AksFrontDoor(clock, async () => kube, {
    access: (key) => simulatedArm.access(key),
    mayUseKubernetes: (key, principal) => simulatedArm.mayUseKubernetes(key, principal),
    fqdn: (key) => simulatedArm.fqdn(key),
  });
  await frontDoor.listen();
  const simulatedArm: SimulatedArm = new SimulatedArm({
    clock,
    subscriptionId: SUBSCRIPTION_ID,
    // Retry-After 0: the SDK never sleeps in real time (a test that is about Retry-After sets its own).
    retryAfterSeconds: 0,
    kubeAccess: frontDoor,
    ...arm,
  });
  const armBase = await simulatedArm.listen();
  // The one API server follows the power of the cluster created last (a stopped cluster's does not answer).
  kube.followPower(() => simulatedArm.aksApiServer());
  const keyVault = new SimulatedKeyVault(undefined, { clock, ...keyVaultOptions });
  const keyVaultBase = await keyVault.listen();
  const credential = sandboxCredentialOn(clock);
  const pool = createAzureClientPool({
    subscriptionId: SUBSCRIPTION_ID,
    keyVaultUrl: keyVault.vaultUrl,
    credential,
    httpClient: simulatedAzureHttpClient({ keyVaultUrl: keyVault.vaultUrl, keyVaultBase, armBase }),
  });
  const registry = createTableRegistry(
    inject('azuriteConnection'),
    `activities${randomBytes(6).toString('hex')}`,
  );
  const now = () => new Date(clock.now());
  let platforms = 0;
  const register = (id: string, overrides: Partial<PlatformRecord> = {}) =>
    registry.create(makeRecord(id, { names: derivePlatformNames(SUBSCRIPTION_ID, id), ...overrides }));
  const activities: ActivityHandlers<WiredActivity> = {
    ...createAzureActivities({ clients: pool, registry, maintenanceWindow: MAINTENANCE_WINDOW }),
    ...createPostgresActivities({ clients: pool, registry }),
    ...createSecretActivities({ clients: pool, registry }),
    ...createAccessActivities({
      clients: pool,
      registry,
      principalId: async () => SANDBOX_API_PRINCIPAL_ID,
    }),
    ...createKubernetesActivities({
      clients: pool,
      registry,
      kube: kubeClients,
      tokens: aksTokenSource(credential, now),
      now,
      templates: TEMPLATES,
    }),
  };
  onTestFinished(async () => {
    await Promise.all([simulatedArm.close(), keyVault.close(), kube.close(), frontDoor.close()]);
    expect(simulatedArm.internalErrors).toEqual([]);
  });
  return {
    clock,
    arm: simulatedArm,
    keyVault,
    kube,
    frontDoor,
    credential,
    clients: pool.default,
    pool,
    registry,
    activities,
    register,
    async grantClusterAccess(record) {
      expect(await activities.ensureClusterAccess({ platformId: record.id })).toMatchObject({ ok: true });
      clock.advanceBy(DEFAULT_DURATIONS.roleAssignmentPropagation);
    },
    async platform(overrides = {}) {
      const record = await register(`plat${platforms++}`, overrides);
      expect(await activities.ensureResourceGroup({ platformId: record.id })).toMatchObject({ ok: true });
      expect(await activities.ensurePlatformSecrets({ platformId: record.id })).toMatchObject({ ok: true });
      return record;
    },
    settle() {
      for (let next = simulatedArm.nextCompletionAt(); next !== undefined;) {
        clock.advanceTo(Math.max(next, clock.now()));
        next = simulatedArm.nextCompletionAt();
      }
    },
    armWrites: (from = 0) =>
      simulatedArm.requests
        .slice(from)
        .filter((r) => r.method !== 'GET' && r.method !== 'HEAD' && !/\.list/.test(r.op ?? '')),
  };
}

/** The answer of a Result activity that must have succeeded (its failure, if not, in the message). */
export function answerOf<T>(result: Result<T>): T {
  if (!result.ok) throw new Error(`expected success, got ${result.kind} ${result.code}: ${result.message}`);
  return result.value;
}
