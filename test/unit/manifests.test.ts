/**
 * The rendered Kubernetes objects: valid against the Kubernetes API schemas (offline, kubernetes-models),
 * and true to the platform's policies (pinned images, resources on every container, GPU tolerations, no
 * secret values, a quota that admits the autoscalers' maxima, pods that fit their nodes).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { APIService } from 'kubernetes-models/apiregistration.k8s.io/v1';
import { DaemonSet, Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Job } from 'kubernetes-models/batch/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ClusterRole, ClusterRoleBinding, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import {
  ConfigMap,
  Namespace,
  PersistentVolume,
  PersistentVolumeClaim,
  ResourceQuota,
  Secret,
  Service,
  ServiceAccount,
} from 'kubernetes-models/v1';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { GPU_TAINT, SPOT_TAINT } from '../../src/platform/azure-resources.js';
import { T4_VM_SIZES } from '../../src/platform/catalog.js';
import {
  OPENWEBUI_DB_ROLE,
  SECRETS,
  WAIT_FOR_COMPLETION,
  defaultAdminEmail,
  renderManifestFile,
  renderManifests,
  renderManifestsYaml,
  renderOnDemand,
  ON_DEMAND,
} from '../../src/platform/manifests.js';
import { GPU_MEMORY_METRIC } from '../../src/platform/observability.js';
import { planPlatform } from '../../src/platform/plan.js';
import { buildSecrets, type SecretMaterial } from '../../src/platform/secrets.js';
import { WEBUI_POOL, choosePostgresSku, connectionsNeeded } from '../../src/platform/sizing.js';
import type { KubernetesObject } from '../../src/platform/templates.js';
import {
  SPECS,
  SUBSCRIPTION,
  TEMPLATES,
  containersOf,
  envOf,
  find,
  namesOf,
  podSpecOf,
  ref,
  specOf,
  type Container,
} from '../support/manifests.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

type ModelClass = new (data: Record<string, unknown>) => { validate(): void };
const model = (c: unknown) => c as ModelClass;

/**
 * KEDA's ScaledObject has no kubernetes-models class: the fields KEDA requires and the ones the platform
 * relies on, restated from the ScaledObject specification (keda.sh).
 */
class ScaledObjectModel {
  constructor(private readonly data: Record<string, unknown>) {}
  validate(): void {
    const spec = this.data.spec as {
      scaleTargetRef?: { name?: unknown };
      minReplicaCount?: unknown;
      maxReplicaCount?: unknown;
      triggers?: { type?: unknown; metadata?: Record<string, unknown> }[];
    };
    if (typeof spec?.scaleTargetRef?.name !== 'string')
      throw new Error('spec.scaleTargetRef.name is required');
    for (const k of ['minReplicaCount', 'maxReplicaCount'] as const)
      if (!Number.isInteger(spec[k])) throw new Error(`spec.${k} must be an integer`);
    if (!spec.triggers?.length) throw new Error('spec.triggers is required');
    for (const t of spec.triggers) {
      if (typeof t.type !== 'string') throw new Error('trigger type is required');
      for (const v of Object.values(t.metadata ?? {}))
        if (typeof v !== 'string') throw new Error('trigger metadata values are strings');
    }
  }
}

/** apiVersion/kind → the kubernetes-models class that validates it. A kind missing here fails the test. */
const MODELS: Record<string, ModelClass> = {
  'v1/Namespace': model(Namespace),
  'v1/ResourceQuota': model(ResourceQuota),
  'v1/PersistentVolume': model(PersistentVolume),
  'v1/PersistentVolumeClaim': model(PersistentVolumeClaim),
  'v1/ConfigMap': model(ConfigMap),
  'v1/Secret': model(Secret),
  'v1/Service': model(Service),
  'v1/ServiceAccount': model(ServiceAccount),
  'apps/v1/DaemonSet': model(DaemonSet),
  'apps/v1/Deployment': model(Deployment),
  'apps/v1/StatefulSet': model(StatefulSet),
  'batch/v1/Job': model(Job),
  'policy/v1/PodDisruptionBudget': model(PodDisruptionBudget),
  'autoscaling/v2/HorizontalPodAutoscaler': model(HorizontalPodAutoscaler),
  'rbac.authorization.k8s.io/v1/ClusterRole': model(ClusterRole),
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': model(ClusterRoleBinding),
  'rbac.authorization.k8s.io/v1/RoleBinding': model(RoleBinding),
  'apiregistration.k8s.io/v1/APIService': model(APIService),
  'keda.sh/v1alpha1/ScaledObject': model(ScaledObjectModel),
};

/** Each autoscaled workload (`Kind/name`) and its autoscaler's maximum: HPAs and KEDA ScaledObjects. */
function autoscaledMax(objects: readonly KubernetesObject[]): Map<string, number> {
  const max = new Map<string, number>();
  for (const o of objects) {
    if (o.kind === 'HorizontalPodAutoscaler') {
      const s = o.spec as { scaleTargetRef: { kind: string; name: string }; maxReplicas: number };
      max.set(`${s.scaleTargetRef.kind}/${s.scaleTargetRef.name}`, s.maxReplicas);
    }
    if (o.kind === 'ScaledObject') {
      const s = o.spec as { scaleTargetRef: { kind: string; name: string }; maxReplicaCount: number };
      max.set(`${s.scaleTargetRef.kind}/${s.scaleTargetRef.name}`, s.maxReplicaCount);
    }
  }
  return max;
}

function validate(o: KubernetesObject): void {
  const Model = MODELS[`${o.apiVersion}/${o.kind}`];
  if (!Model) throw new Error(`no kubernetes-models class mapped for ${o.apiVersion} ${o.kind}`);
  new Model(structuredClone(o) as Record<string, unknown>).validate();
}

