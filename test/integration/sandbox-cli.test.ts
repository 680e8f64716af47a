/**
 * `npm run sandbox` end to end: the compiled CLI in its own process, driven over real HTTP as a user
 * would drive it, then stopped with SIGTERM. It is also where the README's curl examples are proved: each is
 * sent as written and must answer the status the README shows after "→".
 *
 * It compiles once with tsconfig.sandbox.json (the command `npm run sandbox` runs), into a private folder
 * inside dist/sandbox/ so that it never rewrites dist/src while another test file reads it
 * (test/unit/package.test.ts); appEntryFiles() resolves the compiled app next to it just the same.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readmeExamples as parseExamples, type CurlExample } from '../support/readme.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const OUT_DIR = join('dist', 'sandbox', '.cli-test');
const CLI = join(root, OUT_DIR, 'sandbox', 'cli.js');
const READY = /^sandbox ready: api=(http:\/\/127\.0\.0\.1:(\d+)) key=(\S+) token=(\S+)$/;
// Signals are emulated on Windows (child.kill terminates at once): the shutdown path cannot be observed.
const posix = process.platform !== 'win32';

interface Answer {
  status: number;
  contentType: string;
  body: string;
}

const hasCurl = spawnSync('curl', ['--version'], { stdio: 'ignore' }).status === 0;

/** Runs the example with curl exactly as written when curl is installed, else with fetch. */
async function run(example: CurlExample): Promise<Answer> {
  if (hasCurl) {
    const marker = '\n--sandbox-test-status--';
    const { stdout } = await promisify(execFile)('curl', [
      ...example.args,
      '-w',
      `${marker}%{http_code} %{content_type}`,
    ]);
    const at = stdout.lastIndexOf(marker);
    const [status, contentType = ''] = stdout.slice(at + marker.length).split(' ');
    return { status: Number(status), contentType, body: stdout.slice(0, at) };
  }
  const res = await fetch(example.url, {
    method: example.method,
    headers: example.headers,
    body: example.body,
  });
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', body: await res.text() };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function until<T>(probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** True once the platform's last flow has ended (or it does not exist), false after 30 s. */
async function settled(id: string): Promise<boolean> {
  const done = await until(async () => {
    const res = await fetch(`${api}/platforms/${id}/status`, {
      headers: { 'x-functions-key': key, authorization: `Bearer ${token}` },
    });
    if (res.status === 404) return true;
    const status = (await res.json()) as { orchestration: { runtimeStatus: string } | null };
    const running = ['Pending', 'Running'].includes(status.orchestration?.runtimeStatus ?? '');
    return running ? undefined : true;
  }, 30_000);
  return done === true;
}

let child: ChildProcess | undefined;
let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
let stdout = '';
let stderr = '';
let readyMs = Number.NaN;
let api = '';
let port = 0;
let key = '';
let token = '';

const azuritePid = () => Number(/Azurite \(in memory\) pid (\d+)/.exec(stderr)?.[1]);
const diagnostics = () => `stdout:\n${stdout}\nstderr (last 4000 characters):\n${stderr.slice(-4_000)}`;

beforeAll(async () => {
  rmSync(join(root, OUT_DIR), { recursive: true, force: true });
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  try {
    await promisify(execFile)(process.execPath, [tsc, '-p', 'tsconfig.sandbox.json', '--outDir', OUT_DIR], {
      cwd: root,
    });
  } catch (e) {
    // Exit code 2: type errors, JavaScript emitted all the same. Type errors are the type-check step's to
    // report; this file tests what the emitted CLI does.
    const error = e as { code?: number; stdout?: string };
    if (error.code !== 2) throw e;
    console.warn(`tsc reported type errors (output emitted):\n${error.stdout ?? ''}`);
  }

  const requested = await freePort();
  const started = performance.now();
  // Ten simulated minutes per real second: a provisioning takes a few seconds, so the README can be followed
  // command by command, each waiting for the flow the previous one started.
  child = spawn(process.execPath, [CLI, '--port', String(requested), '--speed', '600'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  exited = new Promise((resolve) => child!.once('exit', (code, signal) => resolve({ code, signal })));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-64_000)));
  const ready = new Promise<RegExpExecArray>((resolve, reject) => {
    child!.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const m = READY.exec(stdout.split('\n')[0] ?? '');
      if (m && stdout.includes('\n')) resolve(m);
    });
    void exited.then(({ code, signal }) =>
      reject(new Error(`sandbox exited with ${code ?? signal} before it was ready\n${diagnostics()}`)),
    );
  });
  const m = await ready;
  readyMs = Math.round(performance.now() - started);
  console.info(`sandbox ready ${readyMs} ms after spawn`);
  [api, port, key, token] = [m[1]!, Number(m[2]), m[3]!, m[4]!];
  expect(port).toBe(requested);
}, 120_000);

afterAll(async () => {
  // Only if a test failed half-way: never leave what this file started running.
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  const pid = azuritePid();
  if (pid && alive(pid)) process.kill(pid, 'SIGKILL');
});

