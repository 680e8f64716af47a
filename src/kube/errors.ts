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
  // 401: a refused token (expired, say); the caller drops it and asks for a fresh one, so a retry can succeed.
  if (status.code === 429 || status.code >= 500 || status.code === 401) return { ...base, kind: 'transient' };
  return { ...base, kind: 'invalid' };
}

/**
 * The system error (ECONNRESET, ECONNREFUSED, ETIMEDOUT, ENOTFOUND, …) of a call that never reached an
 * API server: client-node's transport (node-fetch) reports it as a `FetchError` of type `system`. Undefined
 * for anything else (an HTTP answer, an Azure SDK error).
 */
export function unreachableApiServer(e: unknown): string | undefined {
  const err = e as { name?: unknown; type?: unknown; code?: unknown; constructor?: { name?: string } };
  const fetchError =
    err?.type === 'system' && (err.constructor?.name === 'FetchError' || err.name === 'FetchError');
  return fetchError ? (typeof err.code === 'string' ? err.code : 'ConnectionFailed') : undefined;
}

/**
 * The API server did not answer. A stopped AKS cluster has no control plane ("Stopping a cluster stops the
 * control plane and agent nodes entirely", ManagedClusters_Stop, spec 2026-04-01; start-stop-cluster.md):
 * that is a state to change (start the platform), not a fault to retry. Otherwise (a start still
 * finishing, an address that changed, a network fault) it is transient.
 */
export function apiServerUnreachable(
  cluster: string,
  systemCode: string,
  power: string | undefined,
): Failure {
  if (power === 'Stopped')
    return {
      ok: false,
      kind: 'conflict',
      code: 'ClusterStopped',
      message: `AKS cluster '${cluster}' is stopped (powerState Stopped): its API server does not answer (${systemCode}). Start the platform (POST /platforms/{id}/start), or start the cluster in Azure.`,
    };
  return {
    ok: false,
    kind: 'transient',
    code: 'ApiServerUnreachable',
    message: `The API server of AKS cluster '${cluster}' did not answer (${systemCode}; powerState ${power ?? 'unknown'}).`,
  };
}