/** Kubernetes quantities in base units, restated here independently of the renderer. */
function quantity(q: string | number | undefined): number {
  if (q === undefined) return 0;
  if (typeof q === 'number') return q;
  const m = /^(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|Ti|k|M|G)?$/.exec(q);
  if (!m) throw new Error(`quantity ${q}`);
  const unit = { m: 1e-3, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4, k: 1e3, M: 1e6, G: 1e9 };
  return Number(m[1]) * (m[2] ? unit[m[2] as keyof typeof unit] : 1);
}

const rendered = Object.fromEntries(
  Object.entries(SPECS).map(([label, spec]) => [label, renderManifests(spec, namesOf(spec), TEMPLATES)]),
);
const cases = Object.entries(rendered);
const defaults = rendered.defaults!;

const workloads = (objects: KubernetesObject[]) => objects.filter((o) => podSpecOf(o) !== undefined);

describe('renderManifests', () => {
  it.each(cases)('gives objects that pass the Kubernetes schema validation (%s)', (_label, objects) => {
    for (const o of objects) expect(() => validate(o), ref(o)).not.toThrow();
  });

  it('has a schema validator that does reject an invalid object', () => {
    const broken = structuredClone(find(defaults, 'StatefulSet', 'ollama', 'llm'));
    (broken.spec as { template: { spec: { containers: unknown[] } } }).template.spec.containers = [
      { name: 'ollama', image: 42 },
    ];
    expect(() => validate(broken)).toThrow(/image/);
    const noSelector = structuredClone(find(defaults, 'Deployment', 'open-webui', 'llm'));
    delete (noSelector.spec as { selector?: unknown }).selector;
    expect(() => validate(noSelector)).toThrow(/selector/);
    expect(() => validate({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'x' } })).toThrow(
      /no kubernetes-models/,
    );
  });

  it('renders the same objects and the same text every time', () => {
    const spec = SPECS.defaults!;
    expect(renderManifests(spec, namesOf(spec), TEMPLATES)).toEqual(defaults);
    expect(renderManifestsYaml(spec, namesOf(spec), TEMPLATES)).toBe(
      renderManifestsYaml(spec, namesOf(spec), TEMPLATES),
    );
  });

  it('gives YAML text that parses back to exactly the rendered objects', () => {
    const spec = SPECS.defaults!;
    const docs = parseAllDocuments(renderManifestsYaml(spec, namesOf(spec), TEMPLATES));
    expect(Array.isArray(docs)).toBe(true);
    expect((docs as unknown as { toJS(): unknown }[]).map((d) => d.toJS())).toEqual(defaults);
  });

  it('gives each object a unique kind, namespace and name', () => {
    for (const [, objects] of cases) {
      const keys = objects.map(ref);
      expect(new Set(keys).size, keys.join('\n')).toBe(keys.length);
    }
  });

  it('is what the dry-run plan lists, in the same order', () => {
    const spec = SPECS.defaults!;
    const plan = planPlatform(spec, SUBSCRIPTION, TEMPLATES, {
      day: 'Sunday',
      startTime: '02:00',
      durationHours: 4,
    });
    expect(plan.kubernetes).toEqual(
      defaults.map((o) => ({
        kind: o.kind,
        ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}),
        name: o.metadata.name,
      })),
    );
  });
});

describe('images and resources', () => {
  it.each(cases)('pins every image to a version tag or digest, never latest or main (%s)', (_l, objects) => {
    for (const o of workloads(objects))
      for (const c of containersOf(o)) {
        const lastSegment = c.image.slice(c.image.lastIndexOf('/') + 1);
        const digest = /@sha256:[0-9a-f]{64}$/.test(c.image);
        const tag = lastSegment.includes(':') ? lastSegment.slice(lastSegment.indexOf(':') + 1) : '';
        expect(digest || /\d/.test(tag), `${ref(o)} ${c.name}: ${c.image}`).toBe(true);
        expect(['latest', 'main', 'stable'], `${ref(o)} ${c.name}`).not.toContain(tag);
      }
  });

  it.each(cases)('sets CPU and memory requests and limits on every container (%s)', (_l, objects) => {
    for (const o of workloads(objects))
      for (const c of containersOf(o))
        for (const scope of ['requests', 'limits'] as const)
          for (const r of ['cpu', 'memory']) {
            const value = c.resources?.[scope]?.[r];
            expect(value, `${ref(o)} ${c.name} ${scope}.${r}`).toBeDefined();
            expect(quantity(value)).toBeGreaterThan(0);
          }
  });

  it('requests exactly one GPU per Ollama replica and none anywhere else', () => {
    for (const o of workloads(defaults))
      for (const c of containersOf(o)) {
        const gpu = [c.resources?.requests?.['nvidia.com/gpu'], c.resources?.limits?.['nvidia.com/gpu']];
        if (o.metadata.name === 'ollama') expect(gpu.map(quantity)).toEqual([1, 1]);
        else expect(gpu, ref(o)).toEqual([undefined, undefined]);
      }
  });
});

