/** ResourceQuota usage, and the quantities it is counted in. */
import { arr, obj, type JsonObject } from '../json.js';
import type { Snapshot } from '../simulation.js';
import type { Entry } from '../store.js';

/** Quantity ("500m", "16Gi", "2") to a number in base units. */
export function quantity(value: unknown): number {
  const m = /^([0-9.]+)([a-zA-Z]*)$/.exec(String(value ?? '').trim());
  if (!m) return 0;
  const factor: Record<string, number> = {
    '': 1,
    m: 1e-3,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    Ki: 1024,
    Mi: 1024 ** 2,
    Gi: 1024 ** 3,
    Ti: 1024 ** 4,
  };
  return Number(m[1]) * (factor[m[2]!] ?? 1);
}

export function formatQuantity(resource: string, value: number): string {
  if (/cpu$/.test(resource)) return Number.isInteger(value) ? String(value) : `${Math.round(value * 1000)}m`;
  if (/memory$|storage$/.test(resource)) {
    for (const [suffix, f] of [
      ['Gi', 1024 ** 3],
      ['Mi', 1024 ** 2],
      ['Ki', 1024],
    ] as const)
      if (value >= f && value % f === 0) return `${value / f}${suffix}`;
  }
  return String(value);
}

export function quotaStatus(s: Snapshot, entry: Entry): JsonObject {
  const hard = obj(entry.content, 'spec', 'hard');
  const used: JsonObject = {};
  const pods = s.pods.filter(
    (p) => p.namespace === entry.namespace && !(p.finishMs !== undefined && p.finishMs <= s.now),
  );
  for (const key of Object.keys(hard)) {
    const k = key === 'cpu' || key === 'memory' ? `requests.${key}` : key;
    let total = 0;
    for (const p of pods) {
      if (k === 'pods') total += 1;
      else {
        const [scope, res] = [k.slice(0, k.indexOf('.')), k.slice(k.indexOf('.') + 1)];
        for (const c of arr(p.spec, 'containers')) {
          const v =
            obj(c, 'resources', scope)[res] ??
            (scope === 'requests' ? obj(c, 'resources', 'limits')[res] : undefined);
          total += quantity(v);
        }
      }
    }
    used[key] = formatQuantity(k, total);
  }
  return { hard, used };
}
