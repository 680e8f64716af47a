/**
 * The Kubernetes activities with the real @kubernetes/client-node against the simulated API server, reached
 * with an Entra ID token at the server and CA the simulated AKS returns: the staged apply, the Job readiness check, and what
 * the activities see of a stopped cluster.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { createKubernetesActivities, platformObjects } from '../../src/activities/kubernetes.js';
import { createProgressActivities } from '../../src/activities/progress.js';
import { kubeClients, type KubeClients } from '../../src/kube/client.js';
import { aksTokenSource, type TokenSource } from '../../src/kube/token.js';
import { applyStages } from '../../src/platform/apply.js';
import { APPLY_STAGES, type ApplyStage } from '../../src/platform/steps.js';
import type { PlatformRecord } from '../../src/platform/types.js';
import { answerOf, startActivitySandbox, type ActivitySandbox } from '../support/activities.js';
import { TEMPLATES } from '../support/manifests.js';

let sandbox: ActivitySandbox;
let record: PlatformRecord;

beforeEach(async () => {
  sandbox = await startActivitySandbox();
  record = await sandbox.platform();
  // The apply reads the cluster's admin kubeconfig and the storage account's key from ARM.
  for (const kind of ['aksCluster', 'storageAccount'] as const)
    answerOf(await sandbox.activities.beginAzureResource({ platformId: record.id, kind }));
  sandbox.settle();
  await sandbox.grantClusterAccess(record);
});

const refOf = (o: { kind?: string; metadata?: { name?: unknown; namespace?: unknown } }) =>
  `${o.kind} ${String(o.metadata?.namespace ?? '')}/${String(o.metadata?.name)}`;
const stored = () => new Set(sandbox.kube.inventory({ includeSystem: false }).map(refOf));
const apply = (stage: ApplyStage) =>
  sandbox.activities.applyPlatformManifests({ platformId: record.id, stage });

/** The objects of each stage, as the activity cuts the platform's objects (secret values do not matter here). */
async function expectedStages() {
  const stages = applyStages(
    await platformObjects(
      record,
      async () => '',
      async () => '',
      TEMPLATES,
    ),
  );
  return new Map(stages.map((s) => [s.stage, s.objects.map(refOf).sort()]));
}

describe('applyPlatformManifests', () => {
  const WAITS_FOR: Record<ApplyStage, RegExp | undefined> = {
    database: /^database-setup$/,
    migration: /^open-webui-migrate-/,
    workloads: undefined,
  };

  it.each(APPLY_STAGES.map((s, index) => [s.stage, index] as const))(
    "stage '%s' applies exactly its own objects and reports the Job to wait for",
    async (stage, index) => {
      for (const earlier of APPLY_STAGES.slice(0, index)) answerOf(await apply(earlier.stage));
      const expected = (await expectedStages()).get(stage)!;
      const before = stored();

      const answer = answerOf(await apply(stage));

      const added = [...stored()].filter((r) => !before.has(r)).sort();
      expect(added).toEqual(expected);
      expect(answer.applied).toBe(expected.length);
      const waitFor = WAITS_FOR[stage];
      if (waitFor) {
        expect(answer.waitFor).toEqual({ namespace: 'llm', name: expect.stringMatching(waitFor) });
        expect(added).toContain(`Job llm/${answer.waitFor!.name}`);
      } else expect(answer.waitFor).toBeUndefined();
    },
  );

  it('an unknown stage is refused for good (not retried) and applies nothing', async () => {
    const before = stored();
    expect(await apply('nonsense' as ApplyStage)).toMatchObject({
      ok: false,
      kind: 'invalid',
      code: 'UnknownApplyStage',
      message: expect.stringContaining("no apply stage 'nonsense'"),
    });
    expect(stored()).toEqual(before);
  });
});

