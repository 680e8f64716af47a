/**
 * `npm run bench:provision`: how long one platform takes to provision through the sandbox, in simulated
 * time, against the critical-path lower bound and against a strictly sequential script.
 *
 * - Ours: POST /platforms through the app's HTTP handler, then the real orchestration on the durable
 *   driver with a VirtualClock (time jumps from one durable timer to the next, so simulated time is exact
 *   and a run takes seconds). Time-to-Ready is when the flow recorded phase Ready (`lastActiveAt`),
 *   time-to-all-models when the orchestration completed (every model recorded ready), both from the POST.
 * - Lower bound: bench/critical-path.ts, from the simulators' duration settings.
 * - Sequential: the same activities, called directly one after another as a one-shot script would run
 *   them (each resource created and waited for before the next, no parallelism), polling every --poll
 *   seconds by moving the same VirtualClock forward.
 * - Requests: every ARM request and every request to the platform's Kubernetes API server (the service
 *   proxy to Ollama included) during one provisioning.
 *
 * Prints a report, then one line of JSON. Exits non-zero if a provisioning did not reach Ready.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type {
  ActivityInput,
  ActivityName,
  ActivityOutput,
  Failure,
  ResourceState,
  Result,
} from '../src/activities/contract.js';
import { RETRYABLE_KINDS } from '../src/activities/contract.js';
import { getServices } from '../src/composition.js';
import { APP_ITSELF } from '../src/platform/access.js';
import type { PlatformRecord } from '../src/platform/types.js';
import {
  AZURE_RESOURCE_NAMES,
  firewallRules,
  POSTGRES_CONFIGURATION,
} from '../src/platform/azure-resources.js';
import { APPLY_STAGES, PROVISION_GATES, PROVISION_ORDER, STEPS } from '../src/platform/steps.js';
import { POLL, type PollPolicy } from '../src/platform/polling.js';
import type { Orchestrations } from '../src/services/orchestrations.js';
import { DEFAULT_DURATIONS, PG_CONFIGURATIONS } from '../sandbox/azure/arm.js';
import { getRegistrations } from '../sandbox/host.js';
import { DEFAULT_PULL_MS } from '../sandbox/kube/ollama.js';
import { DEFAULT_DELAYS } from '../sandbox/kube/simulation.js';
import { criticalPath, type CriticalPath } from './critical-path.js';
import {
  FINISHED,
  HOUR,
  intFlag,
  median,
  seconds,
  startBenchApp,
  table,
  tallyArm,
  tallyKube,
  type BenchApp,
  type RequestTally,
} from './support.js';

const USAGE = `Usage: npm run bench:provision -- [--runs <n>] [--models <a,b>] [--poll <seconds>] [--quick]
                                   [--what-if <policy.field=ms,...>]

Provisions one platform through the sandbox (simulated ARM, Kubernetes and Ollama with their default
durations, on a virtual clock) and compares its time-to-Ready with the critical-path lower bound and with
the same platform provisioned strictly sequentially.

Options:
  --runs <n>         provisionings measured (default 3; each with its own prefix)
  --models <list>    comma-separated models of the platform (default llama3.1:8b,phi3.5)
  --poll <seconds>   poll interval of the sequential script (default 10)
  --quick            one run (for CI)
  --what-if <list>   an experiment: override fields of the orchestrations' polling policies
                     (src/platform/polling.ts POLL) in this process only, e.g.
                     aksCluster.maxMs=30000,kubernetes.initialMs=5000; the report says so
  -h, --help         this text
`;

const TARGET_RATIO = 1.05;
const TARGET_SPEEDUP = 1.6;
const MAX_SIMULATED_MS = 6 * HOUR;

interface Options {
  runs: number;
  models: string[];
  pollMs: number;
  whatIf: { policy: string; field: keyof PollPolicy; value: number }[];
}

const POLICIES = POLL as unknown as Record<string, PollPolicy>;

function parseWhatIf(text: string | undefined): Options['whatIf'] {
  if (!text) return [];
  return text.split(',').map((pair) => {
    const m = /^\s*(\w+)\.(initialMs|factor|maxMs|deadlineMs)\s*=\s*([0-9.]+)\s*$/.exec(pair);
    if (!m || !POLICIES[m[1]!] || !Number.isFinite(Number(m[3])))
      throw new Error(
        `--what-if expects <policy>.<initialMs|factor|maxMs|deadlineMs>=<number> with a policy among ${Object.keys(POLICIES).join(', ')}, not "${pair}"`,
      );
    return { policy: m[1]!, field: m[2] as keyof PollPolicy, value: Number(m[3]) };
  });
}

function parseOptions(argv: string[]): Options | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      runs: { type: 'string' },
      models: { type: 'string' },
      poll: { type: 'string' },
      quick: { type: 'boolean' },
      'what-if': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return 'help';
  const runs = values.quick ? 1 : intFlag('runs', values.runs, 3, 1);
  const models = (values.models ?? 'llama3.1:8b,phi3.5').split(',').map((m) => m.trim());
  const pollMs = intFlag('poll', values.poll, 10, 1) * 1000;
  return { runs, models, pollMs, whatIf: parseWhatIf(values['what-if']) };
}

interface StepTime {
  name: string;
  startedMs: number;
  endedMs: number;
}

interface OursRun {
  prefix: string;
  readyMs: number;
  allModelsMs: number;
  wallMs: number;
  steps: StepTime[];
  arm: RequestTally;
  kube: RequestTally;
  polls: OperationPolls[];
  record: PlatformRecord;
}

/** How one ARM long-running operation was followed: when it ended, and when the flow read that it had. */
interface OperationPolls {
  kind: string;
  durationMs: number;
  polls: number;
  retryAfter: number[];
  /** Simulated ms between the operation's end and the read that saw it ended. */
  seenLateMs: number;
}

