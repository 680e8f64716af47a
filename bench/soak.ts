/**
 * `npm run soak`: many platforms provisioned at once through the app's HTTP handlers while the simulated
 * ARM fails a share of its requests and orchestrations crash and replay, then all deleted; then a batch of
 * generated invalid requests. Checks that every platform got Ready, nothing was created twice, nothing
 * is left after the deletes, and invalid requests were refused without a trace.
 *
 * Definitions (what the final line counts):
 * - duplicates: (a) an ARM resource that came into existence more than once (creations of the same id in
 *   the simulator's log), (b) an ARM resource of a platform beyond its expected set (the resource group, AKS
 *   cluster with its maintenance window, PostgreSQL server with the parameters it may write, its database and one firewall rule per
 *   egress IP, the storage account with its two shares, the node resource group with the cluster's
 *   outbound IPs) or one that belongs to no platform, (c) a Key Vault secret written more than once (a
 *   rotated value) or one the platform does not define, (d) a Kubernetes object created more than once in
 *   a cluster (more than one 201 for its path).
 * - leftovers: after the deletes, anything in the simulated ARM inventory tagged with a platform's id or
 *   inside its resource groups, and any Key Vault secret of a platform, live or soft-deleted, except a
 *   soft-deleted one that purge protection keeps and the platform's status lists in credentials.softDeleted.
 *
 * Besides the transient faults, the soak injects Azure's known awkward behaviours (see
 * sandbox/azure/arm/faults.ts, sandbox/azure/keyvault.ts; azure-real-behaviours F1, F2, F4, F5):
 * - PostgreSQL accepting a child write whose operation then fails ServerBusy (a rate on the configuration,
 *   database and firewall writes, besides the simulator's default busy outcome just after a creation);
 * - PostgreSQL refusing a stop or start 409 ServerIsNotReady during its maintenance (a rate on pg.stop/start);
 * - AKS upgrading a random share of clusters by itself at random times, minutes to beyond 20 minutes, every
 *   write refused 409 OperationNotAllowed meanwhile; and a share of the stops sent during such an upgrade;
 * - Key Vault's asynchronous purge (always) and its purge protection (a seeded share of runs, or
 *   --purge-protection): the teardown then keeps the secrets soft-deleted and says so in
 *   credentials.softDeleted, which the leftover check counts as expected, not as leftovers.
 * After Ready a seeded share of platforms is stopped and started again (POST …/stop, then …/start, which
 * waits the 15 minutes AKS asks), each checked Stopped then Ready with Azure's power states matching.
 *
 * Time is simulated on a VirtualClock; the seed fixes the ARM fault draws, which instances crash when,
 * and the invalid requests. Prints a report, then one line of JSON; exits non-zero when a check fails.
 */
import { roleAssignmentName } from '../src/activities/access.js';
import { SANDBOX_API_PRINCIPAL_ID } from '../sandbox/azure/entra.js';
import { randomInt } from 'node:crypto';
import { setImmediate as nextTick } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import { getServices } from '../src/composition.js';
import {
  AKS_RBAC_CLUSTER_ADMIN_ROLE,
  firewallRules,
  POSTGRES_CONFIGURATION,
} from '../src/platform/azure-resources.js';
import { AUTO_UPGRADE_SCHEDULE } from '../src/platform/maintenance.js';
import { derivePlatformNames, platformSecretNames, type PlatformNames } from '../src/platform/naming.js';
import { armFault, seededRandom, type Fault, type InventoryItem } from '../sandbox/azure/arm.js';
import type { DriverEvent } from '../sandbox/durable/driver.js';
import {
  anyValue,
  garbageText,
  invalidUtf8Sequence,
  isValidBody,
  mutate,
  mutation,
  nested,
  nestingDepth,
  nestingOpen,
  nestingPlacement,
  notJsonContentType,
  oversize,
  oversizeExtra,
  oversizePad,
  PREFIX_RE,
  validBody,
  withBytes,
} from '../test/support/requests.js';
import {
  countBy,
  FINISHED,
  HOUR,
  intFlag,
  MINUTE,
  seconds,
  startBenchApp,
  type BenchApp,
} from './support.js';

const USAGE = `Usage: npm run soak -- [--platforms <n>] [--invalid <n>] [--seed <n>] [--fault-rate <p>] [--crash-rate <p>] [--purge-protection]

Provisions --platforms platforms at once through POST /platforms with ARM faults and orchestration
crash-replays injected (and PostgreSQL's busy outcomes and maintenance refusals, AKS upgrades, Key
Vault's asynchronous purge), stops and starts a share of them, deletes them all, and sends --invalid
generated invalid requests. Prints ready=… failed=… duplicates=… leftovers=… stopStarts=… and exits non-zero unless every platform got Ready with no
duplicate and no leftover, and every invalid request was refused (4xx, never 5xx) without a trace.

Options:
  --platforms <n>    platforms provisioned concurrently (default 50)
  --invalid <n>      generated invalid requests (default 1000)
  --seed <n>         seed of the fault draws, crashes and invalid requests (default: random, printed)
  --fault-rate <p>   share of ARM requests answered with a transient fault (default 0.1)
  --crash-rate <p>   chance that a running orchestration crashes (mid-flight) and replays, for each
                     one at each step of the durable runtime (default 0.1)
  --purge-protection the vault has purge protection (default: on in a seeded 30 % of runs)
  -h, --help         this text
`;

/** Transient faults as Azure produces them (see sandbox/azure/arm/faults.ts for what the SDK does with each). */
const TRANSIENT: Fault[] = [
  armFault.throttle(1),
  armFault.throttle(),
  armFault.serverError(500),
  armFault.serverError(502),
  armFault.unavailable(1),
  armFault.serverError(504),
  armFault.drop(),
];