describe('GPU workloads', () => {
  /** `key=value:Effect` as a toleration that matches it exactly. */
  const toleration = (taint: string) => {
    const m = /^([^=]+)=([^:]+):(\w+)$/.exec(taint)!;
    return { key: m[1], operator: 'Equal', value: m[2], effect: m[3] };
  };

  it.each(cases)(
    'are the device plugin, Ollama and DCGM, each tolerating the GPU and spot taints (%s)',
    (_l, objects) => {
      const gpuPods = workloads(objects).filter((o) => podSpecOf(o)!.nodeSelector?.gpu === 'true');
      expect(gpuPods.map(ref).sort()).toEqual([
        'DaemonSet kube-system/nvidia-device-plugin',
        'DaemonSet monitoring/dcgm-exporter',
        'StatefulSet llm/ollama',
      ]);
      for (const o of gpuPods) {
        const tolerations = podSpecOf(o)!.tolerations ?? [];
        expect(tolerations, ref(o)).toContainEqual(toleration(GPU_TAINT));
        expect(tolerations, ref(o)).toContainEqual(toleration(SPOT_TAINT));
        expect(tolerations, ref(o)).toContainEqual({
          key: 'nvidia.com/gpu',
          operator: 'Exists',
          effect: 'NoSchedule',
        });
      }
    },
  );

  it('schedules Ollama on the GPU pool by its labels', () => {
    expect(podSpecOf(find(defaults, 'StatefulSet', 'ollama', 'llm'))!.nodeSelector).toEqual({
      workload: 'llm',
      gpu: 'true',
    });
  });

  /**
   * What a GPU node can give Ollama, restated from AKS's rules ("Node resource reservations", AKS ≥ 1.29):
   * kube-reserved CPU by core count; memory min(20 MiB × max pods + 50 MiB, 25 %) plus the 100 Mi eviction
   * threshold, with 250 max pods (Azure CNI overlay default). Minus AKS's own DaemonSets (kube-proxy,
   * azure-cns, ip-masq-agent, cloud-node-manager, the disk and file CSI node plugins: an upper estimate)
   * and the DaemonSets we render for GPU nodes.
   */
  const KUBE_RESERVED_CPU_MILLIS: Record<number, number> = { 4: 140, 8: 180, 16: 260, 64: 740 };
  const AKS_DAEMONSETS = { cpuMillis: 500, memoryMiB: 768 };

  it.each(cases)(
    'gives Ollama CPU and memory requests that fit the GPU node with its DaemonSets (%s)',
    (label, objects) => {
      const spec = SPECS[label]!;
      const vm = T4_VM_SIZES[spec.gpu.vmSize];
      const memoryMiB = vm.memoryGiB * 1024;
      const allocatable = {
        cpu: vm.vcpus * 1000 - KUBE_RESERVED_CPU_MILLIS[vm.vcpus]!,
        memory: memoryMiB - Math.min(20 * 250 + 50, memoryMiB / 4) - 100,
      };
      const daemonSets = objects.filter(
        (o) => o.kind === 'DaemonSet' && podSpecOf(o)!.nodeSelector?.gpu === 'true',
      );
      const sum = (r: string, unit: number) =>
        daemonSets.flatMap(containersOf).reduce((s, c) => s + quantity(c.resources!.requests![r]) / unit, 0);
      const free = {
        cpu: allocatable.cpu - AKS_DAEMONSETS.cpuMillis - sum('cpu', 1e-3),
        memory: allocatable.memory - AKS_DAEMONSETS.memoryMiB - sum('memory', 2 ** 20),
      };
      const ollama = containersOf(find(objects, 'StatefulSet', 'ollama', 'llm'))[0]!;
      const perNode = {
        cpu: (vm.gpus * quantity(ollama.resources!.requests!.cpu)) / 1e-3,
        memory: (vm.gpus * quantity(ollama.resources!.requests!.memory)) / 2 ** 20,
      };
      expect(perNode.cpu, `CPU: ${perNode.cpu}m of ${free.cpu}m free`).toBeLessThanOrEqual(free.cpu);
      expect(perNode.memory, `memory: ${perNode.memory}Mi of ${free.memory}Mi free`).toBeLessThanOrEqual(
        free.memory,
      );
      // …and still most of the node: a T4 model that spills to the CPU needs it.
      expect(perNode.cpu).toBeGreaterThanOrEqual(0.6 * vm.vcpus * 1000);
      expect(perNode.memory).toBeGreaterThanOrEqual(0.7 * memoryMiB);
    },
  );
});

