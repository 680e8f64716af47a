/**
 * `npm run bench:fleet`: N platforms requested at once through the API, against the sandbox with ARM's and
 * AKS's published request budgets (sandbox/azure/arm/budgets.ts) and quotas sized for N, on a VirtualClock.
 *
 * - Requests: POST /platforms for every platform at the same simulated instant (`--spread s`: evenly over s
 *   simulated seconds, so later requests meet the quota the earlier platforms' clusters use). Admission reads the region's
 *   quota (three ARM reads per request); a read refused by ARM's budget answers 503 with Retry-After, and the
 *   bench sends that request again once it has passed, as a client would.
 * - Subscriptions: `--subscriptions M` gives the app a pool of M (AZURE_SUBSCRIPTION_IDS, first fit) and the
 *   simulated ARM serves all M, each with its own budgets and quotas.
 * - Quotas: Enterprise Agreement subscriptions whose regional vCPU quotas (total, DSv5, spot, T4 family) and
 *   AKS clusters per region were raised, as an operator would, to fit their share of N at the pools' maximum
 *   (what admission measures, read from a dry run); `--ea-quota` keeps the EA defaults (350 vCPUs a quota,
 *   100 clusters a region) so admission refuses what does not fit, and counts those refusals.
 * - Measures (simulated time): time to Ready from the first POST (p50, p99), throughput (Ready per hour until
 *   the last one), the 429s the simulated ARM answered by bucket, platforms failed (throttling must fail
 *   none), quota refusals, ARM calls per platform; and real time and peak RSS of the run.
 *
 * Prints a report, then one line of JSON. Exits non-zero if a platform did not reach Ready for a reason other
 * than a quota refusal.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { getServices } from '../src/composition.js';
import { QUOTA, RESOURCE_GROUPS_PER_SUBSCRIPTION } from '../src/platform/admission.js';
import { FINISHED, HOUR, intFlag, median, seconds, startBenchApp, table } from './support.js';

const USAGE = `Usage: npm run bench:fleet -- [--platforms <n>] [--subscriptions <m>] [--seed <n>] [--ea-quota]
                               [--spread <seconds>]`;

interface Options {
  platforms: number;
  subscriptions: number;
  seed: number;
  eaQuota: boolean;
  spreadMs: number;
}

/** The Enterprise Agreement's regional vCPU default and AKS clusters a region (azure-real-behaviours §3.3). */
const EA_VCPUS = 350;
const EA_AKS_CLUSTERS = 100;
/** The request every platform of the fleet sends. */
const BODY = { models: ['phi3.5'] };
const MAX_SIMULATED_MS = 24 * HOUR;

function parseOptions(argv: string[]): Options | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      platforms: { type: 'string' },
      subscriptions: { type: 'string' },
      seed: { type: 'string' },
      'ea-quota': { type: 'boolean' },
      spread: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return 'help';
  const platforms = intFlag('platforms', values.platforms, 300, 1);
  const subscriptions = intFlag('subscriptions', values.subscriptions, 1, 1);
  // Two resource groups a platform, 980 a subscription (azure-real-behaviours §3.3): no quota raises that.
  const perSubscription = RESOURCE_GROUPS_PER_SUBSCRIPTION / 2;
  if (platforms > perSubscription * subscriptions)
    throw new Error(
      `--platforms must be at most ${perSubscription * subscriptions} (${RESOURCE_GROUPS_PER_SUBSCRIPTION} resource groups a subscription)`,
    );
  return {
    platforms,
    subscriptions,
    seed: intFlag('seed', values.seed, 1, 0),
    eaQuota: values['ea-quota'] === true,
    spreadMs: intFlag('spread', values.spread, 0, 0) * 1000,
  };
}

const out = (line = '') => process.stdout.write(`${line}\n`);
const log = (line: string) => process.stderr.write(`[fleet] ${line}\n`);