/** PostgreSQL child writes whose operation then fails ServerBusy (azure-real-behaviours F1). */
const PG_BUSY_RATE = 0.1;
const PG_CHILD_WRITES = ['pg.config.put', 'pg.db.put', 'pg.firewall.put'] as const;
/** PostgreSQL stops and starts refused 409 ServerIsNotReady by a maintenance (azure-real-behaviours F2). */
const PG_MAINTENANCE_RATE = 0.2;
/** Clusters AKS upgrades by itself, when (after provisioning starts) and for how long (F4: can outlast 20 min). */
const UPGRADE_SHARE = 0.3;
const UPGRADE_WINDOW_MS = 60 * MINUTE;
const UPGRADE_MIN_MS = 2 * MINUTE;
const UPGRADE_MAX_MS = 30 * MINUTE;
/** An upgrade due while its cluster is not running and idle is tried again this often, this many times. */
const UPGRADE_RETRY_MS = 2 * MINUTE;
const UPGRADE_ATTEMPTS = 60;
/** Runs with purge protection on, and platforms stopped and started again after Ready (within a window). */
const PURGE_PROTECTION_SHARE = 0.3;
const STOP_START_SHARE = 0.4;
const STOP_WINDOW_MS = 30 * MINUTE;

const MAX_SIMULATED_MS = 24 * HOUR;
const MAX_STEPS = 200_000;
/** Event-loop turns into a step within which a crash is placed. */
const CRASH_TURNS = 16;

interface Options {
  platforms: number;
  invalid: number;
  seed: number;
  faultRate: number;
  crashRate: number;
  purgeProtection?: boolean;
}

function probability(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const p = Number(value);
  if (!(p >= 0 && p <= 1)) throw new Error(`--${name} must be a number from 0 to 1, not "${value}"`);
  return p;
}

function parseOptions(argv: string[]): Options | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      platforms: { type: 'string' },
      invalid: { type: 'string' },
      seed: { type: 'string' },
      'fault-rate': { type: 'string' },
      'crash-rate': { type: 'string' },
      'purge-protection': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return 'help';
  const platforms = intFlag('platforms', values.platforms, 50, 1);
  if (platforms > 999) throw new Error('--platforms must be at most 999');
  return {
    platforms,
    invalid: intFlag('invalid', values.invalid, 1000, 0),
    seed: intFlag('seed', values.seed, randomInt(1, 2 ** 31 - 1), 0),
    faultRate: probability('fault-rate', values['fault-rate'], 0.1),
    crashRate: probability('crash-rate', values['crash-rate'], 0.1),
    ...(values['purge-protection'] ? { purgeProtection: true } : {}),
  };
}

const out = (line = '') => process.stdout.write(`${line}\n`);
const log = (line: string) => process.stderr.write(`[soak] ${line}\n`);

// ---------------------------------------------------------------------------------------------------------
// Driving the durable runtime with crashes.

interface DriveStats {
  steps: number;
  crashes: number;
  crashedInstances: Set<string>;
}

/**
 * Like driver.runUntil: run until idle, jump the virtual clock to the next timer, repeat. At each step every
 * running orchestration (sub-orchestrations and teardowns included) crashes with probability `crashRate`,
 * a random number of event-loop turns into the step (so often while its activities are in flight): its
 * in-flight work is discarded and it replays from its durable history, as after a worker restart.
 */
async function drive(
  app: BenchApp,
  done: () => boolean,
  random: () => number,
  crashRate: number,
  stats: DriveStats,
  /** Called whenever the runtime is idle (before the clock moves): may send requests. */
  onIdle?: () => Promise<void>,
): Promise<boolean> {
  const start = app.clock.now();
  for (let step = 0; step < MAX_STEPS; step++) {
    stats.steps++;
    const running = [...app.instances.instances.values()]
      .filter((i) => i.runtimeStatus === 'Running')
      .map((i) => i.instanceId)
      .sort();
    const crashes = running
      .filter(() => random() < crashRate)
      .map((id) => ({ id, turn: Math.floor(random() * CRASH_TURNS) }));
    const idle = app.driver.runUntilIdle();
    for (let turn = 0; crashes.length > 0 && turn < CRASH_TURNS; turn++) {
      await nextTick();
      for (const { id } of crashes.filter((c) => c.turn === turn)) {
        if (app.instances.instances.get(id)?.runtimeStatus !== 'Running') continue;
        app.driver.crash(id);
        stats.crashes++;
        stats.crashedInstances.add(id);
      }
    }
    await idle;
    // A crash after the runtime went idle leaves the instance waiting for the next run.
    await app.driver.runUntilIdle();
    if (onIdle) {
      await onIdle();
      await app.driver.runUntilIdle();
    }
    if (done()) return true;
    const next = app.clock.nextTimerAt();
    if (next === undefined || next > start + MAX_SIMULATED_MS) return done();
    app.clock.advanceTo(Math.max(next, app.clock.now()));
  }
  return done();
}

// ---------------------------------------------------------------------------------------------------------
// What a platform may have in Azure and Key Vault.

const lower = (s: string) => s.toLowerCase();

function platformGroups(app: BenchApp, names: PlatformNames) {
  const sub = app.config.subscriptionId;
  return [names.resourceGroup, names.nodeResourceGroup].map((rg) =>
    lower(`/subscriptions/${sub}/resourceGroups/${rg}`),
  );
}

function belongsTo(item: InventoryItem, id: string, groups: string[]): boolean {
  const key = lower(item.id);
  return item.tags['platform-id'] === id || groups.some((g) => key === g || key.startsWith(`${g}/`));
}

