/**
 * `npm run sandbox`: the real app, served over HTTP on 127.0.0.1, with the cloud simulated. Simulated
 * ARM, Key Vault, Kubernetes and Ollama run in memory in this process; storage is a private in-memory
 * Azurite on free loopback ports. Time is a ScaledClock: real time multiplied by `--speed`, shared by the
 * durable timers, the simulated Azure operations and the simulated cluster.
 *
 * Each incoming request goes through the Functions host emulation exactly as sandbox/host.ts dispatches
 * it (method, absolute URL, headers, raw body bytes), so routing, function keys and the app's answers are
 * those of the deployed app; sandbox/server.ts is that HTTP front. `GET /_sandbox/inventory` (no key)
 * lists what exists in the simulated cloud: names, types, tags and properties, never a secret value.
 *
 * The host emulates App Service Authentication with a development identity provider (sandbox/easy-auth.ts):
 * platform routes need `Authorization: Bearer <token>` besides the function key. `GET /_sandbox/token`
 * (no key) mints one for chosen roles, object id and groups.
 *
 * stdout carries exactly one line,
 * `sandbox ready: api=http://127.0.0.1:<port> key=<function key> token=<Platforms.Admin token>`; all
 * other output goes to stderr (an operator's and a reader's token among it). SIGINT/SIGTERM (or the parent process exiting) stop everything this started
 * and exit 0.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { startSandboxApp, type SandboxApp } from './app.js';
import { startAzurite, type RunningAzurite } from './azurite.js';
import { ScaledClock } from './clock.js';
import { getRegistrations } from './host.js';
import { HOST, serveSandbox } from './server.js';
import { startTimers } from './timers.js';

const DEFAULT_PORT = 7071;
/**
 * A simulated minute per real second: AKS creation (9 simulated minutes) plus the orchestration's polling
 * back-off makes a whole provisioning take roughly 10–15 s, while a person can still watch the phases
 * and steps change with `GET /platforms/{id}/status`.
 */
const DEFAULT_SPEED = 60;

const USAGE = `Usage: npm run sandbox -- [--port <port>] [--speed <factor>]

Runs the API locally with the cloud simulated: Azure Resource Manager, Key Vault, Kubernetes and Ollama
in memory, storage in a private in-memory Azurite. Nothing touches Azure.

Options:
  --port <port>      HTTP port on 127.0.0.1 (default ${DEFAULT_PORT}; 0 picks a free one)
  --speed <factor>   simulated seconds per real second (default ${DEFAULT_SPEED}: a full provisioning,
                     AKS creation included, takes about a quarter of a minute)
  -h, --help         this text

When ready it prints one line to stdout:
  sandbox ready: api=http://127.0.0.1:<port> key=<function key> token=<admin token>
The function key and the token signing key are random per run. Platform routes need both headers:
  x-functions-key: <function key>
  authorization: Bearer <token>
The token is a development identity with the role Platforms.Admin; stderr shows a Platforms.Operator and a
Platforms.Reader token, and GET /_sandbox/token?roles=<role,...>&oid=<guid>&groups=<guid,...> (no key)
mints others. GET /_sandbox/inventory (no key) lists the simulated Azure resources, Kubernetes objects
and Key Vault secret names. Ctrl-C stops everything.
`;

interface Options {
  port: number;
  speed: number;
}

function parseOptions(argv: string[]): Options | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string' },
      speed: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return 'help';
  const port = values.port === undefined ? DEFAULT_PORT : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new Error(`--port must be an integer from 0 to 65535, not "${values.port}"`);
  const speed = values.speed === undefined ? DEFAULT_SPEED : Number(values.speed);
  if (!Number.isFinite(speed) || speed <= 0)
    throw new Error(`--speed must be a positive number, not "${values.speed}"`);
  return { port, speed };
}

const log = (message: string) => process.stderr.write(`[sandbox] ${message}\n`);