describe('secrets', () => {
  const SECRET_LIKE = /PASSWORD|SECRET|KEY|TOKEN|DATABASE_URL|DB_URL/;

  it.each(cases)(
    'are never rendered: no Secret object, no secret-like env var with a value (%s)',
    (_l, objects) => {
      expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
      for (const o of workloads(objects))
        for (const c of containersOf(o))
          for (const e of c.env ?? [])
            if (SECRET_LIKE.test(e.name)) {
              expect(e.value, `${ref(o)} ${c.name} ${e.name}`).toBeUndefined();
              expect(e.valueFrom?.secretKeyRef, `${ref(o)} ${c.name} ${e.name}`).toBeDefined();
            }
    },
  );

  const material: SecretMaterial = {
    postgresAdminPassword: 'pg-admin-Pw/1',
    openWebuiDbPassword: 'app pw:@/?#',
    webuiSecretKey: 'webui-secret',
    webuiAdminPassword: 'admin-pw',
    grafanaAdminPassword: 'grafana-pw',
    storageAccountKey: 'c3RvcmFnZS1rZXk=',
  };
  const names = namesOf(SPECS.defaults!);
  const secrets = buildSecrets(names, material);
  const keysOf = (namespace: string | undefined, name: string) => {
    const s = secrets.find((x) => x.metadata.namespace === namespace && x.metadata.name === name);
    return s ? Object.keys(s.stringData as Record<string, string>) : undefined;
  };

  it('are all built by buildSecrets: every secretKeyRef and nodeStageSecretRef resolves', () => {
    for (const s of secrets) expect(() => validate(s)).not.toThrow();
    for (const o of workloads(defaults))
      for (const c of containersOf(o))
        for (const e of c.env ?? []) {
          const r = e.valueFrom?.secretKeyRef;
          if (r) expect(keysOf(o.metadata.namespace, r.name), `${ref(o)} ${e.name}`).toContain(r.key);
        }
    for (const pv of defaults.filter((o) => o.kind === 'PersistentVolume')) {
      const r = (pv.spec as { csi: { nodeStageSecretRef: { name: string; namespace: string } } }).csi
        .nodeStageSecretRef;
      expect(keysOf(r.namespace, r.name)).toEqual([
        SECRETS.azureFiles.keys.accountName,
        SECRETS.azureFiles.keys.accountKey,
      ]);
    }
  });

  it('give Open WebUI a TLS connection string for its own role, never the admin', () => {
    const data = secrets.find((s) => s.metadata.name === SECRETS.openWebui.name)!.stringData as Record<
      string,
      string
    >;
    const url = new URL(data[SECRETS.openWebui.keys.databaseUrl]!);
    expect(url.protocol).toBe('postgresql:');
    expect(url.username).toBe(OPENWEBUI_DB_ROLE);
    expect(url.username).not.toBe(names.postgresAdminLogin);
    expect(decodeURIComponent(url.password)).toBe(material.openWebuiDbPassword);
    expect(url.hostname).toBe(`${names.postgresServer}.postgres.database.azure.com`);
    expect(url.pathname).toBe(`/${names.postgresDatabase}`);
    expect(url.searchParams.get('sslmode')).toBe('require');
  });

  it('connect the database-setup Job as the admin over TLS, and pass the app role by name', () => {
    const job = find(defaults, 'Job', 'database-setup', 'llm');
    const psql = containersOf(job)[0]!;
    const env = envOf(psql);
    expect(env.PGUSER).toBe(names.postgresAdminLogin);
    expect(env.PGSSLMODE).toBe('require');
    expect(env.PGHOST).toBe(`${names.postgresServer}.postgres.database.azure.com`);
    expect(env.PGDATABASE).toBe(names.postgresDatabase);
    expect(psql.image).toMatch(/^postgres:16[.\d]*-alpine/);
    expect([...(psql.command ?? []), ...(psql.args ?? [])]).toContain(`--set=app_role=${OPENWEBUI_DB_ROLE}`);
    const sql = find(defaults, 'ConfigMap', 'database-setup-sql', 'llm').data as Record<string, string>;
    expect(sql['database-setup.sql']).toBe(
      readFileSync(join(root, 'manifests/sql/database-setup.sql'), 'utf8'),
    );
  });
});

// The database-setup SQL is tested by running it on a real PostgreSQL: test/integration/database-setup.test.ts.

describe('the quota of namespace llm', () => {
  it.each(cases)(
    'admits every autoscaler at its maximum, Redis and every Job at once (%s)',
    (_l, objects) => {
      const hpaMax = autoscaledMax(objects);
      const need = {
        pods: 0,
        'requests.cpu': 0,
        'limits.cpu': 0,
        'requests.memory': 0,
        'limits.memory': 0,
        'requests.nvidia.com/gpu': 0,
      };
      for (const o of workloads(objects).filter((x) => x.metadata.namespace === 'llm')) {
        const replicas =
          o.kind === 'Job'
            ? 1
            : (hpaMax.get(`${o.kind}/${o.metadata.name}`) ?? (o.spec as { replicas: number }).replicas);
        const pod = podSpecOf(o)!;
        const sum = (scope: 'requests' | 'limits', r: string) =>
          pod.containers.reduce((s, c: Container) => s + quantity(c.resources?.[scope]?.[r]), 0);
        need.pods += replicas;
        need['requests.cpu'] += replicas * sum('requests', 'cpu');
        need['limits.cpu'] += replicas * sum('limits', 'cpu');
        need['requests.memory'] += replicas * sum('requests', 'memory');
        need['limits.memory'] += replicas * sum('limits', 'memory');
        need['requests.nvidia.com/gpu'] += replicas * sum('requests', 'nvidia.com/gpu');
      }
      const hard = (
        find(objects, 'ResourceQuota', 'llm-quota', 'llm').spec as { hard: Record<string, string> }
      ).hard;
      for (const [key, value] of Object.entries(need))
        expect(quantity(hard[key]), `${key}: quota ${hard[key]}, needed ${value}`).toBeGreaterThanOrEqual(
          value * 0.999999,
        );
      expect(quantity(hard['requests.nvidia.com/gpu'])).toBe(hpaMax.get('StatefulSet/ollama'));
      expect(Object.keys(hard).filter((k) => k.startsWith('limits.nvidia'))).toEqual([]);
    },
  );

  it("counts the HTTPS entry's load balancer as the only one, and the three claims", () => {
    const hard = (
      find(defaults, 'ResourceQuota', 'llm-quota', 'llm').spec as { hard: Record<string, string> }
    ).hard;
    expect(hard['services.loadbalancers']).toBe('1');
    // Ollama's models, Open WebUI's data and the entry's certificates.
    expect(hard.persistentvolumeclaims).toBe('3');
  });
});