/** The ids (lower case) a platform may have: see the file comment. */
function expectedAzure(app: BenchApp, names: PlatformNames, inventory: InventoryItem[]): Set<string> {
  const [rg, nodeRg] = platformGroups(app, names) as [string, string];
  const aks = `${rg}/providers/microsoft.containerservice/managedclusters/${lower(names.aksCluster)}`;
  const pg = `${rg}/providers/microsoft.dbforpostgresql/flexibleservers/${lower(names.postgresServer)}`;
  const st = `${rg}/providers/microsoft.storage/storageaccounts/${lower(names.storageAccount)}`;
  const cluster = inventory.find((i) => lower(i.id) === aks);
  const outbound = (
    (
      cluster?.properties as {
        networkProfile?: { loadBalancerProfile?: { effectiveOutboundIPs?: { id: string }[] } };
      }
    )?.networkProfile?.loadBalancerProfile?.effectiveOutboundIPs ?? []
  ).map((ip) => lower(ip.id));
  const ips = inventory
    .filter((i) => outbound.includes(lower(i.id)))
    .map((i) => String(i.properties.ipAddress ?? ''));
  return new Set([
    rg,
    aks,
    lower(`${aks}/maintenanceConfigurations/${AUTO_UPGRADE_SCHEDULE}`),
    pg,
    ...POSTGRES_CONFIGURATION.map((c) => lower(`${pg}/configurations/${c.name}`)),
    lower(`${pg}/databases/${names.postgresDatabase}`),
    ...firewallRules(ips).map((r) => lower(`${pg}/firewallRules/${r.name}`)),
    st,
    ...[names.modelsFileShare, names.webuiFileShare].map((s) =>
      lower(`${st}/fileServices/default/shares/${s}`),
    ),
    nodeRg,
    ...outbound,
    // The API's Kubernetes role on the group (its name derived from scope, principal and role).
    lower(
      `${rg}/providers/Microsoft.Authorization/roleAssignments/${roleAssignmentName(rg, SANDBOX_API_PRINCIPAL_ID, AKS_RBAC_CLUSTER_ADMIN_ROLE)}`,
    ),
  ]);
}

interface DuplicateReport {
  armRecreated: string[];
  armUnexpected: string[];
  secretsRewritten: string[];
  secretsUnexpected: string[];
  kubeRecreated: string[];
  total: number;
}

async function findDuplicates(app: BenchApp, ids: string[]): Promise<DuplicateReport> {
  const names = new Map(ids.map((id) => [id, derivePlatformNames(app.config.subscriptionId, id)]));
  const inventory = app.arm.inventory();

  const created = countBy(app.arm.creations, (c) => lower(c.id));
  const armRecreated = Object.entries(created)
    .filter(([, n]) => n > 1)
    .flatMap(([id, n]) => Array<string>(n - 1).fill(id));

  const claimed = new Set<string>();
  const armUnexpected: string[] = [];
  for (const [id, n] of names) {
    const groups = platformGroups(app, n);
    const expected = expectedAzure(app, n, inventory);
    for (const item of inventory.filter((i) => belongsTo(i, id, groups))) {
      claimed.add(lower(item.id));
      if (!expected.has(lower(item.id))) armUnexpected.push(item.id);
    }
  }
  armUnexpected.push(...inventory.filter((i) => !claimed.has(lower(i.id))).map((i) => i.id));

  const writes = countBy(app.keyVault.writes, (name) => name);
  const secretsRewritten = Object.entries(writes)
    .filter(([, n]) => n > 1)
    .flatMap(([name, n]) => Array<string>(n - 1).fill(name));
  const allowed = new Set([...names.values()].flatMap((n) => platformSecretNames(n, false)));
  const secretsUnexpected = app.keyVault
    .inventory()
    .map((s) => s.name)
    .filter((name) => !allowed.has(name));

  const kubeRecreated: string[] = [];
  for (const cluster of app.clusters.all()) {
    const creations = cluster.kube.requests.filter(
      (r) => r.status === 201 && ['PATCH', 'POST', 'PUT'].includes(r.method) && !r.path.includes('/proxy/'),
    );
    for (const [path, n] of Object.entries(countBy(creations, (r) => r.path)))
      if (n > 1) kubeRecreated.push(...Array<string>(n - 1).fill(`${cluster.key} ${path}`));
  }
  return {
    armRecreated,
    armUnexpected,
    secretsRewritten,
    secretsUnexpected,
    kubeRecreated,
    total:
      armRecreated.length +
      armUnexpected.length +
      secretsRewritten.length +
      secretsUnexpected.length +
      kubeRecreated.length,
  };
}

/**
 * `kept`: per platform, the secrets its status lists as kept soft-deleted by purge protection
 * (credentials.softDeleted): those are expected, counted in `keptSoftDeleted`, not leftovers.
 */
function findLeftovers(
  app: BenchApp,
  ids: string[],
  kept: Map<string, Set<string>>,
): { leftovers: string[]; keptSoftDeleted: number } {
  const left: string[] = [];
  let keptSoftDeleted = 0;
  for (const id of ids) {
    const names = derivePlatformNames(app.config.subscriptionId, id);
    const groups = platformGroups(app, names);
    left.push(
      ...app.arm
        .inventory()
        .filter((i) => belongsTo(i, id, groups))
        .map((i) => `azure ${i.id}`),
    );
    const prefix = `platform-${id}-`;
    for (const s of app.keyVault.inventory().filter((s) => s.name.startsWith(prefix))) {
      if (s.deleted && app.keyVault.purgeProtection && kept.get(id)?.has(s.name)) keptSoftDeleted++;
      else left.push(`key vault ${s.name}${s.deleted ? ' (soft-deleted)' : ''}`);
    }
  }
  return { leftovers: left, keptSoftDeleted };
}

// ---------------------------------------------------------------------------------------------------------
// AKS upgrading clusters by itself.

function aksClusterId(app: BenchApp, names: PlatformNames): string {
  return `/subscriptions/${app.config.subscriptionId}/resourceGroups/${names.resourceGroup}/providers/Microsoft.ContainerService/managedClusters/${names.aksCluster}`;
}

interface UpgradeStats {
  scheduled: number;
  started: number;
  /** Never found its cluster running and idle within its attempts. */
  missed: number;
  cancel: (() => void)[];
}

