/**
 * Stored objects and field ownership (a simplified server-side apply).
 *
 * Each object keeps its user-managed content (everything but apiVersion/kind, the system metadata and
 * controller-owned status) and, per field manager, the set of leaf fields it owns. Lists are atomic (owned
 * as a whole: no merging of `containers` by name). An apply sets the manager's fields, removes the fields it
 * applied before and no longer applies (unless another manager owns them) and conflicts (409) when it would
 * change a field another manager owns, unless forced, in which case ownership moves. Non-apply writes
 * (create, replace, merge patches) take ownership of the fields they change without conflicts.
 */
import {
  clone,
  deepEqual,
  deletePath,
  dotted,
  getPath,
  isObject,
  leafPaths,
  overlaps,
  pathKey,
  setPath,
  type FieldPath,
  type Json,
  type JsonObject,
} from './json.js';
import type { ResourceType } from './resources.js';
import { quantity } from './status/quota.js';

export interface ManagerEntry {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time: string;
  paths: string[][];
  subresource?: string;
}

export interface NodeSim {
  pool: string;
  gpus: number;
  ready: boolean;
  /** When the node (re)joined: pods on it start from here. */
  joinedMs: number;
}

export interface Entry {
  type: ResourceType;
  name: string;
  namespace?: string;
  uid: string;
  resourceVersion: number;
  generation: number;
  createdMs: number;
  /** Time of the last generation change (spec change): readiness is computed from here. */
  revisionMs: number;
  content: JsonObject;
  managers: ManagerEntry[];
  /** Status written by the simulator itself (node capacity, …); merged under the computed status. */
  status?: JsonObject;
  /** Namespaces being deleted. */
  deletingSinceMs?: number;
  /** The status just before the last spec change, and whether the workload was ready then (rollouts). */
  prev?: { status: JsonObject | undefined; ready: boolean; replicas: number; templateChanged: boolean };
  node?: NodeSim;
  /** Deployment/StatefulSet: when each replica's pod was created (a scale-up adds, a template change resets). */
  podTimes?: number[];
  /** Decided when a Job is created (or marked to fail before it finished). */
  jobOutcome?: { failed: boolean; message?: string };
  /** Seeded by the simulator (nodes, system namespaces, storage classes). */
  system?: boolean;
  /** HorizontalPodAutoscaler: when its controller last synced it, and last scaled its target (hpa.ts). */
  hpaSyncedMs?: number;
  hpaLastScaleMs?: number;
  /** KEDA (keda.ts): when a ScaledObject was last polled, and when one of its triggers was last active. */
  kedaPolledMs?: number;
  kedaActiveMs?: number;
  kedaScaledMs?: number;
}

export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: JsonObject,
  ) {
    super(message);
  }
}

const SYSTEM_METADATA = new Set([
  'name',
  'namespace',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'managedFields',
  'selfLink',
  'generateName',
]);

/** The user-managed part of a request body. */
export function userContent(body: JsonObject, type: ResourceType): JsonObject {
  const content: JsonObject = {};
  for (const [key, value] of Object.entries(body)) {
    if (key === 'apiVersion' || key === 'kind') continue;
    if (key === 'status' && type.hasStatus) continue;
    if (key === 'metadata' && isObject(value)) {
      const metadata: JsonObject = {};
      for (const [mk, mv] of Object.entries(value))
        if (!SYSTEM_METADATA.has(mk) && mv !== null) metadata[mk] = clone(mv);
      if (Object.keys(metadata).length) content.metadata = metadata;
      continue;
    }
    if (value === null) continue;
    content[key] = clone(value);
  }
  if (type.kind === 'Secret') convertStringData(content);
  return content;
}

/** The API server stores `stringData` as base64 `data`. */
function convertStringData(content: JsonObject): void {
  const stringData = content.stringData;
  if (!isObject(stringData)) return;
  const data = isObject(content.data) ? content.data : {};
  for (const [k, v] of Object.entries(stringData))
    data[k] = Buffer.from(String(v), 'utf8').toString('base64');
  content.data = data;
  delete content.stringData;
}

export interface Candidate {
  content: JsonObject;
  managers: ManagerEntry[];
}

export interface Conflict {
  /** The managedFields entry that owns the field (its operation, subresource and time name it). */
  owner: ManagerEntry;
  path: FieldPath;
}