describe("checkPlatformReadiness 'job'", () => {
  it('reports a failed Job as a failure with its reason', async () => {
    const job = answerOf(await apply('database')).waitFor!;
    sandbox.kube.failJob(job.namespace, job.name, 'psql: could not connect to server');
    // Its pods run (and fail) before Kubernetes gives up on the Job.
    sandbox.clock.advanceBy(10 * 60_000);

    expect(
      await sandbox.activities.checkPlatformReadiness({ platformId: record.id, check: 'job', job }),
    ).toEqual({
      ok: false,
      kind: 'invalid',
      code: 'BackoffLimitExceeded',
      message: expect.stringContaining(`Job ${job.name} failed`),
    });
  });

  it('reports a running Job as not ready, and a completed one as ready', async () => {
    const job = answerOf(await apply('database')).waitFor!;
    const check = () =>
      sandbox.activities.checkPlatformReadiness({ platformId: record.id, check: 'job', job });
    expect(answerOf(await check())).toMatchObject({ ready: false });
    sandbox.clock.advanceBy(10 * 60_000);
    expect(answerOf(await check())).toMatchObject({ ready: true });
  });
});

describe("checkPlatformReadiness 'endpoints'", () => {
  it("waits for the HTTPS entry's load balancer IP, then gives the stable HTTPS host, never an address", async () => {
    const check = () =>
      sandbox.activities.checkPlatformReadiness({ platformId: record.id, check: 'endpoints' });
    // Not applied yet: the entry's Service is not there, which the flow waits out.
    expect(await check()).toMatchObject({ ok: false, kind: 'notFound' });
    for (const { stage } of APPLY_STAGES) answerOf(await apply(stage));
    expect(answerOf(await check())).toMatchObject({ ready: false });
    expect(answerOf(await check())).not.toHaveProperty('endpoints');

    sandbox.clock.advanceBy(10 * 60_000);
    const ready = answerOf(await check());
    const host = `llm-${record.names.aksDnsPrefix}.${record.spec.location}.cloudapp.azure.com`;
    expect(ready).toMatchObject({ ready: true, detail: expect.stringContaining(host) });
    expect(ready.endpoints).toEqual({ 'open-webui': `https://${host}`, grafana: `https://${host}/grafana/` });
    // The one public Service is the entry, on 443 only: Open WebUI and Grafana have none of their own.
    const core = (await adminClients()).core;
    const exposed = (await core.listServiceForAllNamespaces()).items.filter(
      (s) => s.spec?.type === 'LoadBalancer' || s.spec?.type === 'NodePort',
    );
    expect(exposed.map((s) => [s.metadata?.name, s.spec?.ports?.map((p) => p.port)])).toEqual([
      ['https-entry', [443]],
    ]);
  });
});

/**
 * A stopped AKS cluster has no control plane: its API server does not answer until it is started again
 * (start-stop-cluster.md; ManagedClusters_Stop in the 2026-04-01 spec). The simulated ARM's stop and start
 * drive the simulated API server.
 */
const power = (action: 'stop' | 'start') =>
  sandbox.activities.beginAksClusterPower({ platformId: record.id, action });

/** The simulated API server itself (no AKS in front: a test's view, bypassing authentication). */
function adminClients(): KubeClients {
  return kubeClients(sandbox.kube.kubeconfig());
}

const powerState = async () =>
  (await sandbox.clients.aks.managedClusters.get(record.names.resourceGroup, record.names.aksCluster))
    .powerState?.code;