async function main(): Promise<void> {
  let options: Options | 'help';
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (options === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  const { port, speed } = options;

  // Everything started, stopped in reverse order. A signal during start-up lets the current step finish
  // (each is bounded: Azurite gives up after 15 s), skips the rest, then stops what exists.
  let azurite: RunningAzurite | undefined;
  let app: SandboxApp | undefined;
  let server: Server | undefined;
  let stopTimers: (() => void) | undefined;
  let stopping = false;
  let startup: Promise<void> = Promise.resolve();

  const shutdown = async (why: string, exitCode: number) => {
    if (stopping) return;
    stopping = true;
    log(`${why}: stopping`);
    await startup.catch(() => undefined);
    const steps: [string, () => Promise<void> | void][] = [
      ['timers', () => stopTimers?.()],
      [
        'HTTP server',
        () =>
          server &&
          new Promise<void>((resolve) => {
            server!.close(() => resolve());
            server!.closeAllConnections();
          }),
      ],
      ['simulated services', () => app?.close()],
      ['Azurite', () => azurite?.stop()],
    ];
    let failed = false;
    for (const [name, step] of steps) {
      try {
        await step();
      } catch (e) {
        failed = true;
        log(`stopping ${name} failed: ${(e as Error).message}`);
      }
    }
    log(failed ? 'stopped, with errors' : 'stopped');
    process.exit(failed ? 1 : exitCode);
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      // A second Ctrl-C: leave now (Azurite's exit hook kills it).
      log(`${signal} again: exiting immediately`);
      process.exit(1);
    }
    void shutdown(signal, 0);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // `npm run sandbox` puts a shell between npm and this process; npm forwards SIGTERM to that shell only,
  // which exits without passing it on. Stop as well when the parent goes away, so nothing is orphaned.
  const parent = process.ppid;
  if (parent > 1)
    setInterval(() => {
      if (process.ppid !== parent) void shutdown(`parent process ${parent} exited`, 0);
    }, 500).unref();
  process.on('unhandledRejection', (reason) => {
    log(
      `unhandled rejection: ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}`,
    );
  });

  const started = Date.now();
  let failure: unknown;
  startup = (async () => {
    try {
      azurite = await startAzurite();
      log(`Azurite (in memory) pid ${azurite.pid}`);
      if (stopping) return;
      const clock = new ScaledClock(speed);
      app = await startSandboxApp({
        storageConnection: azurite.connectionString,
        clock,
        // Retry-After only bounds the orchestration's own polling (durable timers, simulated time), but
        // the Azure SDK sleeps it in real time where it honours it itself: 0 keeps real time out of it.
        arm: { retryAfterSeconds: 0 },
        onLog: (line) => log(`${line.functionName} ${line.level}: ${line.message}`),
      });
      if (stopping) return;
      const sandbox = app;
      // `%NAME%` in a timer schedule: the value the app itself runs with, else the environment.
      const appSettings: Record<string, string> = { AUTO_STOP_SCHEDULE: sandbox.config.autoStopSchedule };
      stopTimers = startTimers({
        host: sandbox.host,
        registrations: getRegistrations(),
        clock,
        setting: (name) => appSettings[name] ?? process.env[name],
        log,
      });
      server = await serveSandbox(sandbox, port, log);
      if (stopping) return;
      const actualPort = (server.address() as AddressInfo).port;
      log(
        `speed ${speed}: a real second is ${speed} simulated seconds; started in ${Date.now() - started} ms`,
      );
      const tokens = await sandbox.identities.roleTokens();
      for (const [role, token] of Object.entries(tokens)) log(`development token for ${role}: ${token}`);
      process.stdout.write(
        `sandbox ready: api=http://${HOST}:${actualPort} key=${sandbox.functionKey} token=${sandbox.adminToken}\n`,
      );
    } catch (e) {
      failure = e;
    }
  })();
  await startup;
  if (failure !== undefined) {
    const error = failure as NodeJS.ErrnoException;
    log(
      error.code === 'EADDRINUSE'
        ? `port ${port} on ${HOST} is in use: pass another with --port`
        : `start-up failed: ${error.stack ?? error.message}`,
    );
    await shutdown('start-up failed', 1);
  }
}

void main();
