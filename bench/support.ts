/**
 * What the benchmark scripts share: the sandbox app on a virtual clock with a private Azurite, requests
 * through the Functions host emulation, request tallies, and plain-text report helpers.
 * Everything listens on 127.0.0.1 only.
 */
import { startSandboxApp, type SandboxApp, type SandboxAppOptions } from '../sandbox/app.js';
import type { ArmRequestRecord } from '../sandbox/azure/arm.js';
import { startAzurite, type RunningAzurite } from '../sandbox/azurite.js';
import { asAdminByDefault, callApp, type CallOptions, type Reply } from '../sandbox/call.js';
import { VirtualClock } from '../sandbox/clock.js';
import type { KubeRequest } from '../sandbox/kube/apiserver.js';

export type { Reply };

export interface BenchApp extends SandboxApp {
  clock: VirtualClock;
  call(method: string, path: string, options?: CallOptions): Promise<Reply>;
}

/**
 * The real app against the simulators, with the simulators' default durations (ARM, Kubernetes, Ollama)
 * on a VirtualClock: simulated time moves only when the durable runtime jumps it to the next timer.
 */
export async function startBenchApp(
  options: Partial<SandboxAppOptions> = {},
): Promise<{ app: BenchApp; close(): Promise<void> }> {
  let azurite: RunningAzurite | undefined;
  let sandbox: SandboxApp | undefined;
  const close = async () => {
    await sandbox?.close();
    await azurite?.stop();
  };
  try {
    azurite = await startAzurite();
    const clock = new VirtualClock();
    sandbox = await startSandboxApp({ storageConnection: azurite.connectionString, clock, ...options });
    const started = sandbox;
    const app: BenchApp = {
      ...started,
      clock,
      call: (method, path, callOptions) =>
        callApp(
          started.host,
          started.functionKey,
          method,
          path,
          asAdminByDefault(started.adminToken, callOptions),
        ),
    };
    return { app, close };
  } catch (e) {
    await close();
    throw e;
  }
}

/** Finished runtime statuses of a durable instance. */
export const FINISHED = new Set(['Completed', 'Failed', 'Terminated', 'Canceled']);

export const SECOND = 1_000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;

/** Simulated milliseconds as seconds with one decimal. */
export const seconds = (ms: number) => Math.round(ms / 100) / 10;

export function countBy<T>(items: readonly T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}

/** The `n` most frequent keys, most frequent first (ties by name). */
export function top(counts: Record<string, number>, n: number): [string, number][] {
  return Object.entries(counts)
    .sort(([a, x], [b, y]) => y - x || a.localeCompare(b))
    .slice(0, n);
}

const GUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

/**
 * An ARM path with what differs between platforms and operations replaced by placeholders, so requests
 * group by what they do: `/subscriptions/{sub}/resourceGroups/{rg}/providers/…/managedClusters/{name}`.
 */
export function armPathTemplate(path: string): string {
  const segments = path.split('/');
  const out: string[] = [];
  for (let i = 0; i < segments.length; i++) {
    const previous = (segments[i - 1] ?? '').toLowerCase();
    const s = segments[i]!;
    if (previous === 'subscriptions') out.push('{sub}');
    else if (previous === 'resourcegroups') out.push('{rg}');
    else if (
      [
        'managedclusters',
        'flexibleservers',
        'storageaccounts',
        'publicipaddresses',
        'operations',
        'operationresults',
        'azureasyncoperation',
        'asyncoperations',
        'operationstatuses',
        'locations',
      ].includes(previous)
    )
      out.push(`{${previous === 'locations' ? 'location' : 'name'}}`);
    else out.push(s.replace(GUID, '{guid}'));
  }
  return out.join('/');
}

/** A Kubernetes API path with the object name replaced (`/api/v1/namespaces/llm/services/{name}`). */
export function kubePathTemplate(path: string): string {
  const parts = path.split('/');
  // /api/v1/namespaces/{ns}/{kind}/{name}[/sub] or /apis/{g}/{v}/namespaces/{ns}/{kind}/{name}[/sub]
  const nsAt = parts.indexOf('namespaces');
  if (nsAt >= 0 && parts.length > nsAt + 3) parts[nsAt + 3] = '{name}';
  else if (nsAt < 0) {
    const base = parts[1] === 'api' ? 3 : 4; // '', api, v1, kind, name  |  '', apis, g, v, kind, name
    if (parts.length > base + 1) parts[base + 1] = '{name}';
  }
  return parts.join('/');
}

export interface RequestTally {
  total: number;
  byMethod: Record<string, number>;
  topPaths: [string, number][];
}

export function tallyArm(requests: readonly ArmRequestRecord[], topN = 8): RequestTally {
  return {
    total: requests.length,
    byMethod: countBy(requests, (r) => r.method),
    topPaths: top(
      countBy(requests, (r) => `${r.method} ${armPathTemplate(r.path)}`),
      topN,
    ),
  };
}

export function tallyKube(requests: readonly KubeRequest[], topN = 8): RequestTally {
  return {
    total: requests.length,
    byMethod: countBy(requests, (r) => r.method),
    topPaths: top(
      countBy(requests, (r) => `${r.method} ${kubePathTemplate(r.path)}`),
      topN,
    ),
  };
}

export { median, table } from './lib.js';

/** Parses a non-negative integer flag, or throws naming the flag. */
export function intFlag(name: string, value: string | undefined, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new Error(`--${name} must be an integer ≥ ${min}, not "${value}"`);
  return n;
}
