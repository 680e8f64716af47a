/**
 * Starts a private, in-memory Azurite on three free loopback ports and stops it again. Used by the test
 * run's global setup and by the sandbox command, so it has no test-framework imports.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { connect, createServer } from 'node:net';

export interface RunningAzurite {
  /** Connection string for Azurite's well-known development account on this instance's ports. */
  connectionString: string;
  /** Process id of the Azurite child (so a caller can check that nothing survives `stop()`). */
  pid: number | undefined;
  /** Stops Azurite (SIGTERM, then SIGKILL if it lingers) and resolves once the process has exited. */
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
const ACCOUNT = 'devstoreaccount1';
// Azurite's documented, public development key: not a secret.
const ACCOUNT_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;

export async function startAzurite(): Promise<RunningAzurite> {
  // Random free ports, so a developer's own Azurite on 10000–10002 (or a parallel run) never collides.
  const [blobPort, queuePort, tablePort] = (await freePorts(3)) as [number, number, number];
  const entry = createRequire(import.meta.url).resolve('azurite/dist/src/azurite.js');
  // Started with node directly (not through a shell or npx) so the child's PID is Azurite itself.
  const child = spawn(
    process.execPath,
    [
      entry,
      '--silent',
      '--disableTelemetry',
      '--skipApiVersionCheck',
      '--inMemoryPersistence',
      ...['--blobHost', HOST, '--queueHost', HOST, '--tableHost', HOST],
      ...['--blobPort', String(blobPort), '--queuePort', String(queuePort), '--tablePort', String(tablePort)],
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-8_000);
  });
  // Last resort if the parent exits without calling stop(): never leave an orphan listening.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  const stop = async () => {
    process.removeListener('exit', killOnExit);
    await stopProcess(child);
  };

  try {
    await waitForPorts(child, [blobPort, queuePort, tablePort], () => stderr);
  } catch (error) {
    await stop();
    throw error;
  }

  const endpoint = (port: number) => `http://${HOST}:${port}/${ACCOUNT}`;
  const connectionString = [
    'DefaultEndpointsProtocol=http',
    `AccountName=${ACCOUNT}`,
    `AccountKey=${ACCOUNT_KEY}`,
    `BlobEndpoint=${endpoint(blobPort)}`,
    `QueueEndpoint=${endpoint(queuePort)}`,
    `TableEndpoint=${endpoint(tablePort)}`,
  ].join(';');
  return { connectionString, pid: child.pid, stop };
}

/** Ports the OS reports free; all held open together so the three are distinct. */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const server = createServer();
          server.once('error', reject).listen(0, HOST, () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((server) => {
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('could not read a free port');
    return address.port;
  });
  await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  return ports;
}

async function waitForPorts(child: ChildProcess, ports: number[], stderr: () => string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  const fail = (why: string) =>
    new Error(`Azurite ${why} (ports ${ports.join(', ')}). Azurite stderr:\n${stderr() || '(empty)'}`);
  for (const port of ports) {
    while (!(await accepts(port))) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw fail(`exited during start-up with ${child.exitCode ?? child.signalCode}`);
      }
      if (Date.now() > deadline) throw fail(`did not accept connections within ${START_TIMEOUT_MS / 1000} s`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: HOST, port });
    socket.setTimeout(1_000);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const within = async (ms: number) => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(resolve, ms, false)));
    try {
      return await Promise.race([exited.then(() => true), timeout]);
    } finally {
      clearTimeout(timer);
    }
  };
  child.kill('SIGTERM');
  if (await within(STOP_TIMEOUT_MS)) return;
  child.kill('SIGKILL');
  if (!(await within(STOP_TIMEOUT_MS)))
    throw new Error(`Azurite (pid ${child.pid}) did not exit after SIGKILL`);
}