describe('the API server of a stopped AKS cluster', () => {
  it('does not answer while stopped or starting, and answers with its objects (pods restarted) after the start', async () => {
    answerOf(await sandbox.activities.applyPlatformManifests({ platformId: record.id, stage: 'database' }));
    answerOf(await power('stop'));
    sandbox.settle();
    expect(await powerState()).toBe('Stopped');

    // ARM still hands out the credentials (they are stored with the cluster); the address does not answer.
    const kube = await adminClients();
    await expect(kube.core.listNode()).rejects.toMatchObject({ type: 'system', code: 'ECONNRESET' });

    answerOf(await power('start'));
    await expect(kube.core.listNode()).rejects.toMatchObject({ code: 'ECONNRESET' });
    sandbox.settle();

    const nodes = (await (await adminClients()).core.listNode()).items;
    expect(nodes.length).toBeGreaterThan(0);
    // Objects come back from etcd; the pods restart with the cluster, so none is ready right after.
    expect(sandbox.kube.get('v1', 'Namespace', 'llm')).toBeDefined();
    const pods = sandbox.kube.pods();
    expect(pods.length).toBeGreaterThan(0);
    for (const pod of pods)
      expect(
        (pod.status as { conditions?: { type: string; status: string }[] }).conditions?.find(
          (c) => c.type === 'Ready',
        )?.status,
      ).not.toBe('True');
  });

  it('makes the probe and the readiness checks fail at once with the stopped cluster named, and wait while it starts', async () => {
    answerOf(await sandbox.activities.checkPlatformReadiness({ platformId: record.id, check: 'nodes' }));
    answerOf(await power('stop'));
    sandbox.settle();

    const stopped = {
      ok: false,
      kind: 'conflict',
      code: 'ClusterStopped',
      message: expect.stringContaining(`AKS cluster '${record.names.aksCluster}' is stopped`),
    };
    expect(await sandbox.activities.probeOllama({ platformId: record.id })).toEqual(stopped);
    expect(
      await sandbox.activities.checkPlatformReadiness({ platformId: record.id, check: 'nodes' }),
    ).toEqual(stopped);

    // Starting: AKS reports Running, the API server is not up yet: a readiness gate waits (transient).
    answerOf(await power('start'));
    expect(
      await sandbox.activities.checkPlatformReadiness({ platformId: record.id, check: 'nodes' }),
    ).toMatchObject({ ok: false, kind: 'transient', code: 'ApiServerUnreachable' });

    // Each failure dropped the cached address: the next call reads the user kubeconfig again.
    sandbox.settle();
    const reads = () => sandbox.arm.requests.filter((r) => /listclusterusercredential/i.test(r.path)).length;
    const before = reads();
    answerOf(await sandbox.activities.checkPlatformReadiness({ platformId: record.id, check: 'nodes' }));
    expect(reads()).toBe(before + 1);
  });
});

describe('provisioning a platform whose cluster is stopped (a retry)', () => {
  it('starts the cluster and follows the start like a creation, instead of waiting on a silent API server', async () => {
    answerOf(await power('stop'));
    sandbox.settle();

    const begun = answerOf(
      await sandbox.activities.beginAzureResource({ platformId: record.id, kind: 'aksCluster' }),
    );
    expect(begun).toMatchObject({ mutated: true, operationUrl: expect.any(String) });
    expect(sandbox.arm.operations()).toEqual([expect.objectContaining({ kind: 'aks.start' })]);

    sandbox.settle();
    expect(await powerState()).toBe('Running');
    expect(
      answerOf(await sandbox.activities.getArmOperationStatus({ operationUrl: begun.operationUrl! })),
    ).toMatchObject({ status: 'Succeeded' });
    answerOf(await sandbox.activities.checkPlatformReadiness({ platformId: record.id, check: 'nodes' }));
    // Running again: nothing more to send.
    expect(
      answerOf(await sandbox.activities.beginAzureResource({ platformId: record.id, kind: 'aksCluster' })),
    ).toEqual({ provisioningState: 'Succeeded', mutated: false });
  });
});

