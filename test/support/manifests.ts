/** Specs and small readers shared by the manifest, dashboard and CLI tests. */
import { loadTemplateSource } from '../../src/manifest-files.js';
import { derivePlatformNames } from '../../src/platform/naming.js';
import type { KubernetesObject } from '../../src/platform/templates.js';
import type { PlatformSpec } from '../../src/platform/types.js';

export const SUBSCRIPTION = '00000000-0000-0000-0000-000000000000';

/** The app's templates, read once per test file through the loader the app uses. */
export const TEMPLATES = loadTemplateSource();

/** The request defaults (schema) for prefix `team42`, with overrides. */
export function specOf(overrides: {
  prefix?: string;
  models?: string[];
  gpu?: Partial<PlatformSpec['gpu']>;
  webui?: Partial<PlatformSpec['webui']>;
}): PlatformSpec {
  return {
    prefix: overrides.prefix ?? 'team42',
    models: overrides.models ?? ['llama3.1:8b', 'phi3.5'],
    location: 'eastus',
    gpu: { vmSize: 'Standard_NC4as_T4_v3', minNodes: 0, maxNodes: 2, spot: true, ...overrides.gpu },
    webui: { replicas: 3, ...overrides.webui },
    autoStop: { idleMinutes: 60 },
    tags: {},
    huggingFaceToken: false,
  };
}

export const namesOf = (spec: PlatformSpec) => derivePlatformNames(SUBSCRIPTION, spec.prefix);

/** The specs every policy is checked against. */
export const SPECS: Record<string, PlatformSpec> = {
  defaults: specOf({}),
  'spot false': specOf({ gpu: { spot: false } }),
  'one Open WebUI replica': specOf({ webui: { replicas: 1 } }),
  'ten Open WebUI replicas': specOf({ webui: { replicas: 10 } }),
  'ten GPU nodes': specOf({ gpu: { minNodes: 1, maxNodes: 10 } }),
  NC64as: specOf({ gpu: { vmSize: 'Standard_NC64as_T4_v3', maxNodes: 3 } }),
};

export interface Container {
  name: string;
  image: string;
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  resources?: { requests?: Record<string, string | number>; limits?: Record<string, string | number> };
  command?: string[];
  args?: string[];
  securityContext?: Record<string, unknown>;
}

export interface PodSpec {
  containers: Container[];
  automountServiceAccountToken?: boolean;
  initContainers?: Container[];
  nodeSelector?: Record<string, string>;
  tolerations?: { key?: string; operator?: string; value?: string; effect?: string }[];
  volumes?: {
    name: string;
    configMap?: { name: string };
    persistentVolumeClaim?: { claimName: string };
  }[];
  serviceAccountName?: string;
}

const POD_OWNERS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'Job']);

/** The pod template of a workload, or undefined for anything else. */
export function podSpecOf(o: KubernetesObject): PodSpec | undefined {
  if (!POD_OWNERS.has(o.kind)) return undefined;
  return (o.spec as { template: { spec: PodSpec } }).template.spec;
}

export const containersOf = (o: KubernetesObject): Container[] => {
  const pod = podSpecOf(o);
  return pod ? [...(pod.initContainers ?? []), ...pod.containers] : [];
};

export const find = (objects: KubernetesObject[], kind: string, name: string, namespace?: string) => {
  const o = objects.find(
    (x) => x.kind === kind && x.metadata.name === name && x.metadata.namespace === namespace,
  );
  if (!o) throw new Error(`no ${kind} ${namespace ?? ''}/${name}`);
  return o;
};

export const envOf = (container: Container): Record<string, string | undefined> =>
  Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value]));

export const ref = (o: KubernetesObject) => `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`;
