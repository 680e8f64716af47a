/**
 * The resource types the simulated API server serves (built-in groups the platform uses, plus any CRD's
 * group/version once established) and the discovery documents built from them.
 */
import { arr, isObject, obj, str, type JsonObject } from './json.js';

export interface ResourceType {
  /** '' for the core group. */
  group: string;
  version: string;
  kind: string;
  plural: string;
  singular: string;
  namespaced: boolean;
  verbs: string[];
  shortNames?: string[];
  /** Subresources listed in discovery (and, for status/scale/log/proxy, served). */
  subresources: string[];
  /** Status is owned by controllers: ignored in writes to the main resource. */
  hasStatus: boolean;
  builtin: boolean;
}

const ALL = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
const NO_COLLECTION = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'];

function t(
  group: string,
  version: string,
  kind: string,
  plural: string,
  namespaced: boolean,
  options: { subresources?: string[]; shortNames?: string[]; verbs?: string[] } = {},
): ResourceType {
  const subresources = options.subresources ?? [];
  return {
    group,
    version,
    kind,
    plural,
    singular: kind.toLowerCase(),
    namespaced,
    verbs: options.verbs ?? ALL,
    ...(options.shortNames ? { shortNames: options.shortNames } : {}),
    subresources,
    hasStatus: subresources.includes('status'),
    builtin: true,
  };
}

export const BUILTIN_TYPES: readonly ResourceType[] = [
  t('', 'v1', 'Namespace', 'namespaces', false, {
    subresources: ['finalize', 'status'],
    shortNames: ['ns'],
    verbs: NO_COLLECTION,
  }),
  t('', 'v1', 'ConfigMap', 'configmaps', true, { shortNames: ['cm'] }),
  t('', 'v1', 'Secret', 'secrets', true),
  t('', 'v1', 'Service', 'services', true, {
    subresources: ['proxy', 'status'],
    shortNames: ['svc'],
  }),
  t('', 'v1', 'ServiceAccount', 'serviceaccounts', true, { subresources: ['token'], shortNames: ['sa'] }),
  t('', 'v1', 'PersistentVolume', 'persistentvolumes', false, {
    subresources: ['status'],
    shortNames: ['pv'],
  }),
  t('', 'v1', 'PersistentVolumeClaim', 'persistentvolumeclaims', true, {
    subresources: ['status'],
    shortNames: ['pvc'],
  }),
  t('', 'v1', 'Pod', 'pods', true, { subresources: ['log', 'status'], shortNames: ['po'] }),
  t('', 'v1', 'Node', 'nodes', false, { subresources: ['proxy', 'status'], shortNames: ['no'] }),
  t('', 'v1', 'ResourceQuota', 'resourcequotas', true, { subresources: ['status'], shortNames: ['quota'] }),
  t('', 'v1', 'Endpoints', 'endpoints', true, { shortNames: ['ep'] }),
  t('', 'v1', 'Event', 'events', true, { shortNames: ['ev'] }),
  t('apps', 'v1', 'Deployment', 'deployments', true, {
    subresources: ['scale', 'status'],
    shortNames: ['deploy'],
  }),
  t('apps', 'v1', 'StatefulSet', 'statefulsets', true, {
    subresources: ['scale', 'status'],
    shortNames: ['sts'],
  }),
  t('apps', 'v1', 'DaemonSet', 'daemonsets', true, { subresources: ['status'], shortNames: ['ds'] }),
  t('batch', 'v1', 'Job', 'jobs', true, { subresources: ['status'] }),
  t('policy', 'v1', 'PodDisruptionBudget', 'poddisruptionbudgets', true, {
    subresources: ['status'],
    shortNames: ['pdb'],
  }),
  t('autoscaling', 'v2', 'HorizontalPodAutoscaler', 'horizontalpodautoscalers', true, {
    subresources: ['status'],
    shortNames: ['hpa'],
  }),
  t('rbac.authorization.k8s.io', 'v1', 'Role', 'roles', true),
  t('rbac.authorization.k8s.io', 'v1', 'RoleBinding', 'rolebindings', true),
  t('rbac.authorization.k8s.io', 'v1', 'ClusterRole', 'clusterroles', false),
  t('rbac.authorization.k8s.io', 'v1', 'ClusterRoleBinding', 'clusterrolebindings', false),
  t('apiregistration.k8s.io', 'v1', 'APIService', 'apiservices', false, { subresources: ['status'] }),
  t('storage.k8s.io', 'v1', 'StorageClass', 'storageclasses', false, { shortNames: ['sc'] }),
  t('networking.k8s.io', 'v1', 'Ingress', 'ingresses', true, {
    subresources: ['status'],
    shortNames: ['ing'],
  }),
  t('networking.k8s.io', 'v1', 'IngressClass', 'ingressclasses', false),
  t('networking.k8s.io', 'v1', 'NetworkPolicy', 'networkpolicies', true, { shortNames: ['netpol'] }),
  t('apiextensions.k8s.io', 'v1', 'CustomResourceDefinition', 'customresourcedefinitions', false, {
    subresources: ['status'],
    shortNames: ['crd', 'crds'],
  }),
];