/**
 * AKS upgrades cluster `id` from `at` for `durationMs`. Only a running, idle cluster upgrades: one due while
 * its cluster is being created, stopped or busy is tried again a little later, as AKS would start it once
 * the cluster is settled.
 */
function scheduleUpgrade(app: BenchApp, stats: UpgradeStats, id: string, at: number, durationMs: number) {
  const cluster = aksClusterId(app, derivePlatformNames(app.config.subscriptionId, id));
  stats.scheduled++;
  const attempt = (n: number) => () => {
    try {
      app.arm.upgradeAksCluster(cluster, durationMs);
      stats.started++;
    } catch {
      if (n >= UPGRADE_ATTEMPTS) stats.missed++;
      else stats.cancel.push(app.clock.setTimer(app.clock.now() + UPGRADE_RETRY_MS, attempt(n + 1)));
    }
  };
  stats.cancel.push(app.clock.setTimer(Math.max(at, app.clock.now()), attempt(1)));
}

const upgradeDuration = (random: () => number) =>
  UPGRADE_MIN_MS + Math.floor(random() * (UPGRADE_MAX_MS - UPGRADE_MIN_MS));

/** A share of the clusters gets an upgrade at a random time of the window from `from` (F4). */
function scheduleUpgrades(app: BenchApp, ids: string[], random: () => number, from: number): UpgradeStats {
  const stats: UpgradeStats = { scheduled: 0, started: 0, missed: 0, cancel: [] };
  for (const id of ids) {
    if (random() >= UPGRADE_SHARE) continue;
    const at = from + Math.floor(random() * UPGRADE_WINDOW_MS);
    scheduleUpgrade(app, stats, id, at, upgradeDuration(random));
  }
  return stats;
}

// ---------------------------------------------------------------------------------------------------------
// Stops and starts.

/** Azure's power states of a platform's cluster and server, read from the simulated ARM. */
function azurePower(app: BenchApp, id: string): { aks: string; postgres: string } {
  const names = derivePlatformNames(app.config.subscriptionId, id);
  const aks = lower(aksClusterId(app, names));
  const pg = lower(
    `/subscriptions/${app.config.subscriptionId}/resourceGroups/${names.resourceGroup}/providers/Microsoft.DBforPostgreSQL/flexibleServers/${names.postgresServer}`,
  );
  const inventory = app.arm.inventory();
  const cluster = inventory.find((i) => lower(i.id) === aks)?.properties as
    { powerState?: { code?: string } } | undefined;
  const server = inventory.find((i) => lower(i.id) === pg)?.properties as { state?: string } | undefined;
  return { aks: cluster?.powerState?.code ?? 'Absent', postgres: server?.state ?? 'Absent' };
}

type CycleState = 'waiting' | 'due' | 'stopping' | 'starting' | 'done' | 'failed';

interface StopStart {
  cycles: Map<string, CycleState>;
  problems: string[];
  /** The status's power (recorded by the flow) differing from Azure's at the end of a stop or start. */
  statusStale: string[];
}

/**
 * Each chosen platform is stopped at a random time of the window, and started as soon as it is Stopped (the
 * start flow waits the 15 minutes AKS asks between a stop and a start). Driven from the drive loop's idle
 * hook: `step` sends the due requests and checks the finished flows.
 */
function stopStartCycles(app: BenchApp, ids: string[], random: () => number, upgrades: UpgradeStats) {
  const state: StopStart = { cycles: new Map(), problems: [], statusStale: [] };
  for (const id of ids) {
    state.cycles.set(id, 'waiting');
    const stopAt = app.clock.now() + Math.floor(random() * STOP_WINDOW_MS);
    app.clock.setTimer(stopAt, () => state.cycles.set(id, 'due'));
    // Upgrades at random times rarely meet the few writes of a flow: a share of the stops is sent while
    // AKS upgrades the cluster (begun up to its whole duration before), so the stop meets the refusal.
    if (random() < UPGRADE_SHARE) {
      const durationMs = upgradeDuration(random);
      scheduleUpgrade(app, upgrades, id, stopAt - Math.floor(random() * durationMs), durationMs);
    }
  }
  const registry = getServices().registry;
  const fail = (id: string, problem: string) => {
    state.cycles.set(id, 'failed');
    state.problems.push(`${id}: ${problem}`);
  };
  const settled = (id: string) => FINISHED.has(app.instances.instances.get(id)?.runtimeStatus ?? '');
  const check = async (id: string, phase: string, aks: string, postgres: string) => {
    const record = await registry.get(id);
    const azure = azurePower(app, id);
    if (record?.phase !== phase)
      return `ended ${record?.phase ?? 'no record'}, not ${phase} ${JSON.stringify(record?.lastError ?? null)}`;
    if (azure.aks !== aks || azure.postgres !== postgres)
      return `${phase} with AKS ${azure.aks} and PostgreSQL ${azure.postgres} in Azure`;
    if (record.power?.aks !== aks || record.power?.postgres !== postgres)
      state.statusStale.push(
        `${id}: ${phase} but the status's power says AKS ${record.power?.aks} and PostgreSQL ${record.power?.postgres} (observed ${record.power?.observedAt})`,
      );
    return undefined;
  };
  const step = async () => {
    for (const [id, cycle] of state.cycles) {
      if (cycle === 'due') {
        const r = await app.call('POST', `/platforms/${id}/stop`);
        if (r.status === 202) state.cycles.set(id, 'stopping');
        else fail(id, `POST stop ${r.status} ${r.text.slice(0, 200)}`);
      } else if (cycle === 'stopping' && settled(id)) {
        const problem = await check(id, 'Stopped', 'Stopped', 'Stopped');
        if (problem) {
          fail(id, `stop ${problem}`);
          continue;
        }
        const r = await app.call('POST', `/platforms/${id}/start`);
        if (r.status === 202) state.cycles.set(id, 'starting');
        else fail(id, `POST start ${r.status} ${r.text.slice(0, 200)}`);
      } else if (cycle === 'starting' && settled(id)) {
        const problem = await check(id, 'Ready', 'Running', 'Ready');
        if (problem) fail(id, `start ${problem}`);
        else state.cycles.set(id, 'done');
      }
    }
  };
  const done = () => [...state.cycles.values()].every((c) => c === 'done' || c === 'failed');
  return { state, step, done };
}