describe('npm run sandbox', () => {
  // How long it takes is logged above (readyMs), not asserted: a wall-clock bound fails on a busy machine.
  it('prints one ready line with the API on the requested port, a key and a token', () => {
    expect(readyMs).toBeGreaterThan(0);
    expect(api).toBe(`http://127.0.0.1:${port}`);
    expect(key.length).toBeGreaterThanOrEqual(16);
    expect(token.split('.')).toHaveLength(3);
  });

  it('answers GET /health with 200, and refuses a keyed route without the key (401)', async () => {
    const health = await fetch(`${api}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok' });
    expect((await fetch(`${api}/platforms`)).status).toBe(401);
  });

  it(`answers the README examples with the statuses the README shows (run with ${hasCurl ? 'curl' : 'fetch'})`, async () => {
    const examples = parseExamples({ API: api, KEY: key, TOKEN: token });
    expect(examples.length).toBeGreaterThanOrEqual(13);
    for (const e of examples) expect(e.expected, e.command).toBeGreaterThanOrEqual(200);
    for (const example of examples) {
      const path = new URL(example.url).pathname;
      // As a reader would: wait until the flow the previous command started has finished.
      expect(await settled('team42'), diagnostics()).toBe(true);
      const expected = example.expected;
      const answer = await run(example);
      expect(answer.status, `${example.command}\n${answer.body}\n${diagnostics()}`).toBe(expected);
      if (answer.status >= 400) expect(answer.contentType).toBe('application/problem+json');

      if (example.method === 'POST' && path === '/platforms' && answer.status === 202) {
        // The resource group is the orchestration's first step: it appears in the simulated Azure.
        const group = await until(async () => {
          const inventory = (await (await fetch(`${api}/_sandbox/inventory`)).json()) as {
            azure: { type: string; tags: Record<string, string> }[];
          };
          return inventory.azure.find(
            (r) => r.type === 'Microsoft.Resources/resourceGroups' && r.tags['platform-id'] === 'team42',
          );
        }, 15_000);
        expect(group, diagnostics()).toBeDefined();
      }
    }
  }, 120_000);

  it('mints development tokens at /_sandbox/token: a reader may list but not create; no token is 401', async () => {
    const minted = await fetch(`${api}/_sandbox/token?roles=Platforms.Reader`);
    expect(minted.status).toBe(200);
    const { token: reader } = (await minted.json()) as { token: string };
    const as = (bearer: string | undefined, init: RequestInit = {}) =>
      fetch(`${api}/platforms`, {
        ...init,
        headers: {
          'x-functions-key': key,
          'content-type': 'application/json',
          ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
        },
      });
    expect((await as(reader)).status).toBe(200);
    const create = { method: 'POST', body: JSON.stringify({ prefix: 'tok42', models: ['phi3.5'] }) };
    const refused = await as(reader, create);
    expect(refused.status).toBe(403);
    expect(refused.headers.get('content-type')).toBe('application/problem+json');
    expect((await as(undefined)).status).toBe(401);
    expect(stderr).toMatch(/development token for Platforms\.Operator: \S+/);
  });

  it('lists the simulated cloud at /_sandbox/inventory without a key, and no secret values', async () => {
    // The README's platform was deleted (secrets purged): provision another one to list.
    const created = await fetch(`${api}/platforms`, {
      method: 'POST',
      headers: {
        'x-functions-key': key,
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ prefix: 'inv42', models: ['phi3.5'] }),
    });
    expect(created.status).toBe(202);
    expect(await settled('inv42'), diagnostics()).toBe(true);
    const res = await fetch(`${api}/_sandbox/inventory`);
    expect(res.status).toBe(200);
    const inventory = (await res.json()) as Record<string, Record<string, unknown>[]>;
    expect(Object.keys(inventory).sort()).toEqual(['azure', 'keyVault', 'kubernetes']);
    for (const r of inventory.azure!)
      expect(Object.keys(r).sort()).toEqual(['id', 'properties', 'tags', 'type']);
    for (const o of inventory.kubernetes!)
      expect(Object.keys(o).sort()).toEqual(['apiVersion', 'cluster', 'kind', 'metadata']);
    expect(inventory.keyVault!.length).toBeGreaterThan(0);
    expect(inventory.kubernetes!.length).toBeGreaterThan(0);
    for (const s of inventory.keyVault!) expect(Object.keys(s).sort()).toEqual(['deleted', 'name']);
    expect(JSON.stringify(inventory.azure)).not.toMatch(/administratorLoginPassword/);
  });

  it.skipIf(!posix)(
    'stops on SIGTERM: exit 0 within 5 s, the port closed, Azurite gone, one line on stdout',
    async () => {
      const pid = azuritePid();
      expect(pid, diagnostics()).toBeGreaterThan(0);
      expect(alive(pid)).toBe(true);
      const stopStarted = performance.now();
      child!.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const result = await Promise.race([
        exited,
        new Promise<'timeout'>((resolve) => (timer = setTimeout(resolve, 5_000, 'timeout'))),
      ]);
      clearTimeout(timer);
      expect(result, diagnostics()).toEqual({ code: 0, signal: null });
      console.info(`sandbox stopped ${Math.round(performance.now() - stopStarted)} ms after SIGTERM`);
      expect(await accepts(port)).toBe(false);
      expect(alive(pid)).toBe(false);
      expect(stdout.trimEnd().split('\n')).toHaveLength(1);
    },
    10_000,
  );
});