export const groupVersionOf = (type: { group: string; version: string }): string =>
  type.group ? `${type.group}/${type.version}` : type.version;

export function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const i = apiVersion.indexOf('/');
  return i < 0
    ? { group: '', version: apiVersion }
    : { group: apiVersion.slice(0, i), version: apiVersion.slice(i + 1) };
}

/** The resource types a CRD defines: one per served version. */
/**
 * A CRD version served and stored without a schema of its own (every field kept) and with a status
 * subresource: how the sandbox's CRDs (KEDA's) and the tests' are declared.
 */
export const schemalessCrdVersion = (name: string): JsonObject => ({
  name,
  served: true,
  storage: true,
  schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
  subresources: { status: {} },
});

export function crdTypes(crd: JsonObject): ResourceType[] {
  const spec = obj(crd, 'spec');
  const names = obj(spec, 'names');
  const group = str(spec, 'group');
  const plural = str(names, 'plural');
  const kind = str(names, 'kind');
  if (!group || !plural || !kind) return [];
  const shortNames = arr(names, 'shortNames').filter((s): s is string => typeof s === 'string');
  return arr(spec, 'versions')
    .filter((v) => isObject(v) && v.served !== false && typeof v.name === 'string')
    .map((v) => {
      const subresources = Object.keys(obj(v, 'subresources')).sort();
      return {
        group,
        version: str(v, 'name')!,
        kind,
        plural,
        singular: str(names, 'singular') ?? kind.toLowerCase(),
        namespaced: str(spec, 'scope') !== 'Cluster',
        verbs: ALL,
        ...(shortNames.length ? { shortNames } : {}),
        subresources,
        hasStatus: subresources.includes('status'),
        builtin: false,
      };
    });
}

const SUBRESOURCE_KIND: Record<string, { kind: string; group?: string; version?: string; verbs: string[] }> =
  {
    status: { kind: '', verbs: ['get', 'patch', 'update'] },
    scale: { kind: 'Scale', group: 'autoscaling', version: 'v1', verbs: ['get', 'patch', 'update'] },
    log: { kind: 'Pod', verbs: ['get'] },
    proxy: { kind: '', verbs: ['create', 'delete', 'get', 'patch', 'update'] },
    finalize: { kind: 'Namespace', verbs: ['update'] },
    token: { kind: 'TokenRequest', group: 'authentication.k8s.io', version: 'v1', verbs: ['create'] },
  };

/** `APIResourceList` for one group/version; main resources come before their subresources, as on a real server. */
export function resourceList(groupVersion: string, types: readonly ResourceType[]): JsonObject {
  const resources: JsonObject[] = [];
  for (const type of types) {
    resources.push({
      name: type.plural,
      singularName: type.singular,
      namespaced: type.namespaced,
      kind: type.kind,
      verbs: type.verbs,
      ...(type.shortNames ? { shortNames: type.shortNames } : {}),
    });
    for (const sub of type.subresources) {
      const info = SUBRESOURCE_KIND[sub] ?? { kind: type.kind, verbs: ['get'] };
      resources.push({
        name: `${type.plural}/${sub}`,
        singularName: '',
        namespaced: type.namespaced,
        ...(info.group !== undefined ? { group: info.group, version: info.version ?? 'v1' } : {}),
        kind: info.kind || (sub === 'proxy' ? `${type.kind}ProxyOptions` : type.kind),
        verbs: info.verbs,
      });
    }
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion, resources };
}

export function apiGroup(name: string, versions: string[]): JsonObject {
  const list = versions.map((version) => ({ groupVersion: `${name}/${version}`, version }));
  return { name, versions: list, preferredVersion: list[0]! };
}
