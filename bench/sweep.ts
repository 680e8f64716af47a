/**
 * `npm run bench:sweep`: one idle sweep over many Ready platforms, with a fixed latency on every Ollama
 * `/api/ps` probe, through the real app in the sandbox.
 *
 * Seeding is done at the protocol boundaries instead of by provisioning (which would take far too long for
 * a thousand platforms): each platform's registry record is written through the app's own Registry into
 * the real Azurite (phase Ready, an old lastActiveAt), its resource group, AKS cluster and PostgreSQL
 * server are created with PUTs to the simulated ARM (the same request bodies the provisioning sends), and
 * its simulated cluster gets the objects the probe path depends on (namespaces, quota, GPU device plugin,
 * the models volume and claim, the Secrets, Ollama's StatefulSet and Services) by server-side apply through
 * @kubernetes/client-node, with the model pulled onto the volume. A share of the platforms has the model
 * loaded (in use); the others have nothing loaded (idle past their limit).
 *
 * Then the timer function fires once, exactly as the host fires it, and the durable driver runs the
 * `idleSweep` orchestration until it completes. Measured: wall time from the timer firing to the sweep's
 * completion, against the ideal N × latency / SWEEP_CONCURRENCY; requests per platform to ARM, the
 * Kubernetes API servers, Ollama and Table storage in that window; the driver's own time. Afterwards the
 * stop flows the sweep started are run to completion (simulated time) and their requests counted apart.
 */
import { roleAssignmentName } from '../src/activities/access.js';
import { SANDBOX_API_PRINCIPAL_ID } from '../sandbox/azure/entra.js';
import type { KubernetesObject } from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { startSandboxApp, type SandboxApp } from '../sandbox/app.js';
import { forwardingHttpClient, sandboxCredential } from '../sandbox/azure/forwarding-client.js';
import { startAzurite } from '../sandbox/azurite.js';
import { VirtualClock } from '../sandbox/clock.js';
import type { DriverEvent, OrchestratorCost } from '../sandbox/durable/driver.js';
import type { SimulatedCluster } from '../sandbox/kube/fleet.js';
import { createAzureClients } from '../src/azure/clients.js';
import { getServices } from '../src/composition.js';
import { kubeClients } from '../src/kube/client.js';
import { loadTemplateSource } from '../src/manifest-files.js';
import { IDLE_SWEEP, SWEEP_INSTANCE_ID } from '../src/orchestrators/names.js';
import { SWEEP_CONCURRENCY } from '../src/orchestrators/policy.js';
import {
  AKS_RBAC_CLUSTER_ADMIN_ROLE,
  armResourceId,
  AZURE_RESOURCES,
} from '../src/platform/azure-resources.js';
import { renderManifests } from '../src/platform/manifests.js';
import { derivePlatformNames, type PlatformNames } from '../src/platform/naming.js';
import { createRequestValidator } from '../src/platform/schema.js';
import { platformTags } from '../src/platform/tags.js';
import type { PlatformSpec } from '../src/platform/types.js';
import { createTableRegistry } from '../src/registry/registry.js';
import {
  armKind,
  Counter,
  countingProxy,
  inParallel,
  kubeKind,
  machine,
  median,
  ms,
  numberFlag,
  parseFlags,
  printResultLine,
  progress,
  quantile,
  round,
  sum,
  table,
  tableEndpointOrigin,
  tableKind,
  withTableProxy,
} from './lib.js';

const MINUTE = 60_000;
const FINISHED = new Set(['Completed', 'Failed', 'Terminated', 'Canceled']);
/**
 * The objects of a platform's cluster that serving `/api/ps` through the service proxy depends on: the
 * namespace, the GPU device plugin (the node advertises its GPU only once it runs), the models volume and
 * its claim, Ollama's StatefulSet and Service. (`{prefix}` stands for the platform id.)
 */
const PROBE_PATH_OBJECTS = new Set([
  'Namespace/llm',
  'DaemonSet/nvidia-device-plugin',
  'PersistentVolume/{prefix}-models',
  'PersistentVolumeClaim/ollama-models',
  'Service/ollama',
  'StatefulSet/ollama',
]);

const templates = loadTemplateSource();