// ---------------------------------------------------------------------------------------------------------
// Invalid requests.

interface InvalidRequest {
  family: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
  /** Who must answer: the app (a problem+json 4xx), the Functions host (401/404 before the app), either. */
  answeredBy: 'app' | 'host' | 'either';
}

const KEY = '<key>';

function invalidRequests(count: number, seed: number): InvalidRequest[] {
  const json = { 'content-type': 'application/json', 'x-functions-key': KEY };
  const post = (
    family: string,
    body: string | Uint8Array,
    headers: Record<string, string> = json,
    path = '/platforms',
  ) => ({ family, method: 'POST', path, headers, body, answeredBy: 'app' }) satisfies InvalidRequest;
  const invalidText = (t: string) => !isValidBody(t);
  // Ids for path routes: never a platform of this run (they are all soakNNN).
  const unknownId = fc.stringMatching(/^[a-z][a-z0-9]{2,11}$/).filter((id) => !id.startsWith('soak'));
  const badId = fc
    .oneof(
      fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }),
      fc.constantFrom('A', 'ab', '1abc', 'x_y', '..', 'SOAK001'),
    )
    .filter((id) => !PREFIX_RE.test(id));
  const idRoute = fc.constantFrom(
    ['GET', ''],
    ['GET', '/status'],
    ['DELETE', ''],
    ['POST', '/stop'],
    ['POST', '/start'],
    ['POST', '/retry'],
  );
  const families: fc.Arbitrary<InvalidRequest>[] = [
    // Bodies: one field wrong (the fuzz test's mutations), on a create or a dry run.
    fc
      .tuple(validBody, mutation)
      .map(([base, m]) => JSON.stringify(mutate(base, m).body))
      .filter(invalidText)
      .chain((text) =>
        fc
          .constantFrom('/platforms', '/platforms?dryRun=true')
          .map((path) => post('body: one field wrong', text, json, path)),
      ),
    anyValue
      .map((v) => JSON.stringify(v) ?? '')
      .filter(invalidText)
      .map((t) => post('body: any JSON value', t)),
    garbageText.filter(invalidText).map((t) => post('body: damaged text', t)),
    fc
      .tuple(validBody, invalidUtf8Sequence, fc.nat())
      .map(([b, seq, at]) => post('body: invalid UTF-8', withBytes(b, seq, at))),
    fc
      .tuple(validBody, oversizeExtra, oversizePad)
      .map(([b, extra, pad]) => post('body: over 64 KiB', oversize(b, extra, pad))),
    fc
      .tuple(nestingDepth, nestingOpen, nestingPlacement)
      .map(([d, o, p]) => post('body: deeply nested', nested(d, o, p))),
    // Headers: not JSON, a false Content-Length, no key, a wrong key.
    fc
      .tuple(validBody, notJsonContentType)
      .map(([b, ct]) =>
        post('header: content type', JSON.stringify(b), { 'content-type': ct, 'x-functions-key': KEY }),
      ),
    validBody.map((b) =>
      post('header: content-length over the limit', JSON.stringify(b), {
        ...json,
        'content-length': String(65_537),
      }),
    ),
    fc
      .tuple(
        validBody,
        fc.constantFrom<[string, string]>(['', ''], ['x-functions-key', 'wrong'], ['x-functions-key', '']),
      )
      .map(([b, [name, value]]) => ({
        family: 'header: no or wrong function key',
        method: 'POST',
        path: '/platforms',
        headers: { 'content-type': 'application/json', ...(name ? { [name]: value } : {}) },
        body: JSON.stringify(b),
        answeredBy: 'host' as const,
      })),
    // Query strings: dryRun neither true nor false; a wrong key in ?code=.
    fc
      .tuple(
        validBody,
        fc.string({ maxLength: 12 }).filter((v) => v !== 'true' && v !== 'false'),
      )
      .map(([b, v]) =>
        post('query: dryRun', JSON.stringify(b), json, `/platforms?dryRun=${encodeURIComponent(v)}`),
      ),
    fc.string({ minLength: 1, maxLength: 20 }).map((code) => ({
      family: 'query: wrong code',
      method: 'GET',
      path: `/platforms?code=${encodeURIComponent(`x${code}`)}`,
      headers: {},
      answeredBy: 'host' as const,
    })),
    // Paths: an id that is no platform, malformed or unknown.
    fc.tuple(idRoute, fc.oneof(badId, unknownId)).map(([[method, tail], id]) => ({
      family: 'path: no such platform',
      method: method!,
      path: `/platforms/${encodeURIComponent(id)}${tail}`,
      headers: { 'x-functions-key': KEY },
      answeredBy: 'either' as const,
    })),
    fc
      .tuple(
        unknownId,
        fc.constantFrom(
          '/platforms/{id}/x',
          '/platform',
          '/platforms/{id}/status/more',
          '/v1/platforms',
          '/platforms/{id}/stop/now',
        ),
      )
      .map(([id, template]) => ({
        family: 'path: no such route',
        method: 'GET',
        path: template.replace('{id}', id),
        headers: { 'x-functions-key': KEY },
        answeredBy: 'either' as const,
      })),
    // Methods no route accepts.
    fc
      .tuple(
        fc.constantFrom('PUT', 'PATCH', 'OPTIONS', 'TRACE', 'CONNECT', 'PROPFIND'),
        unknownId,
        fc.constantFrom('/platforms', '/platforms/{id}', '/platforms/{id}/status', '/health'),
      )
      .map(([method, id, template]) => ({
        family: 'method: not allowed',
        method,
        path: template.replace('{id}', id),
        headers: { 'x-functions-key': KEY },
        answeredBy: 'either' as const,
      })),
    fc
      .tuple(fc.constantFrom('GET', 'DELETE'), unknownId, fc.constantFrom('/stop', '/start', '/retry'))
      .map(([method, id, tail]) => ({
        family: 'method: not allowed',
        method,
        path: `/platforms/${id}${tail}`,
        headers: { 'x-functions-key': KEY },
        answeredBy: 'either' as const,
      })),
  ];
  return fc.sample(fc.oneof(...families), { seed, numRuns: count });
}

