/**
 * The port through which the HTTP layer starts and inspects orchestrations. Production wraps the
 * durable-functions client of the current invocation; nothing else in the service knows it exists.
 */
import type * as df from 'durable-functions';
import type { OrchestratorName } from '../orchestrators/names.js';

export type RuntimeStatus =
  | 'Pending'
  | 'Running'
  | 'Completed'
  | 'ContinuedAsNew'
  | 'Failed'
  | 'Canceled'
  | 'Terminated'
  | 'Suspended'
  | 'Unknown';

export interface OrchestrationState {
  instanceId: string;
  name: string;
  runtimeStatus: RuntimeStatus;
  customStatus?: unknown;
  createdTime?: string;
  lastUpdatedTime?: string;
}

export interface Orchestrations {
  start(name: OrchestratorName, instanceId: string, input: unknown): Promise<void>;
  /** undefined when no instance with this id exists. */
  get(instanceId: string): Promise<OrchestrationState | undefined>;
  terminate(instanceId: string, reason: string): Promise<void>;
}

/** States in which an instance still owns its platform. */
export const ACTIVE_STATUSES: ReadonlySet<RuntimeStatus> = new Set([
  'Pending',
  'Running',
  'ContinuedAsNew',
  'Suspended',
]);

export function orchestrationsFromDurableClient(client: df.DurableClient): Orchestrations {
  return {
    async start(name, instanceId, input) {
      await client.startNew(name, { instanceId, input });
    },
    async get(instanceId) {
      try {
        const s = await client.getStatus(instanceId, { showHistory: false, showInput: false });
        if (!s?.instanceId) return undefined;
        return {
          instanceId: s.instanceId,
          name: s.name,
          runtimeStatus: s.runtimeStatus ?? 'Unknown',
          customStatus: s.customStatus,
          createdTime: toIso(s.createdTime),
          lastUpdatedTime: toIso(s.lastUpdatedTime),
        };
      } catch (e) {
        // The client reports an unknown instance as an error carrying HTTP 404.
        if (/HTTP 404 response/.test(String((e as Error).message))) return undefined;
        throw e;
      }
    },
    async terminate(instanceId, reason) {
      await client.terminate(instanceId, reason);
    },
  };
}

const toIso = (d: Date | string | undefined) => (d === undefined ? undefined : new Date(d).toISOString());