async function provisionOurs(app: BenchApp, prefix: string, models: string[]): Promise<OursRun> {
  const armFrom = app.arm.requests.length;
  const opsFrom = app.arm.allOperations().length;
  const t0 = app.clock.now();
  const wall0 = performance.now();
  const reply = await app.call('POST', '/platforms', { body: { prefix, models } });
  if (reply.status !== 202) throw new Error(`POST /platforms answered ${reply.status}: ${reply.text}`);
  const finished = () => FINISHED.has(app.instances.instances.get(prefix)?.runtimeStatus ?? '');
  await app.driver.runUntil(finished, { maxSimulatedMs: MAX_SIMULATED_MS, maxSteps: 100_000 });
  const wallMs = performance.now() - wall0;
  const instance = app.instances.instances.get(prefix);
  const record = (await getServices().registry.get(prefix))!;
  if (instance?.runtimeStatus !== 'Completed' || record.phase !== 'Ready' || !record.lastActiveAt)
    throw new Error(
      `${prefix} did not provision: ${instance?.runtimeStatus ?? 'no instance'}, phase ${record?.phase}, ${JSON.stringify(record?.lastError ?? null)}`,
    );
  const steps = record.steps
    .filter((s) => s.startedAt && s.endedAt)
    .map((s) => ({
      name: s.name,
      startedMs: Date.parse(s.startedAt!) - t0,
      endedMs: Date.parse(s.endedAt!) - t0,
    }));
  const requests = app.arm.requests.slice(armFrom);
  const polls = app.arm
    .allOperations()
    .slice(opsFrom)
    .map((op) => {
      const reads = requests.filter((r) => r.op === 'poll' && r.path.toLowerCase().includes(op.id));
      const seen = reads.find((r) => r.at >= op.endsAt);
      return {
        kind: op.kind,
        durationMs: op.endsAt - op.startedAt,
        polls: reads.length,
        retryAfter: [...new Set(reads.flatMap((r) => (r.retryAfter === undefined ? [] : [r.retryAfter])))],
        seenLateMs: seen ? seen.at - op.endsAt : Number.NaN,
      };
    });
  const cluster = await clusterOf(app, record);
  return {
    prefix,
    readyMs: Date.parse(record.lastActiveAt) - t0,
    allModelsMs: Date.parse(instance.lastUpdatedTime) - t0,
    wallMs,
    steps,
    arm: tallyArm(requests),
    kube: tallyKube(cluster.kube.requests),
    polls,
    record,
  };
}

