/** Label selectors (query strings and LabelSelector objects), field selectors, node selection rules. */
import { arr, isObject, obj, str, strMap, type Json, type JsonObject } from './json.js';

interface Requirement {
  key: string;
  op: '=' | '!=' | 'in' | 'notin' | 'exists' | '!exists';
  values: string[];
}

export class SelectorError extends Error {}

/** `a=b,c!=d,e in (x,y),f notin (z),g,!h` */
export function parseLabelSelector(selector: string): Requirement[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  return parts
    .map((p) => p.trim())
    .filter(Boolean)
    .map((part): Requirement => {
      let m = /^([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(part);
      if (m)
        return {
          key: m[1]!,
          op: m[2] as 'in' | 'notin',
          values: m[3]!
            .split(',')
            .map((v) => v.trim())
            .filter(Boolean),
        };
      m = /^([^\s!=]+)\s*(==|=|!=)\s*([^\s,]*)$/.exec(part);
      if (m) return { key: m[1]!, op: m[2] === '!=' ? '!=' : '=', values: [m[3]!] };
      m = /^!\s*([^\s!=]+)$/.exec(part);
      if (m) return { key: m[1]!, op: '!exists', values: [] };
      m = /^([^\s!=()]+)$/.exec(part);
      if (m) return { key: m[1]!, op: 'exists', values: [] };
      throw new SelectorError(`unable to parse requirement: ${part}`);
    });
}

export function matchesRequirements(labels: Record<string, string>, requirements: Requirement[]): boolean {
  return requirements.every(({ key, op, values }) => {
    const has = Object.hasOwn(labels, key);
    const value = labels[key];
    switch (op) {
      case '=':
        return has && value === values[0];
      case '!=':
        return !has || value !== values[0];
      case 'in':
        return has && values.includes(value!);
      case 'notin':
        return !has || !values.includes(value!);
      case 'exists':
        return has;
      case '!exists':
        return !has;
    }
  });
}

/** A `LabelSelector` object (matchLabels + matchExpressions). An empty selector matches everything. */
export function matchesLabelSelector(labels: Record<string, string>, selector: Json | undefined): boolean {
  if (!isObject(selector)) return true;
  const matchLabels = strMap(selector, 'matchLabels');
  if (!Object.entries(matchLabels).every(([k, v]) => labels[k] === v)) return false;
  return arr(selector, 'matchExpressions').every((e) => expressionMatches(labels, e));
}

function expressionMatches(labels: Record<string, string>, expression: Json): boolean {
  const key = str(expression, 'key') ?? '';
  const values = arr(expression, 'values').map(String);
  const has = Object.hasOwn(labels, key);
  const value = labels[key];
  switch (str(expression, 'operator')) {
    case 'In':
      return has && values.includes(value!);
    case 'NotIn':
      return !has || !values.includes(value!);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    case 'Gt':
      return has && Number(value) > Number(values[0]);
    case 'Lt':
      return has && Number(value) < Number(values[0]);
    default:
      return false;
  }
}

/** `metadata.name=x,status.phase!=Running` against an object's fields. */
export function matchesFieldSelector(object: JsonObject, selector: string): boolean {
  return selector
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)
    .every((part) => {
      const m = /^([^!=]+?)\s*(==|=|!=)\s*(.*)$/.exec(part);
      if (!m) throw new SelectorError(`invalid field selector: ${part}`);
      let current: Json | undefined = object;
      for (const key of m[1]!.split('.')) current = isObject(current) ? current[key] : undefined;
      const value = current === undefined || current === null ? '' : String(current);
      return m[2] === '!=' ? value !== m[3] : value === m[3];
    });
}

export interface Taint {
  key: string;
  value?: string;
  effect: string;
}

function tolerates(tolerations: Json[], taint: Taint): boolean {
  return tolerations.some((t) => {
    if (!isObject(t)) return false;
    const effect = str(t, 'effect');
    if (effect && effect !== taint.effect) return false;
    const key = str(t, 'key');
    if (str(t, 'operator') === 'Exists') return !key || key === taint.key;
    return key === taint.key && (str(t, 'value') ?? '') === (taint.value ?? '');
  });
}

/**
 * Why a pod with this spec cannot run on a node with these labels and taints, in the scheduler's wording
 * (undefined when it fits). Resources other than GPUs are not modelled.
 */
export function nodeMismatch(
  podSpec: JsonObject,
  node: { labels: Record<string, string>; taints: Taint[] },
  options: { daemonSet?: boolean } = {},
): string | undefined {
  const nodeSelector = strMap(podSpec, 'nodeSelector');
  const affinity = obj(podSpec, 'affinity', 'nodeAffinity', 'requiredDuringSchedulingIgnoredDuringExecution');
  const terms = arr(affinity, 'nodeSelectorTerms');
  const selectorOk = Object.entries(nodeSelector).every(([k, v]) => node.labels[k] === v);
  const affinityOk =
    terms.length === 0 ||
    terms.some((term) => arr(term, 'matchExpressions').every((e) => expressionMatches(node.labels, e)));
  if (!selectorOk || !affinityOk) return "node(s) didn't match Pod's node affinity/selector";
  const tolerations = arr(podSpec, 'tolerations');
  for (const taint of node.taints) {
    if (taint.effect !== 'NoSchedule' && taint.effect !== 'NoExecute') continue;
    // The DaemonSet controller adds tolerations for the node-condition taints, not for user taints.
    if (options.daemonSet && taint.key.startsWith('node.kubernetes.io/')) continue;
    if (!tolerates(tolerations, taint))
      return `node(s) had untolerated taint {${taint.key}: ${taint.value ?? ''}}`;
  }
  return undefined;
}

/** Total `nvidia.com/gpu` the pod asks for (the larger of requests and limits, summed over containers). */
export function gpuRequest(podSpec: JsonObject): number {
  let total = 0;
  for (const c of arr(podSpec, 'containers')) {
    const limit = Number(
      str(c, 'resources', 'limits', 'nvidia.com/gpu') ?? obj(c, 'resources', 'limits')['nvidia.com/gpu'] ?? 0,
    );
    const request = Number(
      str(c, 'resources', 'requests', 'nvidia.com/gpu') ??
        obj(c, 'resources', 'requests')['nvidia.com/gpu'] ??
        0,
    );
    total += Math.max(Number.isFinite(limit) ? limit : 0, Number.isFinite(request) ? request : 0);
  }
  return total;
}
