/**
 * Starts the real app against simulated dependencies: the functions host emulation, the durable client
 * API, simulated Key Vault and ARM, and one simulated Kubernetes API server (with Ollama behind its service
 * proxy) per AKS cluster, reached through that cluster's kubeconfig; storage is a real Azurite supplied by
 * the caller.
 * Used by the tests and by `npm run sandbox` (sandbox/cli.ts).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadConfig, type Config } from '../src/config.js';
import { overrideComposition } from '../src/composition.js';
import { ROLES } from '../src/platform/access.js';
import { sandboxCredentialOn } from './azure/entra.js';
import { simulatedAzureHttpClient } from './azure/forwarding-client.js';
import { SimulatedArm, type SimulatedArmOptions } from './azure/arm.js';
import { SimulatedKeyVault, type SimulatedKeyVaultOptions } from './azure/keyvault.js';
import { VirtualClock, type Clock } from './clock.js';
import { DevIdentityProvider } from './easy-auth.js';
import { DurableDriver, type DriverEvent } from './durable/driver.js';
import { DurableRpcServer, InstanceStore } from './durable/rpc.js';
import { FunctionsHost, getRegistrations, installFunctionsCore, type LogLine } from './host.js';
import { autoscalerDelaysFromAksBody, poolsFromAksBody, type AgentPoolSpec } from './kube/autoscaler.js';
import { kedaEnabled } from './kube/keda.js';
import { SimulatedKubernetesFleet } from './kube/fleet.js';
import type { SimulatedOllama } from './kube/ollama.js';

const here = dirname(fileURLToPath(import.meta.url));

/** The sandbox's subscription when the settings name no pool. */
export const SANDBOX_SUBSCRIPTION_ID = '00000000-0000-4000-8000-000000000001';

export interface SandboxAppOptions {
  storageConnection: string;
  /** Extra or overriding app settings. */
  settings?: Record<string, string>;
  functionKey?: string;
  onLog?: (line: LogLine) => void;
  /** Simulated time for durable timers and instance timestamps; a VirtualClock unless given. */
  clock?: Clock;
  /** Options of the simulated Azure Resource Manager (durations, Retry-After bounds). */
  arm?: Partial<Omit<SimulatedArmOptions, 'clock' | 'subscriptionId'>>;
  /** Options of the simulated Key Vault (purge protection, the purge window, the retention). */
  keyVault?: Omit<SimulatedKeyVaultOptions, 'clock'>;
  /** What the durable driver reports (episodes, activities, crashes, warnings, its own errors). */
  onDriverEvent?: (event: DriverEvent) => void;
  /** Adjusts each cluster's agent pools read from the AKS body (e.g. a GPU pool that starts at zero). */
  agentPools?: (pools: AgentPoolSpec[]) => AgentPoolSpec[];
}

export interface SandboxApp {
  host: FunctionsHost;
  config: Config;
  functionKey: string;
  /**
   * The development identity provider of the emulated App Service Authentication (on unless the settings
   * turn WEBSITE_AUTH_ENABLED off): mints bearer tokens with chosen roles and groups.
   */
  identities: DevIdentityProvider;
  /** A Platforms.Admin bearer token of this run, for callers that need no particular identity. */
  adminToken: string;
  keyVault: SimulatedKeyVault;
  arm: SimulatedArm;
  /** One simulated Kubernetes API server and Ollama per AKS cluster, created when its kubeconfig is first used. */
  clusters: SimulatedKubernetesFleet;
  instances: InstanceStore;
  /** Runs the orchestrations started through the durable client API (attached to `instances`). */
  driver: DurableDriver;
  clock: Clock;
  close(): Promise<void>;
}

/**
 * The files the Functions host would load: package.json `main` is a glob over dist/; here it is mapped
 * back to the sources next to this file (TypeScript under tests, compiled JavaScript under dist/).
 */
export function appEntryFiles(): string[] {
  const root = findRoot();
  const { main } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { main: string };
  const m = /^dist\/src\/\{([^}]+)\}\/\*\.js$/.exec(main);
  if (!m) throw new Error(`unexpected package.json main: ${main}`);
  const srcDir = join(here, '..', 'src');
  const extension = here.includes(`${join('dist', 'sandbox')}`) ? '.js' : '.ts';
  return m[1]!
    .split(',')
    .flatMap((folder) => {
      const dir = join(srcDir, folder);
      return (existsSync(dir) ? readdirSync(dir) : [])
        .filter((n) => n.endsWith(extension) && !n.endsWith('.d.ts'))
        .map((n) => join(dir, n));
    })
    .sort((a, b) => relative(srcDir, a).localeCompare(relative(srcDir, b)));
}