describe('autoscaling', () => {
  const adapterRules = (objects: KubernetesObject[]) =>
    (
      parse(
        (
          find(objects, 'ConfigMap', 'prometheus-adapter-config', 'monitoring').data as Record<string, string>
        )['config.yaml']!,
      ) as {
        rules: { name: { as: string }; resources: { overrides: Record<string, { resource: string }> } }[];
      }
    ).rules;

  type Trigger = { type: string; name: string; metricType?: string; metadata: Record<string, string> };
  const scaler = (objects: KubernetesObject[]) =>
    find(objects, 'ScaledObject', 'ollama', 'llm').spec as {
      scaleTargetRef: { kind: string; name: string };
      minReplicaCount: number;
      maxReplicaCount: number;
      triggers: Trigger[];
    };

  it.each(cases)(
    "scales Ollama with one KEDA ScaledObject: held chats at the interceptor, and the adapter's GPU memory series (%s)",
    (_l, objects) => {
      const so = scaler(objects);
      expect(so.scaleTargetRef).toMatchObject({ kind: 'StatefulSet', name: 'ollama' });
      // One controller: KEDA owns the HPA it creates; none of ours targets Ollama.
      expect(
        objects
          .filter((o) => o.kind === 'HorizontalPodAutoscaler')
          .map((o) => (o.spec as { scaleTargetRef: { name: string } }).scaleTargetRef.name),
      ).toEqual(['open-webui']);
      const [held, gpu] = so.triggers;
      expect(held).toMatchObject({ type: 'prometheus', metadata: { activationThreshold: '0' } });
      expect(held!.metadata.query).toContain('caddy_http_requests_in_flight{job="ollama-wake"}');
      // The same series, in percent, as the adapter's rule exposing GPU_MEMORY_METRIC.
      const rule = adapterRules(objects).find((r) => r.name.as === GPU_MEMORY_METRIC);
      expect(rule, 'adapter rule of the GPU memory metric').toBeDefined();
      expect(gpu).toMatchObject({ type: 'prometheus', metricType: 'Value', metadata: { threshold: '60' } });
      expect(gpu!.metadata.query).toMatch(/100 \* DCGM_FI_DEV_FB_USED.*DCGM_FI_DEV_FB_FREE/s);
      // Prometheus scrapes the interceptor's metrics port under that job name.
      const prometheusConfig = String(
        (find(objects, 'ConfigMap', 'prometheus-config', 'monitoring').data as Record<string, string>)[
          'prometheus.yml'
        ],
      );
      expect(prometheusConfig).toMatch(/job_name: ollama-wake[\s\S]*regex: ollama-wake;metrics/);
    },
  );

  it.each(cases)(
    'lets Ollama grow to one replica per GPU of the pool at its largest, and to zero only once released (%s)',
    (label, objects) => {
      const spec = SPECS[label]!;
      expect(scaler(objects).minReplicaCount).toBe(1);
      expect(scaler(objects).maxReplicaCount).toBe(spec.gpu.maxNodes * T4_VM_SIZES[spec.gpu.vmSize].gpus);
      const released = renderManifests(spec, namesOf(spec), TEMPLATES, { gpuReleased: true });
      expect(scaler(released as KubernetesObject[]).minReplicaCount).toBe(0);
    },
  );

  it.each(cases)(
    'renders the autoscaling file alone exactly as the whole set renders it, released or not (%s)',
    (label) => {
      const spec = SPECS[label]!;
      for (const gpuReleased of [false, true]) {
        const whole = renderManifests(spec, namesOf(spec), TEMPLATES, { gpuReleased });
        const alone = renderManifestFile(spec, namesOf(spec), TEMPLATES, '80-autoscaling.yaml', {
          gpuReleased,
        });
        expect(alone.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
          'HorizontalPodAutoscaler/open-webui',
          'ScaledObject/ollama',
        ]);
        for (const o of alone)
          expect(o).toEqual(whole.find((w) => w.kind === o.kind && w.metadata.name === o.metadata.name));
      }
    },
  );

  it.each(cases)(
    'keeps Open WebUI between the requested replicas and what the PostgreSQL SKU can serve (%s)',
    (label, objects) => {
      const spec = SPECS[label]!;
      const hpa = find(objects, 'HorizontalPodAutoscaler', 'open-webui', 'llm').spec as {
        minReplicas: number;
        maxReplicas: number;
        metrics: { type: string; resource?: { name: string } }[];
      };
      expect(hpa.minReplicas).toBe(spec.webui.replicas);
      expect(hpa.maxReplicas).toBeGreaterThanOrEqual(spec.webui.replicas);
      expect(hpa.maxReplicas).toBeLessThanOrEqual(10);
      expect(connectionsNeeded(hpa.maxReplicas)).toBeLessThanOrEqual(
        choosePostgresSku(spec.webui.replicas).userConnections,
      );
      expect(hpa.metrics.map((m) => m.resource?.name)).toEqual(['cpu']);
    },
  );

  it('lets one replica on B1ms not grow, and three replicas on B2s grow to ten', () => {
    const max = (objects: KubernetesObject[]) =>
      (find(objects, 'HorizontalPodAutoscaler', 'open-webui', 'llm').spec as { maxReplicas: number })
        .maxReplicas;
    expect(max(rendered['one Open WebUI replica']!)).toBe(1);
    expect(max(defaults)).toBe(10);
  });
});

