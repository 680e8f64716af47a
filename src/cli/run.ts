/**
 * One CLI invocation: parse, call the API through the typed client, print, and answer the exit code.
 * Everything the process gives (streams, environment, the terminal, time) comes in as `CliIo`, so the
 * entry (main.ts) is only wiring.
 */
import { readFile } from 'node:fs/promises';
import { ACTIONS, ApiProblem, createClient, type Accepted, type Action, type Client } from '../client/api.js';
import type { PlatformStatus } from '../client/api.js';
import { SETTLED_PHASES, type Operation, type Phase } from '../platform/phases.js';
import { ACTIVE_STATUSES, type RuntimeStatus } from '../services/orchestrations.js';
import { EXIT, UsageError, commandHelp, generalHelp, parseInvocation, type Invocation } from './args.js';
import {
  changes,
  describeError,
  listTable,
  planLines,
  problemLines,
  statusReport,
  timeline,
} from './render.js';

export interface Output {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface CliIo {
  stdout: Output;
  stderr: Output;
  env: Record<string, string | undefined>;
  /** Asks on the terminal and answers the line typed; absent when there is no terminal to ask on. */
  ask?: (question: string) => Promise<string>;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

/** The phase each flow leads to when it succeeds. */
const END_PHASE: Record<Operation, Phase> = {
  provision: 'Ready',
  start: 'Ready',
  update: 'Ready',
  wipe: 'Ready',
  stop: 'Stopped',
  delete: 'Deleted',
};

/** Status reads a watch survives in a row when the API is briefly unreachable or busy. */
const WATCH_TRANSIENT_TRIES = 5;
const TRANSIENT_STATUSES = new Set([0, 429, 502, 503, 504]);

/** Never prints a secret it was given, whatever the API or an error echoes. */
function redacting(out: Output, secrets: string[]): Output {
  // Long enough not to be an ordinary word of a message (a function key has 56 characters, a token more).
  const hidden = secrets.filter((s) => s.length >= 8);
  return {
    isTTY: out.isTTY,
    columns: out.columns,
    write: (text: string) => out.write(hidden.reduce((t, s) => t.split(s).join('***'), text)),
  };
}

export async function run(argv: string[], io: CliIo): Promise<number> {
  let invocation: Invocation;
  try {
    const parsed = parseInvocation(argv, io.env);
    if ('help' in parsed) {
      io.stdout.write(parsed.help);
      return EXIT.ok;
    }
    invocation = parsed;
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.stderr.write(`error: ${e.message}\n\n${e.command ? commandHelp(e.command) : generalHelp()}`);
    return EXIT.usage;
  }
  const secrets = [invocation.key, invocation.token].filter((s): s is string => !!s);
  const stdout = redacting(io.stdout, secrets);
  const stderr = redacting(io.stderr, secrets);
  const client = createClient({
    baseUrl: invocation.url,
    ...(invocation.key ? { key: invocation.key } : {}),
    ...(invocation.token ? { token: invocation.token } : {}),
    ...(io.fetch ? { fetch: io.fetch } : {}),
  });
  const context: Context = {
    invocation,
    client,
    stdout,
    stderr,
    ask: io.ask,
    sleep: io.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
    now: io.now ?? Date.now,
  };
  try {
    return await execute(context);
  } catch (e) {
    if (e instanceof UsageError) {
      stderr.write(`error: ${e.message}\n`);
      return EXIT.usage;
    }
    if (e instanceof ApiProblem) {
      stderr.write(`${problemLines(e).join('\n')}\n`);
      return e.status === 0 ? EXIT.unreachable : EXIT.failed;
    }
    throw e;
  }
}

interface Context {
  invocation: Invocation;
  client: Client;
  stdout: Output;
  stderr: Output;
  ask: CliIo['ask'];
  sleep: (ms: number) => Promise<void>;
  now: () => number;
  /** The status before the request, for a watch that logs changes. */
  baseline?: PlatformStatus | undefined;
}

const json = (body: unknown, compact = false) => `${JSON.stringify(body, null, compact ? 0 : 2)}\n`;

async function execute(c: Context): Promise<number> {
  const { invocation: inv, client, stdout } = c;
  const id = inv.target!;
  // A log of changes starts from the platform as it was just before the request: the steps of earlier
  // flows (the status keeps them all) are not news. A failed read is left to the request to report.
  const readBaseline = async () => {
    if (inv.watch && !inv.json && !stdout.isTTY)
      c.baseline = await client.status(id).catch((e: unknown) => {
        if (e instanceof ApiProblem) return undefined;
        throw e;
      });
  };
  switch (inv.command) {
    case 'list': {
      const list = await client.list({ includeDeleted: inv.flags.all });
      stdout.write(inv.json ? json(list) : `${listTable(list).join('\n')}\n`);
      return EXIT.ok;
    }
    case 'status': {
      if (inv.watch) return watch(c, id, undefined);
      const status = await client.status(id);
      stdout.write(inv.json ? json(status) : `${statusReport(status, c.now()).join('\n')}\n`);
      return EXIT.ok;
    }
    case 'create': {
      const body = await createBody(inv);
      if (inv.flags.dryRun) {
        const plan = await client.create(body, { dryRun: true });
        stdout.write(inv.json ? json(plan) : `${planLines(plan as Record<string, unknown>).join('\n')}\n`);
        return EXIT.ok;
      }
      return accepted(c, (await client.create(body)) as Accepted);
    }
    case 'patch': {
      const body = await patchBody(inv);
      await readBaseline();
      const answer = await client.patch(id, body);
      if ('spec' in answer) {
        // Only settings were recorded (200): no flow runs, nothing to watch.
        stdout.write(inv.json ? json(answer) : `Recorded: ${answer.id} (${answer.phase}); no flow runs.\n`);
        return EXIT.ok;
      }
      return accepted(c, answer);
    }
    case 'delete': {
      if (!inv.flags.yes) await confirmDeletion(c, id);
      await readBaseline();
      return accepted(c, await client.delete(id));
    }
    default: {
      const action: Action = inv.command;
      if (!(ACTIONS as readonly string[]).includes(action)) throw new Error(`unhandled command ${action}`);
      await readBaseline();
      return accepted(c, await client.act(id, action));
    }
  }
}

/** A 202: say what started (or print the body), then follow it with --watch. */
async function accepted(c: Context, answer: Accepted): Promise<number> {
  const { invocation: inv, stdout } = c;
  if (inv.json) stdout.write(json(answer, inv.watch));
  else
    stdout.write(
      `Accepted: ${answer.id} ${answer.operation}, phase ${answer.phase}.${
        inv.watch ? '' : ` Follow it with: llm-platforms status ${answer.id} --watch`
      }\n`,
    );
  return inv.watch ? watch(c, answer.id, END_PHASE[answer.operation]) : EXIT.ok;
}

async function confirmDeletion(c: Context, id: string): Promise<void> {
  if (!c.ask)
    throw new UsageError(`refusing to delete ${id} without --yes: there is no terminal to confirm on`);
  const typed = await c.ask(`Delete platform ${id} and everything it owns? Type its id to confirm: `);
  if (typed.trim() !== id) throw new UsageError(`not confirmed: ${id} was not deleted`);
}

/** The flow has ended: a settled phase, no orchestration running, no GPU tier waking. */
function ended(status: PlatformStatus): boolean {
  const runtime = status.orchestration?.runtimeStatus as RuntimeStatus | undefined;
  return (
    SETTLED_PHASES.includes(status.phase) &&
    !(runtime && ACTIVE_STATUSES.has(runtime)) &&
    status.tiers.gpu.state !== 'waking'
  );
}

/** What a status shows that is worth a new line or a redraw (not the times recomputed at each read). */
const progressKey = (s: PlatformStatus) =>
  JSON.stringify([
    s.phase,
    s.operation,
    s.orchestration?.runtimeStatus,
    s.steps.map((step) => [step.name, step.state, step.endedAt]),
    s.models,
    s.tiers,
    s.lastError,
  ]);

/**
 * Reads the status every interval until the flow ends. A terminal gets the timeline redrawn in place at
 * each read (running steps' bars grow); anything else gets one line per change; --json one status document
 * per line per change. Exit 0 when the platform reaches `endPhase` (any settled phase but Failed when the
 * command started nothing), 1 when it is Failed or ends elsewhere.
 */
async function watch(c: Context, id: string, endPhase: Phase | undefined): Promise<number> {
  const { invocation: inv, stdout } = c;
  const started = c.now();
  const live = !inv.json && !!stdout.isTTY;
  let drawn = 0;
  let previous = c.baseline;
  let misses = 0;
  for (;;) {
    let status: PlatformStatus;
    try {
      status = await c.client.status(id);
      misses = 0;
    } catch (e) {
      // A deleted platform whose record is gone is what a delete leads to.
      if (e instanceof ApiProblem && e.status === 404 && endPhase === 'Deleted' && previous) {
        stdout.write(inv.json ? '' : `${id} deleted.\n`);
        return EXIT.ok;
      }
      if (e instanceof ApiProblem && TRANSIENT_STATUSES.has(e.status) && ++misses < WATCH_TRANSIENT_TRIES) {
        await c.sleep(inv.intervalMs);
        continue;
      }
      throw e;
    }
    const changed = !previous || progressKey(previous) !== progressKey(status);
    if (inv.json) {
      if (changed) stdout.write(json(status, true));
    } else if (live) {
      const lines = timeline(status, c.now()).map((l) => clip(l, stdout.columns));
      // Back to the first line drawn last time, clear to the end of the screen, draw again.
      stdout.write(`${drawn ? `\x1b[${drawn}F\x1b[0J` : ''}${lines.join('\n')}\n`);
      drawn = lines.length;
    } else if (!previous && inv.command === 'status') {
      // Following a platform as it is: its timeline first, then what changes.
      stdout.write(`${timeline(status, c.now()).join('\n')}\n`);
    } else if (changed) {
      const at = `+${Math.round((c.now() - started) / 1000)}s`;
      for (const line of changes(previous, status)) stdout.write(`${at} ${line}\n`);
    }
    previous = status;
    if (ended(status)) return outcome(c, status, endPhase);
    await c.sleep(inv.intervalMs);
  }
}

function outcome(c: Context, status: PlatformStatus, endPhase: Phase | undefined): number {
  const { invocation: inv, stdout, stderr } = c;
  if (status.phase === 'Failed') {
    stderr.write(
      `${status.id} failed${status.lastError ? `: ${describeError(status.lastError)}` : ''}\n` +
        `Retry with: llm-platforms retry ${status.id} --watch\n`,
    );
    return EXIT.failed;
  }
  if (endPhase && status.phase !== endPhase) {
    stderr.write(
      `${status.id} is ${status.phase}, not ${endPhase}: another operation changed it meanwhile.\n`,
    );
    return EXIT.failed;
  }
  if (!inv.json) stdout.write(`${status.id} is ${status.phase}.\n`);
  return EXIT.ok;
}

/** A line no wider than the terminal, so that redrawing in place counts lines right. */
const clip = (line: string, columns: number | undefined) =>
  columns && line.length > columns ? `${line.slice(0, Math.max(1, columns - 1))}…` : line;

/** A JSON object from --file; a usage error (never quoting the file: it may hold a token) otherwise. */
async function bodyFile(path: string | undefined): Promise<Record<string, unknown>> {
  if (path === undefined) return {};
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new UsageError(`${path} is not valid JSON`);
  }
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw new UsageError(`${path} must hold a JSON object`);
  return body as Record<string, unknown>;
}

/**
 * A number flag as a number when it reads as one; otherwise the text as given, so that the API's
 * validation names the field and says what it must be (the API is the one place that validates).
 */
const numeric = (value: string) => (/^-?\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : value);

/** `over` laid on `base`, objects merged field by field (arrays and values replaced). */
function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b)
        ? merge(b as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

async function createBody(inv: Invocation): Promise<Record<string, unknown>> {
  const f = inv.flags;
  return merge(await bodyFile(f.file), {
    ...(inv.target !== undefined ? { prefix: inv.target } : {}),
    ...(f.models ? { models: f.models } : {}),
    ...(f.gpuMaxNodes !== undefined ? { gpu: { maxNodes: numeric(f.gpuMaxNodes) } } : {}),
    ...(f.idleMinutes !== undefined ? { autoStop: { idleMinutes: numeric(f.idleMinutes) } } : {}),
  });
}

async function patchBody(inv: Invocation): Promise<Record<string, unknown>> {
  const f = inv.flags;
  const autoStop = {
    ...(f.idleMinutes !== undefined ? { idleMinutes: numeric(f.idleMinutes) } : {}),
    ...(f.gpuIdleMinutes !== undefined ? { gpuIdleMinutes: numeric(f.gpuIdleMinutes) } : {}),
  };
  return merge(await bodyFile(f.file), {
    ...(f.models ? { models: f.models } : {}),
    ...(f.replicas !== undefined ? { webui: { replicas: numeric(f.replicas) } } : {}),
    ...(Object.keys(autoStop).length ? { autoStop } : {}),
  });
}
