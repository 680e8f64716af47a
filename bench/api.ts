/**
 * `npm run bench:api`: HTTP load on the read routes of the real app, served as `npm run sandbox` serves it
 * (sandbox/server.ts in front of startSandboxApp, a ScaledClock, a private Azurite), with many platforms
 * registered: `GET /platforms/{id}/status` (cycling over every id) and `GET /platforms`, beside `GET /health`
 * on the same server as the baseline.
 *
 * The platforms are created with POST /platforms. By default they stay registered (Pending: the durable
 * driver is paused, so their provisioning orchestrations wait in the queue and nothing runs behind the
 * load); with `--ready` the app's own provisioning drives them to Ready first, so that a status carries its
 * whole step timeline, models and endpoints (this takes longer than the load itself).
 * The sandbox's timers are not started: at the sandbox's speed the idle sweep would fire every few real
 * seconds (sixty times its real cadence) and stop the platforms halfway through the measurement.
 *
 * Load comes from autocannon in a worker thread (a fixed number of connections for a fixed duration), so
 * the load generator does not share the event loop with the app.
 */
import autocannon from 'autocannon';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { startSandboxApp } from '../sandbox/app.js';
import { startAzurite } from '../sandbox/azurite.js';
import { ScaledClock } from '../sandbox/clock.js';
import { serveSandbox } from '../sandbox/server.js';
import {
  Counter,
  inParallel,
  machine,
  ms,
  numberFlag,
  parseFlags,
  printResultLine,
  progress,
  round,
  table,
} from './lib.js';

const options = parseFlags(
  'Usage: npm run bench:api -- [options]\n\nLoad on GET /platforms/{id}/status, GET /platforms and GET /health; see BENCHMARKS.md.',
  {
    platforms: { type: 'string', default: '100', help: 'platforms to register' },
    ready: {
      type: 'boolean',
      default: false,
      help: 'drive every platform to Ready first (about 2 min for 100 on 2 cores); default: registered only',
    },
    connections: { type: 'string', default: '10', help: 'concurrent connections' },
    duration: { type: 'string', default: '10', help: 'seconds of load per route' },
    warmup: { type: 'string', default: '2', help: 'seconds of unrecorded load per route first' },
    speed: { type: 'string', default: '60', help: 'simulated seconds per real second (as npm run sandbox)' },
    'ready-timeout': {
      type: 'string',
      default: '120',
      help: 'seconds to wait for every platform to be Ready',
    },
  },
  (v) => ({
    platforms: numberFlag(v, 'platforms', 1, 1000, true),
    ready: v.ready === true,
    connections: numberFlag(v, 'connections', 1, 1000, true),
    duration: numberFlag(v, 'duration', 1, 600),
    warmup: numberFlag(v, 'warmup', 0, 60),
    speed: numberFlag(v, 'speed', 1, 10_000),
    readyTimeout: numberFlag(v, 'ready-timeout', 1, 3600),
  }),
);

const KEY_HEADER = 'x-functions-key';

interface RouteResult {
  route: string;
  requests: number;
  rps: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

async function main() {
  const startedAt = performance.now();
  const azurite = await startAzurite();
  const logLevels = new Counter();
  const app = await startSandboxApp({
    storageConnection: azurite.connectionString,
    clock: new ScaledClock(options.speed),
    // As npm run sandbox: the SDK's own Retry-After sleeps would be real time.
    arm: { retryAfterSeconds: 0 },
    onLog: (line) => {
      logLevels.add(line.level);
      if (line.level === 'error')
        progress(`app error in ${line.functionName}: ${line.message.slice(0, 300)}`);
    },
  });
  let server: Server | undefined;
  try {
    server = await serveSandbox(app, 0, (message) => progress(`server: ${message.slice(0, 300)}`));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await run(base, app.functionKey, app, logLevels, startedAt);
  } finally {
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server!.close(() => resolve()));
    }
    await app.close();
    await azurite.stop();
  }
}

