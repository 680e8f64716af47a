/**
 * What the simulated API server refuses, as a real one does, through the real @kubernetes/client-node: changes
 * to immutable fields (422 Invalid), unknown fields under `fieldValidation=Strict` (400 BadRequest),
 * ResourceQuota admission of the workloads' pods (FailedCreate), and static volumes pre-bound to their claims.
 * The platform's rendered manifests pass all of it.
 */
import {
  ApiException,
  CoreV1Api,
  KubeConfig,
  KubernetesObjectApi,
  type CoreV1Event,
  type KubernetesObject,
  type V1Deployment,
  type V1PersistentVolume,
  type V1PersistentVolumeClaim,
  type V1StatefulSet,
} from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { kubeClients, type KubeClients } from '../../src/kube/client.js';
import { renderManifests } from '../../src/platform/manifests.js';
import { VirtualClock } from '../../sandbox/clock.js';
import { SimulatedKubernetes } from '../../sandbox/kube/apiserver.js';
import { SimulatedOllama } from '../../sandbox/kube/ollama.js';
import { SPECS, TEMPLATES, namesOf, specOf } from '../support/manifests.js';
import { readObject } from '../support/kube-fixtures.js';

const TOKEN = 'sandbox-cluster-admin-token';
const S = 1000;

let clock: VirtualClock;
let sim: SimulatedKubernetes;
let client: KubernetesObjectApi;
let core: CoreV1Api;
let platform: KubeClients;

beforeEach(async () => {
  clock = new VirtualClock();
  // AKS's managed KEDA add-on is on, as the AKS body asks (workloadAutoScalerProfile.keda).
  sim = new SimulatedKubernetes({ clock, token: TOKEN, ollama: new SimulatedOllama({ clock }), keda: true });
  await sim.listen();
  const kc = new KubeConfig();
  kc.loadFromString(sim.kubeconfig());
  client = KubernetesObjectApi.makeApiClient(kc);
  core = kc.makeApiClient(CoreV1Api);
  platform = kubeClients(sim.kubeconfig());
});

afterEach(async () => {
  await sim.close();
});

/** The platform's apply: server-side apply by its field manager, `fieldValidation=Strict`. */
const apply = <T extends KubernetesObject>(object: object) => platform.apply(object as T) as Promise<T>;

const read = readObject(() => client);

async function rejection(promise: Promise<unknown>): Promise<{
  code: number;
  status: {
    reason: string;
    message: string;
    details?: { name?: string; kind?: string; causes?: { reason: string; field: string; message: string }[] };
  };
}> {
  try {
    await promise;
  } catch (e) {
    if (e instanceof ApiException)
      return { code: e.code, status: typeof e.body === 'string' ? JSON.parse(e.body) : e.body };
    throw e;
  }
  throw new Error('expected the call to fail');
}

const ns = (name: string) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });

const podTemplate = (app: string, image = 'busybox:1.36', resources?: object) => ({
  metadata: { labels: { app } },
  spec: { containers: [{ name: app, image, ...(resources ? { resources } : {}) }] },
});

const job = (image: string, selector?: object) => ({
  apiVersion: 'batch/v1',
  kind: 'Job',
  metadata: { name: 'model-preload', namespace: 'llm' },
  spec: {
    ...(selector ? { manualSelector: true, selector } : {}),
    template: {
      ...podTemplate('preload', image),
      spec: { ...podTemplate('preload', image).spec, restartPolicy: 'Never' },
    },
  },
});

const workload = (kind: 'Deployment' | 'StatefulSet' | 'DaemonSet', app: string, extra: object = {}) => ({
  apiVersion: 'apps/v1',
  kind,
  metadata: { name: app, namespace: 'llm' },
  spec: { selector: { matchLabels: { app } }, template: podTemplate(app), ...extra },
});

const pvc = (name: string, spec: object) => ({
  apiVersion: 'v1',
  kind: 'PersistentVolumeClaim',
  metadata: { name, namespace: 'llm' },
  spec: { accessModes: ['ReadWriteMany'], storageClassName: '', ...spec },
});