/** The probe path's objects for a platform, rendered by the app's own manifest renderer. */
function probePathObjects(spec: PlatformSpec, names: PlatformNames): KubernetesObject[] {
  return renderManifests(spec, names, templates).filter((o) =>
    PROBE_PATH_OBJECTS.has(`${o.kind}/${(o.metadata?.name ?? '').replace(spec.prefix, '{prefix}')}`),
  );
}

/**
 * Rendering takes about 0.1 s per platform (every template is parsed again), so the objects
 * are rendered once for a template platform and its derived names replaced by each platform's; the result
 * is checked against a real rendering for the first platform.
 */
function probePathRenderer(template: { spec: PlatformSpec; names: PlatformNames }) {
  const text = JSON.stringify(probePathObjects(template.spec, template.names));
  const values = (p: { spec: PlatformSpec; names: PlatformNames }) => {
    const { secrets, ...rest } = p.names;
    return [...Object.values(rest), ...Object.values(secrets), p.spec.prefix];
  };
  const from = values(template);
  // Longest first, so that a name is replaced whole before the prefix inside it.
  const order = from.map((_, i) => i).sort((x, y) => from[y]!.length - from[x]!.length);
  const pattern = new RegExp(
    order.map((i) => from[i]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'),
    'g',
  );
  return (p: { spec: PlatformSpec; names: PlatformNames }): KubernetesObject[] => {
    const to = values(p);
    const map = new Map(from.map((v, i) => [v, to[i]!]));
    return JSON.parse(text.replace(pattern, (m) => map.get(m)!)) as KubernetesObject[];
  };
}

const options = parseFlags(
  'Usage: npm run bench:sweep -- [options]\n\nOne idle sweep over seeded Ready platforms; see BENCHMARKS.md.',
  {
    platforms: { type: 'string', default: '1000', help: 'Ready platforms to seed (up to 10,000)' },
    'latency-ms': { type: 'string', default: '200', help: 'real latency of each Ollama /api/ps answer' },
    'in-use': { type: 'string', default: '0.5', help: 'share of platforms with a model loaded' },
    model: { type: 'string', default: 'phi3.5', help: 'the one model of every platform' },
    cold: {
      type: 'boolean',
      default: false,
      help: "a cold worker: the sweep reads every cluster's credential and connects to each (default: warm)",
    },
    'finish-stops': {
      type: 'boolean',
      default: false,
      help: 'afterwards, run the stop flows the sweep started to completion and count their requests',
    },
  },
  (v) => ({
    platforms: numberFlag(v, 'platforms', 1, 10_000, true),
    latencyMs: numberFlag(v, 'latency-ms', 0, 10_000),
    inUse: numberFlag(v, 'in-use', 0, 1),
    model: String(v.model),
    finishStops: v['finish-stops'] === true,
    cold: v.cold === true,
  }),
);

interface Seeded {
  id: string;
  spec: PlatformSpec;
  names: PlatformNames;
  inUse: boolean;
  cluster?: SimulatedCluster;
}

async function main() {
  const startedAt = performance.now();
  const azurite = await startAzurite();
  const proxy = await countingProxy(tableEndpointOrigin(azurite.connectionString), tableKind);
  const storageConnection = withTableProxy(azurite.connectionString, proxy.url);
  const clock = new VirtualClock();
  const logLevels = new Counter();
  let onEvent: (event: DriverEvent) => void = () => {};
  const app = await startSandboxApp({
    storageConnection,
    clock,
    // No request budgets: the seeding writes every platform's resources at one simulated instant (what
    // months of provisioning left), which ARM's buckets would refuse; a warm sweep itself makes no ARM call
    // but the stops it starts, whose pacing under budgets bench:fleet and throttling.test.ts measure.
    arm: { retryAfterSeconds: 0, budgets: false },
    onLog: (line) => {
      logLevels.add(line.level);
      if (line.level === 'error')
        progress(`app error in ${line.functionName}: ${line.message.slice(0, 300)}`);
    },
    onDriverEvent: (event) => onEvent(event),
  });
  try {
    await run(app, storageConnection, proxy.counts, logLevels, (handler) => (onEvent = handler), startedAt);
  } finally {
    await app.close();
    await proxy.close();
    await azurite.stop();
  }
}

async function run(
  app: SandboxApp,
  storageConnection: string,
  storage: Counter,
  logLevels: Counter,
  listen: (handler: (event: DriverEvent) => void) => void,
  startedAt: number,
) {
  const clock = app.clock as VirtualClock;
  const n = options.platforms;
  const validator = createRequestValidator({
    allowedLocations: app.config.allowedLocations,
    defaultIdleMinutes: app.config.defaultIdleMinutes,
  });
  const platforms: Seeded[] = Array.from({ length: n }, (_, i) => {
    const id = `s${String(i + 1).padStart(4, '0')}`;
    const checked = validator.validateCreate({ prefix: id, models: [options.model] });
    if (!checked.ok) throw new Error(`invalid seed spec: ${JSON.stringify(checked.errors)}`);
    const spec: PlatformSpec = { ...checked.value, huggingFaceToken: false };
    // Spread evenly: every k-th platform is in use.
    const inUse = Math.floor((i + 1) * options.inUse) > Math.floor(i * options.inUse);
    return { id, spec, names: derivePlatformNames(app.config.subscriptionId, id), inUse };
  });
  const idleMinutes = platforms[0]!.spec.autoStop.idleMinutes;

  // Seeding: ARM, Kubernetes and the registry are independent of each other and run side by side; then
  // simulated time moves on until the AKS and PostgreSQL creations and the Ollama pods are done.
  const sweepAt = clock.now() + SEED_ADVANCE_MS;
  const timed = async (what: string, seed: () => Promise<void>) => {
    const t = performance.now();
    await seed();
    const took = performance.now() - t;
    progress(`${what} seeded for ${n} platforms in ${ms(took)}`);
    return took;
  };
  const seedingStartedAt = performance.now();
  const [armSeedMs, kubeSeedMs, registrySeedMs] = await Promise.all([
    timed('ARM', () => seedArm(app, platforms)),
    timed('Kubernetes', () => seedKubernetes(app, platforms, validator)),
    timed('registry', () => seedRegistry(storageConnection, app, platforms, sweepAt, idleMinutes)),
  ]);
  clock.advanceTo(sweepAt);
  const seedMs = performance.now() - seedingStartedAt;
  const unfinished = app.arm.operations().length;
  if (unfinished > 0) throw new Error(`${unfinished} ARM operations still running after seeding`);
  const readyOllama = platforms.filter(
    (p) =>
      (p.cluster!.kube.get('apps/v1', 'StatefulSet', 'ollama', 'llm')?.status as { readyReplicas?: number })
        ?.readyReplicas === 1,
  ).length;

  // ---- A warm worker: the one that ran the previous sweep (or provisioned the platform) keeps each
  // cluster's address, CA and connection. Its probes, through the app's own activity, before any latency.
  let warmUpMs = 0;
  if (!options.cold) {
    const t = performance.now();
    await inParallel(platforms, 32, async ({ id }) => {
      const probed = await getServices().activities.probeOllama({ platformId: id });
      if (!probed.ok) throw new Error(`warm-up probe of ${id} failed: ${probed.code} ${probed.message}`);
    });
    warmUpMs = performance.now() - t;
    progress(`worker warmed (one probe per platform) in ${ms(warmUpMs)}`);
  }

  // ---- In use or idle, and the probe latency.
  for (const p of platforms) {
    if (p.inUse) p.cluster!.ollama.setLoaded([options.model]);
    p.cluster!.ollama.setLatency('/api/ps', options.latencyMs);
  }

  // ---- The sweep.
  const before = snapshot(app, platforms, storage);
  const costsBefore = copyCosts(app.driver.costs);
  const timeline: { at: number; event: DriverEvent }[] = [];
  let sweepEndedAt: number | undefined;
  let atEnd: ReturnType<typeof snapshot> | undefined;
  let costsAtEnd: Map<string, OrchestratorCost> | undefined;
  // This process runs the app and every simulator but Azurite: how busy it was says how much of the wall
  // time is the machine's one core rather than the probes' latency.
  let cpuUsed: NodeJS.CpuUsage | undefined;
  let loopBusy: number | undefined;
  const cpuBefore = process.cpuUsage();
  const loopBefore = performance.eventLoopUtilization();
  listen((event) => {
    const at = performance.now();
    if (event.type === 'activity-started' || event.type === 'activity-recorded' || event.type === 'episode')
      if (event.instanceId.startsWith(SWEEP_INSTANCE_ID)) timeline.push({ at, event });
    if (
      event.type === 'status' &&
      event.instanceId === SWEEP_INSTANCE_ID &&
      FINISHED.has(event.runtimeStatus) &&
      sweepEndedAt === undefined
    ) {
      sweepEndedAt = at;
      cpuUsed = process.cpuUsage(cpuBefore);
      loopBusy = performance.eventLoopUtilization(loopBefore).utilization;
      atEnd = snapshot(app, platforms, storage);
      costsAtEnd = copyCosts(app.driver.costs);
    }
  });
  progress(`sweep: ${n} platforms, ${options.latencyMs} ms per probe, batches of ${SWEEP_CONCURRENCY}`);
  const sweepStartedAt = performance.now();
  await app.host.fireTimer('idleSweepTimer');
  for (let i = 0; i < 100 && sweepEndedAt === undefined; i++) await app.driver.runUntilIdle();
  if (sweepEndedAt === undefined || !atEnd || !costsAtEnd || !cpuUsed || loopBusy === undefined)
    throw new Error('the sweep did not finish');
  const wallMs = sweepEndedAt - sweepStartedAt;
  const cpuMs = (cpuUsed.user + cpuUsed.system) / 1000;
  const sweep = app.instances.instances.get(SWEEP_INSTANCE_ID)!;
  if (sweep.runtimeStatus !== 'Completed')
    throw new Error(`the sweep ended ${sweep.runtimeStatus}: ${JSON.stringify(sweep.output)}`);
  const summary = sweep.output as {
    probed: number;
    active: number;
    stopped: string[];
    restopped: string[];
    probeFailures: string[];
    refused: string[];
  };
  const idealMs = (n * options.latencyMs) / SWEEP_CONCURRENCY;
  const window = diff(app, platforms, before, atEnd);
  const sweepCost = costDiff(costsBefore, costsAtEnd, IDLE_SWEEP);
  const allCost = costDiff(costsBefore, costsAtEnd);
  const phases = analyse(timeline, sweepStartedAt, sweepEndedAt);

  // ---- The stop flows the sweep started, to the end (simulated time).
  let stops: { wallMs: number; stopped: number; failed: number; window: ReturnType<typeof diff> } | undefined;
  if (options.finishStops && summary.stopped.length > 0) {
    const t = performance.now();
    const beforeStops = snapshot(app, platforms, storage);
    const done = () =>
      summary.stopped.every((id) => FINISHED.has(app.instances.instances.get(id)?.runtimeStatus ?? ''));
    await app.driver.runUntil(done, { maxSimulatedMs: 3 * 60 * MINUTE, maxSteps: 100_000 });
    const wallMs = performance.now() - t;
    const window = diff(app, platforms, beforeStops, snapshot(app, platforms, storage));
    const records = await createTableRegistry(storageConnection, app.config.registryTable).list();
    stops = {
      wallMs,
      stopped: records.filter((r) => r.phase === 'Stopped').length,
      failed: summary.stopped.filter((id) => app.instances.instances.get(id)?.runtimeStatus !== 'Completed')
        .length,
      window,
    };
  }

  // ---- Report.
  const info = await machine();
  const armCalls = sum([...window.arm.values()]);
  const credentialReads = sum(
    [...window.arm].filter(([kind]) => /credential/i.test(kind)).map(([, count]) => count),
  );
  // maxRSS is in kilobytes.
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  const perPlatform = (counts: Map<string, number>, per = n) =>
    [...counts]
      .sort((a, b) => b[1] - a[1])
      .map(([kind, count]) => [kind, count, round(count / per, 3)] as [string, number, number]);
  const lines: string[] = [];
  const say = (s = '') => lines.push(s);
  say(`# bench:sweep — one idle sweep over ${n} Ready platforms`);
  say(
    `machine: ${info.cpus} CPUs, node ${info.node}, ${info.date}, load average ${info.loadAverage.join(' / ')} (1 / 5 / 15 min)`,
  );
  say(
    `seeding (side by side): ${ms(seedMs)} — ARM ${ms(armSeedMs)}, Kubernetes ${ms(kubeSeedMs)} (Ollama ready in ${readyOllama}/${n}), registry ${ms(registrySeedMs)}`,
  );
  say(
    `platforms: ${platforms.filter((p) => p.inUse).length} in use (model loaded), ${platforms.filter((p) => !p.inUse).length} idle for ${2 * idleMinutes} min (limit ${idleMinutes} min)`,
  );
  say(
    options.cold
      ? 'worker: cold (nothing kept: every probe reads its credential and connects)'
      : `worker: warm (each cluster's address, CA and connection kept; warmed in ${ms(warmUpMs)})`,
  );
  say();
  say('## Wall time');
  say(
    table([
      ['sweep wall time (timer fired → sweep Completed)', ms(wallMs)],
      [`ideal: ${n} × ${options.latencyMs} ms / ${SWEEP_CONCURRENCY}`, ms(idealMs)],
      ['wall / ideal', round(wallMs / idealMs, 2)],
      ['ARM requests in the sweep window (credential reads)', `${armCalls} (${credentialReads})`],
      ['peak RSS of the process (seeding included)', `${round(peakRssMb)} MB`],
      [
        'CPU of this process in the window (app and simulators; Azurite apart): all / per platform',
        `${ms(cpuMs)} / ${ms(cpuMs / n)}`,
      ],
      ['event loop busy share in the window', `${round(loopBusy * 100, 1)} %`],
      [
        "probe steps (a batch's probes with the previous batch's writes and stops; first started → last answered, summed)",
        ms(phases.probeMs),
      ],
      ["steps of writes and stops alone (each chunk's last batch)", ms(phases.actMs)],
      ['rest (listing candidates, replays between activities, start-up)', ms(phases.restMs)],
      [
        'probe activity duration p50 / p99 / max',
        `${ms(phases.probeP50)} / ${ms(phases.probeP99)} / ${ms(phases.probeMax)}`,
      ],
      [
        'probe step duration p50 / max (first started → last answered)',
        `${ms(phases.batchP50)} / ${ms(phases.batchMax)}`,
      ],
      ['act activity duration p50 / max', `${ms(phases.actP50)} / ${ms(phases.actMax)}`],
    ]),
  );
  say();
  say('## Sweep summary (orchestration output)');
  say(
    table([
      ['probed', summary.probed],
      ['marked active', summary.active],
      ['stopped', summary.stopped.length],
      ['restopped', summary.restopped.length],
      ['probe failures', summary.probeFailures.length],
      ['refused', summary.refused.length],
    ]),
  );
  say();
  say('## Durable driver (real time inside the sweep window)');
  say(
    table([
      ['', 'episodes', 'history events replayed', 'orchestrator fn', 'driver', 'share of wall'],
      [
        'idleSweep',
        sweepCost.episodes,
        sweepCost.historyEvents,
        ms(sweepCost.handlerMs),
        ms(sweepCost.driverMs),
        `${round((100 * (sweepCost.handlerMs + sweepCost.driverMs)) / wallMs, 1)} %`,
      ],
      [
        'all orchestrators',
        allCost.episodes,
        allCost.historyEvents,
        ms(allCost.handlerMs),
        ms(allCost.driverMs),
        `${round((100 * (allCost.handlerMs + allCost.driverMs)) / wallMs, 1)} %`,
      ],
    ]),
  );
  say();
  say(
    `## Requests during the sweep window, per platform (${n}); stop flows started by the sweep run concurrently`,
  );
  for (const [title, counts] of [
    ['ARM', window.arm],
    ['Kubernetes API servers', window.kube],
    ['Ollama (behind the service proxy)', window.ollama],
    ['Table storage (registry)', window.storage],
  ] as const) {
    say(`${title}: ${sum([...counts.values()])} in all`);
    say(
      table([
        ['  kind', 'count', 'per platform'],
        ...perPlatform(counts).map(([k, c, p]) => [`  ${k}`, c, p]),
      ]),
    );
  }
  if (stops) {
    say();
    say(
      `## The ${summary.stopped.length} stop flows afterwards (simulated time): ${stops.stopped} Stopped, ${stops.failed} not completed, ${ms(stops.wallMs)} wall`,
    );
    for (const [title, counts] of [
      ['ARM', stops.window.arm],
      ['Table storage (registry)', stops.window.storage],
    ] as const) {
      say(`${title} per stopped platform:`);
      say(
        table([
          ['  kind', 'count', 'per platform'],
          ...perPlatform(counts, summary.stopped.length).map(([k, c, p]) => [`  ${k}`, c, p]),
        ]),
      );
    }
  }
  say();
  say(`app log lines: ${[...logLevels.counts].map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}`);
  say(`total bench time: ${ms(performance.now() - startedAt)}`);
  process.stdout.write(`${lines.join('\n')}\n`);
  printResultLine({
    bench: 'sweep',
    ...info,
    platforms: n,
    latencyMs: options.latencyMs,
    concurrency: SWEEP_CONCURRENCY,
    inUse: platforms.filter((p) => p.inUse).length,
    wallMs: round(wallMs, 1),
    idealMs,
    wallOverIdeal: round(wallMs / idealMs, 3),
    worker: options.cold ? 'cold' : 'warm',
    armRequests: armCalls,
    credentialReads,
    peakRssMb: round(peakRssMb),
    cpuMs: round(cpuMs),
    loopBusy: round(loopBusy, 3),
    benchMs: round(performance.now() - startedAt),
    phasesMs: {
      probes: round(phases.probeMs, 1),
      acts: round(phases.actMs, 1),
      rest: round(phases.restMs, 1),
    },
    summary: {
      probed: summary.probed,
      active: summary.active,
      stopped: summary.stopped.length,
      restopped: summary.restopped.length,
      probeFailures: summary.probeFailures.length,
      refused: summary.refused.length,
    },
    driver: { idleSweep: roundCost(sweepCost), all: roundCost(allCost) },
    perPlatform: Object.fromEntries(
      (['arm', 'kube', 'ollama', 'storage'] as const).map((k) => [
        k,
        Object.fromEntries([...window[k]].map(([kind, c]) => [kind, round(c / n, 3)])),
      ]),
    ),
    stopFlows: stops && {
      stopped: stops.stopped,
      failed: stops.failed,
      armPerStopped: Object.fromEntries(
        [...stops.window.arm].map(([kind, c]) => [kind, round(c / summary.stopped.length, 3)]),
      ),
    },
    seedMs: {
      total: round(seedMs),
      arm: round(armSeedMs),
      kube: round(kubeSeedMs),
      registry: round(registrySeedMs),
    },
  });
}

// ---------------------------------------------------------------------------------------------- seeding

/** Simulated time between seeding and the sweep: AKS creation takes 9 minutes, PostgreSQL 6, Ollama 2. */
const SEED_ADVANCE_MS = 15 * MINUTE;

/** Resource group, AKS cluster and PostgreSQL server of each platform, sent as the provisioning sends them. */
async function seedArm(app: SandboxApp, platforms: readonly Seeded[]): Promise<void> {
  // The SDK clients the app itself uses, over the transport the sandbox gives the app.
  const azure = createAzureClients({
    subscriptionId: app.config.subscriptionId,
    keyVaultUrl: app.config.keyVaultUrl,
    credential: sandboxCredential,
    httpClient: forwardingHttpClient((url) =>
      url.origin === 'https://management.azure.com' ? app.arm.url : undefined,
    ),
  });
  await inParallel(platforms, 16, async ({ spec, names }) => {
    await azure.resources.resourceGroups.createOrUpdate(names.resourceGroup, {
      location: spec.location,
      tags: platformTags(spec),
    });
    // Sent and accepted, as the generic begin does (by resource id, the poller stopped after the first
    // answer); the operations finish in simulated time. A throwaway password: the simulated server keeps
    // it, nothing reads it back.
    // The API's Kubernetes role on the group, as the clusterAccess step grants it (the clusters have no
    // local accounts; the probe reads Ollama through the API server with the app's Entra token).
    const scope = `/subscriptions/${app.config.subscriptionId}/resourceGroups/${names.resourceGroup}`;
    await azure.authorization.roleAssignments.create(
      scope,
      roleAssignmentName(scope, SANDBOX_API_PRINCIPAL_ID, AKS_RBAC_CLUSTER_ADMIN_ROLE),
      {
        roleDefinitionId: `/subscriptions/${app.config.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${AKS_RBAC_CLUSTER_ADMIN_ROLE}`,
        principalId: SANDBOX_API_PRINCIPAL_ID,
        principalType: 'ServicePrincipal',
      },
    );
    const password = randomBytes(24).toString('base64url');
    for (const kind of ['aksCluster', 'postgresServer'] as const) {
      const resource = AZURE_RESOURCES[kind];
      const accepted = new AbortController();
      try {
        await azure.resources.resources.beginCreateOrUpdateById(
          armResourceId(app.config.subscriptionId, names, kind),
          resource.apiVersion,
          resource.body({ spec, names, secret: () => password }),
          { onResponse: () => accepted.abort(), abortSignal: accepted.signal },
        );
      } catch (e) {
        if (!(accepted.signal.aborted && (e as Error).name === 'AbortError')) throw e;
      }
    }
  });
}

/** The probe path's objects in each platform's own simulated cluster (the one its kubeconfig reaches). */
async function seedKubernetes(
  app: SandboxApp,
  platforms: readonly Seeded[],
  validator: ReturnType<typeof createRequestValidator>,
): Promise<void> {
  const sub = app.config.subscriptionId;
  const templateId = 'seedtemplate';
  const checked = validator.validateCreate({ prefix: templateId, models: [options.model] });
  if (!checked.ok) throw new Error('invalid template spec');
  const objectsFor = probePathRenderer({
    spec: { ...checked.value, huggingFaceToken: false },
    names: derivePlatformNames(sub, templateId),
  });
  const first = platforms[0]!;
  if (JSON.stringify(objectsFor(first)) !== JSON.stringify(probePathObjects(first.spec, first.names)))
    throw new Error('the renamed template objects differ from a real rendering');
  await inParallel(platforms, 16, async (p) => {
    const clusterId = `/subscriptions/${sub}/resourceGroups/${p.names.resourceGroup}/providers/Microsoft.ContainerService/managedClusters/${p.names.aksCluster}`;
    p.cluster = await app.clusters.cluster(clusterId.toLowerCase());
    // Server-side apply with the app's own client, in apply order (the namespace first).
    const kube = kubeClients(p.cluster.kube.kubeconfig());
    for (const object of objectsFor(p)) await kube.apply(object);
    p.cluster.ollama.setPulled([options.model]);
  });
}

/** Ready records through the app's Registry, last active twice the idle limit before the sweep. */
async function seedRegistry(
  storageConnection: string,
  app: SandboxApp,
  platforms: readonly Seeded[],
  sweepAt: number,
  idleMinutes: number,
): Promise<void> {
  const registry = createTableRegistry(storageConnection, app.config.registryTable);
  const iso = (at: number) => new Date(at).toISOString();
  await inParallel(platforms, 16, async ({ id, spec, names }) => {
    await registry.create({
      id,
      spec,
      phase: 'Ready',
      operation: 'provision',
      createdAt: iso(sweepAt - 24 * 60 * MINUTE),
      updatedAt: iso(sweepAt - 2 * idleMinutes * MINUTE),
      names,
      resourceIds: {},
      endpoints: {},
      steps: [],
      models: { [options.model]: 'ready' },
      lastActiveAt: iso(sweepAt - 2 * idleMinutes * MINUTE),
    });
  });
}

// ---------------------------------------------------------------------------------------------- counting

/** How many requests each simulator (and the storage proxy) has seen so far. */
function snapshot(app: SandboxApp, platforms: readonly Seeded[], storage: Counter) {
  return {
    arm: app.arm.requests.length,
    kube: platforms.map((p) => p.cluster?.kube.requests.length ?? 0),
    ollama: platforms.map((p) => p.cluster?.ollama.requests.length ?? 0),
    storage: storage.snapshot(),
  };
}

/** The requests between two snapshots, counted by kind. */
function diff(
  app: SandboxApp,
  platforms: readonly Seeded[],
  before: ReturnType<typeof snapshot>,
  after: ReturnType<typeof snapshot>,
) {
  const arm = new Counter();
  for (const r of app.arm.requests.slice(before.arm, after.arm)) arm.add(armKind(r.method, r.path));
  const kube = new Counter();
  const ollama = new Counter();
  platforms.forEach((p, i) => {
    for (const r of p.cluster?.kube.requests.slice(before.kube[i], after.kube[i]) ?? [])
      kube.add(kubeKind(r.method, r.path));
    for (const r of p.cluster?.ollama.requests.slice(before.ollama[i], after.ollama[i]) ?? [])
      ollama.add(`${r.method} ${r.path}`);
  });
  const storage = new Map<string, number>();
  for (const [k, v] of after.storage)
    if (v - (before.storage.get(k) ?? 0) > 0) storage.set(k, v - (before.storage.get(k) ?? 0));
  return { arm: arm.counts, kube: kube.counts, ollama: ollama.counts, storage };
}

function copyCosts(costs: ReadonlyMap<string, OrchestratorCost>): Map<string, OrchestratorCost> {
  return new Map([...costs].map(([k, v]) => [k, { ...v }]));
}

function costDiff(
  before: ReadonlyMap<string, OrchestratorCost>,
  after: ReadonlyMap<string, OrchestratorCost>,
  name?: string,
): OrchestratorCost {
  const out: OrchestratorCost = { episodes: 0, historyEvents: 0, handlerMs: 0, driverMs: 0 };
  for (const [key, a] of after) {
    if (name !== undefined && key !== name) continue;
    const b = before.get(key) ?? { episodes: 0, historyEvents: 0, handlerMs: 0, driverMs: 0 };
    out.episodes += a.episodes - b.episodes;
    out.historyEvents += a.historyEvents - b.historyEvents;
    out.handlerMs += a.handlerMs - b.handlerMs;
    out.driverMs += a.driverMs - b.driverMs;
  }
  return out;
}

const roundCost = (c: OrchestratorCost) => ({
  episodes: c.episodes,
  historyEvents: c.historyEvents,
  handlerMs: round(c.handlerMs, 1),
  driverMs: round(c.driverMs, 1),
});

/**
 * Where the sweep's time went, from the driver's events for its instances (the sweep and its chunks, which
 * run one after another): probe steps (a batch's probes and the previous batch's writes and stops, started
 * together → the last answered), steps of writes and stops alone (a chunk's last batch), and the rest
 * (candidate listing, the episodes in between, starting the chunks).
 */
function analyse(
  timeline: readonly { at: number; event: DriverEvent }[],
  startedAt: number,
  endedAt: number,
) {
  const started = new Map<string, { at: number; name: string }>();
  const probeDurations: number[] = [];
  const actDurations: number[] = [];
  // A step's activities all start in one episode, before any of them is recorded: a start after a recorded
  // answer opens the next step. A step with probes is a probe step (the previous batch's writes and stops
  // run in it too); one without is the writes and stops of a chunk's last batch.
  const phases: { kind: 'probe' | 'act'; first: number; last: number; answered: boolean }[] = [];
  const isProbe = (name: string) => name === 'probeOllama' || name === 'getPowerStates';
  for (const { at, event } of timeline) {
    if (event.type === 'activity-started') {
      started.set(`${event.instanceId}#${event.taskId}`, { at, name: event.name });
      let phase = phases.at(-1);
      if (!phase || phase.answered) {
        phase = { kind: 'act', first: at, last: at, answered: false };
        phases.push(phase);
      }
      if (isProbe(event.name)) phase.kind = 'probe';
    } else if (event.type === 'activity-recorded') {
      const s = started.get(`${event.instanceId}#${event.taskId}`);
      if (!s) continue;
      const d = at - s.at;
      if (isProbe(s.name)) probeDurations.push(d);
      else if (s.name === 'recordProgress' || s.name === 'requestPlatformStop') actDurations.push(d);
      const phase = phases.at(-1);
      if (phase) {
        phase.last = Math.max(phase.last, at);
        phase.answered = true;
      }
    }
  }
  const batchDurations = phases.filter((p) => p.kind === 'probe').map((b) => b.last - b.first);
  const probeMs = sum(batchDurations);
  const actMs = sum(phases.filter((p) => p.kind === 'act').map((b) => b.last - b.first));
  return {
    probeMs,
    actMs,
    restMs: endedAt - startedAt - probeMs - actMs,
    probeP50: median(probeDurations),
    probeP99: quantile(probeDurations, 0.99),
    probeMax: Math.max(...probeDurations),
    batchP50: median(batchDurations),
    batchMax: Math.max(...batchDurations),
    actP50: median(actDurations),
    actMax: Math.max(...actDurations),
  };
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`bench:sweep failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
