/**
 * JSON helpers for the simulated API server: typed access to untyped objects, deep equality, leaf paths and
 * the patch formats the API server accepts (JSON merge patch, an approximation of strategic merge patch,
 * JSON patch).
 */

export type Json = null | boolean | number | string | Json[] | JsonObject;
export interface JsonObject {
  [key: string]: Json;
}
/** A field path: object keys from the root. Lists are atomic, so a path never goes into a list. */
export type FieldPath = readonly string[];

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function clone<T>(value: T): T {
  return structuredClone(value);
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((item, i) => deepEqual(item, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => k in b && deepEqual(a[k], b[k]));
  }
  return false;
}

/** `obj.a.b.c` as an object, or `{}` when absent or not an object. */
export function obj(value: unknown, ...path: string[]): JsonObject {
  let current: unknown = value;
  for (const key of path) current = isObject(current) ? current[key] : undefined;
  return isObject(current) ? current : {};
}

export function arr(value: unknown, ...path: string[]): Json[] {
  let current: unknown = value;
  for (const key of path) current = isObject(current) ? current[key] : undefined;
  return Array.isArray(current) ? current : [];
}

export function str(value: unknown, ...path: string[]): string | undefined {
  let current: unknown = value;
  for (const key of path) current = isObject(current) ? current[key] : undefined;
  return typeof current === 'string' ? current : undefined;
}

export function num(value: unknown, ...path: string[]): number | undefined {
  let current: unknown = value;
  for (const key of path) current = isObject(current) ? current[key] : undefined;
  return typeof current === 'number' ? current : undefined;
}

/** String-valued map (labels, annotations, nodeSelector); non-string values are dropped. */
export function strMap(value: unknown, ...path: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj(value, ...path))) if (typeof v === 'string') out[k] = v;
  return out;
}

export function getPath(root: JsonObject, path: FieldPath): Json | undefined {
  let current: Json | undefined = root;
  for (const key of path) {
    if (!isObject(current)) return undefined;
    current = current[key];
  }
  return current;
}

export function setPath(root: JsonObject, path: FieldPath, value: Json): void {
  let current = root;
  path.forEach((key, i) => {
    if (i === path.length - 1) {
      current[key] = value;
      return;
    }
    const next = current[key];
    if (!isObject(next)) current[key] = {};
    current = current[key] as JsonObject;
  });
}

/** Removes the field at `path`, then parents left empty unless `keep(parentPath)` says they are owned. */
export function deletePath(root: JsonObject, path: FieldPath, keep: (path: FieldPath) => boolean): void {
  const parents: JsonObject[] = [root];
  for (const key of path.slice(0, -1)) {
    const next = parents[parents.length - 1]![key];
    if (!isObject(next)) return;
    parents.push(next);
  }
  delete parents[parents.length - 1]![path[path.length - 1]!];
  for (let depth = path.length - 1; depth > 0; depth--) {
    const parent = parents[depth]!;
    const parentPath = path.slice(0, depth);
    if (Object.keys(parent).length > 0 || keep(parentPath)) break;
    delete parents[depth - 1]![path[depth - 1]!];
  }
}

/** Every leaf field (scalars, lists and empty objects) of an object. */
export function leafPaths(value: JsonObject, prefix: string[] = []): string[][] {
  const out: string[][] = [];
  for (const [key, child] of Object.entries(value)) {
    if (isObject(child) && Object.keys(child).length > 0) out.push(...leafPaths(child, [...prefix, key]));
    else out.push([...prefix, key]);
  }
  return out;
}

export const pathKey = (path: FieldPath): string => JSON.stringify(path);