interface InvalidOutcome {
  sent: number;
  byFamily: Record<string, number>;
  byStatus: Record<string, number>;
  serverErrors: number;
  problems: number;
  hostAnswers: number;
  violations: string[];
}

async function sendInvalid(app: BenchApp, requests: InvalidRequest[]): Promise<InvalidOutcome> {
  const outcome: InvalidOutcome = {
    sent: 0,
    byFamily: countBy(requests, (r) => r.family),
    byStatus: {},
    serverErrors: 0,
    problems: 0,
    hostAnswers: 0,
    violations: [],
  };
  const one = async (r: InvalidRequest) => {
    // Every request carries the admin identity: these probe the request checks behind authentication.
    const headers = {
      authorization: `Bearer ${app.adminToken}`,
      ...Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, v === KEY ? app.functionKey : v])),
    };
    const res = await app.host.http({
      method: r.method,
      url: `http://127.0.0.1:7071${r.path}`,
      headers,
      body: r.body,
    });
    outcome.sent++;
    outcome.byStatus[res.status] = (outcome.byStatus[res.status] ?? 0) + 1;
    const what = `${r.family}: ${r.method} ${r.path.slice(0, 80)} → ${res.status}`;
    if (res.status >= 500) outcome.serverErrors++;
    if (res.status < 400 || res.status >= 500) {
      outcome.violations.push(`${what} (not a 4xx)`);
      return;
    }
    const isProblem = res.headers['content-type'] === 'application/problem+json';
    if (isProblem) {
      outcome.problems++;
      let body: Record<string, unknown> | undefined;
      try {
        body = JSON.parse(res.body) as Record<string, unknown>;
      } catch {
        body = undefined;
      }
      if (
        !body ||
        body.status !== res.status ||
        typeof body.type !== 'string' ||
        typeof body.title !== 'string' ||
        typeof body.detail !== 'string'
      )
        outcome.violations.push(`${what} (problem without type, title, status, detail)`);
      if (r.answeredBy === 'host') outcome.violations.push(`${what} (the host should have refused it)`);
    } else {
      // The Functions host answers before the app: 401 without a valid key, 404 when no route and method
      // match; both without a body, as in Azure.
      outcome.hostAnswers++;
      if (r.answeredBy === 'app' || ![401, 404].includes(res.status) || res.body !== '')
        outcome.violations.push(
          `${what} (not application/problem+json: ${res.headers['content-type'] ?? 'none'})`,
        );
    }
  };
  const queue = [...requests];
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let r = queue.shift(); r; r = queue.shift()) await one(r);
    }),
  );
  return outcome;
}

/** Everything an invalid request must leave unchanged. */
async function snapshot(app: BenchApp): Promise<Record<string, string>> {
  const records = await getServices().registry.list({ includeDeleted: true });
  return {
    registry: JSON.stringify(records.map((r) => [r.id, r.phase, r.etag]).sort()),
    instances: JSON.stringify(
      [...app.instances.instances.values()].map((i) => [i.instanceId, i.runtimeStatus]).sort(),
    ),
    azure: JSON.stringify(app.arm.inventory()),
    armCreations: String(app.arm.creations.length),
    armRequests: String(app.arm.requests.length),
    keyVault: JSON.stringify(app.keyVault.inventory()),
    keyVaultWrites: String(app.keyVault.writes.length),
  };
}

