/**
 * The simulated Kubernetes API server driven by the real @kubernetes/client-node 1.4.0 (over HTTP), with a
 * virtual clock: discovery + server-side apply, field-manager conflicts, status simulation, the service
 * proxy to the simulated Ollama, namespaces, authentication.
 */
import {
  ApiException,
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  KubeConfig,
  KubernetesObjectApi,
  Observable,
  PatchStrategy,
  setHeaderOptions,
  type KubernetesObject,
  type ObservableMiddleware,
  type V1APIService,
  type V1DaemonSet,
  type V1Deployment,
  type V1Job,
  type V1Node,
  type V1Service,
  type V1StatefulSet,
} from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { VirtualClock } from '../../sandbox/clock.js';
import { SimulatedKubernetes } from '../../sandbox/kube/apiserver.js';
import { SimulatedOllama } from '../../sandbox/kube/ollama.js';
import { schemalessCrdVersion } from '../../sandbox/kube/resources.js';
import { devicePlugin, GPU_TOLERATIONS, ollamaStatefulSet, readObject } from '../support/kube-fixtures.js';

const FIELD_MANAGER = 'llm-platforms-api';
const TOKEN = 'sandbox-cluster-admin-token';
const GPU_NODE = 'aks-gput4-16180339-vmss000000';
const S = 1000;

/** What the platform's GPU workloads must tolerate on the spot T4 pool. */
const namespace = (name: string) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });

const redis = (image = 'redis:7.4') => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'redis', namespace: 'llm', labels: { app: 'redis' } },
  spec: {
    replicas: 1,
    selector: { matchLabels: { app: 'redis' } },
    template: {
      metadata: { labels: { app: 'redis' } },
      spec: { containers: [{ name: 'redis', image, ports: [{ containerPort: 6379 }] }] },
    },
  },
});

const job = (name: string) => ({
  apiVersion: 'batch/v1',
  kind: 'Job',
  metadata: { name, namespace: 'llm' },
  spec: {
    backoffLimit: 2,
    template: { spec: { restartPolicy: 'Never', containers: [{ name: 'run', image: 'postgres:16' }] } },
  },
});

const ollamaService = {
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'ollama', namespace: 'llm' },
  spec: { selector: { app: 'ollama' }, ports: [{ name: 'http', port: 11434, targetPort: 11434 }] },
};

let clock: VirtualClock;
let ollama: SimulatedOllama;
let sim: SimulatedKubernetes;
let kc: KubeConfig;
let client: KubernetesObjectApi;

/** Server-side apply exactly as the platform code does it. */
const apply = <T extends KubernetesObject>(object: object, manager = FIELD_MANAGER, force = true) =>
  client.patch(object as T, undefined, undefined, manager, force, PatchStrategy.ServerSideApply);

const read = readObject(() => client);

async function rejection(promise: Promise<unknown>): Promise<ApiException<unknown>> {
  try {
    await promise;
  } catch (e) {
    if (e instanceof ApiException) return e;
    throw e;
  }
  throw new Error('expected the call to fail');
}

/** Status body of a failed call (KubernetesObjectApi gives it as a JSON string). */
const statusOf = (e: ApiException<unknown>) =>
  (typeof e.body === 'string' ? JSON.parse(e.body) : e.body) as {
    kind: string;
    reason: string;
    message: string;
    code: number;
  };

beforeEach(async () => {
  clock = new VirtualClock();
  ollama = new SimulatedOllama({ clock });
  sim = new SimulatedKubernetes({ clock, token: TOKEN, ollama });
  await sim.listen();
  kc = new KubeConfig();
  kc.loadFromString(sim.kubeconfig());
  client = KubernetesObjectApi.makeApiClient(kc);
});

afterEach(async () => {
  await sim.close();
});