async function clusterOf(app: BenchApp, record: PlatformRecord) {
  const id = `/subscriptions/${app.config.subscriptionId}/resourceGroups/${record.names.resourceGroup}/providers/Microsoft.ContainerService/managedClusters/${record.names.aksCluster}`;
  return app.clusters.cluster(id.toLowerCase());
}

/** No durable orchestration: the sequential script drives the activities itself. */
const NO_ORCHESTRATIONS: Orchestrations = {
  start: async () => {},
  get: async () => undefined,
  terminate: async () => {},
};

interface SequentialRun {
  readyMs: number;
  allModelsMs: number;
  activityCalls: number;
  wallMs: number;
}

/**
 * The one-shot script: resource group, secrets, AKS (wait), PostgreSQL (wait), storage (wait), each
 * PostgreSQL write (wait), file shares, then each apply stage and its Job (wait), each readiness gate
 * (wait), the first model (wait), the smoke test; then the other models (wait). Every wait is "read, and
 * if not done yet sleep `pollMs`", bounded by a simulated deadline.
 */
async function provisionSequential(
  app: BenchApp,
  prefix: string,
  models: string[],
  pollMs: number,
): Promise<SequentialRun> {
  let activityCalls = 0;
  const call = async <N extends ActivityName>(name: N, input: ActivityInput<N>) => {
    const registration = getRegistrations().get(name);
    if (!registration) throw new Error(`no activity ${name}`);
    activityCalls++;
    const value = await registration.handler(input, app.host.context(registration));
    return JSON.parse(JSON.stringify(value ?? null)) as ActivityOutput<N>;
  };
  const t0 = app.clock.now();
  const wall0 = performance.now();
  const deadline = t0 + MAX_SIMULATED_MS;
  const sleep = () => {
    if (app.clock.now() >= deadline) throw new Error(`${prefix}: sequential run passed its deadline`);
    app.clock.advanceBy(pollMs);
  };
  const fail = (what: string, f: Failure): never => {
    throw new Error(`${prefix}: ${what} failed: ${f.code}: ${f.message}`);
  };
  /** Calls until the answer is not a retryable refusal (none are injected here, but a script would). */
  const answered = async <N extends ActivityName>(
    name: N,
    input: ActivityInput<N>,
    wait = RETRYABLE_KINDS,
  ) => {
    for (;;) {
      const result = await call(name, input);
      const failure = result as Partial<Failure> | null;
      if (!failure || failure.ok !== false || !wait.has(failure.kind!)) return result;
      sleep();
    }
  };
  const ensure = async <N extends ActivityName>(name: N, input: ActivityInput<N>) => {
    for (;;) {
      const started = (await answered(name, input)) as Result<ResourceState>;
      if (!started.ok) return fail(name, started);
      if (started.value.operationUrl) {
        let again = false;
        while (!again) {
          sleep();
          const status = await answered('getArmOperationStatus', {
            operationUrl: started.value.operationUrl,
          });
          if (!status.ok) return fail(name, status);
          if (status.value.status === 'Succeeded') return;
          // Azure failed the write as busy (PostgreSQL just after its creation): send it again, as the flows do.
          again = status.value.error?.kind === 'busy';
          if (!again && status.value.status !== 'InProgress')
            throw new Error(`${prefix}: ${name} ended ${status.value.status}`);
        }
        continue;
      }
      if (started.value.provisioningState === 'Succeeded') return;
      sleep();
    }
  };
  const ref = { platformId: prefix };

  await getServices().platforms.create(APP_ITSELF, { prefix, models }, NO_ORCHESTRATIONS, { dryRun: false });
  const rg = await answered('ensureResourceGroup', ref);
  if (!rg.ok) fail('ensureResourceGroup', rg);
  const secrets = await answered('ensurePlatformSecrets', ref);
  if (!secrets.ok) fail('ensurePlatformSecrets', secrets);
  // The API's Kubernetes role (no local accounts): granted before the resources, waited for before the apply.
  const access = await answered('ensureClusterAccess', ref);
  if (!access.ok) fail('ensureClusterAccess', access);
  for (const kind of AZURE_RESOURCE_NAMES) await ensure('beginAzureResource', { ...ref, kind });
  const ips = await answered('getAksOutboundIps', ref);
  if (!ips.ok) return fail('getAksOutboundIps', ips);
  for (const child of [
    ...POSTGRES_CONFIGURATION.map((c) => ({ kind: 'configuration' as const, ...c })),
    { kind: 'database' as const, name: 'openwebui' },
    ...firewallRules(ips.value.ips).map((r) => ({ kind: 'firewallRule' as const, ...r })),
  ])
    await ensure('ensurePostgresChild', { ...ref, child });
  const shares = await answered('ensureFileShares', ref);
  if (!shares.ok) fail('ensureFileShares', shares);

  const notYet = new Set<Failure['kind']>([...RETRYABLE_KINDS, 'notFound']);
  for (;;) {
    const ready = await answered('checkPlatformReadiness', { ...ref, check: 'access' }, notYet);
    if (!ready.ok) return fail('access', ready);
    if (ready.value.ready) break;
    sleep();
  }
  for (const { stage } of APPLY_STAGES) {
    const applied = await answered('applyPlatformManifests', { ...ref, stage }, notYet);
    if (!applied.ok) return fail('applyPlatformManifests', applied);
    const job = applied.value.waitFor;
    while (job) {
      const done = await answered('checkPlatformReadiness', { ...ref, check: 'job', job }, notYet);
      if (!done.ok) return fail(`job ${job.name}`, done);
      if (done.value.ready) break;
      sleep();
    }
  }
  for (const check of PROVISION_GATES.map((gate) => STEPS[gate].check)) {
    for (;;) {
      const ready = await answered('checkPlatformReadiness', { ...ref, check }, notYet);
      if (!ready.ok) return fail(check, ready);
      if (ready.value.ready) break;
      sleep();
    }
  }
  const report = async () => {
    const r = await answered('getModelReport', ref, notYet);
    if (!r.ok) return fail('getModelReport', r);
    return r.value;
  };
  let first: string | undefined;
  for (;;) {
    const r = await report();
    first = models.find((m) => r.ready.includes(m));
    if (first) break;
    if (r.preloadFinished) throw new Error(`${prefix}: no model could be pulled`);
    sleep();
  }
  // The chat waits for Ollama to load the model (simulated time): move the clock while it waits, as the
  // durable driver does for the flow.
  const chatting = answered('runSmokeTest', { ...ref, model: first }, notYet);
  let answeredChat = false;
  void chatting.finally(() => (answeredChat = true));
  while (!answeredChat) {
    await new Promise((resolve) => setTimeout(resolve, 2));
    const next = app.clock.nextTimerAt();
    if (app.clock.sleeping > 0 && next !== undefined) app.clock.advanceTo(next);
  }
  const smoke = await chatting;
  if (!smoke.ok) fail('runSmokeTest', smoke);
  const readyMs = app.clock.now() - t0;
  for (;;) {
    const r = await report();
    if (r.ready.length + r.failed.length === models.length) break;
    sleep();
  }
  return { readyMs, allModelsMs: app.clock.now() - t0, activityCalls, wallMs: performance.now() - wall0 };
}