async function run(
  base: string,
  key: string,
  app: Awaited<ReturnType<typeof startSandboxApp>>,
  logLevels: Counter,
  startedAt: number,
) {
  const n = options.platforms;
  // Registered only: the provisioning orchestrations stay queued (Pending), as before a worker picks them
  // up, so that nothing runs behind the measurement.
  if (!options.ready) app.driver.autoRun = false;
  const ids = Array.from({ length: n }, (_, i) => `p${String(i + 1).padStart(4, '0')}`);
  // The function key and the sandbox's admin identity (emulated App Service Authentication).
  const headers = { [KEY_HEADER]: key, authorization: `Bearer ${app.adminToken}` };

  // Register the platforms (202 each), as a client would.
  let t = performance.now();
  await inParallel(ids, 10, async (id) => {
    const res = await fetch(`${base}/platforms`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ prefix: id, models: ['phi3.5'] }),
    });
    await res.arrayBuffer();
    if (res.status !== 202) throw new Error(`POST /platforms ${id}: ${res.status}`);
  });
  const registerMs = performance.now() - t;
  progress(`${n} platforms registered in ${ms(registerMs)}`);

  // Ready (or not), read as a client reads it.
  t = performance.now();
  const listPhases = async () => {
    const res = await fetch(`${base}/platforms`, { headers });
    const { platforms } = (await res.json()) as { platforms: { id: string; phase: string }[] };
    const counts = new Counter();
    for (const p of platforms) counts.add(p.phase);
    return counts.counts;
  };
  let readyMs: number | undefined;
  if (options.ready) {
    const deadline = performance.now() + options.readyTimeout * 1000;
    for (let i = 0; performance.now() < deadline && i < 100_000; i++) {
      const phases = await listPhases();
      const settled = (phases.get('Ready') ?? 0) + (phases.get('Failed') ?? 0);
      if (settled === n) break;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    readyMs = performance.now() - t;
    progress(`waited ${ms(readyMs)} for Ready`);
  }
  // Let the provisioning orchestrations finish whatever follows Ready (model reports), then measure quiet.
  const active = () =>
    [...app.instances.instances.values()].filter(
      (i) => i.runtimeStatus === 'Running' || i.runtimeStatus === 'Pending',
    ).length;
  for (let i = 0; i < 60 && options.ready && active() > 0; i++)
    await new Promise((resolve) => setTimeout(resolve, 500));
  const running = active();
  const phases = await listPhases(); // as they are when the load starts
  const statusSample = await (await fetch(`${base}/platforms/${ids[0]}/status`, { headers })).text();
  // Why any platform failed, from its own status (step, Azure's or Kubernetes' code).
  const failures = new Counter();
  if ((phases.get('Failed') ?? 0) > 0)
    for (const id of ids) {
      const status = (await (await fetch(`${base}/platforms/${id}/status`, { headers })).json()) as {
        phase: string;
        lastError?: { step?: string; code: string; message: string };
      };
      if (status.phase === 'Failed')
        failures.add(
          `${status.lastError?.step ?? '?'}: ${status.lastError?.code ?? '?'} ${status.lastError?.message.slice(0, 160) ?? ''}`,
        );
    }

  // Load, one route after the other; /health first and last, to see drift within the run.
  const routes: { name: string; requests: autocannon.Request[] }[] = [
    { name: 'GET /health', requests: [{ method: 'GET', path: '/health' }] },
    {
      name: 'GET /platforms/{id}/status',
      requests: ids.map((id) => ({ method: 'GET', path: `/platforms/${id}/status`, headers })),
    },
    { name: 'GET /platforms', requests: [{ method: 'GET', path: '/platforms', headers }] },
    { name: 'GET /health (again)', requests: [{ method: 'GET', path: '/health' }] },
  ];
  const results: RouteResult[] = [];
  for (const route of routes) {
    if (options.warmup > 0) await load(base, route.requests, options.warmup);
    progress(`${route.name}: ${options.connections} connections for ${options.duration} s`);
    const r = await load(base, route.requests, options.duration);
    results.push({
      route: route.name,
      requests: r.requests.total,
      rps: round(r.requests.total / (r.duration || options.duration), 1),
      mean: round(r.latency.average, 2),
      p50: r.latency.p50,
      p90: r.latency.p90,
      p99: r.latency.p99,
      max: r.latency.max,
      non2xx: r.non2xx,
      errors: r.errors,
      timeouts: r.timeouts,
    });
  }

  // Report.
  const health = results[0]!;
  const info = await machine();
  const lines: string[] = [];
  const say = (s = '') => lines.push(s);
  say(`# bench:api — ${options.connections} connections, ${options.duration} s per route`);
  say(
    `machine: ${info.cpus} CPUs, node ${info.node}, ${info.date}, load average ${info.loadAverage.join(' / ')} (1 / 5 / 15 min)`,
  );
  say(
    `platforms: ${n} registered in ${ms(registerMs)}${readyMs !== undefined ? `, settled in ${ms(readyMs)}` : ''}; phases when the load started: ${[...phases].map(([p, c]) => `${p} ${c}`).join(', ')}`,
  );
  for (const [why, count] of failures.counts) say(`failed (${count}): ${why}`);
  say(
    `status response size: ${Buffer.byteLength(statusSample)} bytes; GET /platforms lists ${n}; orchestrations running or queued during the load: ${running}`,
  );
  say();
  say(
    table([
      [
        'route',
        'requests',
        'req/s',
        'mean ms',
        'p50 ms',
        'p90 ms',
        'p99 ms',
        'max ms',
        'non-2xx',
        'errors',
        'mean ÷ health',
        'p50 ÷ health',
        'p99 ÷ health',
        'req/s ÷ health',
      ],
      ...results.map((r) => [
        r.route,
        r.requests,
        r.rps,
        r.mean,
        r.p50,
        r.p90,
        r.p99,
        r.max,
        r.non2xx,
        r.errors + r.timeouts,
        round(r.mean / health.mean, 2),
        round(r.p50 / health.p50, 2),
        round(r.p99 / health.p99, 2),
        round(r.rps / health.rps, 3),
      ]),
    ]),
  );
  say();
  say(`app log lines: ${[...logLevels.counts].map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}`);
  say(`total bench time: ${ms(performance.now() - startedAt)}`);
  process.stdout.write(`${lines.join('\n')}\n`);
  printResultLine({
    bench: 'api',
    ...info,
    platforms: n,
    phases: Object.fromEntries(phases),
    failures: Object.fromEntries(failures.counts),
    connections: options.connections,
    durationS: options.duration,
    readyMs: readyMs === undefined ? null : round(readyMs),
    statusBytes: Buffer.byteLength(statusSample),
    orchestrationsActive: running,
    routes: results.map((r) => ({
      ...r,
      meanOverHealth: round(r.mean / health.mean, 3),
      p50OverHealth: round(r.p50 / health.p50, 3),
      p99OverHealth: round(r.p99 / health.p99, 3),
      rpsOverHealth: round(r.rps / health.rps, 4),
    })),
  });
}

/** One autocannon run in a worker thread; resolves with its result. */
function load(base: string, requests: autocannon.Request[], seconds: number): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: base,
        connections: options.connections,
        duration: seconds,
        workers: 1,
        requests,
      } as autocannon.Options,
      (error, result) => (error ? reject(error) : resolve(result)),
    );
    void instance;
  });
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`bench:api failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
