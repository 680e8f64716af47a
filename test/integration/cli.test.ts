/**
 * The `llm-platforms` CLI as a user runs it: compiled as `npm run build` compiles it, started as a process
 * from the path package.json `bin` names, against the real app served over HTTP with the cloud simulated
 * (as `npm run sandbox` serves it, time sped up by a ScaledClock so a provisioning ends in real seconds).
 * Each command's output and exit code: 0 done, 1 the platform failed or the API refused, 2 usage, 3 the
 * API unreachable. The key and the token never appear in any output.
 *
 * It compiles into a private folder inside dist/sandbox/ (kept out of the deployment package), so that it
 * never rewrites dist/src while another test file reads it (test/unit/package.test.ts).
 */
import { execFile, spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import type { AddressInfo, Server } from 'node:net';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { armFault } from '../../sandbox/azure/arm/faults.js';
import { ScaledClock } from '../../sandbox/clock.js';
import { serveSandbox } from '../../sandbox/server.js';
import type { PlatformList, PlatformStatus } from '../../src/client/api.js';
import { run } from '../../src/cli/run.js';
import { startTestApp, type TestApp } from '../support/harness.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const OUT_DIR = join('dist', 'sandbox', '.llm-platforms-test');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin: Record<string, string> };
/** The bin's path, inside the private build instead of dist/. */
const BIN = join(root, OUT_DIR, pkg.bin['llm-platforms']!.replace(/^dist\//, ''));
/**
 * A simulated minute per real second, as `npm run sandbox`: a provisioning takes about half a minute.
 * Faster, a machine under load stalls long enough in real time for the clusters' hour-long tokens to
 * expire between being fetched and being used.
 */
const SPEED = 60;

let app: TestApp;
let server: Server;
let url: string;
let env: Record<string, string>;

beforeAll(async () => {
  rmSync(join(root, OUT_DIR), { recursive: true, force: true });
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  await promisify(execFile)(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', OUT_DIR], {
    cwd: root,
  });
  app = await startTestApp({
    clock: new ScaledClock(SPEED),
    // As npm run sandbox: the SDK's own Retry-After sleeps would be real time.
    arm: { retryAfterSeconds: 0 },
  });
  server = await serveSandbox(app, 0, () => undefined);
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  env = { LLM_PLATFORMS_URL: url, LLM_PLATFORMS_KEY: app.functionKey, LLM_PLATFORMS_TOKEN: app.adminToken };
}, 180_000);
afterAll(async () => {
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  await app?.close();
  rmSync(join(root, OUT_DIR), { recursive: true, force: true });
});

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the compiled bin (asynchronously: the API it calls is served by this process). */
function cli(args: string[], extraEnv: Record<string, string> = env): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: root,
      // No terminal: stdin is not a TTY, so a deletion cannot be confirmed interactively.
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '', ...extraEnv },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.once('error', reject);
    child.once('close', (code) => {
      const result = { code, stdout, stderr };
      // Whatever it printed, never a credential it was given.
      for (const secret of [app.functionKey, app.adminToken]) {
        expect(stdout).not.toContain(secret);
        expect(stderr).not.toContain(secret);
      }
      resolve(result);
    });
  });
}

const WATCH = ['--watch', '--interval', '0.2'];

/** Runs a command that must succeed: exit 0, nothing on stderr. */
async function succeeds(args: string[]): Promise<Result> {
  const r = await cli(args);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r;
}