function spread(values: number[], unit: (v: number) => number | string = seconds) {
  return {
    median: unit(median(values)),
    min: unit(Math.min(...values)),
    max: unit(Math.max(...values)),
  };
}

function printReport(
  options: Options,
  cp: CriticalPath,
  runs: OursRun[],
  sequential: SequentialRun[],
): Record<string, unknown> {
  const out = (line = '') => process.stdout.write(`${line}\n`);
  const d = DEFAULT_DURATIONS;
  const k = DEFAULT_DELAYS;
  const first = runs[0]!;
  const ready = runs.map((r) => r.readyMs);
  const all = runs.map((r) => r.allModelsMs);
  const ratio = median(ready) / cp.readyMs;
  const speedup = median(sequential.map((s) => s.readyMs)) / median(ready);

  out(`bench:provision — one platform (${options.models.join(', ')}), simulated time on a VirtualClock`);
  if (options.whatIf.length)
    out(
      `EXPERIMENT: polling policies overridden in this process: ${options.whatIf.map((w) => `${w.policy}.${w.field}=${w.value}`).join(', ')}`,
    );
  out(
    `simulators (defaults): ARM aksCreate ${d.aksCreate / 1000} s, pgCreate ${d.pgCreate / 1000} s, storageCreate ${d.storageCreate / 1000} s, pgChildWrite ${d.pgChildWrite / 1000} s;`,
  );
  out(
    `  Kubernetes workloadReady ${k.workloadReadyMs / 1000} s, jobComplete ${k.jobCompleteMs / 1000} s, loadBalancerIp ${k.loadBalancerIpMs / 1000} s, apiServiceAvailable ${k.apiServiceAvailableMs / 1000} s; Ollama pull ${DEFAULT_PULL_MS / 1000} s per model`,
  );
  out();
  out(`Critical path (lower bound of time-to-Ready): ${seconds(cp.readyMs)} s`);
  out(
    table([
      ['  step', 'simulated s', 'from'],
      ...cp.chain.map((s) => [`  ${s.step}`, seconds(s.ms), s.source]),
    ]),
  );
  out(
    `  lower bound of time-to-all-models: ${seconds(cp.allModelsMs)} s; with every PostgreSQL write after AKS (the flow's order): ${seconds(cp.readyMsFlowOrder)} s`,
  );
  out();
  out(`Where the time goes (run 1, ${first.prefix}): the flow's steps in order, each against the earliest`);
  out('  it could end after the previous one (polling free); "added" is the lateness that step added');
  const byName = new Map(first.steps.map((step) => [step.name, step]));
  let earliestSoFar = 0;
  let lateSoFar = 0;
  const rowsLate: (string | number)[][] = [];
  for (const group of PROVISION_ORDER) {
    const steps = group.map((n) => byName.get(n)).filter((x): x is StepTime => !!x);
    if (steps.length === 0) continue;
    const ended = Math.max(...steps.map((x) => x.endedMs));
    const earliest = Math.max(earliestSoFar, ...group.map((n) => cp.earliestEnd[n] ?? 0));
    const late = ended - earliest;
    rowsLate.push([
      `  ${group.join(' ‖ ')}`,
      seconds(Math.min(...steps.map((x) => x.startedMs))),
      seconds(ended),
      seconds(earliest),
      seconds(late),
      seconds(late - lateSoFar),
    ]);
    earliestSoFar = earliest;
    lateSoFar = late;
  }
  out(table([['  step', 'started', 'ended', 'earliest', 'late by', 'added'], ...rowsLate]));
  out('  ARM long-running operations: duration, reads of their status, Retry-After seen, read after the end');
  out(
    table([
      ['    operation', 'duration s', 'reads', 'Retry-After s', 'seen late by s'],
      ...first.polls.map((p) => [
        `    ${p.kind}`,
        seconds(p.durationMs),
        p.polls,
        p.retryAfter.join(',') || '-',
        Number.isNaN(p.seenLateMs) ? '-' : seconds(p.seenLateMs),
      ]),
    ]),
  );
  out();
  out(`Measured over ${runs.length} run(s) (simulated seconds from the POST; wall-clock seconds per run)`);
  const rows = [
    ['  time-to-Ready', ready.map(seconds)],
    ['  time-to-all-models', all.map(seconds)],
    ['  wall-clock per run', runs.map((r) => Math.round(r.wallMs / 100) / 10)],
  ] as const;
  out(
    table([
      ['  figure', 'median', 'min', 'max', 'runs'],
      ...rows.map(([name, values]) => [
        name,
        median([...values]),
        Math.min(...values),
        Math.max(...values),
        values.join(' '),
      ]),
    ]),
  );
  out(
    `  ratio time-to-Ready / lower bound: ${ratio.toFixed(3)} (target ≤ ${TARGET_RATIO}: ${ratio <= TARGET_RATIO ? 'met' : 'MISSED'})`,
  );
  out(`  ratio time-to-all-models / lower bound: ${(median(all) / cp.allModelsMs).toFixed(3)}`);
  out();
  const seq = sequential[0]!;
  out(
    `Strictly sequential script (same activities one after another, polling every ${options.pollMs / 1000} s):`,
  );
  out(
    `  time-to-Ready ${seconds(seq.readyMs)} s, time-to-all-models ${seconds(seq.allModelsMs)} s, ${seq.activityCalls} activity calls; its own lower bound ${seconds(cp.sequentialReadyMs)} s`,
  );
  out(
    `  speedup sequential / ours (time-to-Ready): ${speedup.toFixed(3)} (target ≥ ${TARGET_SPEEDUP}: ${speedup >= TARGET_SPEEDUP ? 'met' : 'MISSED'}); of the lower bounds: ${(cp.sequentialReadyMs / cp.readyMs).toFixed(3)}`,
  );
  out();
  out(`Requests per provisioning (run 1): ARM ${first.arm.total}, Kubernetes API ${first.kube.total}`);
  for (const [name, t] of [
    ['ARM', first.arm],
    ['Kubernetes', first.kube],
  ] as const) {
    out(
      `  ${name} by method: ${Object.entries(t.byMethod)
        .map(([m, n]) => `${m} ${n}`)
        .join(', ')}`,
    );
    out(table(t.topPaths.map(([path, n]) => [`    ${n}`, path])));
  }

  return {
    bench: 'provision',
    models: options.models,
    ...(options.whatIf.length
      ? { whatIf: Object.fromEntries(options.whatIf.map((w) => [`${w.policy}.${w.field}`, w.value])) }
      : {}),
    runs: runs.length,
    lowerBoundReadyS: seconds(cp.readyMs),
    lowerBoundAllModelsS: seconds(cp.allModelsMs),
    readyS: spread(ready),
    allModelsS: spread(all),
    ratio: Number(ratio.toFixed(3)),
    ratioTarget: TARGET_RATIO,
    sequentialReadyS: seconds(seq.readyMs),
    sequentialAllModelsS: seconds(seq.allModelsMs),
    sequentialPollS: options.pollMs / 1000,
    sequentialLowerBoundReadyS: seconds(cp.sequentialReadyMs),
    speedup: Number(speedup.toFixed(3)),
    speedupTarget: TARGET_SPEEDUP,
    armRequests: { total: first.arm.total, byMethod: first.arm.byMethod },
    kubeRequests: { total: first.kube.total, byMethod: first.kube.byMethod },
    wallS: spread(
      runs.map((r) => r.wallMs),
      (v) => Math.round(v / 100) / 10,
    ),
  };
}

