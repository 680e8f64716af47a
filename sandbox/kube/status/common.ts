/** What the per-kind status functions share: Kubernetes conditions and the API server's `omitempty`. */
import { k8sTime, type JsonObject } from '../json.js';

/** A moment that never comes (a pod that can never become ready, a GPU never advertised). */
export const NEVER = Number.POSITIVE_INFINITY;

export function condition(
  now: number,
  type: string,
  status: boolean,
  reason: string,
  message: string,
  at: number,
  extra = false,
) {
  return {
    type,
    status: status ? 'True' : 'False',
    ...(extra ? { lastUpdateTime: k8sTime(Math.min(at, now)) } : {}),
    lastTransitionTime: k8sTime(Math.min(at, now)),
    reason,
    message,
  };
}

/** `metav1.Condition`-style probe fields for Job conditions. */
export function probe<T extends JsonObject>(c: T): T {
  return { ...c, lastProbeTime: c.lastTransitionTime } as T;
}

/** Drops zero counts, as `omitempty` does on a real server. */
export function omitZero(o: Record<string, JsonObject[keyof JsonObject]>): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(o)) if (v !== 0 && v !== undefined) out[k] = v;
  return out;
}
