/**
 * Helpers shared by the benchmark scripts: statistics, request classification, a counting proxy for the
 * storage endpoint, bounded parallel loops and the report's last line. Nothing here talks to anything but
 * 127.0.0.1.
 */
import { createServer, request as httpRequest, Agent, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs, type ParseArgsConfig } from 'node:util';

// ---------------------------------------------------------------------------------------------- numbers

export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

export const median = (values: readonly number[]) => quantile(values, 0.5);
export const sum = (values: readonly number[]) => values.reduce((s, v) => s + v, 0);

/** Rounds to `digits` decimals (for the report and the JSON line). */
export const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

export const ms = (n: number) =>
  n >= 10_000 ? `${(n / 1000).toFixed(1)} s` : `${n.toFixed(n < 10 ? 2 : 0)} ms`;

// ---------------------------------------------------------------------------------------------- output

/** A plain left-aligned table for stdout. */
export function table(rows: readonly (readonly (string | number)[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, String(c).length)));
  return rows
    .map((row) =>
      row
        .map((c, i) =>
          typeof c === 'number' ? String(c).padStart(widths[i]!) : String(c).padEnd(widths[i]!),
        )
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** The last line of every bench: one JSON object, machine-readable. */
export function printResultLine(result: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

/** Progress goes to stderr, so that stdout holds the report and the JSON line only. */
export const progress = (message: string) => process.stderr.write(`[bench] ${message}\n`);

export interface Flag {
  type: 'string' | 'boolean';
  default?: string | boolean;
  short?: string;
  help: string;
}

/**
 * parseArgs with a usage text: `--help` prints it and exits 0, a bad flag prints it to stderr and exits 2.
 * `check` turns the parsed strings into typed options and throws on a bad value.
 */
export function parseFlags<T>(
  usage: string,
  flags: Record<string, Flag>,
  check: (values: Record<string, string | boolean | undefined>) => T,
  argv = process.argv.slice(2),
): T {
  const options: ParseArgsConfig['options'] = { help: { type: 'boolean', short: 'h' } };
  for (const [name, f] of Object.entries(flags))
    options[name] = { type: f.type, ...(f.short ? { short: f.short } : {}) };
  const text = [
    usage,
    '',
    'Options:',
    ...Object.entries(flags).map(
      ([name, f]) =>
        `  --${name}${f.type === 'string' ? ' <value>' : ''}`.padEnd(30) +
        `${f.help}${f.default !== undefined && f.type === 'string' ? ` (default ${f.default})` : ''}`,
    ),
    '  -h, --help'.padEnd(30) + 'this text',
    '',
  ].join('\n');
  try {
    const { values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false });
    if (values.help) {
      process.stdout.write(text);
      process.exit(0);
    }
    const withDefaults: Record<string, string | boolean | undefined> = {};
    for (const [name, f] of Object.entries(flags))
      withDefaults[name] = (values[name] as string | boolean | undefined) ?? f.default;
    return check(withDefaults);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${text}`);
    process.exit(2);
  }
}

/** A number flag within [min, max]. */
export function numberFlag(
  values: Record<string, string | boolean | undefined>,
  name: string,
  min: number,
  max: number,
  integer = false,
): number {
  const raw = values[name];
  const n = Number(raw);
  if (
    typeof raw !== 'string' ||
    !Number.isFinite(n) ||
    n < min ||
    n > max ||
    (integer && !Number.isInteger(n))
  )
    throw new Error(
      `--${name} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, not "${raw}"`,
    );
  return n;
}

// ---------------------------------------------------------------------------------------------- loops

/** Runs `fn` over `items` with at most `concurrency` at a time; resolves when all are done (first error rejects). */
export async function inParallel<T, R>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

// ---------------------------------------------------------------------------------------------- counting

export class Counter {
  readonly counts = new Map<string, number>();
  add(key: string, n = 1): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + n);
  }
  get total(): number {
    return sum([...this.counts.values()]);
  }
  /** Counts added since `before` (a copy taken earlier with `snapshot`). */
  since(before: ReadonlyMap<string, number>): Map<string, number> {
    const out = new Map<string, number>();
    for (const [k, v] of this.counts) if (v - (before.get(k) ?? 0) > 0) out.set(k, v - (before.get(k) ?? 0));
    return out;
  }
  snapshot(): Map<string, number> {
    return new Map(this.counts);
  }
}

/** Counts by key of a list of records. */
export function countBy<T>(items: Iterable<T>, key: (item: T) => string): Map<string, number> {
  const counter = new Counter();
  for (const item of items) counter.add(key(item));
  return counter.counts;
}

/**
 * An ARM request path with its names replaced by placeholders, e.g.
 * `POST …/managedClusters/{name}/listClusterAdminCredential`: `{sub}`, `{rg}`, then after `providers`
 * the namespace and resource types stay and every name becomes `{name}` (`{id}` for an operation).
 */
export function armKind(method: string, path: string): string {
  const parts = path.split('/').filter(Boolean);
  const out: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    const seg = parts[i]!;
    const prev = parts[i - 1]?.toLowerCase();
    if (prev === 'subscriptions') out.push('{sub}');
    else if (prev === 'resourcegroups') out.push('{rg}');
    else if (prev === 'locations') out.push('{location}');
    else {
      const p = parts.findIndex((s) => s.toLowerCase() === 'providers');
      // After providers/{namespace}: type, name, type, name, … (operations: locations/{loc}/operations/{id}).
      if (p >= 0 && i > p + 1 && (i - (p + 2)) % 2 === 1)
        out.push(/operation/i.test(parts[i - 1] ?? '') ? '{id}' : '{name}');
      else out.push(seg);
    }
  }
  return `${method} /${out.join('/')}`
    .replace(/^(\w+) \/subscriptions\/\{sub\}\/resourceGroups\/\{rg\}\/providers\//i, '$1 …/')
    .replace(/^(\w+) \/subscriptions\/\{sub\}\/providers\//i, '$1 /{sub}/providers/');
}

/**
 * A Kubernetes API path as a kind of request: the service proxy with its target path, or the resource
 * collection/object (`GET /api/v1/namespaces/{ns}/pods/{name}`).
 */
export function kubeKind(method: string, path: string): string {
  const proxy = /\/namespaces\/[^/]+\/services\/[^/]+\/proxy(\/.*)?$/.exec(path);
  if (proxy) return `${method} service proxy ${decodeURIComponent(proxy[1] ?? '/')}`;
  const generic = path
    .replace(/\/namespaces\/[^/]+/, '/namespaces/{ns}')
    .replace(/^((?:\/api\/v1|\/apis\/[^/]+\/[^/]+)(?:\/namespaces\/\{ns\})?\/[^/]+)\/[^/]+/, '$1/{name}');
  return `${method} ${generic}`;
}

/** A Table service request (Azurite) as a kind: table create, entity read/write, query, batch. */
export function tableKind(method: string, url: string): string {
  const path = new URL(url, 'http://x').pathname.split('/').filter(Boolean).slice(1).join('/');
  if (path === 'Tables' || path.startsWith('Tables(')) return `${method} table`;
  if (path === '$batch') return `${method} batch`;
  if (/\(PartitionKey=/.test(decodeURIComponent(path))) return `${method} entity`;
  if (/\(\)$/.test(path) && method === 'GET') return 'GET query';
  return `${method} ${method === 'POST' ? 'insert' : 'other'}`;
}

export interface CountingProxy {
  /** Base URL of the proxy (same path layout as the target). */
  url: string;
  counts: Counter;
  close(): Promise<void>;
}

/**
 * A loopback HTTP proxy in front of `target` that counts requests by `classify(method, url)`. Used in front
 * of Azurite's table endpoint to count the registry's storage calls; it adds one loopback hop per call.
 */
export async function countingProxy(
  target: string,
  classify: (method: string, url: string) => string,
): Promise<CountingProxy> {
  const base = new URL(target);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const counts = new Counter();
  const server: Server = createServer((req, res) => {
    counts.add(classify(req.method ?? 'GET', req.url ?? '/'));
    const upstream = httpRequest(
      {
        host: base.hostname,
        port: base.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    counts,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}

/** The same connection string with its TableEndpoint's host and port replaced by `proxy`'s. */
export function withTableProxy(connectionString: string, proxy: string): string {
  return connectionString.replace(/TableEndpoint=http:\/\/[^/;]+/, `TableEndpoint=${proxy}`);
}

/** The host and port of a connection string's TableEndpoint, as an http URL. */
export function tableEndpointOrigin(connectionString: string): string {
  const m = /TableEndpoint=(http:\/\/[^/;]+)/.exec(connectionString);
  if (!m) throw new Error('the connection string has no http TableEndpoint');
  return m[1]!;
}

/** Machine facts every report carries; the load average shows how busy the machine was meanwhile. */
export async function machine(): Promise<{
  cpus: number;
  node: string;
  date: string;
  loadAverage: number[];
}> {
  const { availableParallelism, loadavg } = await import('node:os');
  return {
    cpus: availableParallelism(),
    node: process.version,
    date: new Date().toISOString(),
    loadAverage: loadavg().map((l) => round(l, 2)),
  };
}