describe('the GPU tier: releaseGpuTier and startOllama', () => {
  it('a wake under way keeps its platform from the sweep; a wake that failed leaves the tier released', async () => {
    const since = new Date(sandbox.clock.now()).toISOString();
    const progress = createProgressActivities({
      registry: sandbox.registry,
      now: () => new Date(sandbox.clock.now()),
    });
    const candidate = async () =>
      (await progress.listSweepCandidates({ at: since })).find((c) => c.platformId === record.id);
    await sandbox.registry.update(record.id, (r) => ({
      ...r,
      phase: 'Ready',
      gpu: { state: 'waking', since },
    }));
    expect((await candidate())?.gpu).toBe('waking');
    await sandbox.registry.update(record.id, (r) => ({
      ...r,
      gpu: { state: 'waking', since, error: 'quota: no spot capacity' },
    }));
    expect((await candidate())?.gpu).toBe('released');
  });

  const replicas = () =>
    (sandbox.kube.get('apps/v1', 'StatefulSet', 'ollama', 'llm') as { spec?: { replicas?: number } }).spec
      ?.replicas;
  const ollamaPods = () =>
    sandbox.kube
      .pods('llm')
      .filter((p) => /^ollama-\d+$/.test(String((p.metadata as { name?: string }).name)));
  const gpuNodes = async () => (await adminClients().core.listNode({ labelSelector: 'gpu=true' })).items;

  const minReplicaCount = () =>
    (
      sandbox.kube.get('keda.sh/v1alpha1', 'ScaledObject', 'ollama', 'llm') as {
        spec: { minReplicaCount: number };
      }
    ).spec.minReplicaCount;
  /** Who wrote Ollama's replica count last (the managedFields entry owning spec.replicas). */
  const replicasOwners = () =>
    (
      (
        sandbox.kube.get('apps/v1', 'StatefulSet', 'ollama', 'llm') as {
          metadata: {
            managedFields?: { manager: string; fieldsV1?: { 'f:spec'?: Record<string, unknown> } }[];
          };
        }
      ).metadata.managedFields ?? []
    )
      .filter((m) => m.fieldsV1?.['f:spec']?.['f:replicas'] !== undefined)
      .map((m) => m.manager);

  it("lets KEDA take Ollama to zero (the ScaledObject's minimum 0, never a replica count of ours), the GPU node is released; startOllama brings one back", async () => {
    for (const { stage } of APPLY_STAGES) answerOf(await apply(stage));
    sandbox.clock.advanceBy(10 * 60_000);
    expect(ollamaPods()).toHaveLength(1);
    const [node] = await gpuNodes();
    // A platform another flow has taken out of Ready (here a PATCH's update) keeps Ollama as it is.
    await sandbox.registry.update(record.id, (r) => ({ ...r, phase: 'Updating' }));
    expect(await sandbox.activities.releaseGpuTier({ platformId: record.id })).toMatchObject({
      ok: false,
      kind: 'conflict',
      code: 'NotReady',
    });
    expect(replicas()).toBe(1);
    expect((await sandbox.registry.get(record.id))?.gpu).toBeUndefined();
    await sandbox.registry.update(record.id, (r) => ({ ...r, phase: 'Ready' }));

    expect(answerOf(await sandbox.activities.releaseGpuTier({ platformId: record.id }))).toEqual({
      replicas: 0,
    });
    expect((await sandbox.registry.get(record.id))?.gpu).toEqual({
      state: 'released',
      since: new Date(sandbox.clock.now()).toISOString(),
    });
    // KEDA polls every 15 s: no trigger is active (nothing held, no GPU memory in use), so Ollama goes to
    // zero and stays there; KEDA is the one writer of its replicas.
    expect(minReplicaCount()).toBe(0);
    for (let i = 0; i < 8; i++) {
      sandbox.clock.advanceBy(15_000);
      expect(ollamaPods()).toEqual([]);
    }
    expect(replicas()).toBe(0);
    expect(replicasOwners()).toEqual(['keda-operator']);
    // Nothing requests the GPU: the autoscaler releases the node after its unneeded time, deallocated.
    sandbox.clock.advanceBy(10 * 60_000);
    expect(await gpuNodes()).toEqual([]);
    expect(sandbox.kube.deallocatedNodes('gput4')).toBe(1);

    // Released already: refused, the record is not changed.
    const released = (await sandbox.registry.get(record.id))?.gpu;
    expect(await sandbox.activities.releaseGpuTier({ platformId: record.id })).toMatchObject({ ok: false });
    expect((await sandbox.registry.get(record.id))?.gpu).toEqual(released);
    await sandbox.registry.update(record.id, (r) => ({ ...r, phase: 'Stopping', gpu: undefined }));

    expect(answerOf(await sandbox.activities.startOllama({ platformId: record.id }))).toEqual({
      replicas: 1,
    });
    expect(answerOf(await sandbox.activities.startOllama({ platformId: record.id }))).toEqual({
      replicas: 1,
    });
    expect(minReplicaCount()).toBe(1);
    // KEDA's next poll (every 15 s) brings Ollama back from zero; the pod waits for the GPU node.
    sandbox.clock.advanceBy(15_000);
    await gpuNodes();
    expect(replicas()).toBe(1);
    sandbox.clock.advanceBy(5 * 60_000);
    // The deallocated node started again, under its name, and Ollama runs on it.
    expect((await gpuNodes()).map((n) => n.metadata?.name)).toEqual([node?.metadata?.name]);
    const [pod] = ollamaPods();
    expect((pod?.status as { phase?: string } | undefined)?.phase).toBe('Running');
    expect(replicas()).toBe(1);
  });
});

