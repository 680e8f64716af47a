/**
 * `npm run bench:cost`: what auto-stop saves on a four-week usage trace. Pure computation (no sandbox): the
 * trace (bench/cost-model.ts) is replayed through the sweep's own decision at the timer's cadence, with the
 * app's defaults — AUTO_STOP_SCHEDULE and DEFAULT_IDLE_MINUTES (src/config.ts) through the request schema,
 * OLLAMA_KEEP_ALIVE from the rendered Ollama manifest, START_AFTER_STOP_MS, the polling policies — and
 * priced with the app's cost model (src/platform/cost.ts).
 *
 * How long a start and a stop take comes from the polling the orchestrations do (src/platform/polling.ts:
 * the first read at or after Azure finishes) over the durations the sandbox's ARM and Kubernetes simulators
 * model (AKS start 6 min, stop 4 min; PostgreSQL 2 min each; workloads ready two readiness delays after the
 * cluster is back: the GPU device plugin, then the GPU pods). `--start-minutes` replaces the start time.
 *
 * The policy comparison replays the same trace through today's policy, today's with learned pre-warm
 * (src/platform/prewarm.ts, as the sweep runs it), and a MODEL of two tiers of idle: the GPU node released
 * after `--gpu-idle-minutes` (the sweep's releaseGpu) and woken on use (a chat held at the interceptor until
 * KEDA has Ollama back, manifests/62-ollama-wake.yaml; the trace is replayed by the model, not the sandbox).
 * Its durations are the sandbox's: released = the autoscaler's scan plus the scale-down-unneeded-time the
 * product's AKS body sets (AUTOSCALER_PROFILE); woken = KEDA's poll that sees the held chat, a scan, the node
 * back, the device plugin then Ollama ready (two readiness delays), then the cold model load from the share
 * (coldLoadMs). A node restarted from Deallocate (scale-down mode `Deallocate`) keeps its driver and images;
 * no measured restart time exists (azure-real-behaviours.md, "AKS Scale-down Mode Deallocate"), so it is
 * the sandbox's assumption (deallocatedNodeStartMs, 90 s; the AKS team's CPU scale-out P50 is 53 s,
 * azure-real-behaviours.md §1.3); a fresh GPU node (gpuNodeProvisionMs, 6 min) is shown beside it.
 */
import { loadConfig } from '../src/config.js';

/** KEDA's pollingInterval of Ollama's ScaledObject (manifests/80-autoscaling.yaml): a held chat is seen by then. */
const KEDA_POLLING_MS = 15_000;
import { loadTemplateSource } from '../src/manifest-files.js';
import { POLL, nextWaitMs, type PollPolicy } from '../src/platform/polling.js';
import { estimateCost } from '../src/platform/cost.js';
import { renderManifests } from '../src/platform/manifests.js';
import { derivePlatformNames } from '../src/platform/naming.js';
import { createRequestValidator } from '../src/platform/schema.js';
import type { PlatformSpec } from '../src/platform/types.js';
import { AUTOSCALER_PROFILE } from '../src/platform/azure-resources.js';
import { DEFAULT_DURATIONS } from '../sandbox/azure/arm.js';
import { installFunctionsCore } from '../sandbox/host.js';
import { autoscalerDelaysFromAksBody } from '../sandbox/kube/autoscaler.js';
import { DEFAULT_DELAYS } from '../sandbox/kube/simulation.js';
import { CACHED_LOAD_MS, coldLoadMs, modelSize, parseKeepAlive } from '../sandbox/kube/ollama.js';
import { PREWARM_LEAD_MINUTES } from '../src/platform/policy.js';
import { parseSchedule } from '../sandbox/timers.js';
import {
  DAY,
  HOUR,
  type ReplayOptions,
  MINUTE,
  observedMs,
  replay,
  totalMs,
  usageTrace,
  type GpuTierOptions,
  type ReplayResult,
} from './cost-model.js';
import { machine, median, numberFlag, parseFlags, printResultLine, quantile, round, table } from './lib.js';

/** Only the required settings, with placeholder values: every other setting takes the app's default. */
const defaults = loadConfig({
  AzureWebJobsStorage: 'UseDevelopmentStorage=true',
  AZURE_SUBSCRIPTION_ID: '00000000-0000-4000-8000-000000000000',
  KEY_VAULT_URL: 'https://placeholder.vault.azure.net',
});