async function main(): Promise<number> {
  let options: Options | 'help';
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  for (const w of options.whatIf) POLICIES[w.policy]![w.field] = w.value;
  const { app, close } = await startBenchApp();
  try {
    const runs: OursRun[] = [];
    for (let i = 1; i <= options.runs; i++) {
      process.stderr.write(`[bench] provisioning bench${i} …\n`);
      runs.push(await provisionOurs(app, `bench${i}`, options.models));
    }
    const { record } = runs[0]!;
    const cluster = app.arm.resource(
      `/subscriptions/${app.config.subscriptionId}/resourceGroups/${record.names.resourceGroup}/providers/Microsoft.ContainerService/managedClusters/${record.names.aksCluster}`,
    );
    const egressIps = (
      (
        cluster?.properties as {
          networkProfile?: { loadBalancerProfile?: { effectiveOutboundIPs?: unknown[] } };
        }
      )?.networkProfile?.loadBalancerProfile?.effectiveOutboundIPs ?? []
    ).length;
    const cp = criticalPath({
      spec: record.spec,
      names: record.names,
      durations: DEFAULT_DURATIONS,
      delays: DEFAULT_DELAYS,
      pullMs: DEFAULT_PULL_MS,
      pgDefaults: Object.fromEntries(Object.entries(PG_CONFIGURATIONS).map(([n, c]) => [n, c.defaultValue])),
      egressIps,
    });
    process.stderr.write(`[bench] provisioning seq1 sequentially …\n`);
    const sequential = [await provisionSequential(app, 'seq1', options.models, options.pollMs)];
    const summary = printReport(options, cp, runs, sequential);
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    return 0;
  } finally {
    await close();
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(
      `bench:provision failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
    );
    process.exit(1);
  },
);
