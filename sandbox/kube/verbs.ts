/**
 * The verbs on objects and collections: list, create, replace, patch, server-side apply, delete.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Cluster } from './cluster.js';
import { defaultManager, notFound, parseBody, send, type Call, type Route } from './http.js';
import {
  isObject,
  jsonPatch,
  k8sTime,
  mergePatch,
  safeHash,
  str,
  strMap,
  strategicMergePatch,
  type Json,
  type JsonObject,
} from './json.js';
import type { ResourceType } from './resources.js';
import { matchesFieldSelector, matchesRequirements, parseLabelSelector } from './selectors.js';
import {
  ApiError,
  conflictError,
  immutabilityError,
  planApply,
  planUpdate,
  userContent,
  validate,
  type Entry,
} from './store.js';
import { undeclaredFields } from './schema.js';
import { endpointsObject } from './subresources.js';

export function list(cluster: Cluster, route: Route, apiVersion: string, query: URLSearchParams): JsonObject {
  const { type, namespace } = route;
  const snapshot = cluster.snapshot();
  let items: JsonObject[];
  if (type.builtin && type.kind === 'Pod') {
    items = snapshot.pods
      .filter((p) => namespace === undefined || p.namespace === namespace)
      .map((p) => cluster.renderPod(p, snapshot));
  } else if (type.builtin && type.kind === 'Endpoints') {
    const stored = matching(cluster, route, new URLSearchParams()).map((e) =>
      cluster.render(e, apiVersion, { snapshot }),
    );
    const derived = snapshot
      .ofKind('Service', namespace)
      .filter((s) => Object.keys(strMap(s.content, 'spec', 'selector')).length > 0)
      .map((s) => endpointsObject(s, snapshot));
    const names = new Set(
      derived.map((d) => `${str(d, 'metadata', 'namespace')}/${str(d, 'metadata', 'name')}`),
    );
    items = [
      ...derived,
      ...stored.filter((s) => !names.has(`${str(s, 'metadata', 'namespace')}/${str(s, 'metadata', 'name')}`)),
    ];
  } else if (type.builtin && type.kind === 'Event') {
    items = [
      ...matching(cluster, route, new URLSearchParams()).map((e) =>
        cluster.render(e, apiVersion, { snapshot }),
      ),
      ...snapshot.failedCreateEvents(namespace),
    ];
  } else {
    items = matching(cluster, route, new URLSearchParams()).map((e) =>
      cluster.render(e, apiVersion, { snapshot }),
    );
  }
  const labelSelector = query.get('labelSelector');
  if (labelSelector) {
    const requirements = parseLabelSelector(labelSelector);
    items = items.filter((i) => matchesRequirements(strMap(i, 'metadata', 'labels'), requirements));
  }
  const fieldSelector = query.get('fieldSelector');
  if (fieldSelector) items = items.filter((i) => matchesFieldSelector(i, fieldSelector));
  items.sort(
    (a, b) =>
      (str(a, 'metadata', 'namespace') ?? '').localeCompare(str(b, 'metadata', 'namespace') ?? '') ||
      (str(a, 'metadata', 'name') ?? '').localeCompare(str(b, 'metadata', 'name') ?? ''),
  );
  const offset =
    Number(query.get('continue') ? Buffer.from(query.get('continue')!, 'base64url').toString() : 0) || 0;
  const limit = Number(query.get('limit') ?? 0);
  const page = limit > 0 ? items.slice(offset, offset + limit) : items.slice(offset);
  const more = limit > 0 && offset + limit < items.length;
  // Items of built-in lists carry no apiVersion/kind on a real server; custom resources do.
  const shaped = type.builtin
    ? page.map(({ apiVersion: _v, kind: _k, ...rest }) => rest as JsonObject)
    : page;
  return {
    kind: `${type.kind}List`,
    apiVersion,
    metadata: {
      resourceVersion: String(cluster.resourceVersion),
      ...(more
        ? {
            continue: Buffer.from(String(offset + limit)).toString('base64url'),
            remainingItemCount: items.length - offset - limit,
          }
        : {}),
    },
    items: shaped,
  };
}

export function matching(cluster: Cluster, route: Route, query: URLSearchParams): Entry[] {
  const labelSelector = query.get('labelSelector');
  const requirements = labelSelector ? parseLabelSelector(labelSelector) : [];
  return [...cluster.store.values()].filter(
    (e) =>
      e.type.group === route.type.group &&
      e.type.plural === route.type.plural &&
      (route.namespace === undefined || e.namespace === route.namespace) &&
      matchesRequirements(strMap(e.content, 'metadata', 'labels'), requirements),
  );
}

export function apply(
  cluster: Cluster,
  res: ServerResponse,
  route: Route,
  apiVersion: string,
  existing: Entry | undefined,
  body: Buffer,
  query: URLSearchParams,
  dryRun: boolean,
): void {
  const { type, namespace } = route;
  const name = route.name!;
  const manager = query.get('fieldManager');
  if (!manager)
    throw new ApiError(
      422,
      'Invalid',
      'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
      {
        causes: [
          {
            reason: 'FieldValueRequired',
            message: 'Required value: is required for apply patch',
            field: 'fieldManager',
          },
        ],
      },
    );
  const force = query.get('force') === 'true';
  const object = parseBody(body, 'application/yaml');
  if (str(object, 'apiVersion') === undefined || str(object, 'kind') === undefined)
    throw new ApiError(400, 'BadRequest', 'apiVersion and kind must be set in an apply configuration');
  checkIdentity(object, type, apiVersion, namespace, name);
  checkDeclaredFields(type, apiVersion, object, query, 'apply');
  if (existing) checkResourceVersion(object, existing);
  else checkNamespaceWritable(cluster, type, namespace);
  const config = userContent(object, type);
  const planned = planApply(existing, config, manager, apiVersion, force, k8sTime(cluster.now()));
  if ('conflicts' in planned) throw conflictError(planned.conflicts);
  if (existing) {
    const immutable = immutabilityError(existing, planned.content);
    if (immutable) throw immutable;
  }
  const invalid = validate(type, name, planned.content);
  if (invalid) throw invalid;
  const { entry, created } = cluster.commit(type, namespace, name, existing, planned, dryRun);
  send(res, created ? 201 : 200, cluster.render(entry, apiVersion));
}

export function update(
  cluster: Cluster,
  res: ServerResponse,
  req: IncomingMessage,
  existing: Entry,
  content: JsonObject,
  apiVersion: string,
  query: URLSearchParams,
  dryRun: boolean,
): void {
  const immutable = immutabilityError(existing, content);
  if (immutable) throw immutable;
  const invalid = validate(existing.type, existing.name, content);
  if (invalid) throw invalid;
  const manager = query.get('fieldManager') ?? defaultManager(req);
  const candidate = planUpdate(existing, content, manager, apiVersion, k8sTime(cluster.now()));
  const { entry } = cluster.commit(
    existing.type,
    existing.namespace,
    existing.name,
    existing,
    candidate,
    dryRun,
  );
  send(res, 200, cluster.render(entry, apiVersion));
}

export function checkIdentity(
  object: JsonObject,
  type: ResourceType,
  apiVersion: string,
  namespace: string | undefined,
  name: string | undefined,
): void {
  const bodyApiVersion = str(object, 'apiVersion');
  const kind = str(object, 'kind');
  if (bodyApiVersion !== undefined && bodyApiVersion !== apiVersion)
    throw new ApiError(
      400,
      'BadRequest',
      `the API version in the data (${bodyApiVersion}) does not match the expected API version (${apiVersion})`,
    );
  if (kind !== undefined && kind !== type.kind)
    throw new ApiError(
      400,
      'BadRequest',
      `the kind in the data (${kind}) does not match the expected kind (${type.kind})`,
    );
  const bodyName = str(object, 'metadata', 'name');
  if (name !== undefined && bodyName !== undefined && bodyName !== name)
    throw new ApiError(
      400,
      'BadRequest',
      `the name of the object (${bodyName}) does not match the name on the URL (${name})`,
    );
  const bodyNamespace = str(object, 'metadata', 'namespace');
  if (type.namespaced && bodyNamespace !== undefined && bodyNamespace !== namespace)
    throw new ApiError(
      400,
      'BadRequest',
      'the namespace of the provided object does not match the namespace sent on the request',
    );
}

/**
 * `fieldValidation=Strict`: a field the kind's schema does not declare fails the request with BadRequest
 * instead of being dropped (Kubernetes API reference, PatchOptions/CreateOptions `fieldValidation`; API
 * concepts, "Field validation"). Server-side apply reports it while building the typed patch
 * (`.spec.foo: field not declared in schema`), the other writes while decoding
 * (`strict decoding error: unknown field "spec.foo"`). Without Strict the fields are not rejected here.
 */