describe('llm-platforms (the compiled bin against the sandbox)', () => {
  it('is an executable script with a shebang, and prints its help with exit 0', async () => {
    expect(readFileSync(BIN, 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    for (const command of ['create', 'list', 'status', 'stop', 'start', 'wake', 'patch', 'wipe', 'delete'])
      expect(help.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
    const createHelp = await cli(['create', '--help']);
    expect(createHelp.stdout).toContain('--gpu-max-nodes <n>');
    expect(createHelp.stdout).toContain('Exit codes');
  }, 120_000);

  it('create --watch follows the provisioning step by step to Ready and exits 0', async () => {
    const r = await succeeds(['create', 'cli1', '--models', 'phi3.5', '--idle-minutes', '600', ...WATCH]);
    expect(r.stdout).toMatch(/^Accepted: cli1 provision, phase Pending\./m);
    // Not a terminal: one line per change, each step as it starts and ends.
    expect(r.stdout).toMatch(/^\+\d+s phase Provisioning \(provision\)$/m);
    // Each step as it starts or, when it took less than an interval, as it ends.
    expect(r.stdout).toMatch(/^\+\d+s step resourceGroup (running|succeeded \(\d+(m \d+)?s\))$/m);
    expect(r.stdout).toMatch(/^\+\d+s step aksCluster succeeded \(\d+m \d+s\)$/m);
    expect(r.stdout).toMatch(/^\+\d+s model phi3\.5 ready$/m);
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe('cli1 is Ready.');
  }, 240_000);

  it('list --json and status --json print the API’s body; status shows the timeline', async () => {
    const list = await cli(['list', '--json']);
    expect(list.code).toBe(0);
    const platforms = (JSON.parse(list.stdout) as PlatformList).platforms;
    expect(platforms.find((p) => p.id === 'cli1')).toMatchObject({ phase: 'Ready', models: ['phi3.5'] });
    const table = await cli(['list']);
    expect(table.stdout).toMatch(/^ID +PHASE +OPERATION/);
    expect(table.stdout).toMatch(/^cli1 +Ready +provision/m);

    const status = await cli(['status', 'cli1', '--json']);
    expect(status.code).toBe(0);
    const body = JSON.parse(status.stdout) as PlatformStatus;
    expect(body).toMatchObject({ id: 'cli1', phase: 'Ready' });
    const text = await cli(['status', 'cli1']);
    expect(text.stdout.split('\n')[0]).toMatch(/^cli1 {2}Ready {2}provision \(Completed\)$/);
    // A line per step with its bar and duration, in the API's order.
    const stepLines = text.stdout.split('\n').filter((l) => /^ {2}✓ /.test(l));
    expect(stepLines.map((l) => l.trim().split(/\s+/)[1])).toEqual(body.steps.map((s) => s.name));
    expect(text.stdout).toMatch(/ ✓ aksCluster +succeeded +█+ +\d+m \d+s/);
    expect(text.stdout).toContain('models: phi3.5 ready');
  }, 120_000);

  it('stop --watch ends Stopped; --json --watch prints one JSON document per line', async () => {
    const r = await succeeds(['stop', 'cli1', '--json', ...WATCH]);
    const documents = r.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { phase: string; operation: string });
    expect(documents[0]).toMatchObject({ id: 'cli1', operation: 'stop', phase: 'Stopping' });
    expect(documents.at(-1)).toMatchObject({ phase: 'Stopped' });
    // A document per change, not per read.
    const distinct = new Set(documents.map((d) => JSON.stringify(d)));
    expect(distinct.size).toBe(documents.length);
  }, 120_000);

  it('an invalid create exits 1 with the problem’s title, detail and every named field', async () => {
    const r = await cli(['create', 'Team 42', '--gpu-max-nodes', 'many']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('error: The request is invalid (HTTP 400)');
    expect(r.stderr).toContain('The request body is invalid.');
    for (const pointer of ['/prefix', '/models', '/gpu/maxNodes']) expect(r.stderr).toMatch(`  ${pointer}: `);
    expect(r.stderr).not.toMatch(/\bat .*\.js:\d+/); // no stack trace
  }, 120_000);

  it('a wrong key exits 1 explaining the host’s bare 401', async () => {
    const r = await cli(['list', '--key', 'not-the-key'], { ...env, LLM_PLATFORMS_KEY: '' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: Unauthorized \(missing or wrong function key.*\(HTTP 401\)$/m);
    expect(r.stderr).not.toContain('not-the-key');
    // A key too short to be one is not hidden from the words of a message.
    const short = await cli(['list', '--key', 'wrong']);
    expect(short.stderr).toContain('missing or wrong function key');
  }, 120_000);

  it('an API that does not answer exits 3 naming the URL', async () => {
    const closed = await serveSandbox(app, 0, () => undefined);
    const gone = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((resolve) => closed.close(resolve));
    const r = await cli(['status', 'cli1', '--url', gone]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`error: Cannot reach the API at ${gone}`);
  }, 120_000);

  it('usage errors exit 2 before sending anything; delete without --yes and no terminal refuses', async () => {
    expect((await cli(['frobnicate'])).code).toBe(2);
    const unknown = await cli(['list', '--frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("Unknown option '--frobnicate'");
    expect((await cli(['stop'])).stderr).toContain('stop needs the platform id');
    expect((await cli(['list', '--models', 'x'])).stderr).toContain('list does not take --models');

    const refused = await cli(['delete', 'cli1']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('refusing to delete cli1 without --yes');
    const status = await cli(['status', 'cli1', '--json']);
    expect(JSON.parse(status.stdout)).toMatchObject({ phase: 'Stopped' });
  }, 120_000);

  it('a platform that fails makes --watch exit 1 showing the step and Azure’s error', async () => {
    app.arm.faults.script('aks.create', [armFault.quotaExceeded('immediate')]);
    const r = await cli(['create', 'cli2', '--models', 'phi3.5', ...WATCH]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^\+\d+s step aksCluster failed \([^)]+\): QuotaExceeded: /m);
    expect(r.stderr).toMatch(/^cli2 failed: step aksCluster: QuotaExceeded: /m);
    expect(r.stderr).toContain('llm-platforms retry cli2 --watch');
  }, 240_000);

  it('on a terminal, start --watch redraws the timeline in place while the platform changes', async () => {
    let out = '';
    const code = await run(['start', 'cli1', ...WATCH], {
      stdout: { write: (s: string) => (out += s), isTTY: true, columns: 100 },
      stderr: { write: (s: string) => (out += s) },
      env,
    });
    expect(code).toBe(0);
    // Each redraw moves back to the first line drawn and clears below it.
    const ESC = String.fromCharCode(27);
    expect(out.split(`${ESC}[0J`).length).toBeGreaterThan(2);
    expect(
      out
        .split(`${ESC}[0J`)
        .slice(0, -1)
        .every((before) => /\[\d+F$/.test(before)),
    ).toBe(true);
    expect(out).toMatch(/ ▸ \w+ +running +█+/);
    expect(out.trimEnd().split('\n').at(-1)).toBe('cli1 is Ready.');
  }, 240_000);

  it('on a terminal, delete asks for the id typed again: another answer deletes nothing (exit 2), the id deletes', async () => {
    const io = (answer: string, asked: string[]) => ({
      stdout: { write: () => true, isTTY: true },
      stderr: { write: () => true },
      env,
      ask: async (question: string) => {
        asked.push(question);
        return answer;
      },
    });
    const asked: string[] = [];
    expect(await run(['delete', 'cli1'], io('yes', asked))).toBe(2);
    expect(asked).toEqual([expect.stringContaining('Type its id to confirm')]);
    expect((await app.call('GET', '/platforms/cli1')).json).toMatchObject({ phase: 'Ready' });
    // The platform that failed above.
    expect(await run(['delete', 'cli2'], io('cli2', asked))).toBe(0);
    expect(['Deleting', 'Deleted']).toContain((await app.call('GET', '/platforms/cli2')).json.phase);
  }, 120_000);

  it('delete --yes --watch ends Deleted', async () => {
    const r = await succeeds(['delete', 'cli1', '--yes', ...WATCH]);
    expect(r.stdout).toMatch(/^Accepted: cli1 delete, phase Deleting\./m);
    // The log starts from the platform as it was: the provisioning's steps are not repeated.
    expect(r.stdout).toMatch(/^\+\d+s step resourceGroupDelete /m);
    expect(r.stdout).not.toMatch(/step aksCluster /);
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe('cli1 is Deleted.');
  }, 240_000);
});

describe('the README', () => {
  it('documents every exit code in its CLI section', async () => {
    const { EXIT } = await import('../../src/cli/args.js');
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## CLI'), readme.indexOf('## The API'));
    for (const code of Object.values(EXIT))
      expect(section).toMatch(new RegExp(`^\\| \`${code}\` +\\| \\w`, 'm'));
  });
});