/** A static Azure Files volume of class '' (on share `share`, else its own name), optionally reserved. */
const volume = (name: string, options: { share?: string; claimRef?: object } = {}) => ({
  apiVersion: 'v1',
  kind: 'PersistentVolume',
  metadata: { name },
  spec: {
    capacity: { storage: '100Gi' },
    accessModes: ['ReadWriteMany'],
    storageClassName: '',
    ...(options.claimRef ? { claimRef: options.claimRef } : {}),
    csi: {
      driver: 'file.csi.azure.com',
      volumeHandle: `rg#st#${options.share ?? name}`,
      volumeAttributes: { shareName: options.share ?? name },
    },
  },
});

describe('immutable fields are refused with 422 Invalid', () => {
  beforeEach(async () => {
    await apply(ns('llm'));
  });

  it('Job spec.template and spec.selector', async () => {
    await apply(job('ollama/ollama:0.12.6', { matchLabels: { app: 'preload' } }));
    const template = await rejection(apply(job('ollama/ollama:0.12.7', { matchLabels: { app: 'preload' } })));
    expect(template.code).toBe(422);
    expect(template.status.reason).toBe('Invalid');
    expect(template.status.message).toMatch(
      /^Job\.batch "model-preload" is invalid: spec\.template: Invalid value: .*: field is immutable$/,
    );
    expect(template.status.details?.causes?.[0]).toMatchObject({
      reason: 'FieldValueInvalid',
      field: 'spec.template',
    });
    const selector = await rejection(
      apply(job('ollama/ollama:0.12.6', { matchLabels: { app: 'preload', tier: 'x' } })),
    );
    expect(selector.code).toBe(422);
    expect(selector.status.details?.causes?.[0]?.field).toBe('spec.selector');
  });

  it.each(['Deployment', 'StatefulSet', 'DaemonSet'] as const)('%s spec.selector', async (kind) => {
    await apply(workload(kind, 'web'));
    const labels = { app: 'web', tier: 'front' };
    const changed = workload(kind, 'web', {
      selector: { matchLabels: labels },
      template: { ...podTemplate('web'), metadata: { labels } },
    });
    const refused = await rejection(apply(changed));
    expect(refused.code).toBe(422);
    expect(refused.status.message).toMatch(
      new RegExp(`^${kind}\\.apps "web" is invalid: spec\\.selector: Invalid value: .*: field is immutable$`),
    );
    expect(refused.status.details?.causes?.[0]?.field).toBe('spec.selector');
  });

  it('StatefulSet: volumeClaimTemplates and podManagementPolicy are forbidden, replicas and template are not', async () => {
    const claim = (storage: string) => ({
      volumeClaimTemplates: [
        {
          metadata: { name: 'data' },
          spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage } } },
        },
      ],
    });
    await apply(workload('StatefulSet', 'db', { serviceName: 'db', ...claim('8Gi') }));
    const grown = await rejection(
      apply(workload('StatefulSet', 'db', { serviceName: 'db', ...claim('16Gi') })),
    );
    expect(grown.code).toBe(422);
    expect(grown.status.message).toBe(
      `StatefulSet.apps "db" is invalid: spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden`,
    );
    expect(grown.status.details?.causes?.[0]).toMatchObject({ reason: 'FieldValueForbidden', field: 'spec' });
    const policy = await rejection(
      apply(
        workload('StatefulSet', 'db', {
          serviceName: 'db',
          ...claim('8Gi'),
          podManagementPolicy: 'Parallel',
        }),
      ),
    );
    expect(policy.code).toBe(422);
    const scaled = await apply<V1StatefulSet>(
      workload('StatefulSet', 'db', { serviceName: 'db', ...claim('8Gi'), replicas: 2, minReadySeconds: 5 }),
    );
    expect(scaled.spec?.replicas).toBe(2);
  });

  it('PersistentVolume source', async () => {
    await apply(volume('team42-models', { share: 'models' }));
    const refused = await rejection(apply(volume('team42-models', { share: 'models2' })));
    expect(refused.code).toBe(422);
    expect(refused.status.message).toBe(
      'PersistentVolume "team42-models" is invalid: spec.persistentvolumesource: Forbidden: spec.persistentvolumesource is immutable after creation',
    );
  });

  it('PersistentVolumeClaim: only a growing storage request, and volumeName once', async () => {
    const claim = (storage: string, extra: object = {}) =>
      pvc('data', {
        storageClassName: 'azurefile-csi-premium',
        resources: { requests: { storage } },
        ...extra,
      });
    await apply(claim('100Gi'));
    // Growing the request is an expansion; shrinking it is refused.
    await apply(claim('200Gi'));
    const shrunk = await rejection(apply(claim('50Gi')));
    expect(shrunk.code).toBe(422);
    expect(shrunk.status.details?.causes?.[0]?.field).toBe('spec.resources.requests.storage');
    const otherClass = await rejection(apply(claim('200Gi', { storageClassName: 'azurefile-csi' })));
    expect(otherClass.code).toBe(422);
    expect(otherClass.status.message).toBe(
      'PersistentVolumeClaim "data" is invalid: spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims',
    );

    await apply(pvc('static', { resources: { requests: { storage: '10Gi' } } }));
    // An empty volumeName may be set once; after that it is part of the frozen spec.
    await apply(pvc('static', { volumeName: 'pv-a', resources: { requests: { storage: '10Gi' } } }));
    const moved = await rejection(
      apply(pvc('static', { volumeName: 'pv-b', resources: { requests: { storage: '10Gi' } } })),
    );
    expect(moved.code).toBe(422);
    expect(moved.status.details?.causes?.[0]?.field).toBe('spec');
  });
});