/** Server-side apply of `config` by `manager`. */
export function planApply(
  current: Candidate | undefined,
  config: JsonObject,
  manager: string,
  apiVersion: string,
  force: boolean,
  time: string,
  subresource?: string,
): Candidate | { conflicts: Conflict[] } {
  const live = clone(current?.content ?? {});
  const managers = clone(current?.managers ?? []);
  const newPaths = leafPaths(config);
  const mine = managers.find(
    (m) => m.manager === manager && m.operation === 'Apply' && m.subresource === subresource,
  );
  const others = managers.filter((m) => m !== mine);

  const conflicts: Conflict[] = [];
  const conflicting = new Map<ManagerEntry, Set<string>>();
  for (const other of others) {
    for (const owned of other.paths) {
      const clash = newPaths.some(
        (p) => overlaps(p, owned) && !deepEqual(getPath(live, p), getPath(config, p)),
      );
      if (!clash) continue;
      conflicts.push({ owner: other, path: owned });
      if (!conflicting.has(other)) conflicting.set(other, new Set());
      conflicting.get(other)!.add(pathKey(owned));
    }
  }
  if (conflicts.length && !force) return { conflicts };
  for (const [other, keys] of conflicting) other.paths = other.paths.filter((p) => !keys.has(pathKey(p)));

  const newKeys = new Set(newPaths.map(pathKey));
  const ownedByOthers = (p: FieldPath) => others.some((o) => o.paths.some((q) => overlaps(p, q)));
  const allOwned = () => [...others.flatMap((o) => o.paths), ...newPaths];
  for (const old of mine?.paths ?? []) {
    if (newKeys.has(pathKey(old)) || ownedByOthers(old)) continue;
    // A path that became a parent of new leaves is kept (the new leaves are set below).
    if (newPaths.some((p) => overlaps(p, old) && p.length > old.length)) continue;
    deletePath(live, old, (parent) => allOwned().some((q) => pathKey(q) === pathKey(parent)));
  }
  for (const p of newPaths) setPath(live, p, clone(getPath(config, p)!));

  const entry: ManagerEntry = {
    manager,
    operation: 'Apply',
    apiVersion,
    time,
    paths: newPaths,
    ...(subresource ? { subresource } : {}),
  };
  const result = managers.filter((m) => m.paths.length > 0 && m !== mine);
  if (mine) {
    const index = managers.indexOf(mine);
    result.splice(Math.min(index, result.length), 0, entry);
  } else result.push(entry);
  return { content: live, managers: result };
}

/** A non-apply write (create, replace, patch) of the whole content by `manager`. */
export function planUpdate(
  current: Candidate | undefined,
  content: JsonObject,
  manager: string,
  apiVersion: string,
  time: string,
  subresource?: string,
): Candidate {
  const before = current?.content ?? {};
  const managers = clone(current?.managers ?? []);
  const afterPaths = leafPaths(content);
  const changed = afterPaths.filter((p) => !deepEqual(getPath(before, p), getPath(content, p)));
  const afterKeys = new Set(afterPaths.map(pathKey));
  const removed = leafPaths(before).filter((p) => !afterKeys.has(pathKey(p)));
  const touched = [...changed, ...removed];
  for (const m of managers) {
    m.paths = m.paths.filter((p) => !touched.some((q) => overlaps(p, q)));
  }
  const result = managers.filter((m) => m.paths.length > 0);
  if (changed.length) {
    const existing = result.find(
      (m) => m.manager === manager && m.operation === 'Update' && m.subresource === subresource,
    );
    if (existing) {
      const keys = new Set(existing.paths.map(pathKey));
      existing.paths = [...existing.paths, ...changed.filter((p) => !keys.has(pathKey(p)))];
      existing.time = time;
    } else
      result.push({
        manager,
        operation: 'Update',
        apiVersion,
        time,
        paths: changed,
        ...(subresource ? { subresource } : {}),
      });
  }
  return { content: clone(content), managers: result };
}

/**
 * How the API server names a field manager in a conflict: `"name"` for an Apply entry; an Update entry adds
 * its subresource, apiVersion and time (`"kubectl" with subresource "scale" using apps/v1 at …Z`).
 */
function printManager(m: ManagerEntry): string {
  const named = `${JSON.stringify(m.manager)}${m.subresource ? ` with subresource ${JSON.stringify(m.subresource)}` : ''}`;
  return m.operation === 'Update' ? `${named} using ${m.apiVersion} at ${m.time}` : named;
}