/** True when one path is a prefix of (or equal to) the other. */
export function overlaps(a: FieldPath, b: FieldPath): boolean {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** `.spec.replicas` style, as the API server prints field paths in conflict messages. */
export function dotted(path: FieldPath): string {
  return path.map((k) => (/^[A-Za-z0-9_-]+$/.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`)).join('');
}

/** FieldsV1 encoding of a set of leaf paths (`{"f:spec":{"f:replicas":{}}}`). */
export function fieldsV1(paths: readonly FieldPath[]): JsonObject {
  const root: JsonObject = {};
  for (const path of paths) {
    let current = root;
    for (const key of path) {
      const k = `f:${key}`;
      if (!isObject(current[k])) current[k] = {};
      current = current[k] as JsonObject;
    }
  }
  return root;
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: Json | undefined, patch: Json): Json {
  if (!isObject(patch)) return clone(patch);
  const result: JsonObject = isObject(target) ? clone(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

/**
 * Strategic merge patch, approximately: like a merge patch, except that lists of objects that all carry a
 * `name` (containers, env, ports, volumes, volumeMounts, …) are merged item by item on that key.
 */
export function strategicMergePatch(target: Json | undefined, patch: Json): Json {
  if (Array.isArray(patch) && Array.isArray(target) && namedList(patch) && namedList(target)) {
    const result = clone(target) as JsonObject[];
    for (const item of patch as JsonObject[]) {
      const i = result.findIndex((t) => t.name === item.name);
      if (item.$patch === 'delete') {
        if (i >= 0) result.splice(i, 1);
      } else if (i >= 0) result[i] = strategicMergePatch(result[i], item) as JsonObject;
      else result.push(clone(item));
    }
    return result;
  }
  if (!isObject(patch)) return clone(patch);
  const result: JsonObject = isObject(target) ? clone(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith('$')) continue;
    if (value === null) delete result[key];
    else result[key] = strategicMergePatch(result[key], value);
  }
  return result;
}

function namedList(list: Json[]): boolean {
  return list.length > 0 && list.every((item) => isObject(item) && typeof item.name === 'string');
}

/** RFC 6902 JSON patch (add, remove, replace, move, copy, test). Throws on a failed operation. */
export function jsonPatch(target: JsonObject, operations: Json): JsonObject {
  if (!Array.isArray(operations)) throw new Error('json patch must be a list of operations');
  let doc: Json = clone(target);
  const parse = (pointer: string) =>
    pointer === ''
      ? []
      : pointer
          .replace(/^\//, '')
          .split('/')
          .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
  const parentOf = (path: string[]): { parent: Json; key: string } => {
    let current: Json = doc;
    for (const key of path.slice(0, -1)) {
      const next: Json | undefined = Array.isArray(current)
        ? current[Number(key)]
        : isObject(current)
          ? current[key]
          : undefined;
      if (next === undefined) throw new Error(`path ${path.join('/')} does not exist`);
      current = next;
    }
    return { parent: current, key: path[path.length - 1] ?? '' };
  };
  const read = (path: string[]): Json => {
    if (path.length === 0) return doc;
    const { parent, key } = parentOf(path);
    const value = Array.isArray(parent) ? parent[Number(key)] : isObject(parent) ? parent[key] : undefined;
    if (value === undefined) throw new Error(`path /${path.join('/')} does not exist`);
    return value;
  };
  const remove = (path: string[]) => {
    read(path);
    const { parent, key } = parentOf(path);
    if (Array.isArray(parent)) parent.splice(Number(key), 1);
    else if (isObject(parent)) delete parent[key];
  };
  const add = (path: string[], value: Json) => {
    if (path.length === 0) {
      doc = value;
      return;
    }
    const { parent, key } = parentOf(path);
    if (Array.isArray(parent)) parent.splice(key === '-' ? parent.length : Number(key), 0, value);
    else if (isObject(parent)) parent[key] = value;
    else throw new Error(`cannot add at /${path.join('/')}`);
  };
  for (const op of operations) {
    const kind = str(op, 'op');
    const path = parse(str(op, 'path') ?? '');
    const value = isObject(op) ? (op.value ?? null) : null;
    if (kind === 'add') add(path, clone(value));
    else if (kind === 'remove') remove(path);
    else if (kind === 'replace') {
      remove(path);
      add(path, clone(value));
    } else if (kind === 'move' || kind === 'copy') {
      const from = parse(str(op, 'from') ?? '');
      const moved = clone(read(from));
      if (kind === 'move') remove(from);
      add(path, moved);
    } else if (kind === 'test') {
      if (!deepEqual(read(path), value)) throw new Error(`test operation failed at /${path.join('/')}`);
    } else throw new Error(`unknown json patch operation ${String(kind)}`);
  }
  if (!isObject(doc)) throw new Error('json patch result is not an object');
  return doc;
}

/** Short deterministic hash (FNV-1a) in the alphabet Kubernetes uses for generated name suffixes. */
export function safeHash(input: string, length: number): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  let h = 0x811c9dc5;
  let out = '';
  for (let round = 0; out.length < length; round++) {
    for (const ch of `${input}#${round}`) {
      h ^= ch.charCodeAt(0);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    let x = h;
    for (let i = 0; i < 6 && out.length < length; i++) {
      out += alphabet[x % alphabet.length];
      x = Math.floor(x / alphabet.length);
    }
  }
  return out;
}

/** Deterministic small integer from a string (for fake IPs). */
export function hashInt(input: string): number {
  let h = 0x811c9dc5;
  for (const ch of input) {
    h ^= ch.charCodeAt(0);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** Kubernetes timestamps: RFC 3339, seconds precision. */
export function k8sTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}