describe('discovery and server-side apply', () => {
  it('applies a Namespace, Deployment, LoadBalancer Service, Job, CRD + custom object and APIService', async () => {
    await apply(namespace('llm'));
    const deployment = await apply<V1Deployment>(redis());
    const service = await apply<V1Service>({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'open-webui', namespace: 'llm' },
      spec: {
        type: 'LoadBalancer',
        selector: { app: 'open-webui' },
        ports: [{ name: 'http', port: 80, targetPort: 8080 }],
      },
    });
    const created = await apply<V1Job>(job('database-setup'));
    await apply({
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'modelsets.llm.example.com' },
      spec: {
        group: 'llm.example.com',
        scope: 'Namespaced',
        names: { plural: 'modelsets', singular: 'modelset', kind: 'ModelSet' },
        versions: [schemalessCrdVersion('v1alpha1')],
      },
    });
    const custom = await apply<KubernetesObject & { spec?: { models?: string[] } }>({
      apiVersion: 'llm.example.com/v1alpha1',
      kind: 'ModelSet',
      metadata: { name: 'default', namespace: 'llm' },
      spec: { models: ['llama3.1:8b'] },
    });
    const apiService = await apply<V1APIService>({
      apiVersion: 'apiregistration.k8s.io/v1',
      kind: 'APIService',
      metadata: { name: 'v1beta1.custom.metrics.k8s.io' },
      spec: {
        service: { name: 'prometheus-adapter', namespace: 'monitoring', port: 443 },
        group: 'custom.metrics.k8s.io',
        version: 'v1beta1',
        insecureSkipTLSVerify: true,
        groupPriorityMinimum: 100,
        versionPriority: 100,
      },
    });

    expect(deployment.metadata?.uid).toBeTruthy();
    expect(deployment.metadata?.generation).toBe(1);
    expect(deployment.metadata?.managedFields?.[0]).toMatchObject({
      manager: FIELD_MANAGER,
      operation: 'Apply',
    });
    expect(service.spec?.clusterIP).toMatch(/^10\.0\./);
    expect(created.spec?.backoffLimit).toBe(2);
    expect(custom.spec?.models).toEqual(['llama3.1:8b']);
    expect(apiService.status?.conditions?.[0]).toMatchObject({
      type: 'Available',
      status: 'False',
      reason: 'ServiceNotFound',
    });

    // The client discovered each group/version once, then sent apply patches.
    const discovery = sim.requests.filter((r) => r.method === 'GET').map((r) => r.path);
    expect(discovery).toEqual(
      expect.arrayContaining([
        '/api/v1',
        '/apis/apps/v1',
        '/apis/batch/v1',
        '/apis/apiextensions.k8s.io/v1',
        '/apis/llm.example.com/v1alpha1',
      ]),
    );
    const patches = sim.requests.filter((r) => r.method === 'PATCH');
    expect(patches).toHaveLength(7);
    for (const p of patches) {
      expect(p.contentType).toBe('application/apply-patch+yaml');
      expect(p.query).toBe(`fieldManager=${FIELD_MANAGER}&force=true`);
      expect(p.status).toBe(201);
    }
    expect(sim.inventory({ includeSystem: false }).map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      'Namespace/llm',
      'Deployment/redis',
      'Service/open-webui',
      'Job/database-setup',
      'CustomResourceDefinition/modelsets.llm.example.com',
      'ModelSet/default',
      'APIService/v1beta1.custom.metrics.k8s.io',
    ]);
  });

  it('re-applying the same manifest changes nothing; a new image bumps generation and resourceVersion', async () => {
    await apply(namespace('llm'));
    const first = await apply<V1Deployment>(redis());
    clock.advanceBy(5 * S);
    const again = await apply<V1Deployment>(redis());
    expect(again.metadata?.resourceVersion).toBe(first.metadata?.resourceVersion);
    expect(again.metadata?.generation).toBe(1);
    expect(again.metadata?.managedFields?.[0]?.time).toEqual(first.metadata?.managedFields?.[0]?.time);

    clock.advanceBy(5 * S);
    const changed = await apply<V1Deployment>(redis('redis:7.4.1'));
    expect(changed.metadata?.generation).toBe(2);
    expect(Number(changed.metadata?.resourceVersion)).toBeGreaterThan(
      Number(first.metadata?.resourceVersion),
    );
    expect(changed.metadata?.managedFields?.[0]?.time).not.toEqual(first.metadata?.managedFields?.[0]?.time);
    expect(changed.spec?.template.spec?.containers[0]?.image).toBe('redis:7.4.1');
  });

  it('another field manager changing an owned field gets 409 Conflict unless it forces', async () => {
    await apply(namespace('llm'));
    await apply(redis());
    const scale = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'redis', namespace: 'llm' },
      spec: { replicas: 3 },
    };

    const error = await rejection(apply(scale, 'kubectl', false));
    expect(error.code).toBe(409);
    expect(statusOf(error)).toMatchObject({
      kind: 'Status',
      reason: 'Conflict',
      code: 409,
      // An Apply entry is named alone; Update entries add subresource, apiVersion and time (see below).
      message: `Apply failed with 1 conflict: conflict with "${FIELD_MANAGER}": .spec.replicas`,
    });

    const forced = await apply<V1Deployment>(scale, 'kubectl', true);
    expect(forced.spec?.replicas).toBe(3);
    expect(forced.spec?.template.spec?.containers[0]?.image).toBe('redis:7.4');
    expect(forced.metadata?.managedFields?.map((m) => m.manager)).toEqual([FIELD_MANAGER, 'kubectl']);
    // Now the platform's own apply (without force) conflicts with kubectl on replicas.
    expect((await rejection(apply(redis(), FIELD_MANAGER, false))).code).toBe(409);
  });

  it('rejects an apply without fieldManager, into a missing namespace, or changing an immutable Job', async () => {
    const url = `${sim.url}/apis/apps/v1/namespaces/llm/deployments/redis`;
    const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/apply-patch+yaml' };
    const noManager = await fetch(url, { method: 'PATCH', headers, body: JSON.stringify(redis()) });
    expect(noManager.status).toBe(422);
    expect(await noManager.json()).toMatchObject({
      kind: 'Status',
      reason: 'Invalid',
      message: expect.stringContaining('fieldManager'),
    });

    const noNamespace = await rejection(apply(redis()));
    expect(noNamespace.code).toBe(404);
    expect(statusOf(noNamespace).message).toBe('namespaces "llm" not found');

    await apply(namespace('llm'));
    await apply(job('model-preload'));
    const changedJob = job('model-preload');
    changedJob.spec.template.spec.containers[0]!.image = 'postgres:17';
    const immutable = await rejection(apply(changedJob));
    expect(immutable.code).toBe(422);
    expect(statusOf(immutable).message).toContain('field is immutable');
  });
});

