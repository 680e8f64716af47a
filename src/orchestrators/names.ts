/**
 * Orchestrator names and instance ids: what triggers need to start or find a flow, without importing the
 * flows themselves.
 */
import { AZURE_RESOURCE_NAMES, type AzureResourceName } from '../platform/azure-resources.js';
import type { Operation, PlatformChange } from '../platform/types.js';

export const ORCHESTRATORS = {
  provision: 'provisionPlatform',
  stop: 'stopPlatform',
  start: 'startPlatform',
  update: 'updatePlatform',
  wipe: 'wipePlatform',
  delete: 'teardownPlatform',
} as const satisfies Record<Operation, string>;

/** The idle sweep is a singleton: its fixed id cannot be a platform id (prefixes have no `_`). */
export const IDLE_SWEEP = 'idleSweep';
/** One chunk of a sweep's platforms, as a sub-orchestration (its own, short history). */
export const IDLE_SWEEP_CHUNK = 'idleSweepChunk';
export const SWEEP_INSTANCE_ID = '_idle-sweep';

/**
 * The GPU tier's wake (POST /platforms/{id}/wake): not a lifecycle operation, the platform stays Ready; its
 * own instance id, so a wake neither blocks nor is blocked by a PATCH; a DELETE terminates it.
 */
export const WAKE_GPU_TIER = 'wakeGpuTier';
export const wakeInstanceId = (platformId: string) => `${platformId}:wake`;

export type OrchestratorName = (typeof ORCHESTRATORS)[Operation] | typeof IDLE_SWEEP | typeof WAKE_GPU_TIER;

/**
 * Provision, stop, start, update and wipe of one platform share one instance id (the platform id), so the durable
 * runtime itself refuses two of them at once. Teardown has its own id: a DELETE must be able to start
 * while a provisioning is still being terminated. Prefixes cannot contain `:`, so no id can collide.
 */
export function instanceIdFor(platformId: string, operation: Operation): string {
  return operation === 'delete' ? `${platformId}:teardown` : platformId;
}

export const lifecycleInstanceIds = (platformId: string) => [
  instanceIdFor(platformId, 'provision'),
  instanceIdFor(platformId, 'delete'),
];

/** The sub-orchestration that creates one Azure resource of the table (and follows it). */
export const ENSURE_AZURE_RESOURCE = 'ensureAzureResource';
export const azureResourceInstanceId = (platformId: string, kind: AzureResourceName) =>
  `${platformId}:${kind}`;
/** Sub-orchestrations provisioning starts (one per Azure resource of the table); a delete stops them too. */
export const childInstanceIds = (platformId: string) =>
  AZURE_RESOURCE_NAMES.map((kind) => azureResourceInstanceId(platformId, kind));

/** Input of every lifecycle orchestration: the id only; the flow reads the record (never a secret) itself. */
export interface LifecycleInput {
  platformId: string;
}

/** The update flow also gets what the PATCH changed, so it runs only the steps the change touches. */
export interface UpdateInput extends LifecycleInput {
  change: PlatformChange;
}