/**
 * The 409 of an apply that would change fields other managers own, shaped as the API server's
 * NewApplyConflict: reason Conflict, one FieldManagerConflict cause per field, no name or kind in details;
 * several conflicts are listed per manager, managers sorted.
 */
export function conflictError(conflicts: Conflict[]): ApiError {
  let message: string;
  if (conflicts.length === 1)
    message = `Apply failed with 1 conflict: conflict with ${printManager(conflicts[0]!.owner)}: ${dotted(conflicts[0]!.path)}`;
  else {
    const byManager = new Map<string, FieldPath[]>();
    for (const c of conflicts) {
      const name = printManager(c.owner);
      byManager.set(name, [...(byManager.get(name) ?? []), c.path]);
    }
    const lines = [...byManager.keys()]
      .sort()
      .flatMap((name) => [`conflicts with ${name}:`, ...byManager.get(name)!.map((p) => `- ${dotted(p)}`)]);
    message = `Apply failed with ${conflicts.length} conflicts: ${lines.join('\n')}`;
  }
  return new ApiError(409, 'Conflict', message, {
    causes: conflicts.map((c) => ({
      reason: 'FieldManagerConflict',
      message: `conflict with ${printManager(c.owner)}`,
      field: dotted(c.path),
    })),
  });
}

/** Fields that may not change after creation, per kind, in the API server's words. */
export function immutabilityError(entry: Entry, next: JsonObject): ApiError | undefined {
  const before = entry.content;
  const kind = entry.type.kind;
  const qualified = `${kind}${entry.type.group ? `.${entry.type.group}` : ''} "${entry.name}"`;
  const invalid = (field: string, message: string) =>
    new ApiError(422, 'Invalid', `${qualified} is invalid: ${field}: ${message}`, {
      name: entry.name,
      group: entry.type.group,
      kind,
      causes: [{ reason: 'FieldValueInvalid', message, field }],
    });
  const spec = (o: JsonObject) => (isObject(o.spec) ? o.spec : {});
  const same = (path: string[]) => deepEqual(getPath(before, path), getPath(next, path));
  if (kind === 'Job') {
    if (!same(['spec', 'template']))
      return invalid(
        'spec.template',
        `Invalid value: ${JSON.stringify(getPath(next, ['spec', 'template']))}: field is immutable`,
      );
    if (!same(['spec', 'selector']))
      return invalid(
        'spec.selector',
        `Invalid value: ${JSON.stringify(getPath(next, ['spec', 'selector']))}: field is immutable`,
      );
  }
  if (
    (kind === 'Deployment' || kind === 'DaemonSet' || kind === 'StatefulSet') &&
    !same(['spec', 'selector'])
  )
    return invalid(
      'spec.selector',
      `Invalid value: ${JSON.stringify(getPath(next, ['spec', 'selector']))}: field is immutable`,
    );
  if (kind === 'StatefulSet') {
    const mutable = new Set([
      'replicas',
      'ordinals',
      'template',
      'updateStrategy',
      'persistentVolumeClaimRetentionPolicy',
      'minReadySeconds',
      'revisionHistoryLimit',
    ]);
    const strip = (o: JsonObject) =>
      Object.fromEntries(Object.entries(spec(o)).filter(([k]) => !mutable.has(k)));
    if (!deepEqual(strip(before), strip(next)))
      return new ApiError(
        422,
        'Invalid',
        `${qualified} is invalid: spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden`,
        {
          name: entry.name,
          group: 'apps',
          kind,
          causes: [
            {
              reason: 'FieldValueForbidden',
              message: `Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden`,
              field: 'spec',
            },
          ],
        },
      );
  }
  if (kind === 'PersistentVolumeClaim') {
    // ValidatePersistentVolumeClaimUpdate: the spec is frozen except the storage request (which may only
    // grow), volumeAttributesClassName, and volumeName while it is still empty (set once, by the user or
    // the binder).
    const strip = (o: JsonObject, volumeName: Json | undefined) => {
      const s = clone(spec(o));
      if (isObject(s.resources) && isObject(s.resources.requests)) delete s.resources.requests.storage;
      if (
        isObject(s.resources) &&
        isObject(s.resources.requests) &&
        !Object.keys(s.resources.requests).length
      )
        delete s.resources.requests;
      if (isObject(s.resources) && Object.keys(s.resources).length === 0) delete s.resources;
      delete s.volumeAttributesClassName;
      if (volumeName === undefined) delete s.volumeName;
      return s;
    };
    const volumeName = getPath(before, ['spec', 'volumeName']);
    if (!deepEqual(strip(before, volumeName), strip(next, volumeName)))
      return new ApiError(
        422,
        'Invalid',
        `${qualified} is invalid: spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims`,
        {
          name: entry.name,
          kind,
          causes: [
            {
              reason: 'FieldValueForbidden',
              message:
                'Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims',
              field: 'spec',
            },
          ],
        },
      );
    const storage = (o: JsonObject) => getPath(o, ['spec', 'resources', 'requests', 'storage']);
    if (storage(before) !== undefined && quantity(storage(next)) < quantity(storage(before)))
      return new ApiError(
        422,
        'Invalid',
        `${qualified} is invalid: spec.resources.requests.storage: Forbidden: field can not be less than status.capacity`,
        {
          name: entry.name,
          kind,
          causes: [
            {
              reason: 'FieldValueForbidden',
              message: 'Forbidden: field can not be less than status.capacity',
              field: 'spec.resources.requests.storage',
            },
          ],
        },
      );
  }
  if (kind === 'PersistentVolume') {
    const sources = ['csi', 'azureFile', 'azureDisk', 'nfs', 'hostPath', 'local'];
    if (sources.some((s) => !same(['spec', s])))
      return invalid(
        'spec.persistentvolumesource',
        'Forbidden: spec.persistentvolumesource is immutable after creation',
      );
  }
  if (kind === 'Service') {
    const ip = getPath(before, ['spec', 'clusterIP']);
    if (ip !== undefined && !same(['spec', 'clusterIP']))
      return invalid(
        'spec.clusterIPs[0]',
        `Invalid value: ${JSON.stringify(getPath(next, ['spec', 'clusterIP']) ?? '')}: may not change once set`,
      );
  }
  if ((kind === 'Secret' || kind === 'ConfigMap') && before.immutable === true) {
    if (!same(['data']) || !same(['binaryData']) || !same(['immutable']))
      return invalid('data', 'Forbidden: field is immutable when `immutable` is set');
  }
  return undefined;
}