/**
 * What a worker keeps per cluster: the address and CA from listClusterUserCredential and a keep-alive
 * connection. AKS allows the credential POSTs one a second per subscription and region after a burst of 60
 * (azure-real-behaviours §3.2), so a warm call must not read them again; a kept entry the cluster refuses
 * is replaced within the same call.
 */
describe('the connection kept per cluster', () => {
  const credentialReads = () =>
    sandbox.arm.requests.filter((r) => /listclusterusercredential/i.test(r.path)).length;
  const nodes = () => sandbox.activities.checkPlatformReadiness({ platformId: record.id, check: 'nodes' });

  it('serves warm calls without a credential read or a new TLS connection, whatever time passed', async () => {
    answerOf(await nodes());
    const reads = credentialReads();
    const connections = sandbox.frontDoor.connections;
    for (let i = 0; i < 3; i++) {
      // Longer than a sweep's period: nothing kept expires by time.
      sandbox.clock.advanceBy(15 * 60_000);
      answerOf(await nodes());
    }
    expect(credentialReads()).toBe(reads);
    expect(sandbox.frontDoor.connections).toBe(connections);
  });

  it('follows a cluster deleted and created again under the same name (a new FQDN) within one call', async () => {
    // AKS quicker than usual here: the new cluster answers long before anything kept could have aged.
    sandbox = await startActivitySandbox({ durations: { aksCreate: 60_000, aksDelete: 60_000 } });
    record = await sandbox.platform();
    answerOf(await sandbox.activities.beginAzureResource({ platformId: record.id, kind: 'aksCluster' }));
    sandbox.settle();
    await sandbox.grantClusterAccess(record);
    answerOf(await nodes());
    const before = await sandbox.clients.aks.managedClusters.get(
      record.names.resourceGroup,
      record.names.aksCluster,
    );
    const deletion = await sandbox.clients.aks.managedClusters.beginDelete(
      record.names.resourceGroup,
      record.names.aksCluster,
      { updateIntervalInMs: 0 },
    );
    sandbox.settle();
    await deletion.pollUntilDone();
    answerOf(await sandbox.activities.beginAzureResource({ platformId: record.id, kind: 'aksCluster' }));
    sandbox.settle();
    const after = await sandbox.clients.aks.managedClusters.get(
      record.names.resourceGroup,
      record.names.aksCluster,
    );
    expect(after.fqdn).not.toBe(before.fqdn);

    // The kept address reaches nothing now; the call reads the credential again and answers.
    const reads = credentialReads();
    answerOf(await nodes());
    expect(credentialReads()).toBe(reads + 1);
    answerOf(await nodes());
    expect(credentialReads()).toBe(reads + 1);
  });

  it('replaces a token the API server refuses (401), and the entry, within one call', async () => {
    // The activities of one worker whose kept token the API server stops accepting (revoked, say).
    const real = aksTokenSource(sandbox.credential, () => new Date(sandbox.clock.now()));
    let refused = false;
    const tokens: TokenSource = {
      token: async () => (refused ? 'revoked' : real.token()),
      drop: () => {
        refused = false;
        real.drop();
      },
    };
    const worker = createKubernetesActivities({
      clients: sandbox.pool,
      registry: sandbox.registry,
      kube: kubeClients,
      tokens,
      now: () => new Date(sandbox.clock.now()),
      templates: TEMPLATES,
    });
    answerOf(await worker.checkPlatformReadiness({ platformId: record.id, check: 'nodes' }));
    refused = true;
    answerOf(await worker.checkPlatformReadiness({ platformId: record.id, check: 'nodes' }));
    expect(sandbox.frontDoor.requests.slice(-2).map((r) => r.status)).toEqual([401, 200]);
  });
});