// ---------------------------------------------------------------------------------------------------------

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
  const { platforms, seed } = options;
  const purgeProtection =
    options.purgeProtection ?? seededRandom(seed ^ 0x2c1b3c6d)() < PURGE_PROTECTION_SHARE;
  out(
    `soak: ${platforms} platforms, ARM fault rate ${options.faultRate}, crash rate ${options.crashRate} per running orchestration and step, ${options.invalid} invalid requests, seed=${seed}`,
  );
  out(
    `  PostgreSQL busy outcome rate ${PG_BUSY_RATE} on ${PG_CHILD_WRITES.join(', ')}; maintenance refusal rate ${PG_MAINTENANCE_RATE} on pg.stop, pg.start; AKS upgrades on ${UPGRADE_SHARE * 100} % of clusters (${UPGRADE_MIN_MS / MINUTE}–${UPGRADE_MAX_MS / MINUTE} min); Key Vault asynchronous purge, purge protection ${purgeProtection ? 'on' : 'off'}; ${STOP_START_SHARE * 100} % stopped and started`,
  );
  const driverEvents: Record<string, number> = {};
  const driverProblems: string[] = [];
  const onDriverEvent = (e: DriverEvent) => {
    driverEvents[e.type] = (driverEvents[e.type] ?? 0) + 1;
    if (e.type === 'error' || e.type === 'protocol-drift')
      driverProblems.push(`${e.instanceId}: ${e.message}`);
  };
  const wall0 = Date.now();
  const { app, close } = await startBenchApp({ onDriverEvent, keyVault: { purgeProtection } });
  try {
    app.arm.faults.rate('*', options.faultRate, TRANSIENT, seed);
    // An operation's own rate is drawn first; when it draws nothing the transient rate still applies.
    for (const [i, op] of PG_CHILD_WRITES.entries())
      app.arm.faults.rate(op, PG_BUSY_RATE, [armFault.busyOutcome()], seed ^ (0x1000 + i));
    for (const [i, op] of (['pg.stop', 'pg.start'] as const).entries())
      app.arm.faults.rate(
        op,
        PG_MAINTENANCE_RATE,
        [armFault.pgMaintenance('Updating'), armFault.pgMaintenance('Restarting')],
        seed ^ (0x2000 + i),
      );
    const random = seededRandom(seed ^ 0x5bd1e995);
    // Their own streams, so that adding them leaves the crash draws of a seed as they were.
    const upgradeRandom = seededRandom(seed ^ 0x3e1f7a55);
    const stopStartRandom = seededRandom(seed ^ 0x68e31da4);
    const stats: DriveStats = { steps: 0, crashes: 0, crashedInstances: new Set() };
    const ids = Array.from({ length: platforms }, (_, i) => `soak${String(i + 1).padStart(3, '0')}`);
    const registry = getServices().registry;
    const finished = (instanceIds: string[]) => () =>
      instanceIds.every((id) => FINISHED.has(app.instances.instances.get(id)?.runtimeStatus ?? ''));

    // 1. Provision everything at once.
    const t0 = app.clock.now();
    const upgrades = scheduleUpgrades(app, ids, upgradeRandom, t0);
    const created = await Promise.all(
      ids.map((prefix, i) =>
        app.call('POST', '/platforms', {
          body: { prefix, models: i % 2 ? ['phi3.5'] : ['llama3.1:8b', 'phi3.5'] },
        }),
      ),
    );
    const refused = created.filter((r) => r.status !== 202).map((r) => `${r.status} ${r.text.slice(0, 200)}`);
    log(`${platforms - refused.length} POST /platforms accepted; provisioning…`);
    const provisioned = await drive(app, finished(ids), random, options.crashRate, stats);
    const provisionMs = app.clock.now() - t0;
    const records = await Promise.all(ids.map((id) => registry.get(id)));
    const ready = records.filter((r) => r?.phase === 'Ready').length;
    const failedIds = ids.filter((_, i) => records[i]?.phase !== 'Ready');
    const duplicates = await findDuplicates(app, ids);
    const faultsProvisioning = app.arm.faults.applied.length;

    // 2. Invalid requests, while every platform is settled: nothing may change.
    log(`sending ${options.invalid} invalid requests…`);
    const before = await snapshot(app);
    const invalid = await sendInvalid(app, invalidRequests(options.invalid, seed));
    const after = await snapshot(app);
    const changed = Object.keys(before).filter((k) => before[k] !== after[k]);

    // 3. Stop and start a share of the platforms (upgrades still due may hit them), then check that no
    // platform has its cluster stopped with its server running.
    const chosen = ids.filter(() => stopStartRandom() < STOP_START_SHARE);
    if (chosen.length === 0) chosen.push(ids[Math.floor(stopStartRandom() * ids.length)]!);
    log(`stopping and starting ${chosen.length} platforms…`);
    const t2 = app.clock.now();
    const stopStart = stopStartCycles(app, chosen, stopStartRandom, upgrades);
    const cycled = await drive(app, stopStart.done, random, options.crashRate, stats, stopStart.step);
    const stopStartMs = app.clock.now() - t2;
    const stopStarts = [...stopStart.state.cycles.values()].filter((c) => c === 'done').length;
    for (const [id, c] of stopStart.state.cycles)
      if (c !== 'done' && c !== 'failed') stopStart.state.problems.push(`${id}: still ${c}`);
    for (const id of ids) {
      const power = azurePower(app, id);
      if (power.aks === 'Stopped' && power.postgres !== 'Stopped')
        stopStart.state.problems.push(`${id}: AKS stopped with PostgreSQL ${power.postgres}`);
    }
    for (const cancel of upgrades.cancel) cancel();

    // 4. Delete everything at once.
    log('deleting…');
    const t1 = app.clock.now();
    const deletes = await Promise.all(ids.map((id) => app.call('DELETE', `/platforms/${id}`)));
    const deleteRefused = deletes
      .filter((r) => r.status !== 202)
      .map((r) => `${r.status} ${r.text.slice(0, 200)}`);
    const teardowns = ids.map((id) => `${id}:teardown`);
    const tornDown = await drive(app, finished(teardowns), random, options.crashRate, stats);
    const deleteMs = app.clock.now() - t1;
    const afterDelete = await Promise.all(ids.map((id) => registry.get(id)));
    const deleted = afterDelete.filter((r) => r?.phase === 'Deleted').length;
    const notDeleted = ids
      .map((id, i) => ({
        id,
        record: afterDelete[i],
        teardown: app.instances.instances.get(`${id}:teardown`),
      }))
      .filter((x) => x.record?.phase !== 'Deleted');
    // What the status says purge protection keeps (credentials.softDeleted).
    const kept = new Map<string, Set<string>>();
    for (const id of ids) {
      const status = await app.call('GET', `/platforms/${id}/status`);
      const softDeleted = (status.json?.credentials?.softDeleted ?? []) as { name: string }[];
      if (softDeleted.length) kept.set(id, new Set(softDeleted.map((s) => s.name)));
    }
    const { leftovers, keptSoftDeleted } = findLeftovers(app, ids, kept);
    const wallMs = Date.now() - wall0;

    // Report.
    const faults = countBy(app.arm.faults.applied, (f) =>
      f.fault.kind === 'serverError'
        ? `${f.fault.status}`
        : f.fault.kind === 'throttle'
          ? '429'
          : f.fault.kind === 'error' || f.fault.kind === 'lroFailure'
            ? f.fault.code
            : f.fault.kind,
    );
    const aksRefused = app.arm.requests.filter(
      (r) => r.status === 409 && /\/managedclusters\//i.test(r.path) && r.method !== 'GET',
    ).length;
    const behaviours = {
      pgBusyOutcomes: faults.ServerBusy ?? 0,
      pgMaintenanceRefusals: faults.ServerIsNotReady ?? 0,
      aksUpgrades: upgrades.started,
      aksUpgradesMissed: upgrades.missed,
      aksWritesRefused409: aksRefused,
      purgeProtection,
      keptSoftDeleted,
      stopStarts,
    };
    out();
    out(
      `provisioning: ${seconds(provisionMs)} simulated s until all settled${provisioned ? '' : ' (NOT all settled)'}; deleting: ${seconds(deleteMs)} s${tornDown ? '' : ' (NOT all settled)'}`,
    );
    out(
      `durable runtime: ${stats.steps} steps, ${stats.crashes} crash-replays of ${stats.crashedInstances.size} instances; events ${JSON.stringify(driverEvents)}`,
    );
    out(
      `ARM: ${app.arm.requests.length} requests, ${app.arm.faults.applied.length} faults injected (${faultsProvisioning} while provisioning) ${JSON.stringify(faults)}; simulator errors ${app.arm.internalErrors.length}`,
    );
    out(
      `behaviours: PostgreSQL ServerBusy outcomes ${behaviours.pgBusyOutcomes} (plus the simulator's busy outcome after each creation), ServerIsNotReady refusals ${behaviours.pgMaintenanceRefusals}; AKS upgrades ${upgrades.started} of ${upgrades.scheduled} scheduled (${upgrades.missed} never found the cluster running), AKS writes refused 409 ${aksRefused}; Key Vault purge protection ${purgeProtection ? `on, ${keptSoftDeleted} secrets kept soft-deleted as the statuses say` : 'off'}`,
    );
    out(
      `stops and starts: ${stopStarts} of ${chosen.length} stopped then Ready with Azure's power states matching, in ${seconds(stopStartMs)} simulated s${cycled ? '' : ' (NOT all settled)'}; status power stale after ${stopStart.state.statusStale.length} of them`,
    );
    for (const p of stopStart.state.statusStale.slice(0, 5)) out(`  stale: ${p}`);
    for (const p of stopStart.state.problems.slice(0, 10)) out(`  stop/start: ${p}`);
    if (refused.length) out(`POST /platforms refused: ${refused.slice(0, 5).join('; ')}`);
    if (deleteRefused.length) out(`DELETE refused: ${deleteRefused.slice(0, 5).join('; ')}`);
    for (const id of failedIds.slice(0, 10)) {
      const r = records[ids.indexOf(id)];
      out(`  not Ready: ${id} ${r?.phase ?? 'no record'} ${JSON.stringify(r?.lastError ?? null)}`);
    }
    out(
      `duplicates: ARM re-created ${duplicates.armRecreated.length}, ARM unexpected ${duplicates.armUnexpected.length}, secrets re-written ${duplicates.secretsRewritten.length}, secrets unexpected ${duplicates.secretsUnexpected.length}, Kubernetes re-created ${duplicates.kubeRecreated.length}`,
    );
    for (const d of [
      ...duplicates.armRecreated,
      ...duplicates.armUnexpected,
      ...duplicates.secretsRewritten,
      ...duplicates.secretsUnexpected,
      ...duplicates.kubeRecreated,
    ].slice(0, 10))
      out(`  ${d}`);
    for (const { id, record, teardown } of notDeleted.slice(0, 10))
      out(
        `  not Deleted: ${id} ${record?.phase ?? 'no record'} ${JSON.stringify(record?.lastError ?? null)}; teardown ${teardown?.runtimeStatus ?? 'none'} ${JSON.stringify(teardown?.output ?? null).slice(0, 300)}`,
      );
    for (const l of leftovers.slice(0, 10)) out(`  leftover: ${l}`);
    for (const p of driverProblems.slice(0, 5)) out(`  driver: ${p.slice(0, 300)}`);
    out(
      `invalid requests: ${invalid.sent} sent; statuses ${JSON.stringify(invalid.byStatus)}; ${invalid.problems} answered by the app as problem+json, ${invalid.hostAnswers} by the Functions host (401/404, no body); changed: ${changed.length ? changed.join(', ') : 'nothing'}`,
    );
    out(
      `  by family: ${Object.entries(invalid.byFamily)
        .map(([f, n]) => `${f} ${n}`)
        .join(', ')}`,
    );
    for (const v of invalid.violations.slice(0, 10)) out(`  violation: ${v}`);
    out(`wall-clock: ${Math.round(wallMs / 100) / 10} s`);
    out();
    out(`seed=${seed}`);
    out(
      `ready=${ready} failed=${platforms - ready} duplicates=${duplicates.total} leftovers=${leftovers.length} stopStarts=${stopStarts}`,
    );
    out(
      `5xx=${invalid.serverErrors} invalid=${invalid.sent} violations=${invalid.violations.length} changed=${changed.length}`,
    );
    const ok =
      ready === platforms &&
      duplicates.total === 0 &&
      leftovers.length === 0 &&
      stopStarts === chosen.length &&
      stopStart.state.problems.length === 0 &&
      refused.length === 0 &&
      deleteRefused.length === 0 &&
      deleted === platforms &&
      invalid.serverErrors === 0 &&
      invalid.sent === options.invalid &&
      invalid.violations.length === 0 &&
      changed.length === 0;
    out(
      JSON.stringify({
        bench: 'soak',
        ok,
        seed,
        platforms,
        ready,
        failed: platforms - ready,
        deleted,
        duplicates: duplicates.total,
        leftovers: leftovers.length,
        stopStarts,
        behaviours,
        invalid: invalid.sent,
        serverErrors: invalid.serverErrors,
        violations: invalid.violations.length,
        changed,
        faults: app.arm.faults.applied.length,
        crashes: stats.crashes,
        steps: stats.steps,
        driverErrors: driverProblems.length,
        provisionS: seconds(provisionMs),
        stopStartS: seconds(stopStartMs),
        deleteS: seconds(deleteMs),
        wallS: Math.round(wallMs / 100) / 10,
      }),
    );
    return ok ? 0 : 1;
  } finally {
    await close();
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`soak failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