describe('field ownership: the scale subresource and the HPA controller', () => {
  const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  const scaleTo = (name: string, replicas: number, fieldManager: string) =>
    kc
      .makeApiClient(AppsV1Api)
      .patchNamespacedDeploymentScale(
        { name, namespace: 'llm', fieldManager, body: { spec: { replicas } } },
        mergePatch,
      );
  const web = (image = 'ghcr.io/open-webui/open-webui:v0.6.34', replicas?: number) => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'llm', labels: { app: 'web' } },
    spec: {
      ...(replicas === undefined ? {} : { replicas }),
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: { containers: [{ name: 'web', image }] },
      },
    },
  });
  const autoscaler = (kind: string, name: string, min: number, max: number, metric: object) => ({
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name, namespace: 'llm' },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind, name },
      minReplicas: min,
      maxReplicas: max,
      metrics: [metric],
    },
  });
  const hpa = autoscaler('Deployment', 'web', 2, 5, {
    type: 'Resource',
    resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } },
  });
  const readWeb = () => read<V1Deployment>('apps/v1', 'Deployment', 'web', 'llm');
  const owners = (d: V1Deployment) =>
    (d.metadata?.managedFields ?? [])
      .filter((m) => (m.fieldsV1 as { 'f:spec'?: { 'f:replicas'?: object } })['f:spec']?.['f:replicas'])
      .map((m) => [m.manager, m.operation, m.subresource ?? '']);

  it('a scale by another manager takes spec.replicas: applying another count is a 409 naming it', async () => {
    await apply(namespace('llm'));
    await apply(redis(), FIELD_MANAGER, false);
    clock.advanceBy(S);
    await scaleTo('redis', 3, 'kubectl');
    const scaled = await read<V1Deployment>('apps/v1', 'Deployment', 'redis', 'llm');
    const time = new Date(clock.now()).toISOString().replace('.000Z', 'Z');
    expect(scaled.metadata?.managedFields).toContainEqual(
      expect.objectContaining({
        manager: 'kubectl',
        operation: 'Update',
        apiVersion: 'apps/v1',
        subresource: 'scale',
        fieldsV1: { 'f:spec': { 'f:replicas': {} } },
      }),
    );
    expect(owners(scaled)).toEqual([['kubectl', 'Update', 'scale']]);

    const refused = await rejection(apply(redis(), FIELD_MANAGER, false));
    const owner = `"kubectl" with subresource "scale" using apps/v1 at ${time}`;
    expect(refused.code).toBe(409);
    expect(statusOf(refused)).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      reason: 'Conflict',
      code: 409,
      message: `Apply failed with 1 conflict: conflict with ${owner}: .spec.replicas`,
      details: {
        causes: [
          { reason: 'FieldManagerConflict', message: `conflict with ${owner}`, field: '.spec.replicas' },
        ],
      },
    });
    // Several conflicts are listed per manager, managers sorted.
    const both = await rejection(
      apply(
        {
          ...redis(),
          metadata: { name: 'redis', namespace: 'llm', labels: { app: 'cache' } },
          spec: { replicas: 5 },
        },
        'ops',
        false,
      ),
    );
    expect(statusOf(both).message).toBe(
      `Apply failed with 2 conflicts: conflicts with ${owner}:\n- .spec.replicas\nconflicts with "${FIELD_MANAGER}":\n- .metadata.labels.app`,
    );

    // The same value is shared ownership; leaving replicas out leaves kubectl's count alone.
    await apply({ ...redis(), spec: { ...redis().spec, replicas: 3 } }, FIELD_MANAGER, false);
    const { replicas: _r, ...withoutReplicas } = redis('redis:7.4.2').spec;
    const applied = await apply<V1Deployment>({ ...redis(), spec: withoutReplicas }, FIELD_MANAGER, false);
    expect(applied.spec?.replicas).toBe(3);
    expect(applied.spec?.template.spec?.containers[0]?.image).toBe('redis:7.4.2');
    expect(owners(applied)).toEqual([['kubectl', 'Update', 'scale']]);
  });

  it('the HPA scales its target through the scale subresource; our applies without replicas keep its count', async () => {
    await apply(namespace('llm'));
    const created = await apply<V1Deployment>(web(), FIELD_MANAGER, false);
    // apps/v1 defaults replicas to 1, owned by nobody.
    expect(created.spec?.replicas).toBe(1);
    expect(owners(created)).toEqual([]);

    // A new HPA is synced at once: the target is raised to its minimum.
    await apply(hpa, FIELD_MANAGER, false);
    const raised = await readWeb();
    expect(raised.spec?.replicas).toBe(2);
    expect(owners(raised)).toEqual([['horizontal-pod-autoscaler', 'Update', 'scale']]);

    // Load of 140 % per pod at 2 pods: 4 pods bring it to the 70 % target, at the next sync (15 s).
    sim.setCpuUtilization('llm', 'web', 140);
    clock.advanceBy(14 * S);
    expect((await readWeb()).spec?.replicas).toBe(2);
    clock.advanceBy(S);
    expect((await readWeb()).spec?.replicas).toBe(4);
    clock.advanceBy(60 * S);
    expect((await readWeb()).spec?.replicas).toBe(4);

    // Our apply (a new image, no replicas) changes the template and leaves the HPA's count and ownership.
    const updated = await apply<V1Deployment>(
      web('ghcr.io/open-webui/open-webui:v0.6.35'),
      FIELD_MANAGER,
      false,
    );
    expect(updated.spec?.replicas).toBe(4);
    expect(owners(updated)).toEqual([['horizontal-pod-autoscaler', 'Update', 'scale']]);
    const refused = await rejection(apply(web(undefined, 2), FIELD_MANAGER, false));
    expect(refused.code).toBe(409);
    expect(statusOf(refused).message).toMatch(
      /^Apply failed with 1 conflict: conflict with "horizontal-pod-autoscaler" with subresource "scale" using apps\/v1 at .*Z: \.spec\.replicas$/,
    );

    // Scaled to zero, the target is left alone (ScalingActive False) until it is scaled up again.
    await scaleTo('web', 0, FIELD_MANAGER);
    clock.advanceBy(5 * 60 * S);
    expect((await readWeb()).spec?.replicas).toBe(0);
    const disabled = await read<
      KubernetesObject & { status?: { conditions?: object[]; desiredReplicas?: number } }
    >('autoscaling/v2', 'HorizontalPodAutoscaler', 'web', 'llm');
    expect(disabled.status?.desiredReplicas).toBe(0);
    expect(disabled.status?.conditions).toContainEqual(
      expect.objectContaining({ type: 'ScalingActive', status: 'False', reason: 'ScalingDisabled' }),
    );
    // Scaled up again, the HPA takes the count over at its next sync.
    expect((await scaleTo('web', 2, FIELD_MANAGER)).spec?.replicas).toBe(2);
    expect(owners(await readWeb())).toEqual([[FIELD_MANAGER, 'Update', 'scale']]);
    clock.advanceBy(15 * S);
    const resumed = await readWeb();
    expect(resumed.spec?.replicas).toBe(4);
    expect(owners(resumed)).toEqual([['horizontal-pod-autoscaler', 'Update', 'scale']]);
  });

  it('the HPA follows a Pods metric from custom.metrics.k8s.io and keeps its target within its bounds', async () => {
    await apply(namespace('llm'));
    await apply(ollamaService);
    await apply({ ...ollamaStatefulSet, spec: { ...ollamaStatefulSet.spec, replicas: 3 } });
    await apply(
      autoscaler('StatefulSet', 'ollama', 1, 2, {
        type: 'Pods',
        pods: {
          metric: { name: 'gpu_memory_utilization' },
          target: { type: 'AverageValue', averageValue: '60' },
        },
      }),
    );
    // Above its maximum: brought down at once, without any metric.
    const ss = () => read<V1StatefulSet>('apps/v1', 'StatefulSet', 'ollama', 'llm');
    expect((await ss()).spec?.replicas).toBe(2);
  });
});