describe('Open WebUI', () => {
  const deployment = (objects: KubernetesObject[]) => find(objects, 'Deployment', 'open-webui', 'llm');
  const container = (objects: KubernetesObject[]) => containersOf(deployment(objects))[0]!;

  // The HPA owns the count: a count in the manifest would be ours too, and our apply (without force) would
  // meet a 409 Conflict once the HPA scaled. Created without one, the Deployment starts with 1 and the HPA
  // raises it to its minimum, the requested replicas.
  it.each(cases)('runs the requested replicas through its HPA, not its own count (%s)', (label, objects) => {
    expect(deployment(objects).spec).not.toHaveProperty('replicas');
    const hpa = find(objects, 'HorizontalPodAutoscaler', 'open-webui', 'llm').spec as { minReplicas: number };
    expect(hpa.minReplicas).toBe(SPECS[label]!.webui.replicas);
  });

  it.each(cases)('leaves replicas out of every workload an autoscaler scales (%s)', (_, objects) => {
    const targets = [...autoscaledMax(objects).keys()].sort();
    expect(targets).toEqual(['Deployment/open-webui', 'StatefulSet/ollama']);
    for (const t of targets) {
      const [kind, name] = t.split('/') as [string, string];
      expect(find(objects, kind, name, 'llm').spec).not.toHaveProperty('replicas');
    }
  });

  it('is configured for several replicas: PostgreSQL, pgvector, Redis websockets, one worker', () => {
    const env = envOf(container(defaults));
    expect(env).toMatchObject({
      VECTOR_DB: 'pgvector',
      PGVECTOR_CREATE_EXTENSION: 'false',
      ENABLE_WEBSOCKET_SUPPORT: 'true',
      WEBSOCKET_MANAGER: 'redis',
      REDIS_URL: 'redis://redis.llm.svc.cluster.local:6379/0',
      WEBSOCKET_REDIS_URL: 'redis://redis.llm.svc.cluster.local:6379/0',
      UVICORN_WORKERS: '1',
      DATA_DIR: '/app/backend/data',
      OLLAMA_BASE_URL: 'http://ollama-wake.llm.svc.cluster.local:11434',
    });
    const refs = Object.fromEntries(
      (container(defaults).env ?? [])
        .filter((e) => e.valueFrom)
        .map((e) => [e.name, e.valueFrom!.secretKeyRef]),
    );
    const url = { name: SECRETS.openWebui.name, key: SECRETS.openWebui.keys.databaseUrl };
    expect(refs).toEqual({
      DATABASE_URL: url,
      PGVECTOR_DB_URL: url,
      WEBUI_SECRET_KEY: { name: SECRETS.openWebui.name, key: SECRETS.openWebui.keys.secretKey },
      WEBUI_ADMIN_PASSWORD: { name: SECRETS.openWebui.name, key: SECRETS.openWebui.keys.adminPassword },
    });
  });

  it('sizes both connection pools from src/platform/sizing.ts', () => {
    expect(envOf(container(defaults))).toMatchObject({
      DATABASE_POOL_SIZE: String(WEBUI_POOL.size),
      DATABASE_POOL_MAX_OVERFLOW: String(WEBUI_POOL.overflow),
      PGVECTOR_POOL_SIZE: String(WEBUI_POOL.size),
      PGVECTOR_POOL_MAX_OVERFLOW: String(WEBUI_POOL.overflow),
    });
  });

  it("creates the admin from the given address, else the spec's, else admin@<prefix>.local, and closes sign-up", () => {
    const spec = SPECS.defaults!;
    expect(envOf(container(defaults))).toMatchObject({
      WEBUI_ADMIN_EMAIL: defaultAdminEmail(spec.prefix),
      ENABLE_SIGNUP: 'False',
      DEFAULT_USER_ROLE: 'pending',
    });
    expect(defaultAdminEmail(spec.prefix)).toBe('admin@team42.local');
    const custom = renderManifests(spec, namesOf(spec), TEMPLATES, { adminEmail: 'ops@example.com' });
    expect(envOf(container(custom)).WEBUI_ADMIN_EMAIL).toBe('ops@example.com');
    const fromSpec = { ...spec, webui: { ...spec.webui, adminEmail: 'owner@example.org' } };
    expect(envOf(container(renderManifests(fromSpec, namesOf(spec), TEMPLATES))).WEBUI_ADMIN_EMAIL).toBe(
      'owner@example.org',
    );
    expect(() => renderManifests(spec, namesOf(spec), TEMPLATES, { adminEmail: 'not an address' })).toThrow(
      /adminEmail/,
    );
  });

  it('leaves migrations to one Job that runs the same image before the Deployment', () => {
    const objects = defaults;
    const jobs = objects.filter((o) => o.kind === 'Job' && o.metadata.name.startsWith('open-webui-migrate-'));
    expect(jobs).toHaveLength(1);
    const job = jobs[0]!;
    const migrate = containersOf(job)[0]!;
    expect(envOf(container(objects)).ENABLE_DB_MIGRATIONS).toBe('False');
    expect(envOf(migrate).ENABLE_DB_MIGRATIONS).toBe('True');
    expect(migrate.image).toBe(container(objects).image);
    // The Job name carries the image version, so an upgrade runs a new migration.
    const tag = migrate.image.slice(migrate.image.lastIndexOf(':') + 1);
    expect(job.metadata.name).toBe(`open-webui-migrate-${tag.replace(/\./g, '-')}`);
    expect((deployment(objects).spec as { strategy: { type: string } }).strategy.type).toBe('Recreate');
    const order = objects.map(ref);
    expect(order.indexOf(ref(job))).toBeLessThan(order.indexOf(ref(deployment(objects))));
    expect(order.indexOf('Job llm/database-setup')).toBeLessThan(order.indexOf(ref(job)));
    expect(job.metadata.annotations?.[WAIT_FOR_COMPLETION]).toBe('true');
    expect(find(objects, 'Job', 'database-setup', 'llm').metadata.annotations?.[WAIT_FOR_COMPLETION]).toBe(
      'true',
    );
    expect(
      find(objects, 'Job', 'model-preload', 'llm').metadata.annotations?.[WAIT_FOR_COMPLETION],
    ).toBeUndefined();
  });

  it('is in-cluster only (reached through the HTTPS entry) and kept available by a disruption budget', () => {
    const svc = find(defaults, 'Service', 'open-webui', 'llm').spec as {
      type: string;
      ports: { port: number; targetPort: string }[];
    };
    expect(svc.type).toBe('ClusterIP');
    expect(svc.ports).toEqual([{ name: 'http', port: 80, targetPort: 'http' }]);
    // The entry balances over the pods itself: a headless Service lists them.
    const pods = find(defaults, 'Service', 'open-webui-pods', 'llm').spec as Record<string, unknown>;
    expect(pods).toMatchObject({ type: 'ClusterIP', clusterIP: 'None' });
    const port = (container(defaults) as unknown as { ports: { name: string; containerPort: number }[] })
      .ports;
    expect(port).toEqual([{ name: 'http', containerPort: 8080 }]);
    const pdb = find(defaults, 'PodDisruptionBudget', 'open-webui', 'llm').spec as {
      maxUnavailable?: number;
    };
    expect(pdb.maxUnavailable).toBe(1);
  });
});