/** A seeded shuffle (mulberry32), so the order the requests arrive in is reproducible. */
function shuffled<T>(items: T[], seed: number): T[] {
  let a = seed >>> 0;
  const random = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

const percentile = (sorted: number[], p: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : NaN;

async function run(options: Options) {
  const started = performance.now();
  const n = options.platforms;
  const m = options.subscriptions;
  const subscriptionIds = Array.from(
    { length: m },
    (_, i) => `00000000-0000-4000-8000-${(0xf1ee7000 + i).toString(16).padStart(12, '0')}`,
  );
  // Each subscription is raised to hold its share of the fleet (first fit fills them in order).
  const share = Math.ceil(n / m);
  const { app, close } = await startBenchApp({
    settings: {
      ...(m > 1 ? { AZURE_SUBSCRIPTION_IDS: subscriptionIds.join(',') } : {}),
      AKS_CLUSTERS_PER_REGION: String(options.eaQuota ? EA_AKS_CLUSTERS : Math.max(EA_AKS_CLUSTERS, share)),
    },
  });
  const quotaNote = options.eaQuota
    ? `EA defaults: ${EA_VCPUS} vCPUs in each regional quota, ${EA_AKS_CLUSTERS} AKS clusters a region, per subscription`
    : `raised per subscription to fit ${share} platforms at their pools' maximum`;
  // What one platform needs at its pools' maximum, as admission measures it.
  const dryRun = await app.call('POST', '/platforms?dryRun=true', { body: { prefix: 'sizing', ...BODY } });
  const needs = (dryRun.json as { plan: { admission: { quotas: { name: string; needed: number }[] } } }).plan
    .admission.quotas;
  for (const subscriptionId of m > 1 ? subscriptionIds : [app.config.subscriptionId])
    for (const { name, needed } of needs)
      if (name !== QUOTA.resourceGroups && name !== QUOTA.aksClusters)
        app.arm.setQuotaLimit(
          name,
          options.eaQuota ? EA_VCPUS : Math.max(EA_VCPUS, share * needed),
          subscriptionId,
        );
  const armCallsBefore = app.arm.requests.length;
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 500);
  try {
    const ids = shuffled(
      Array.from({ length: n }, (_, i) => `fleet${i}`),
      options.seed,
    );
    const t0 = app.clock.now();
    // All at once by default; with --spread the requests arrive evenly over that window.
    const requestedAt = new Map(ids.map((id, i) => [id, t0 + Math.floor((i * options.spreadMs) / n)]));
    const notBefore = new Map(requestedAt);
    const accepted = new Map<string, number>();
    const refused: Record<string, number> = {};
    const queued = new Set<string>();
    let admissionRetries = 0;

    const send = async () => {
      const due = [...notBefore].filter(([, at]) => at <= app.clock.now()).map(([id]) => id);
      const answers = await Promise.all(
        due.map(async (id) => ({
          id,
          reply: await app.call('POST', '/platforms', { body: { prefix: id, ...BODY } }),
        })),
      );
      for (const { id, reply } of answers) {
        if (reply.status === 202 && (reply.json as { phase?: string }).phase === 'Queued') {
          // No room now but room once deletions end: nothing is deleted here, so it would wait forever.
          queued.add(id);
          notBefore.delete(id);
        } else if (reply.status === 202) {
          accepted.set(id, app.clock.now());
          notBefore.delete(id);
        } else if (reply.status === 503) {
          admissionRetries++;
          const after = Number(reply.headers['retry-after'] ?? '1');
          notBefore.set(id, app.clock.now() + Math.max(1, after) * 1000);
        } else {
          const type = (JSON.parse(reply.text || '{}') as { type?: string }).type ?? String(reply.status);
          refused[type] = (refused[type] ?? 0) + 1;
          notBefore.delete(id);
        }
      }
    };
    const allFinished = () =>
      notBefore.size === 0 &&
      [...accepted.keys()].every((id) => FINISHED.has(app.instances.instances.get(id)?.runtimeStatus ?? ''));

    // Requests first: those admission refused for a throttled read go again after their Retry-After, while
    // the accepted ones already run.
    for (;;) {
      await send();
      if (notBefore.size === 0) break;
      const target = Math.min(...notBefore.values());
      await app.driver.runUntil(() => app.clock.now() >= target, {
        maxSimulatedMs: target - app.clock.now(),
      });
      if (app.clock.now() < target) app.clock.advanceTo(target);
    }
    log(`${accepted.size} accepted after ${seconds(app.clock.now() - t0)} s simulated; running the flows`);
    await app.driver.runUntil(allFinished, { maxSimulatedMs: MAX_SIMULATED_MS, maxSteps: 1_000_000 });

    const registry = getServices().registry;
    // Time to Ready counts from the platform's first request (admission 503s included); throughput from t0.
    const readyMs: number[] = [];
    let lastReady = NaN;
    const failed: { id: string; step?: string; code?: string }[] = [];
    for (const id of accepted.keys()) {
      const record = await registry.get(id);
      if (record?.phase === 'Ready' && record.lastActiveAt) {
        readyMs.push(Date.parse(record.lastActiveAt) - requestedAt.get(id)!);
        lastReady = Math.max(Number.isNaN(lastReady) ? 0 : lastReady, Date.parse(record.lastActiveAt) - t0);
      } else
        failed.push({
          id,
          step:
            record?.lastError?.step ??
            `${record?.phase} ${JSON.stringify(record?.steps.filter((s) => s.state === 'running').map((s) => s.name))}`,
          code:
            record?.lastError?.code ??
            `${app.instances.instances.get(id)?.runtimeStatus}: ${JSON.stringify(app.instances.instances.get(id)?.output ?? null).slice(0, 300)}`,
        });
    }
    readyMs.sort((a, b) => a - b);
    const throttled = app.arm.budgets?.throttled ?? {};
    const quotaFailures = failed.filter((f) => /quota/i.test(f.code ?? '')).length;
    const admissionRefusals = Object.entries(refused)
      .filter(([type]) => type.endsWith('quota-exceeded'))
      .reduce((sum, [, count]) => sum + count, 0);
    const result = {
      platforms: n,
      subscriptions: m,
      seed: options.seed,
      quota: quotaNote,
      accepted: accepted.size,
      ready: readyMs.length,
      failed: failed.length,
      quotaRefusals: admissionRefusals + quotaFailures,
      otherRefusals: Object.fromEntries(
        Object.entries(refused).filter(([type]) => !type.endsWith('quota-exceeded')),
      ),
      queued: queued.size,
      admissionRetries,
      timeToReadyS: {
        p50: seconds(median(readyMs)),
        p99: seconds(percentile(readyMs, 99)),
        min: seconds(readyMs[0] ?? NaN),
        max: seconds(readyMs.at(-1) ?? NaN),
      },
      throughputPerHour: Math.round((readyMs.length / (lastReady / HOUR)) * 10) / 10,
      throttled: { total: app.arm.budgets?.throttledTotal ?? 0, ...throttled },
      armCallsPerPlatform: Math.round(((app.arm.requests.length - armCallsBefore) / n) * 10) / 10,
      realSeconds: Math.round((performance.now() - started) / 100) / 10,
      peakRssMiB: Math.round(Math.max(peakRss, process.resourceUsage().maxRSS * 1024) / 2 ** 20),
    };

    out(
      `bench:fleet — ${n} platforms requested at once, ${m} subscription${m > 1 ? 's' : ''}, published ARM and AKS budgets`,
    );
    out(`quota: ${result.quota}`);
    out();
    out(
      table([
        ['measure', 'value'],
        ['accepted (202)', String(result.accepted)],
        ['admission 503s retried after Retry-After', String(admissionRetries)],
        ['quota refusals (409 or a quota failure)', String(result.quotaRefusals)],
        ['queued (202 Queued, not run)', String(result.queued)],
        ['Ready', String(result.ready)],
        ['failed', String(result.failed)],
        ['time to Ready p50 (simulated s)', String(result.timeToReadyS.p50)],
        ['time to Ready p99 (simulated s)', String(result.timeToReadyS.p99)],
        ['throughput (Ready per simulated hour)', String(result.throughputPerHour)],
        ['429s answered by the simulated ARM', String(result.throttled.total)],
        ...Object.entries(throttled).map(([bucket, count]) => [`  ${bucket}`, String(count)]),
        ['ARM calls per platform', String(result.armCallsPerPlatform)],
        ['real time (s)', String(result.realSeconds)],
        ['peak RSS (MiB)', String(result.peakRssMiB)],
      ]),
    );
    for (const f of failed.slice(0, 10)) out(`failed: ${f.id} at ${f.step ?? '?'}: ${f.code ?? '?'}`);
    out();
    out(JSON.stringify(result));
    return failed.length - quotaFailures === 0 && result.ready + result.quotaRefusals + queued.size === n
      ? 0
      : 1;
  } finally {
    clearInterval(sampler);
    await close();
  }
}

const parsed = parseOptions(process.argv.slice(2));
if (parsed === 'help') {
  out(USAGE);
  process.exit(0);
}
run(parsed).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