export function checkDeclaredFields(
  type: ResourceType,
  apiVersion: string,
  object: JsonObject,
  query: URLSearchParams,
  stage: 'apply' | 'decode',
): void {
  if (query.get('fieldValidation') !== 'Strict') return;
  const unknown = undeclaredFields(type, object) ?? [];
  if (unknown.length === 0) return;
  const gvk = `${apiVersion.includes('/') ? apiVersion : `/${apiVersion}`}, Kind=${type.kind}`;
  const message =
    stage === 'apply'
      ? `failed to create typed patch object (${gvk}): ${unknown.map((f) => `${f}: field not declared in schema`).join('\n')}`
      : `strict decoding error: ${unknown.map((f) => `unknown field "${f.slice(1)}"`).join(', ')}`;
  throw new ApiError(400, 'BadRequest', message);
}

export function checkResourceVersion(object: JsonObject, existing: Entry): void {
  const rv = str(object, 'metadata', 'resourceVersion');
  if (rv !== undefined && rv !== String(existing.resourceVersion))
    throw new ApiError(
      409,
      'Conflict',
      `Operation cannot be fulfilled on ${existing.type.plural}${existing.type.group ? `.${existing.type.group}` : ''} "${existing.name}": the object has been modified; please apply your changes to the latest version and try again`,
      {
        name: existing.name,
        ...(existing.type.group ? { group: existing.type.group } : {}),
        kind: existing.type.plural,
      },
    );
}