describe('Ollama', () => {
  const statefulSet = find(defaults, 'StatefulSet', 'ollama', 'llm');
  const ollama = containersOf(statefulSet)[0]!;

  it('is governed by a headless Service and balanced by the ClusterIP Service ollama', () => {
    expect((statefulSet.spec as { serviceName: string }).serviceName).toBe('ollama-headless');
    expect(
      (find(defaults, 'Service', 'ollama-headless', 'llm').spec as { clusterIP: string }).clusterIP,
    ).toBe('None');
    const svc = find(defaults, 'Service', 'ollama', 'llm').spec as {
      type: string;
      ports: { port: number }[];
    };
    expect(svc.type).toBe('ClusterIP');
    expect(svc.ports.map((p) => p.port)).toEqual([11434]);
  });

  it('shares the models directory safely and waits long enough for loads from network storage', () => {
    expect(envOf(ollama)).toMatchObject({
      OLLAMA_HOST: '0.0.0.0:11434',
      OLLAMA_NOPRUNE: '1',
      OLLAMA_LOAD_TIMEOUT: '15m',
    });
    expect(envOf(ollama).OLLAMA_KEEP_ALIVE).toBeDefined();
    expect(envOf(ollama).OLLAMA_NUM_PARALLEL).toBeDefined();
    expect(envOf(ollama).OLLAMA_MAX_LOADED_MODELS).toBeDefined();
    expect(envOf(ollama).OLLAMA_ORIGINS).toBeUndefined();
    const mounts = (ollama as unknown as { volumeMounts: { name: string; mountPath: string }[] })
      .volumeMounts;
    expect(mounts).toEqual([{ name: 'models', mountPath: '/root/.ollama' }]);
    expect(podSpecOf(statefulSet)!.volumes).toEqual([
      { name: 'models', persistentVolumeClaim: { claimName: 'ollama-models' } },
    ]);
  });
});

describe('storage', () => {
  it.each(cases)(
    'binds each claim to its own static Azure Files volume, ReadWriteMany (%s)',
    (label, objects) => {
      const names = namesOf(SPECS[label]!);
      const pvs = objects.filter((o) => o.kind === 'PersistentVolume');
      const handles = pvs.map((pv) => (pv.spec as { csi: { volumeHandle: string } }).csi.volumeHandle);
      expect(new Set(handles).size).toBe(pvs.length);
      for (const pv of pvs) {
        const spec = pv.spec as {
          accessModes: string[];
          storageClassName: string;
          persistentVolumeReclaimPolicy: string;
          claimRef?: { namespace: string; name: string };
          mountOptions: string[];
          csi: { driver: string; volumeHandle: string; volumeAttributes: Record<string, string> };
        };
        expect(spec.accessModes).toEqual(['ReadWriteMany']);
        expect(spec.storageClassName).toBe('');
        expect(spec.persistentVolumeReclaimPolicy).toBe('Retain');
        expect(spec.csi.driver).toBe('file.csi.azure.com');
        expect(spec.csi.volumeAttributes).toMatchObject({
          resourceGroup: names.resourceGroup,
          storageAccount: names.storageAccount,
        });
        expect([names.modelsFileShare, names.webuiFileShare]).toContain(spec.csi.volumeAttributes.shareName);
        expect(spec.csi.volumeHandle).toContain(names.storageAccount);
        expect(spec.mountOptions).toEqual(
          expect.arrayContaining(['mfsymlinks', 'cache=strict', 'actimeo=30', 'nosharesock']),
        );
        const claim = objects.find(
          (o) =>
            o.kind === 'PersistentVolumeClaim' &&
            (o.spec as { volumeName?: string }).volumeName === pv.metadata.name,
        );
        expect(claim, pv.metadata.name).toBeDefined();
        expect(claim!.spec).toMatchObject({ accessModes: ['ReadWriteMany'], storageClassName: '' });
        // Pre-bound both ways: the volume is reserved for exactly this claim.
        expect(spec.claimRef).toEqual({ namespace: claim!.metadata.namespace, name: claim!.metadata.name });
      }
    },
  );
});

describe('apply order', () => {
  it.each(cases)('puts every object after what it needs (%s)', (_l, objects) => {
    const position = new Map(objects.map((o, i) => [ref(o), i]));
    const before = (needed: string, user: KubernetesObject) => {
      expect(position.has(needed), `${ref(user)} needs ${needed}`).toBe(true);
      expect(position.get(needed)!, `${needed} before ${ref(user)}`).toBeLessThan(position.get(ref(user))!);
    };
    objects.forEach((o, i) => {
      if (o.metadata.namespace && !['kube-system'].includes(o.metadata.namespace))
        before(`Namespace /${o.metadata.namespace}`, o);
      if (o.kind === 'PersistentVolumeClaim' && (o.spec as { volumeName?: string }).volumeName)
        before(`PersistentVolume /${(o.spec as { volumeName: string }).volumeName}`, o);
      const pod = podSpecOf(o);
      if (pod) {
        const ns = o.metadata.namespace;
        for (const v of pod.volumes ?? []) {
          if (v.configMap) before(`ConfigMap ${ns}/${v.configMap.name}`, o);
          if (v.persistentVolumeClaim)
            before(`PersistentVolumeClaim ${ns}/${v.persistentVolumeClaim.claimName}`, o);
        }
        if (pod.serviceAccountName) before(`ServiceAccount ${ns}/${pod.serviceAccountName}`, o);
      }
      if (o.kind === 'HorizontalPodAutoscaler' || o.kind === 'ScaledObject') {
        const t = (o.spec as { scaleTargetRef: { kind: string; name: string } }).scaleTargetRef;
        before(`${t.kind} ${o.metadata.namespace}/${t.name}`, o);
      }
      if (o.kind === 'APIService') {
        const s = (o.spec as { service: { name: string; namespace: string } }).service;
        before(`Service ${s.namespace}/${s.name}`, o);
      }
      if (o.kind === 'ResourceQuota') expect(i, 'quota right after the namespaces').toBe(2);
    });
    // KEDA's triggers read Prometheus and the interceptor's metrics: both are applied before it.
    before('Service monitoring/prometheus', find(objects, 'ScaledObject', 'ollama', 'llm'));
    before('Service llm/ollama-wake', find(objects, 'ScaledObject', 'ollama', 'llm'));
    expect(ref(objects.at(-1)!)).toBe('Job llm/model-preload');
  });
});