const options = parseFlags(
  'Usage: npm run bench:cost -- [options]\n\nAuto-stop against always-on over a usage trace; see BENCHMARKS.md.',
  {
    seed: { type: 'string', default: '42', help: 'seed of the trace' },
    weeks: { type: 'string', default: '4', help: 'length of the trace' },
    'busy-start': { type: 'string', default: '9', help: 'busy block start hour (UTC) on weekdays' },
    'busy-hours': { type: 'string', default: '8', help: 'busy block length on weekdays' },
    'visits-per-day': { type: 'string', default: '2', help: 'mean visits per day outside busy blocks' },
    'visit-min': { type: 'string', default: '10', help: 'shortest visit (minutes)' },
    'visit-max': { type: 'string', default: '30', help: 'longest visit (minutes)' },
    'idle-minutes': { type: 'string', help: "autoStop.idleMinutes (default: the schema's default)" },
    'gpu-idle-minutes': { type: 'string', default: '10', help: 'the modelled GPU tier released after this' },
    'long-idle-minutes': {
      type: 'string',
      default: '720',
      help: 'the modelled two tiers also with this whole-platform limit (overnight)',
    },
    schedule: { type: 'string', default: defaults.autoStopSchedule, help: 'the sweep timer (NCRONTAB)' },
    'start-minutes': { type: 'string', help: 'a start takes this long (default: derived, see the report)' },
    models: { type: 'string', default: 'llama3.1:8b', help: 'comma-separated models (size the file share)' },
  },
  (v) => ({
    seed: numberFlag(v, 'seed', 0, 2 ** 32 - 1, true),
    weeks: numberFlag(v, 'weeks', 1, 52, true),
    busyStart: numberFlag(v, 'busy-start', 0, 23, true),
    busyHours: numberFlag(v, 'busy-hours', 0, 24),
    visitsPerDay: numberFlag(v, 'visits-per-day', 0, 200),
    visitMin: numberFlag(v, 'visit-min', 1, 24 * 60),
    visitMax: numberFlag(v, 'visit-max', 1, 24 * 60),
    idleMinutes: v['idle-minutes'] === undefined ? undefined : numberFlag(v, 'idle-minutes', 0, 1440, true),
    gpuIdleMinutes: numberFlag(v, 'gpu-idle-minutes', 1, 1440, true),
    longIdleMinutes: numberFlag(v, 'long-idle-minutes', 0, 1440, true),
    schedule: String(v.schedule),
    startMinutes: v['start-minutes'] === undefined ? undefined : numberFlag(v, 'start-minutes', 0, 600),
    models: String(v.models)
      .split(',')
      .map((m) => m.trim())
      .filter(Boolean),
  }),
);
if (options.visitMax < options.visitMin) {
  process.stderr.write('--visit-max must not be less than --visit-min\n');
  process.exit(2);
}

/** The first read at or after an operation of `durationMs` ends, polling as `followOperation` does. */
const followed = (durationMs: number, policy: PollPolicy) =>
  observedMs(durationMs, (attempt) => nextWaitMs(policy, attempt), 1);

