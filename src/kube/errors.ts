/**
 * Classifies a Kubernetes API server's Status (as `kubeStatus` reads it from what the client threw) into
 * the typed failure the orchestrator decides on.
 */
import type { Failure } from '../platform/result.js';

export function classifyKube(status: { code: number; reason: string; message: string }): Failure {
  const base = {
    ok: false as const,
    code: status.reason,
    message: status.message.split('\n')[0]!.slice(0, 1000),
  };
  if (status.code === 409) return { ...base, kind: 'conflict' };
  if (status.code === 404) return { ...base, kind: 'notFound' };
  // 401: stale admin credentials (a restarted cluster); the caller reads them again, so a retry can succeed.
  if (status.code === 429 || status.code >= 500 || status.code === 401) return { ...base, kind: 'transient' };
  return { ...base, kind: 'invalid' };
}