describe('fieldValidation=Strict', () => {
  beforeEach(async () => {
    await apply(ns('llm'));
  });

  it('the platform applies with Strict and the object as rendered: an unknown field fails with BadRequest', async () => {
    const typo = workload('Deployment', 'web', { replica: 2 });
    const refused = await rejection(apply(typo));
    expect(refused.code).toBe(400);
    expect(refused.status.reason).toBe('BadRequest');
    expect(refused.status.message).toBe(
      'failed to create typed patch object (apps/v1, Kind=Deployment): .spec.replica: field not declared in schema',
    );
    const nested = workload('Deployment', 'web');
    (nested.spec.template.spec.containers[0] as Record<string, unknown>).imagePullPolice = 'Always';
    expect((await rejection(apply(nested))).status.message).toContain(
      '.spec.template.spec.containers[name="web"].imagePullPolice: field not declared in schema',
    );
    const applies = sim.requests.filter((r) => r.contentType?.startsWith('application/apply-patch'));
    expect(applies.length).toBeGreaterThan(0);
    expect(applies.every((r) => r.query.includes('fieldValidation=Strict'))).toBe(true);
    await expect(read('apps/v1', 'Deployment', 'web', 'llm')).rejects.toMatchObject({ code: 404 });
  });

  it('a create with Strict fails while decoding; without it the field is not refused', async () => {
    const post = (query: string) =>
      fetch(`${sim.url}/api/v1/namespaces/llm/configmaps${query}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: 'c' },
          data: { a: 'b' },
          datta: { a: 'b' },
        }),
      });
    const strict = await post('?fieldValidation=Strict');
    expect(strict.status).toBe(400);
    expect(await strict.json()).toMatchObject({
      reason: 'BadRequest',
      message: 'strict decoding error: unknown field "datta"',
    });
    expect((await post('')).status).toBe(201);
  });

  it.each(Object.entries(SPECS))(
    'every rendered object applies cleanly under Strict (%s)',
    async (_l, spec) => {
      for (const object of renderManifests(spec, namesOf(spec), TEMPLATES)) await apply(object);
    },
  );
});

/** Renders the platform, with every autoscaler's target at its maximum (as the autoscalers may scale it). */
function atLargest(spec: ReturnType<typeof specOf>): KubernetesObject[] {
  const objects = renderManifests(spec, namesOf(spec), TEMPLATES) as KubernetesObject[];
  for (const hpa of objects.filter(
    (o) => o.kind === 'HorizontalPodAutoscaler' || o.kind === 'ScaledObject',
  )) {
    const s = (
      hpa as {
        spec: {
          scaleTargetRef: { kind: string; name: string };
          maxReplicas?: number;
          maxReplicaCount?: number;
        };
      }
    ).spec;
    const scaleTargetRef = s.scaleTargetRef;
    const maxReplicas = s.maxReplicas ?? s.maxReplicaCount;
    const target = objects.find(
      (o) =>
        o.kind === scaleTargetRef.kind &&
        o.metadata?.name === scaleTargetRef.name &&
        o.metadata?.namespace === hpa.metadata?.namespace,
    );
    (target as { spec: { replicas?: number } }).spec.replicas = maxReplicas;
  }
  return objects;
}

const failedCreates = async () =>
  (await core.listEventForAllNamespaces()).items.filter((e: CoreV1Event) => e.reason === 'FailedCreate');

describe("KEDA's CRDs", () => {
  const scaledObject = {
    apiVersion: 'keda.sh/v1alpha1',
    kind: 'ScaledObject',
    metadata: { name: 'ollama', namespace: 'default' },
    spec: { scaleTargetRef: { kind: 'StatefulSet', name: 'ollama' }, triggers: [] },
  };

  it("are served only on a cluster whose AKS body turns KEDA's add-on on", async () => {
    expect((await apply(scaledObject)).metadata?.name).toBe('ollama');
    const bare = new SimulatedKubernetes({ clock, token: TOKEN });
    await bare.listen();
    try {
      const refused = await kubeClients(bare.kubeconfig())
        .apply(scaledObject as KubernetesObject)
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(String(refused)).toMatch(/404/);
    } finally {
      await bare.close();
    }
  });
});

describe('ResourceQuota admission of the workloads pods', () => {
  it.each([
    ['defaults', specOf({})],
    ['largest GPU VM, three nodes', specOf({ gpu: { vmSize: 'Standard_NC64as_T4_v3', maxNodes: 3 } })],
    ['ten GPU nodes, ten Open WebUI replicas', specOf({ gpu: { maxNodes: 10 }, webui: { replicas: 10 } })],
    [
      'many models',
      specOf({ models: ['llama3.1:70b', 'qwen2.5:32b', 'llama3.1:8b', 'phi3.5', 'nomic-embed-text'] }),
    ],
  ])('admits every pod of the rendered manifests at their largest (%s)', async (_label, spec) => {
    for (const object of atLargest(spec)) await apply(object);
    clock.advanceBy(120 * S);
    expect(await failedCreates()).toEqual([]);
    const pods = (await core.listNamespacedPod({ namespace: 'llm' })).items;
    expect(pods.length).toBeGreaterThan(0);
  });

  it('refuses a pod without the limits and requests the quota covers, and one beyond the quota', async () => {
    const spec = specOf({});
    for (const object of renderManifests(spec, namesOf(spec), TEMPLATES)) await apply(object);
    await apply(workload('Deployment', 'bare'));
    clock.advanceBy(120 * S);
    const bare = await read<V1Deployment>('apps/v1', 'Deployment', 'bare', 'llm');
    const failure = bare.status?.conditions?.find((c) => c.type === 'ReplicaFailure');
    expect(failure).toMatchObject({ status: 'True', reason: 'FailedCreate' });
    expect(failure?.message).toMatch(
      /^pods "bare-[a-z0-9-]+" is forbidden: failed quota: llm-quota: must specify limits\.cpu for: bare; limits\.memory for: bare; requests\.cpu for: bare; requests\.memory for: bare$/,
    );
    expect(bare.status?.readyReplicas).toBeUndefined();
    const events = await failedCreates();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: 'Warning',
      involvedObject: { kind: 'ReplicaSet', namespace: 'llm' },
      message: expect.stringContaining('Error creating: pods "bare-'),
    });

    const huge = { requests: { cpu: '1', memory: '1Gi' }, limits: { cpu: '1000', memory: '1Gi' } };
    await apply(
      workload('StatefulSet', 'huge', {
        serviceName: 'huge',
        template: podTemplate('huge', 'busybox:1.36', huge),
      }),
    );
    clock.advanceBy(120 * S);
    const refused = (await failedCreates()).find((e) => e.involvedObject.name === 'huge');
    expect(refused?.message).toMatch(
      /^create Pod huge-0 in StatefulSet huge failed error: pods "huge-0" is forbidden: exceeded quota: llm-quota, requested: limits\.cpu=1000, used: limits\.cpu=[0-9.m]+, limited: limits\.cpu=[0-9.m]+$/,
    );
    expect(
      (await read<V1StatefulSet>('apps/v1', 'StatefulSet', 'huge', 'llm')).status?.readyReplicas,
    ).toBeUndefined();
  });

  it('an init container without limits is refused too', async () => {
    await apply(ns('llm'));
    await apply({
      apiVersion: 'v1',
      kind: 'ResourceQuota',
      metadata: { name: 'llm-quota', namespace: 'llm' },
      spec: { hard: { 'limits.memory': '8Gi' } },
    });
    const limited = { limits: { memory: '1Gi' } };
    const template = podTemplate('app', 'busybox:1.36', limited);
    (template.spec as Record<string, unknown>).initContainers = [{ name: 'migrate', image: 'busybox:1.36' }];
    await apply(workload('Deployment', 'app', { template }));
    const deployment = await read<V1Deployment>('apps/v1', 'Deployment', 'app', 'llm');
    expect(deployment.status?.conditions?.find((c) => c.type === 'ReplicaFailure')?.message).toMatch(
      /must specify limits\.memory for: migrate$/,
    );
  });
});

describe('static volumes are pre-bound to their claims', () => {
  it('binds the platform claims to their volumes; an unrelated claim cannot take the model volume', async () => {
    const spec = specOf({});
    const names = namesOf(spec);
    for (const object of renderManifests(spec, names, TEMPLATES)) await apply(object);
    const models = `${spec.prefix}-models`;
    const pv = await read<V1PersistentVolume>('v1', 'PersistentVolume', models);
    expect(pv.spec?.claimRef).toMatchObject({ namespace: 'llm', name: 'ollama-models' });
    expect(pv.status?.phase).toBe('Bound');
    expect(
      (await read<V1PersistentVolumeClaim>('v1', 'PersistentVolumeClaim', 'ollama-models', 'llm')).status
        ?.phase,
    ).toBe('Bound');

    // Naming the volume is not enough: the volume is reserved for ollama-models.
    await apply(pvc('thief', { volumeName: models, resources: { requests: { storage: '10Gi' } } }));
    // Nor can a claim of class '' match it by size and access modes.
    await apply(pvc('matcher', { resources: { requests: { storage: '1Gi' } } }));
    for (const name of ['thief', 'matcher'])
      expect(
        (await read<V1PersistentVolumeClaim>('v1', 'PersistentVolumeClaim', name, 'llm')).status?.phase,
      ).toBe('Pending');
    const small = { requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '100m', memory: '64Mi' } };
    const user = workload('Deployment', 'reader', { template: podTemplate('reader', 'busybox:1.36', small) });
    (user.spec.template.spec as Record<string, unknown>).volumes = [
      { name: 'models', persistentVolumeClaim: { claimName: 'thief' } },
    ];
    await apply(user);
    clock.advanceBy(120 * S);
    const [pod] = (await core.listNamespacedPod({ namespace: 'llm', labelSelector: 'app=reader' })).items;
    expect(pod?.status?.phase).toBe('Pending');
  });

  it('a volume reserved for a claim waits for it, and a claim binds an unreserved volume of its class', async () => {
    await apply(ns('llm'));
    await apply(volume('reserved', { claimRef: { namespace: 'llm', name: 'later' } }));
    await apply(volume('open'));
    await apply(pvc('first', { resources: { requests: { storage: '10Gi' } } }));
    expect(
      (await read<V1PersistentVolumeClaim>('v1', 'PersistentVolumeClaim', 'first', 'llm')).spec,
    ).toBeDefined();
    expect((await read<V1PersistentVolume>('v1', 'PersistentVolume', 'open')).status?.phase).toBe('Bound');
    expect((await read<V1PersistentVolume>('v1', 'PersistentVolume', 'reserved')).status?.phase).toBe(
      'Available',
    );
    await apply(pvc('later', { resources: { requests: { storage: '10Gi' } } }));
    expect((await read<V1PersistentVolume>('v1', 'PersistentVolume', 'reserved')).status?.phase).toBe(
      'Bound',
    );
  });
});