async function main() {
  // lifecycle.ts registers its orchestrations when loaded: with the host's stand-in installed first, as
  // the sandbox does, that is silent.
  installFunctionsCore();
  const { START_AFTER_STOP_MS } = await import('../src/orchestrators/lifecycle.js');

  // The platform: a create body with the schema's defaults (idleMinutes included) applied.
  const validator = createRequestValidator({
    allowedLocations: defaults.allowedLocations,
    defaultIdleMinutes: defaults.defaultIdleMinutes,
  });
  const checked = validator.validateCreate({
    prefix: 'costbench',
    models: options.models,
    ...(options.idleMinutes !== undefined ? { autoStop: { idleMinutes: options.idleMinutes } } : {}),
  });
  if (!checked.ok) throw new Error(`invalid platform: ${JSON.stringify(checked.errors)}`);
  const spec: PlatformSpec = { ...checked.value, huggingFaceToken: false };
  const idleMinutes = spec.autoStop.idleMinutes;
  const cost = estimateCost(spec);
  const gpuNodes = Math.max(1, spec.gpu.minNodes);

  // Ollama's keep-alive, as the platform's manifest sets it.
  const ollama = renderManifests(
    spec,
    derivePlatformNames(defaults.subscriptionId, spec.prefix),
    loadTemplateSource(),
  ).find((o) => o.kind === 'StatefulSet' && o.metadata?.name === 'ollama') as unknown as {
    spec: { template: { spec: { containers: { env?: { name: string; value?: string }[] }[] } } };
  };
  const keepAlive = ollama.spec.template.spec.containers[0]!.env?.find(
    (e) => e.name === 'OLLAMA_KEEP_ALIVE',
  )?.value;
  if (!keepAlive) throw new Error('the Ollama manifest sets no OLLAMA_KEEP_ALIVE');
  const keepAliveMs = parseKeepAlive(keepAlive);

  // How long a stop and a start take, as the orchestrations observe them.
  const aksStopMs = followed(DEFAULT_DURATIONS.aksStop, POLL.aksPower);
  const stopFlowMs = aksStopMs + followed(DEFAULT_DURATIONS.pgStop, POLL.postgresPower);
  const pgStartMs = followed(DEFAULT_DURATIONS.pgStart, POLL.postgresPower);
  const aksStartMs = followed(DEFAULT_DURATIONS.aksStart, POLL.aksPower);
  const workloadsAfterMs = 2 * DEFAULT_DELAYS.workloadReadyMs;
  const readinessMs = observedMs(
    Math.max(0, workloadsAfterMs - (aksStartMs - DEFAULT_DURATIONS.aksStart)),
    (attempt) => nextWaitMs(POLL.kubernetes, attempt),
    0,
  );
  // A started cluster's nodes are new: the first chat waits for Ollama to load the model from the share.
  const modelLoadMs = coldLoadMs(modelSize(spec.models[0] ?? ''));
  const derivedStartMs = pgStartMs + aksStartMs + readinessMs + modelLoadMs;
  const startFlowMs = options.startMinutes !== undefined ? options.startMinutes * MINUTE : derivedStartMs;

  // The trace: whole weeks from a Monday.
  const startMs = Date.parse('2026-01-05T00:00:00Z');
  const days = options.weeks * 7;
  const trace = usageTrace({
    seed: options.seed,
    startMs,
    days,
    busyStartHour: options.busyStart,
    busyHours: options.busyHours,
    visitsPerDay: options.visitsPerDay,
    visitMinutes: [options.visitMin, options.visitMax],
  });
  const schedule = parseSchedule(options.schedule);
  const firstTick = schedule.next(startMs) ?? startMs;
  const tickMs = (schedule.next(firstTick) ?? firstTick) - firstTick;
  const run = (idle: number, policy: Pick<ReplayOptions, 'prewarm' | 'gpuTier'> = {}) =>
    replay(trace.use, {
      ...policy,
      startMs,
      endMs: startMs + days * DAY,
      nextTick: (after) => schedule.next(after),
      idleMinutes: idle,
      keepAliveMs,
      startFlowMs,
      aksStopMs,
      stopFlowMs,
      startAfterStopMs: START_AFTER_STOP_MS,
    });
  const result = run(idleMinutes);

  // The policies side by side. The GPU tier's durations, from the sandbox's (see the header).
  const d = DEFAULT_DELAYS;
  // The unneeded time the product's AKS body sets (AUTOSCALER_PROFILE), read as the simulator reads it.
  const unneededMs =
    autoscalerDelaysFromAksBody({ autoScalerProfile: AUTOSCALER_PROFILE }).scaleDownUnneededMs ??
    d.scaleDownUnneededMs;
  const releaseMs = d.autoscalerScanMs + unneededMs;
  const gpuWake = (nodeMs: number) =>
    KEDA_POLLING_MS + d.autoscalerScanMs + nodeMs + 2 * d.workloadReadyMs + modelLoadMs;
  const tier = (nodeMs: number): GpuTierOptions => ({
    gpuIdleMinutes: options.gpuIdleMinutes,
    releaseMs,
    wakeMs: gpuWake(nodeMs),
    // The node not yet removed: Ollama ready again and the model from the page cache.
    rewakeMs: d.workloadReadyMs + CACHED_LOAD_MS,
    // Woken one wake plus one sweep interval ahead, so the tick inside the lead has it up by the hour.
    gpuLeadMs: gpuWake(nodeMs) + tickMs,
  });
  const prewarm = { leadMs: PREWARM_LEAD_MINUTES * MINUTE };
  const deallocated = tier(d.deallocatedNodeStartMs);
  const policies: { name: string; idle: number; r: ReplayResult }[] = [
    { name: 'today: whole-platform stop', idle: idleMinutes, r: result },
    { name: 'today + learned pre-warm', idle: idleMinutes, r: run(idleMinutes, { prewarm }) },
    ...[idleMinutes, options.longIdleMinutes].flatMap((idle) => [
      { name: 'two tiers (model)', idle, r: run(idle, { gpuTier: deallocated }) },
      { name: 'two tiers + pre-warm (model)', idle, r: run(idle, { gpuTier: deallocated, prewarm }) },
    ]),
    {
      name: 'two tiers + pre-warm, fresh GPU node (model)',
      idle: options.longIdleMinutes,
      r: run(options.longIdleMinutes, { gpuTier: tier(d.gpuNodeProvisionMs), prewarm }),
    },
  ];

  // Figures.
  const hours = (ms: number) => ms / HOUR;
  const spanH = hours(days * DAY);
  const useH = hours(totalMs(trace.use));
  const busyH = hours(totalMs(trace.busy));
  const usd = (billedMs: number) =>
    hours(billedMs) * cost.perHour.running + (spanH - hours(billedMs)) * cost.perHour.stopped;
  const figures = (r: ReplayResult) => ({
    gpuNodeHours: round(hours(r.billedMs) * gpuNodes, 1),
    ratioToUse: round(hours(r.billedMs) / useH, 2),
    ratioToBusy: round(hours(r.billedMs) / busyH, 2),
    usd: round(usd(r.billedMs), 2),
    gpuNodeHoursStrict: round(hours(r.billedStrictMs) * gpuNodes, 1),
    ratioToUseStrict: round(hours(r.billedStrictMs) / useH, 2),
    ratioToBusyStrict: round(hours(r.billedStrictMs) / busyH, 2),
    usdStrict: round(usd(r.billedStrictMs), 2),
  });
  const autoStop = figures(result);
  const alwaysOn = {
    gpuNodeHours: round(spanH * gpuNodes, 1),
    ratioToUse: round(spanH / useH, 2),
    ratioToBusy: round(spanH / busyH, 2),
    usd: round(spanH * cost.perHour.running, 2),
  };
  const sensitivity = [15, 30, 60, 120, 240, 0].map((idle) => {
    const r = idle === idleMinutes ? result : run(idle);
    return {
      idleMinutes: idle,
      ...figures(r),
      starts: r.starts,
      unservedPct: round((100 * r.unservedMs) / r.useMs, 1),
    };
  });
  const minutes = (ms: number) => round(ms / MINUTE, 1);
  // Priced by tier: the GPU node while it runs, the rest of the platform while it runs, the stopped rate else.
  const gpuRate = cost.breakdown.find((l) => l.item.startsWith('AKS GPU pool'))!.running;
  const compared = policies.map(({ name, idle, r }) => {
    const waits = [...r.startWaitsMs, ...r.wakeWaitsMs];
    return {
      name,
      idleMinutes: idle,
      gpuNodeHours: round(hours(r.gpuMs) * gpuNodes, 1),
      ratioToUse: round(hours(r.gpuMs) / useH, 2),
      usd: round(
        hours(r.gpuMs) * gpuRate +
          hours(r.platformMs) * (cost.perHour.running - gpuRate) +
          (spanH - hours(r.platformMs)) * cost.perHour.stopped,
        2,
      ),
      starts: r.starts,
      wakes: r.wakes,
      prewarms: r.prewarmStarts + r.prewarmWakes,
      waitP50Minutes: waits.length ? minutes(quantile(waits, 0.5)) : 0,
      waitP95Minutes: waits.length ? minutes(quantile(waits, 0.95)) : 0,
      waitingPct: round((100 * r.unservedMs) / r.useMs, 2),
    };
  });

  const info = await machine();
  const lines: string[] = [];
  const say = (s = '') => lines.push(s);
  say(`# bench:cost — auto-stop against always-on over ${options.weeks} weeks (seed ${options.seed})`);
  say(
    `machine: ${info.cpus} CPUs, node ${info.node}, ${info.date}, load average ${info.loadAverage.join(' / ')} (1 / 5 / 15 min)`,
  );
  say();
  say('## Inputs');
  say(
    table([
      ['sweep schedule (AUTO_STOP_SCHEDULE default)', options.schedule],
      ['autoStop.idleMinutes (schema default)', idleMinutes],
      ['Ollama keep-alive (manifest OLLAMA_KEEP_ALIVE)', `${keepAlive} = ${minutes(keepAliveMs)} min`],
      ['wait after a stop before a start (START_AFTER_STOP_MS)', `${minutes(START_AFTER_STOP_MS)} min`],
      [
        'stop as observed: AKS + PostgreSQL',
        `${minutes(aksStopMs)} + ${minutes(stopFlowMs - aksStopMs)} = ${minutes(stopFlowMs)} min`,
      ],
      [
        'start to first answer: PostgreSQL + AKS + workloads ready + cold model load',
        `${minutes(pgStartMs)} + ${minutes(aksStartMs)} + ${minutes(readinessMs)} + ${minutes(modelLoadMs)} = ${minutes(derivedStartMs)} min${options.startMinutes !== undefined ? ` (replaced by --start-minutes ${options.startMinutes})` : ''}`,
      ],
      [
        'platform',
        `${spec.gpu.vmSize}${spec.gpu.spot ? ' spot' : ''} × ${gpuNodes}, ${spec.webui.replicas} Open WebUI replicas, models ${spec.models.join(', ')}`,
      ],
      [
        'cost per hour running / stopped (estimateCost)',
        `$${cost.perHour.running} / $${cost.perHour.stopped}`,
      ],
      [
        'trace',
        `weekdays ${options.busyStart}:00 +${options.busyHours} h busy, ${options.visitsPerDay} visits/day of ${options.visitMin}–${options.visitMax} min otherwise`,
      ],
      [
        'busy blocks / visits; hours of use (both merged) / busy-block hours',
        `${trace.busy.length} / ${trace.visits.length}; ${round(useH, 1)} h / ${round(busyH, 1)} h`,
      ],
    ]),
  );
  say();
  say(`## Billed GPU node-hours and money over ${round(spanH)} h`);
  say(
    table([
      ['', 'GPU node-hours', '÷ hours of use', '÷ busy-block hours', `USD / ${options.weeks} weeks`],
      ['always-on', alwaysOn.gpuNodeHours, alwaysOn.ratioToUse, alwaysOn.ratioToBusy, alwaysOn.usd],
      [
        'auto-stop (start delay billed, wait included)',
        autoStop.gpuNodeHours,
        autoStop.ratioToUse,
        autoStop.ratioToBusy,
        autoStop.usd,
      ],
      [
        'auto-stop (the wait after a stop not billed)',
        autoStop.gpuNodeHoursStrict,
        autoStop.ratioToUseStrict,
        autoStop.ratioToBusyStrict,
        autoStop.usdStrict,
      ],
    ]),
  );
  say(
    `auto-stop / always-on: ${round((100 * autoStop.gpuNodeHours) / alwaysOn.gpuNodeHours, 1)} % of the GPU node-hours, ${round((100 * autoStop.usd) / alwaysOn.usd, 1)} % of the money`,
  );
  say();
  say('## What users and the sweep saw');
  say(
    table([
      ['sweep ticks', result.ticks],
      ['stops / starts', `${result.stops} / ${result.starts}`],
      [
        'wait from use to Ready at a start: median / max',
        `${minutes(median(result.startWaitsMs))} / ${minutes(Math.max(0, ...result.startWaitsMs))} min`,
      ],
      [
        'use not served (platform not Ready)',
        `${round((100 * result.unservedMs) / result.useMs, 1)} % of ${round(useH, 1)} h`,
      ],
      [
        'stop tick after stopsAt: median / max',
        `${minutes(median(result.stopLagsMs))} / ${minutes(Math.max(0, ...result.stopLagsMs))} min`,
      ],
    ]),
  );
  say();
  say('## Other idle limits on the same trace (0 = never stop)');
  say(
    table([
      ['idleMinutes', 'GPU node-hours', '÷ use', '÷ busy blocks', 'USD', 'starts', 'use not served'],
      ...sensitivity.map((s) => [
        s.idleMinutes,
        s.gpuNodeHours,
        s.ratioToUse,
        s.ratioToBusy,
        s.usd,
        s.starts,
        `${s.unservedPct} %`,
      ]),
    ]),
  );
  say();
  say('## Policies side by side on the same trace');
  const t2 = deallocated;
  say(
    table([
      [
        'autoStop.idleMinutes / gpuIdleMinutes (model) / sweep interval',
        `${idleMinutes} / ${options.gpuIdleMinutes} / ${minutes(tickMs)} min`,
      ],
      [
        'pre-warm lead: a start (PREWARM_LEAD_MINUTES) / a GPU wake (one wake + one sweep interval)',
        `${PREWARM_LEAD_MINUTES} / ${minutes(t2.gpuLeadMs)} min`,
      ],
      [
        'GPU released (model): autoscaler scan + scale-down-unneeded-time',
        `${minutes(d.autoscalerScanMs)} + ${minutes(unneededMs)} = ${minutes(releaseMs)} min`,
      ],
      [
        'GPU wake (held chat): KEDA poll + scan + node from Deallocate (deallocatedNodeStartMs) + device plugin + Ollama + cold model load',
        `${minutes(KEDA_POLLING_MS)} + ${minutes(d.autoscalerScanMs)} + ${minutes(d.deallocatedNodeStartMs)} + ${minutes(d.workloadReadyMs)} + ${minutes(d.workloadReadyMs)} + ${minutes(modelLoadMs)} = ${minutes(t2.wakeMs)} min`,
      ],
      [
        'the same with a fresh GPU node (gpuNodeProvisionMs)',
        `${minutes(tier(d.gpuNodeProvisionMs).wakeMs)} min`,
      ],
      ['GPU wake before the node is removed: Ollama + cached model load', `${minutes(t2.rewakeMs)} min`],
      [
        'priced: GPU node / rest of the platform running / stopped ($/h)',
        `${round(gpuRate, 4)} / ${round(cost.perHour.running - gpuRate, 4)} / ${cost.perHour.stopped}`,
      ],
    ]),
  );
  say();
  say(
    table([
      [
        'policy',
        'idleMinutes',
        'GPU node-hours',
        '÷ hours of use',
        'USD',
        'starts + wakes by use',
        'pre-warms',
        'wait p50 / p95 (min)',
        'use spent waiting',
      ],
      ...compared.map((c) => [
        c.name,
        c.idleMinutes,
        c.gpuNodeHours,
        c.ratioToUse,
        c.usd,
        `${c.starts} + ${c.wakes}`,
        c.prewarms,
        `${c.waitP50Minutes} / ${c.waitP95Minutes}`,
        `${c.waitingPct} %`,
      ]),
    ]),
  );
  say(
    "Rows marked (model) replay two tiers as built (the sweep's release; a chat held at the interceptor while KEDA wakes the tier) through the cost model with the sandbox's durations. Not priced: the released node's OS disk.",
  );
  say(
    'Targets (issue 15): ≤ 1.10 × hours of use, wait p50 ≤ 2 min, ≤ 1 % of the hours of use spent waiting.',
  );
  process.stdout.write(`${lines.join('\n')}\n`);
  printResultLine({
    bench: 'cost',
    ...info,
    seed: options.seed,
    weeks: options.weeks,
    idleMinutes,
    schedule: options.schedule,
    keepAliveMinutes: minutes(keepAliveMs),
    startMinutes: minutes(startFlowMs),
    stopMinutes: minutes(stopFlowMs),
    usePerHour: cost.perHour,
    hoursOfUse: round(useH, 2),
    busyBlockHours: round(busyH, 2),
    alwaysOn,
    autoStop,
    stops: result.stops,
    starts: result.starts,
    unservedPct: round((100 * result.unservedMs) / result.useMs, 2),
    sensitivity,
    policies: compared,
  });
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:cost failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