export async function startSandboxApp(options: SandboxAppOptions): Promise<SandboxApp> {
  installFunctionsCore();
  const clock = options.clock ?? new VirtualClock();
  const keyVault = new SimulatedKeyVault(undefined, { clock, ...options.keyVault });
  const keyVaultBase = await keyVault.listen();
  const instances = new InstanceStore(() => new Date(clock.now()));
  const rpc = new DurableRpcServer(instances);
  await rpc.listen();

  // Each cluster's nodes come from the agent pools of the AKS body the simulated ARM stored (its key is the
  // cluster id), its autoscaler asks the ARM's faults whether the cloud refuses to grow a pool, and its API
  // server answers as its AKS power state says (a stopped one does not).
  const clusters: SimulatedKubernetesFleet = new SimulatedKubernetesFleet(
    clock,
    (ollama, key) => {
      const stored: Record<string, unknown> | undefined = arm.resource(key);
      return {
        jobEffect: (job, startMs) => preloadEffect(ollama, job, startMs),
        ...(stored
          ? {
              agentPools: (options.agentPools ?? ((p) => p))(poolsFromAksBody(stored.properties)),
              delays: autoscalerDelaysFromAksBody(stored.properties),
              keda: kedaEnabled(stored.properties),
            }
          : {}),
        scaleUpRefusal: (pool) => arm.faults.scaleUpRefusal(pool),
      };
    },
    (key) => arm.aksApiServer(key),
    // The API servers check access as AKS does, from the clusters' settings and role assignments in ARM.
    {
      access: (key) => arm.access(key),
      mayUseKubernetes: (key, principal) => arm.mayUseKubernetes(key, principal),
      fqdn: (key) => arm.fqdn(key),
    },
  );
  await clusters.listen();

  const config = loadConfig({
    AzureWebJobsStorage: options.storageConnection,
    // A pool in the settings (AZURE_SUBSCRIPTION_IDS) names the default itself.
    ...(options.settings?.AZURE_SUBSCRIPTION_IDS ? {} : { AZURE_SUBSCRIPTION_ID: SANDBOX_SUBSCRIPTION_ID }),
    KEY_VAULT_URL: keyVault.vaultUrl,
    REGISTRY_TABLE: `platforms${randomBytes(4).toString('hex')}`,
    // The deployed app runs behind App Service Authentication; the host below emulates it.
    WEBSITE_AUTH_ENABLED: 'True',
    ...options.settings,
  });
  // The simulated ARM serves every subscription of the app's pool.
  const arm: SimulatedArm = new SimulatedArm({
    clock,
    subscriptionId: config.subscriptionId,
    moreSubscriptionIds: config.subscriptionIds.slice(1),
    kubeAccess: clusters.frontDoor,
    ...options.arm,
  });
  const armBase = await arm.listen();
  overrideComposition({
    config,
    // The worker's time is the sandbox's: what it keeps (tokens, cluster connections) ages with the world.
    now: () => new Date(clock.now()),
    credential: sandboxCredentialOn(clock),
    httpClient: simulatedAzureHttpClient({ keyVaultUrl: keyVault.vaultUrl, keyVaultBase, armBase }),
  });
  for (const file of appEntryFiles()) await import(pathToFileURL(file).href);

  const functionKey = options.functionKey ?? randomBytes(24).toString('base64url');
  const identities = new DevIdentityProvider();
  const adminToken = (await identities.roleTokens())[ROLES.admin];
  const host = new FunctionsHost({
    functionKey,
    ...(config.authEnabled ? { easyAuth: identities } : {}),
    durableClientData: () => rpc.clientData(),
    onLog: options.onLog,
  });
  const driver = new DurableDriver({
    store: instances,
    clock,
    registrations: getRegistrations(),
    contextFor: (registration) => host.context(registration),
    // Instances of orchestrators the app does not register (yet) stay Pending instead of failing.
    unknownOrchestrator: 'pending',
    // Activities here do real HTTP to the simulated services and never wait on simulated time: let them finish.
    stallMs: 10_000,
    // Under a VirtualClock the caller steps the runtime (driver.runUntilIdle / runUntil), so nothing moves
    // behind a test's back; with a real-time clock (ScaledClock, `npm run sandbox`) it runs on its own.
    autoRun: !(clock instanceof VirtualClock),
    ...(options.onDriverEvent ? { onEvent: options.onDriverEvent } : {}),
  });
  driver.attach();
  return {
    host,
    config,
    functionKey,
    identities,
    adminToken,
    keyVault,
    arm,
    clusters,
    instances,
    driver,
    clock,
    async close() {
      driver.detach();
      await Promise.all([rpc.close(), keyVault.close(), arm.close(), clusters.close()]);
    },
  };
}

function findRoot(): string {
  let dir = here;
  while (true) {
    try {
      readFileSync(join(dir, 'package.json'));
      return dir;
    } catch {
      const parent = dirname(dir);
      if (parent === dir) throw new Error('package.json not found');
      dir = parent;
    }
  }
}

/**
 * What the model-preload Job's container does (manifests/90-model-preload.yaml): its arguments come in
 * pairs (model, seconds per attempt) and it pulls each model through Ollama, failing if any pull fails.
 */
function preloadEffect(
  ollama: SimulatedOllama,
  job: { name: string; uid: string; content: Record<string, unknown> },
  startMs: number,
) {
  if (job.name !== 'model-preload') return undefined;
  const spec = job.content.spec as
    { template?: { spec?: { containers?: { args?: string[] }[] } } } | undefined;
  const args = spec?.template?.spec?.containers?.[0]?.args ?? [];
  const models = args.filter((_, i) => i % 2 === 0);
  const { durationMs, failed } = ollama.schedulePulls(job.uid, models, startMs);
  return {
    durationMs,
    failed: failed.length > 0,
    ...(failed.length ? { message: `failed models: ${failed.join(' ')}` } : {}),
  };
}