describe('model preload', () => {
  it('pulls every requested model through the Ollama API, with a time bound per model and retries', () => {
    const spec = specOf({ models: ['llama3.1:8b', 'acme/custom:q4', 'phi3.5'] });
    const job = find(renderManifests(spec, namesOf(spec), TEMPLATES), 'Job', 'model-preload', 'llm');
    const c = containersOf(job)[0]!;
    const args = c.args!;
    expect(args.filter((_, i) => i % 2 === 0)).toEqual(spec.models);
    for (const seconds of args.filter((_, i) => i % 2 === 1))
      expect(Number(seconds)).toBeGreaterThanOrEqual(600);
    const script = c.command!.join('\n');
    expect(script).toContain('http://ollama.llm.svc.cluster.local:11434');
    expect(script).toContain('/api/pull');
    expect(script).toMatch(/--max-time "\$seconds"/);
    expect(c.image).toMatch(/^curlimages\/curl:\d/);
    const jobSpec = job.spec as { backoffLimit: number; activeDeadlineSeconds: number };
    expect(jobSpec.backoffLimit).toBeGreaterThan(0);
    expect(jobSpec.activeDeadlineSeconds).toBeGreaterThan(
      args.filter((_, i) => i % 2 === 1).reduce((s, x) => s + Number(x), 0),
    );
  });
});

describe("the wipe's data Job (applied on demand only)", () => {
  const [job, ...rest] = renderOnDemand(ON_DEMAND.webuiDataWipe, TEMPLATES);
  const pod = podSpecOf(job!)!;

  it('is one valid Job, never part of the regular apply', () => {
    expect(rest).toEqual([]);
    expect(() => validate(job!)).not.toThrow();
    for (const objects of Object.values(rendered))
      expect(objects.some((o) => o.metadata.name === job!.metadata.name)).toBe(false);
  });

  it("mounts Open WebUI's claim, removes only its file folders, with a pinned image and no extra rights", () => {
    const claim = (pod as { volumes?: { persistentVolumeClaim?: { claimName: string } }[] }).volumes?.[0];
    const webuiVolumes = (
      podSpecOf(find(defaults, 'Deployment', 'open-webui', 'llm'))! as typeof pod & {
        volumes: { persistentVolumeClaim?: { claimName: string } }[];
      }
    ).volumes;
    expect(job!.metadata.namespace).toBe('llm');
    expect(webuiVolumes.map((v) => v.persistentVolumeClaim?.claimName)).toContain(
      claim?.persistentVolumeClaim?.claimName,
    );
    const [c] = containersOf(job!);
    expect(c!.image).toMatch(/^busybox:\d+\.\d+\.\d+$/);
    expect(c!.command!.join(' ')).toMatch(/for entry in uploads cache vector_db/);
    expect(c!.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(pod.automountServiceAccountToken).toBe(false);
    // It runs while Open WebUI is at zero replicas: one Open WebUI pod's share of the quota is enough.
    const webui = containersOf(find(defaults, 'Deployment', 'open-webui', 'llm'))[0]!;
    for (const scope of ['requests', 'limits'] as const)
      for (const r of ['cpu', 'memory'])
        expect(quantity(c!.resources?.[scope]?.[r])).toBeLessThanOrEqual(
          quantity(webui.resources?.[scope]?.[r]),
        );
  });
});

describe('packaging', () => {
  /** .funcignore rules (gitignore syntax) as the deployment packager reads them: enough for its patterns. */
  function excluded(path: string): boolean {
    const rules = readFileSync(join(root, '.funcignore'), 'utf8')
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    let out = false;
    const parts = path.split('/');
    for (const raw of rules) {
      const negate = raw.startsWith('!');
      const rule = (negate ? raw.slice(1) : raw).replace(/^\//, '');
      const dirOnly = rule.endsWith('/');
      const body = (dirOnly ? rule.slice(0, -1) : rule)
        .replace(/[.+^$()|[\]\\]/g, '\\$&')
        .split('**')
        .map((part) => part.replace(/\*/g, '[^/]*'))
        .join('.*');
      const re = new RegExp(rule.includes('/') && !dirOnly ? `^${body}$` : `^(?:.*/)?${body}$`);
      for (let i = 1; i <= parts.length; i++) {
        const sub = parts.slice(0, i).join('/');
        if ((i < parts.length || !dirOnly) && re.test(sub)) out = !negate;
      }
    }
    return out;
  }

  it.each([
    'manifests/00-namespaces.yaml',
    'manifests/sql/database-setup.sql',
    'dashboards/gpu-monitoring.json',
    'dashboards/platform-overview.json',
  ])('ships %s in the function package', (path) => {
    expect(excluded(path)).toBe(false);
  });

  it('recognises what .funcignore does exclude (self-check)', () => {
    expect(excluded('src/platform/manifests.ts')).toBe(true);
    expect(excluded('scripts/manifests.mjs')).toBe(true);
  });
});