export function checkNamespaceWritable(
  cluster: Cluster,
  type: ResourceType,
  namespace: string | undefined,
): void {
  if (!type.namespaced) return;
  const ns = cluster.store.get(cluster.key(cluster.builtin('', 'Namespace'), undefined, namespace ?? ''));
  if (!ns)
    throw new ApiError(404, 'NotFound', `namespaces "${namespace}" not found`, {
      name: namespace ?? '',
      kind: 'namespaces',
    });
  if (ns.deletingSinceMs !== undefined)
    throw new ApiError(
      403,
      'Forbidden',
      `${type.plural}${type.group ? `.${type.group}` : ''} is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`,
      {
        kind: type.plural,
        ...(type.group ? { group: type.group } : {}),
        causes: [
          {
            reason: 'NamespaceTerminating',
            message: `namespace ${namespace} is being terminated`,
            field: 'metadata.namespace',
          },
        ],
      },
    );
}

export function listCollection(call: Call): void {
  send(call.res, 200, list(call.cluster, call.route, call.apiVersion, call.query));
}

export function create(call: Call): void {
  const { cluster, req, res, route, body, apiVersion, query, dryRun } = call;
  const { type, namespace } = route;
  if (type.namespaced && namespace === undefined)
    throw new ApiError(
      405,
      'MethodNotAllowed',
      'the server does not allow this method on the requested resource',
    );
  const object = parseBody(body, req.headers['content-type']);
  const manager = query.get('fieldManager') ?? defaultManager(req);
  let objectName = str(object, 'metadata', 'name');
  const generateName = str(object, 'metadata', 'generateName');
  if (!objectName && generateName)
    objectName = `${generateName}${safeHash(`${generateName}/${++cluster.uidCounter}`, 5)}`;
  if (!objectName)
    throw new ApiError(
      422,
      'Invalid',
      `${type.kind} "" is invalid: metadata.name: Required value: name or generateName is required`,
    );
  checkIdentity(object, type, apiVersion, namespace, undefined);
  checkDeclaredFields(type, apiVersion, object, query, 'decode');
  const existing = cluster.store.get(cluster.key(type, namespace, objectName));
  if (existing)
    throw new ApiError(
      409,
      'AlreadyExists',
      `${type.plural}${type.group ? `.${type.group}` : ''} "${objectName}" already exists`,
      {
        name: objectName,
        ...(type.group ? { group: type.group } : {}),
        kind: type.plural,
      },
    );
  checkNamespaceWritable(cluster, type, namespace);
  const content = userContent(object, type);
  const invalid = validate(type, objectName, content);
  if (invalid) throw invalid;
  const candidate = planUpdate(undefined, content, manager, apiVersion, k8sTime(cluster.now()));
  const { entry } = cluster.commit(type, namespace, objectName, undefined, candidate, dryRun);
  send(res, 201, cluster.render(entry, apiVersion));
}