describe('status simulation on a virtual clock', () => {
  beforeEach(async () => {
    await apply(namespace('llm'));
  });

  it('a Deployment becomes ready only after the clock moves past the readiness delay', async () => {
    await apply(redis());
    const apps = kc.makeApiClient(AppsV1Api);
    const at0 = await apps.readNamespacedDeployment({ name: 'redis', namespace: 'llm' });
    expect(at0.status?.readyReplicas).toBeUndefined();
    expect(at0.status?.conditions?.find((c) => c.type === 'Available')?.status).toBe('False');

    clock.advanceBy(59 * S);
    expect(
      (await apps.readNamespacedDeployment({ name: 'redis', namespace: 'llm' })).status?.readyReplicas,
    ).toBeUndefined();

    clock.advanceBy(2 * S);
    const ready = await apps.readNamespacedDeployment({ name: 'redis', namespace: 'llm' });
    expect(ready.status).toMatchObject({
      observedGeneration: 1,
      readyReplicas: 1,
      availableReplicas: 1,
      updatedReplicas: 1,
    });
    expect(ready.status?.conditions?.find((c) => c.type === 'Available')?.status).toBe('True');

    // A new image: controllers report it a moment later; the old pod keeps serving during the rollout.
    await apply(redis('redis:7.4.1'));
    const rollingOut = await apps.readNamespacedDeployment({ name: 'redis', namespace: 'llm' });
    expect(rollingOut.status?.observedGeneration).toBe(1);
    clock.advanceBy(2 * S);
    const observed = await apps.readNamespacedDeployment({ name: 'redis', namespace: 'llm' });
    expect(observed.status).toMatchObject({ observedGeneration: 2, readyReplicas: 1 });
    expect(observed.status?.conditions?.find((c) => c.type === 'Progressing')?.reason).toBe(
      'ReplicaSetUpdated',
    );
  });

  it('a Job completes; a Job set to fail fails with BackoffLimitExceeded', async () => {
    sim.failJob(
      'llm',
      'database-setup',
      'psql: error: connection to server failed: FATAL: password authentication failed',
    );
    await apply(job('model-preload'));
    await apply(job('database-setup'));
    const batch = kc.makeApiClient(BatchV1Api);

    clock.advanceBy(10 * S);
    expect((await batch.readNamespacedJob({ name: 'model-preload', namespace: 'llm' })).status).toMatchObject(
      { active: 1 },
    );

    clock.advanceBy(25 * S);
    const done = await batch.readNamespacedJob({ name: 'model-preload', namespace: 'llm' });
    expect(done.status?.succeeded).toBe(1);
    expect(done.status?.conditions?.map((c) => c.type)).toEqual(['SuccessCriteriaMet', 'Complete']);

    const failed = await batch.readNamespacedJob({ name: 'database-setup', namespace: 'llm' });
    expect(failed.status?.failed).toBe(3);
    expect(failed.status?.conditions?.find((c) => c.type === 'Failed')).toMatchObject({
      status: 'True',
      reason: 'BackoffLimitExceeded',
    });

    // The pod's log carries the error, as `kubectl logs job/database-setup` would show.
    const core = kc.makeApiClient(CoreV1Api);
    const pods = await core.listNamespacedPod({ namespace: 'llm', labelSelector: 'job-name=database-setup' });
    expect(pods.items).toHaveLength(1);
    expect(pods.items[0]?.status?.phase).toBe('Failed');
    const log = await core.readNamespacedPodLog({ name: pods.items[0]!.metadata!.name!, namespace: 'llm' });
    expect(log).toContain('password authentication failed');
  });

  it('a LoadBalancer Service gets its ingress IP after the provisioning delay', async () => {
    await apply({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'open-webui', namespace: 'llm' },
      spec: {
        type: 'LoadBalancer',
        selector: { app: 'open-webui' },
        ports: [{ port: 80, targetPort: 8080 }],
      },
    });
    expect(
      (await read<V1Service>('v1', 'Service', 'open-webui', 'llm')).status?.loadBalancer?.ingress,
    ).toBeUndefined();
    clock.advanceBy(45 * S);
    const svc = await read<V1Service>('v1', 'Service', 'open-webui', 'llm');
    expect(svc.status?.loadBalancer?.ingress?.[0]?.ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    // The simulator's own view (for assertions) agrees with what the client read.
    expect(sim.get('v1', 'Service', 'open-webui', 'llm')?.status).toEqual({
      loadBalancer: { ingress: [{ ip: svc.status?.loadBalancer?.ingress?.[0]?.ip, ipMode: 'VIP' }] },
    });
  });

  it('a DNS label Azure refuses leaves the Service without an IP; Local traffic gets a health-check node port', async () => {
    const entry = (name: string, label: string) =>
      apply({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: {
          name,
          namespace: 'llm',
          annotations: { 'service.beta.kubernetes.io/azure-dns-label-name': label },
        },
        spec: {
          type: 'LoadBalancer',
          externalTrafficPolicy: 'Local',
          selector: { app: 'https-entry' },
          ports: [{ port: 443, targetPort: 8443 }],
        },
      });
    await entry('good', 'llm-team42-0a1b2c3d');
    // Azure's domain name label rule: a lowercase letter first, no uppercase, no hyphen last, ≤ 63.
    await entry('upper', 'LLM-team42');
    await entry('hyphen', 'llm-team42-');
    await entry('long', `l${'x'.repeat(63)}`);
    clock.advanceBy(10 * 60 * S);
    const ip = async (name: string) =>
      (await read<V1Service>('v1', 'Service', name, 'llm')).status?.loadBalancer?.ingress?.[0]?.ip;
    expect(await ip('good')).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    for (const name of ['upper', 'hyphen', 'long']) expect(await ip(name), name).toBeUndefined();
    const spec = (await read<V1Service>('v1', 'Service', 'good', 'llm')).spec;
    expect(spec?.externalTrafficPolicy).toBe('Local');
    expect(spec?.healthCheckNodePort).toBeGreaterThanOrEqual(30000);
  });

  it('the GPU node advertises nvidia.com/gpu only once a device plugin that tolerates its taints is ready', async () => {
    const gpu = async () => (await read<V1Node>('v1', 'Node', GPU_NODE)).status?.capacity?.['nvidia.com/gpu'];
    await apply(ollamaStatefulSet);
    expect(await gpu()).toBeUndefined();

    // Without the spot toleration the plugin never lands on the spot GPU node (0 desired: "ready" but useless).
    await apply(devicePlugin([{ key: 'sku', operator: 'Equal', value: 'gpu', effect: 'NoSchedule' }]));
    clock.advanceBy(120 * S);
    const useless = await read<V1DaemonSet>('apps/v1', 'DaemonSet', 'nvidia-device-plugin', 'kube-system');
    expect(useless.status).toMatchObject({ desiredNumberScheduled: 0, numberReady: 0 });
    expect(await gpu()).toBeUndefined();
    const core = kc.makeApiClient(CoreV1Api);
    const pending = (await core.readNamespacedPod({ name: 'ollama-0', namespace: 'llm' })).status;
    expect(pending?.phase).toBe('Pending');
    expect(pending?.conditions?.[0]?.message).toContain('1 Insufficient nvidia.com/gpu');

    await apply(devicePlugin(GPU_TOLERATIONS));
    clock.advanceBy(59 * S);
    expect(await gpu()).toBeUndefined();
    clock.advanceBy(2 * S);
    expect(await gpu()).toBe('1');
    expect(
      (await read<V1DaemonSet>('apps/v1', 'DaemonSet', 'nvidia-device-plugin', 'kube-system')).status,
    ).toMatchObject({
      desiredNumberScheduled: 1,
      numberReady: 1,
    });

    // The GPU pod can now be scheduled; it is ready one readiness delay later, on the GPU node.
    clock.advanceBy(60 * S);
    expect((await read<V1StatefulSet>('apps/v1', 'StatefulSet', 'ollama', 'llm')).status?.readyReplicas).toBe(
      1,
    );
    expect((await core.readNamespacedPod({ name: 'ollama-0', namespace: 'llm' })).spec?.nodeName).toBe(
      GPU_NODE,
    );
  });

  it('pods wait for their Secrets and PVCs; a bound PVC comes from its PersistentVolume', async () => {
    const webui = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'open-webui', namespace: 'llm' },
      spec: {
        selector: { matchLabels: { app: 'open-webui' } },
        template: {
          metadata: { labels: { app: 'open-webui' } },
          spec: {
            containers: [
              {
                name: 'webui',
                image: 'ghcr.io/open-webui/open-webui:0.6.34',
                env: [
                  { name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'openwebui-db', key: 'url' } } },
                ],
              },
            ],
            volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'open-webui-data' } }],
          },
        },
      },
    };
    await apply(webui);
    await apply({
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: 'open-webui-data', namespace: 'llm' },
      spec: {
        accessModes: ['ReadWriteMany'],
        storageClassName: '',
        volumeName: 'sandbox-webui-data',
        resources: { requests: { storage: '100Gi' } },
      },
    });
    const core = kc.makeApiClient(CoreV1Api);
    expect(
      (await core.readNamespacedPersistentVolumeClaim({ name: 'open-webui-data', namespace: 'llm' })).status
        ?.phase,
    ).toBe('Pending');
    let [pod] = (await core.listNamespacedPod({ namespace: 'llm' })).items;
    expect(pod?.status?.conditions?.[0]?.message).toContain(
      'pod has unbound immediate PersistentVolumeClaims',
    );

    await apply({
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: 'sandbox-webui-data' },
      spec: {
        capacity: { storage: '100Gi' },
        accessModes: ['ReadWriteMany'],
        storageClassName: '',
        csi: {
          driver: 'file.csi.azure.com',
          volumeHandle: 'rg#st#webui-data',
          volumeAttributes: { shareName: 'webui-data' },
        },
      },
    });
    expect(
      (await core.readNamespacedPersistentVolumeClaim({ name: 'open-webui-data', namespace: 'llm' })).status
        ?.phase,
    ).toBe('Bound');
    clock.advanceBy(120 * S);
    [pod] = (await core.listNamespacedPod({ namespace: 'llm' })).items;
    expect(pod?.status?.containerStatuses?.[0]?.state?.waiting).toEqual({
      reason: 'CreateContainerConfigError',
      message: 'secret "openwebui-db" not found',
    });

    await apply({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'openwebui-db', namespace: 'llm' },
      stringData: { url: 'postgresql://llmadmin@pg/openwebui' },
    });
    clock.advanceBy(60 * S);
    expect(
      (await read<V1Deployment>('apps/v1', 'Deployment', 'open-webui', 'llm')).status?.readyReplicas,
    ).toBe(1);
  });
});