const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/** Validation the API server does on every write that a client can get wrong in practice. */
export function validate(type: ResourceType, name: string, content: JsonObject): ApiError | undefined {
  const qualified = `${type.kind}${type.group ? `.${type.group}` : ''} "${name}"`;
  const invalid = (field: string, message: string) =>
    new ApiError(422, 'Invalid', `${qualified} is invalid: ${field}: ${message}`, {
      name,
      group: type.group,
      kind: type.kind,
      causes: [{ reason: 'FieldValueInvalid', message, field }],
    });
  if (type.kind === 'Namespace' && (!LABEL.test(name) || name.length > 63))
    return invalid(
      'metadata.name',
      `Invalid value: "${name}": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`,
    );
  if (type.kind === 'Service' && (!LABEL_1035.test(name) || name.length > 63))
    return invalid(
      'metadata.name',
      `Invalid value: "${name}": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')`,
    );
  if (type.kind === 'CustomResourceDefinition') {
    const spec = isObject(content.spec) ? content.spec : {};
    const plural = isObject(spec.names) ? spec.names.plural : undefined;
    if (name !== `${String(plural)}.${String(spec.group)}`)
      return invalid('metadata.name', `Invalid value: "${name}": must be spec.names.plural+"."+spec.group`);
  }
  // RBAC names are path segments (`system:metrics-server`), not DNS subdomains.
  const pathSegmentName = type.group === 'rbac.authorization.k8s.io';
  if (!pathSegmentName && (!SUBDOMAIN.test(name) || name.length > 253))
    return invalid(
      'metadata.name',
      `Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
    );
  for (const [k, v] of Object.entries(
    isObject(content.metadata) && isObject(content.metadata.labels) ? content.metadata.labels : {},
  )) {
    if (typeof v !== 'string' || v.length > 63 || !/^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/.test(v))
      return invalid(
        `metadata.labels`,
        `Invalid value: ${JSON.stringify(v)}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (label ${k})`,
      );
  }
  if (type.kind === 'Secret' && isObject(content.data)) {
    for (const [k, v] of Object.entries(content.data)) {
      if (typeof v !== 'string' || v.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(v))
        return new ApiError(
          400,
          'BadRequest',
          `Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 0 (key ${k})`,
        );
    }
  }
  return undefined;
}