export function deleteCollection(call: Call): void {
  const listed = matching(call.cluster, call.route, call.query);
  for (const e of listed) call.cluster.deleteEntry(e);
  send(call.res, 200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success' });
}

export function read(call: Call, existing: Entry | undefined): void {
  if (!existing) throw notFound(call.route.type, call.route.name!);
  send(call.res, 200, call.cluster.render(existing, call.apiVersion));
}

export function remove(call: Call, existing: Entry | undefined): void {
  if (!existing) throw notFound(call.route.type, call.route.name!);
  send(call.res, 200, call.cluster.deleteEntry(existing));
}

export function replace(call: Call, existing: Entry | undefined): void {
  const { cluster, req, res, route, body, apiVersion, query, dryRun } = call;
  const { type, namespace } = route;
  const name = route.name!;
  if (!existing) throw notFound(type, name);
  const object = parseBody(body, req.headers['content-type']);
  checkIdentity(object, type, apiVersion, namespace, name);
  checkDeclaredFields(type, apiVersion, object, query, 'decode');
  checkResourceVersion(object, existing);
  const content = userContent(object, type);
  update(cluster, res, req, existing, content, apiVersion, query, dryRun);
}

export function patch(call: Call, existing: Entry | undefined): void {
  const { cluster, req, res, route, body, apiVersion, query, dryRun } = call;
  const { type, namespace } = route;
  const name = route.name!;
  const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
  if (contentType === 'application/apply-patch+yaml')
    return apply(cluster, res, route, apiVersion, existing, body, query, dryRun);
  if (!existing) throw notFound(type, name);
  const current = cluster.render(existing, apiVersion, {
    managedFields: false,
    status: false,
    defaults: false,
  });
  let patched: Json;
  try {
    const patch = JSON.parse(body.toString('utf8')) as Json;
    if (contentType === 'application/merge-patch+json') patched = mergePatch(current, patch);
    else if (contentType === 'application/strategic-merge-patch+json') {
      if (!type.builtin)
        throw new ApiError(
          415,
          'UnsupportedMediaType',
          'strategic merge patch is not supported for custom resources',
        );
      patched = strategicMergePatch(current, patch);
    } else if (contentType === 'application/json-patch+json') patched = jsonPatch(current, patch);
    else
      throw new ApiError(
        415,
        'UnsupportedMediaType',
        `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json`,
      );
  } catch (e) {
    if (e instanceof ApiError) throw e;
    throw new ApiError(422, 'Invalid', (e as Error).message);
  }
  if (!isObject(patched)) throw new ApiError(422, 'Invalid', 'patch result is not an object');
  checkIdentity(patched, type, apiVersion, namespace, name);
  checkDeclaredFields(type, apiVersion, patched, query, 'decode');
  checkResourceVersion(patched, existing);
  update(cluster, res, req, existing, userContent(patched, type), apiVersion, query, dryRun);
}