describe('CoreV1Api', () => {
  it('lists pods, reads a namespace and deletes it with everything in it', async () => {
    await apply(namespace('llm'));
    await apply(redis());
    await apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'settings', namespace: 'llm' },
      data: { a: '1' },
    });
    clock.advanceBy(61 * S);
    const core = kc.makeApiClient(CoreV1Api);
    const apps = kc.makeApiClient(AppsV1Api);

    const pods = await core.listNamespacedPod({ namespace: 'llm', labelSelector: 'app=redis' });
    expect(pods.items).toHaveLength(1);
    expect(pods.items[0]?.metadata?.name).toMatch(/^redis-[a-z0-9]{10}-[a-z0-9]{5}$/);
    expect(pods.items[0]?.status?.phase).toBe('Running');
    expect(pods.items[0]?.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(
      (await core.listNamespacedPod({ namespace: 'llm', labelSelector: 'app=other' })).items,
    ).toHaveLength(0);

    expect((await core.readNamespace({ name: 'llm' })).status?.phase).toBe('Active');
    const deleted = await core.deleteNamespace({ name: 'llm' });
    expect(deleted).toBeTruthy();
    expect((await core.readNamespace({ name: 'llm' })).status?.phase).toBe('Terminating');
    expect((await rejection(apps.readNamespacedDeployment({ name: 'redis', namespace: 'llm' }))).code).toBe(
      404,
    );
    expect((await rejection(core.readNamespacedConfigMap({ name: 'settings', namespace: 'llm' }))).code).toBe(
      404,
    );
    expect((await core.listNamespacedPod({ namespace: 'llm' })).items).toHaveLength(0);
    const terminating = await rejection(apply(redis()));
    expect(terminating.code).toBe(403);
    expect(statusOf(terminating).message).toContain('because it is being terminated');

    clock.advanceBy(10 * S);
    const gone = await rejection(core.readNamespace({ name: 'llm' }));
    expect(gone.code).toBe(404);
    expect(sim.inventory({ includeSystem: false })).toEqual([]);
  });

  it('refuses a wrong token with 401', async () => {
    const wrong = new KubeConfig();
    wrong.loadFromOptions({
      clusters: [{ name: 'c', server: sim.url, skipTLSVerify: true }],
      users: [{ name: 'u', token: 'not-the-token' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    const error = await rejection(wrong.makeApiClient(CoreV1Api).listNamespace());
    expect(error.code).toBe(401);
    const raw = await fetch(`${sim.url}/api/v1/namespaces`);
    expect(raw.status).toBe(401);
    expect(await raw.json()).toMatchObject({
      kind: 'Status',
      status: 'Failure',
      reason: 'Unauthorized',
      code: 401,
    });
  });
});

describe('service proxy to Ollama', () => {
  /** JSON body for the generated connectPost… call, which has no body parameter. */
  const jsonBody = (body: unknown): ObservableMiddleware => ({
    pre: (ctx) => {
      ctx.setHeaderParam('Content-Type', 'application/json');
      ctx.setBody(JSON.stringify(body));
      return new Observable(Promise.resolve(ctx));
    },
    post: (response) => new Observable(Promise.resolve(response)),
  });
  const post = (path: string, body: unknown) =>
    kc
      .makeApiClient(CoreV1Api)
      .connectPostNamespacedServiceProxyWithPath(
        { name: 'ollama:11434', namespace: 'llm', path },
        { middleware: [jsonBody(body)], middlewareMergeStrategy: 'append' },
      ) as Promise<unknown>;
  const get = (path: string) =>
    kc.makeApiClient(CoreV1Api).connectGetNamespacedServiceProxyWithPath({
      name: 'ollama:11434',
      namespace: 'llm',
      path,
    }) as Promise<unknown>;

  beforeEach(async () => {
    await apply(namespace('llm'));
    await apply(devicePlugin(GPU_TOLERATIONS));
    await apply(ollamaStatefulSet);
    await apply(ollamaService);
  });

  it('answers 404 for a missing service and 503 until the Ollama pod is ready', async () => {
    const missing = await rejection(
      kc
        .makeApiClient(CoreV1Api)
        .connectGetNamespacedServiceProxyWithPath({ name: 'nope:11434', namespace: 'llm', path: 'api/tags' }),
    );
    expect(missing.code).toBe(404);
    const notReady = await rejection(get('api/tags'));
    expect(notReady.code).toBe(503);
    expect(String(notReady.body)).toContain('no endpoints available for service \\"ollama:11434\\"');
  });

  it('reaches SimulatedOllama for tags, pull, generate and ps', async () => {
    clock.advanceBy(121 * S); // device plugin ready at 60 s, Ollama pod ready 60 s later
    expect(await get('api/tags')).toEqual({ models: [] });

    // Pull (stream: false) returns once the simulated download time has passed.
    const pulling = post('api/pull', { model: 'llama3.2:1b', stream: false });
    await vi.waitFor(() => expect(ollama.pendingPulls).toBe(1));
    clock.advanceBy(120 * S);
    expect(await pulling).toEqual({ status: 'success' });
    expect(((await get('api/tags')) as { models: { name: string }[] }).models.map((m) => m.name)).toEqual([
      'llama3.2:1b',
    ]);

    ollama.failPull('nosuchmodel:7b');
    const failed = await rejection(post('api/pull', { model: 'nosuchmodel:7b', stream: false }));
    expect(failed.code).toBe(500);
    expect(JSON.parse(String(failed.body))).toEqual({ error: 'pull model manifest: file does not exist' });

    // A cold load reads the model from the share (1.3 GiB at 110 MiB/s, about 12 s): the answer waits for it.
    const generating = post('api/generate', { model: 'llama3.2:1b', prompt: 'Say hi', stream: false });
    await vi.waitFor(() => expect(clock.sleeping).toBe(1));
    clock.advanceBy(12 * S);
    expect(clock.sleeping).toBe(1);
    clock.advanceBy(1 * S);
    const answer = (await generating) as Record<string, unknown>;
    expect(answer.load_duration).toBe(13 * S * 1e6);
    expect(answer).toMatchObject({
      done: true,
      response: expect.any(String),
      eval_count: expect.any(Number),
    });
    expect(answer.eval_duration).toBeGreaterThan(0);
    const ps = (await get('api/ps')) as { models: { name: string; size_vram: number; expires_at: string }[] };
    expect(ps.models).toHaveLength(1);
    expect(ps.models[0]!.size_vram).toBeGreaterThan(0);
    expect(Date.parse(ps.models[0]!.expires_at)).toBe(clock.now() + 5 * 60 * S);

    // Without a GPU the model runs on the CPU (size_vram 0); keep_alive expiry unloads it.
    ollama.setGpu(false);
    expect(((await get('api/ps')) as typeof ps).models[0]!.size_vram).toBe(0);
    clock.advanceBy(5 * 60 * S);
    expect(await get('api/ps')).toEqual({ models: [] });
    // Loaded before, so a reload comes from the node's page cache; once loaded, a request starts at once.
    const reloading = post('api/generate', { model: 'llama3.2:1b', prompt: '', keep_alive: '1m' });
    await vi.waitFor(() => expect(clock.sleeping).toBe(1));
    clock.advanceBy(4.2 * S);
    expect(await reloading).toMatchObject({ done_reason: 'load' });
    expect(await post('api/generate', { model: 'llama3.2:1b', prompt: 'Hi', stream: false })).toMatchObject({
      load_duration: 10 * 1e6,
    });

    // Plain fetch with the kubeconfig's credentials works as well (e.g. for streaming pulls).
    const init = await kc.applyToFetchOptions({});
    const headers = new Headers();
    (init.headers as unknown as Headers).forEach((value, key) => headers.set(key, value));
    headers.set('content-type', 'application/json');
    const response = await fetch(`${sim.url}/api/v1/namespaces/llm/services/ollama:11434/proxy/api/delete`, {
      method: 'DELETE',
      headers,
      body: JSON.stringify({ model: 'llama3.2:1b' }),
    });
    expect(response.status).toBe(200);
    expect(ollama.pulled()).toEqual([]);
  });

  it('answers a path late by its configured latency (real time), and at once again when removed', async () => {
    clock.advanceBy(121 * S);
    ollama.setLatency('/api/ps', 100);
    const started = performance.now();
    expect(await get('api/ps')).toEqual({ models: [] });
    // A lower bound only (timers never fire early by more than the clock's granularity).
    expect(performance.now() - started).toBeGreaterThanOrEqual(95);
    expect(() => ollama.setLatency('/api/ps', -1)).toThrow(RangeError);
    ollama.setLatency('/api/ps', 0);
    await get('api/ps');
    expect(ollama.requests.filter((r) => r.path === '/api/ps')).toHaveLength(2);
  });
});

describe('cluster operations', () => {
  beforeEach(async () => {
    await apply(namespace('llm'));
    await apply(redis());
    clock.advanceBy(61 * S);
  });

  it('scales through AppsV1Api: the generated patch methods send JSON Patch unless told otherwise', async () => {
    const apps = kc.makeApiClient(AppsV1Api);
    const scaled = await apps.patchNamespacedDeploymentScale({
      name: 'redis',
      namespace: 'llm',
      body: [{ op: 'replace', path: '/spec/replicas', value: 0 }],
    });
    expect(scaled.spec?.replicas).toBe(0);
    expect(sim.requests.at(-1)).toMatchObject({
      method: 'PATCH',
      contentType: 'application/json-patch+json',
      status: 200,
    });

    const merged = await apps.patchNamespacedDeployment(
      { name: 'redis', namespace: 'llm', fieldManager: 'ops', body: { spec: { replicas: 2 } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    expect(merged.spec?.replicas).toBe(2);
    expect(merged.metadata?.managedFields?.map((m) => [m.manager, m.operation])).toContainEqual([
      'ops',
      'Update',
    ]);
    // Both writes happened within the same second: controllers have observed neither yet.
    expect(merged.status?.observedGeneration).toBe(1);
    clock.advanceBy(2 * S);
    const observed = await apps.readNamespacedDeployment({ name: 'redis', namespace: 'llm' });
    expect(observed.status).toMatchObject({
      observedGeneration: 3,
      updatedReplicas: 2,
      unavailableReplicas: 2,
    });
    expect(observed.status?.readyReplicas).toBeUndefined();
    clock.advanceBy(60 * S);
    expect(
      (await apps.readNamespacedDeployment({ name: 'redis', namespace: 'llm' })).status?.readyReplicas,
    ).toBe(2);
  });

  it('AKS stop/start: unreachable while stopped, then every pod restarts and Ollama has nothing loaded', async () => {
    ollama.setPulled(['llama3.2:1b']);
    ollama.setLoaded(['llama3.2:1b']);
    const apps = kc.makeApiClient(AppsV1Api);
    expect(
      (await apps.readNamespacedDeployment({ name: 'redis', namespace: 'llm' })).status?.readyReplicas,
    ).toBe(1);

    sim.stop();
    const unreachable = await apps
      .readNamespacedDeployment({ name: 'redis', namespace: 'llm' })
      .catch((e: unknown) => e);
    expect(unreachable).toBeInstanceOf(Error);
    expect(unreachable).not.toBeInstanceOf(ApiException);

    clock.advanceBy(3600 * S);
    sim.start();
    expect(
      (await apps.readNamespacedDeployment({ name: 'redis', namespace: 'llm' })).status?.readyReplicas,
    ).toBeUndefined();
    expect(ollama.loaded()).toEqual([]);
    expect(ollama.pulled()).toEqual(['llama3.2:1b']);
    clock.advanceBy(60 * S);
    expect(
      (await apps.readNamespacedDeployment({ name: 'redis', namespace: 'llm' })).status?.readyReplicas,
    ).toBe(1);
  });

  it('a ResourceQuota on cpu makes pods without cpu requests fail admission', async () => {
    await apply({
      apiVersion: 'v1',
      kind: 'ResourceQuota',
      metadata: { name: 'llm-quota', namespace: 'llm' },
      spec: { hard: { 'requests.cpu': '8', pods: '10' } },
    });
    const deployment = await read<V1Deployment>('apps/v1', 'Deployment', 'redis', 'llm');
    expect(deployment.status?.conditions?.find((c) => c.type === 'ReplicaFailure')?.message).toMatch(
      /pods "redis-[a-z0-9-]+" is forbidden: failed quota: llm-quota: must specify requests.cpu for: redis/,
    );
    expect((await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: 'llm' })).items).toEqual([]);
  });

  it('serves custom.metrics.k8s.io once its APIService is Available', async () => {
    const metricsApi = () =>
      fetch(`${sim.url}/apis/custom.metrics.k8s.io/v1beta1`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
    expect((await metricsApi()).status).toBe(404);
    await apply(namespace('monitoring'));
    await apply({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'prometheus-adapter', namespace: 'monitoring' },
      spec: {
        selector: { matchLabels: { app: 'prometheus-adapter' } },
        template: {
          metadata: { labels: { app: 'prometheus-adapter' } },
          spec: {
            containers: [
              { name: 'adapter', image: 'registry.k8s.io/prometheus-adapter/prometheus-adapter:v0.12.0' },
            ],
          },
        },
      },
    });
    await apply({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'prometheus-adapter', namespace: 'monitoring' },
      spec: {
        selector: { app: 'prometheus-adapter' },
        ports: [{ name: 'https', port: 443, targetPort: 6443 }],
      },
    });
    await apply({
      apiVersion: 'apiregistration.k8s.io/v1',
      kind: 'APIService',
      metadata: { name: 'v1beta1.custom.metrics.k8s.io' },
      spec: {
        service: { name: 'prometheus-adapter', namespace: 'monitoring', port: 443 },
        group: 'custom.metrics.k8s.io',
        version: 'v1beta1',
        insecureSkipTLSVerify: true,
        groupPriorityMinimum: 100,
        versionPriority: 100,
      },
    });
    expect((await metricsApi()).status).toBe(503);
    const missing = await read<V1APIService>(
      'apiregistration.k8s.io/v1',
      'APIService',
      'v1beta1.custom.metrics.k8s.io',
    );
    expect(missing.status?.conditions?.[0]).toMatchObject({ status: 'False', reason: 'MissingEndpoints' });

    clock.advanceBy(75 * S); // adapter ready after 60 s, APIService available 15 s later
    const available = await read<V1APIService>(
      'apiregistration.k8s.io/v1',
      'APIService',
      'v1beta1.custom.metrics.k8s.io',
    );
    expect(available.status?.conditions?.[0]).toMatchObject({ type: 'Available', status: 'True' });
    const discovery = (await (await metricsApi()).json()) as { resources: { name: string }[] };
    expect(discovery.resources.map((r) => r.name)).toContain('pods/gpu_memory_utilization');
  });
});
