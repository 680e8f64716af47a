/**
 * The earliest simulated time at which each provisioning step can end, given the simulators' own duration
 * settings and the platform's real dependencies: the critical-path lower bound of a provisioning.
 *
 * Every duration comes from the simulators' configuration (ARM `Durations`, Kubernetes `KubeDelays`, the
 * Ollama pull time); every count (PostgreSQL writes, apply stages, workloads, models) from the app's own
 * definitions (POSTGRES_CONFIGURATION, firewallRules, renderManifests + applyStages). Polling costs nothing
 * here: each step ends the instant what it waits for is true in the simulators.
 *
 * Azure half (what each simulated operation needs first):
 *   resource group PUT, Key Vault secret writes: answered at once (no simulated time);
 *   every resource of the table (AKS, PostgreSQL server, storage account): LROs of aksCreate, pgCreate,
 *   storageCreate (the sandbox's creationMs by resource type), all after the secrets;
 *   PostgreSQL writes, one at a time (the server answers ServerIsBusy to overlapping writes), pgChildWrite
 *   each: a server parameter whose value differs from the server's default, and the database, need only
 *   the server; each firewall rule also needs the cluster's egress IP, so it waits for AKS;
 *   file shares: plain PUTs once the storage account exists.
 * In-cluster half (sandbox/kube/simulation.ts), from the moment both halves of Azure are done:
 *   the apply stages follow one another, each after its Job (jobCompleteMs after the stage is applied);
 *   the GPU node exists from the start if the GPU pool is created with nodes, else the autoscaler adds it
 *   autoscalerScanMs + gpuNodeProvisionMs after the first GPU workload is applied; the GPU is advertised
 *   workloadReadyMs after the device-plugin DaemonSet is applied and the node is there; a workload is ready
 *   workloadReadyMs after it is applied (after the GPU for pods that request one); a LoadBalancer Service
 *   gets its IP loadBalancerIpMs after it is applied; an APIService is Available apiServiceAvailableMs after
 *   its Service has a ready pod; the model-preload Job pulls the models one after another from when it is
 *   applied, pullMs each. Ready = everything the readiness gates check, and the first model pulled (the
 *   smoke test's chat then waits for Ollama's cold load of that model from the share).
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { loadTemplateSource } from '../src/manifest-files.js';
import { applyStages } from '../src/platform/apply.js';
import {
  AZURE_RESOURCE_NAMES,
  AZURE_RESOURCES,
  POSTGRES_CONFIGURATION,
  type AzureResourceName,
} from '../src/platform/azure-resources.js';
import { APPLY_STAGES } from '../src/platform/steps.js';
import { renderManifests } from '../src/platform/manifests.js';
import type { PlatformNames } from '../src/platform/naming.js';
import type { PlatformSpec } from '../src/platform/types.js';
import { creationMs, type Durations } from '../sandbox/azure/arm.js';
import { coldLoadMs, modelSize, normalizeModel } from '../sandbox/kube/ollama.js';
import type { KubeDelays } from '../sandbox/kube/simulation.js';

export interface CriticalPathInput {
  spec: PlatformSpec;
  names: PlatformNames;
  durations: Durations;
  delays: KubeDelays;
  pullMs: number;
  /** Default value of each PostgreSQL server parameter in the simulator. */
  pgDefaults: Record<string, string>;
  /** Egress IPs of a simulated cluster (one firewall rule each). */
  egressIps: number;
}

/** One term of the critical chain: what it waits for and where its duration comes from. */
export interface Segment {
  step: string;
  ms: number;
  source: string;
}

export interface CriticalPath {
  /** Earliest end of each step the flow records (names as in the registry's step timeline), from the POST. */
  earliestEnd: Record<string, number>;
  /** Lower bound of time-to-Ready. */
  readyMs: number;
  /** Lower bound of time-to-all-models. */
  allModelsMs: number;
  /** The chain that determines readyMs, in order (the sum of its terms is readyMs). */
  chain: Segment[];
  /** The same bound if every PostgreSQL write waited for AKS, as the flow orders them. */
  readyMsFlowOrder: number;
  /** Sum of every simulated operation's duration, one after another: a strictly sequential script's bound. */
  sequentialReadyMs: number;
  sequentialAllModelsMs: number;
  pgWrites: { name: string; needsAks: boolean }[];
}

type Obj = Record<string, unknown>;
const get = (o: unknown, ...path: string[]): unknown =>
  path.reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Obj)[k] : undefined), o);

/** Does a pod template request a GPU (limits or requests of any container)? */
function requestsGpu(template: unknown): boolean {
  const containers = (get(template, 'spec', 'containers') as unknown[] | undefined) ?? [];
  return containers.some(
    (c) =>
      get(c, 'resources', 'limits', 'nvidia.com/gpu') !== undefined ||
      get(c, 'resources', 'requests', 'nvidia.com/gpu') !== undefined,
  );
}

const WORKLOADS = new Set(['Deployment', 'StatefulSet', 'DaemonSet']);

export function criticalPath(input: CriticalPathInput): CriticalPath {
  const d = input.durations;
  const end: Record<string, number> = {};

  // ---- Azure half
  end.resourceGroup = 0;
  end.secrets = end.resourceGroup;
  // Every resource of the table is created in parallel after the secrets.
  // How long the simulated ARM takes to create each resource of the table, by its type.
  const creation = (kind: AzureResourceName) => creationMs(d, AZURE_RESOURCES[kind].type);
  const createdAt = (kind: AzureResourceName) => end.secrets! + creation(kind);
  for (const kind of AZURE_RESOURCE_NAMES) end[kind] = createdAt(kind);
  const [aksEnd, pgEnd, storageEnd] = [
    createdAt('aksCluster'),
    createdAt('postgresServer'),
    createdAt('storageAccount'),
  ];
  const pgWrites = [
    ...POSTGRES_CONFIGURATION.filter(
      (c) => (input.pgDefaults[c.name] ?? '').toLowerCase() !== c.value.toLowerCase(),
    ).map((c) => ({ name: `configuration ${c.name}`, needsAks: false })),
    { name: `database ${input.names.postgresDatabase}`, needsAks: false },
    ...Array.from({ length: input.egressIps }, (_, i) => ({
      name: `firewall rule ${i + 1}`,
      needsAks: true,
    })),
  ];
  // One write at a time; those that need only the server go first (while AKS is still being created).
  let pgClock = pgEnd;
  pgClock += pgWrites.filter((w) => !w.needsAks).length * d.pgChildWrite;
  for (let i = pgWrites.filter((w) => w.needsAks).length; i > 0; i--)
    pgClock = Math.max(pgClock, aksEnd) + d.pgChildWrite;
  end.postgresSettings = Math.max(pgClock, aksEnd);
  const flowOrderPgEnd = Math.max(aksEnd, pgEnd) + pgWrites.length * d.pgChildWrite;
  end.fileShares = storageEnd;
  const azureDone = Math.max(end.postgresSettings, end.fileShares);

  // ---- In-cluster half, relative to the first apply
  const inCluster = inClusterSchedule(input);
  for (const [step, at] of Object.entries(inCluster.end)) end[step] = azureDone + at;
  const readyMs = azureDone + inCluster.readyMs;
  const allModelsMs = azureDone + inCluster.allModelsMs;

  // ---- The chain behind readyMs
  const aksDecides = aksEnd >= pgEnd;
  const afterAksWrites = pgWrites.filter((w) => w.needsAks || !aksDecides);
  const chain: Segment[] = [
    { step: 'resourceGroup', ms: 0, source: 'resource group PUT, answered at once' },
    { step: 'secrets', ms: 0, source: 'Key Vault writes, no simulated time' },
    aksDecides
      ? {
          step: 'aksCluster',
          ms: d.aksCreate,
          source: `ARM durations.aksCreate (in parallel: ${AZURE_RESOURCE_NAMES.filter(
            (k) => k !== 'aksCluster',
          )
            .map((k) => `${k} ${creation(k) / 1000} s`)
            .join(', ')})`,
        }
      : { step: 'postgresServer', ms: d.pgCreate, source: 'ARM durations.pgCreate' },
    {
      step: 'postgresSettings',
      ms: end.postgresSettings - Math.max(aksEnd, aksDecides ? 0 : pgEnd),
      source: `${afterAksWrites.length} × ARM durations.pgChildWrite after AKS (${afterAksWrites.map((w) => w.name).join(', ')}); ${pgWrites.length - afterAksWrites.length} more during AKS creation`,
    },
    ...inCluster.chain,
  ];

  // ---- A strictly sequential script: every operation after the previous one.
  const sequentialAzure =
    AZURE_RESOURCE_NAMES.reduce((sum, kind) => sum + creation(kind), 0) + pgWrites.length * d.pgChildWrite;
  return {
    earliestEnd: end,
    readyMs,
    allModelsMs,
    chain,
    readyMsFlowOrder: Math.max(flowOrderPgEnd, end.fileShares) + inCluster.readyMs,
    sequentialReadyMs: sequentialAzure + inCluster.readyMs,
    sequentialAllModelsMs: sequentialAzure + inCluster.allModelsMs,
    pgWrites,
  };
}

interface InCluster {
  end: Record<string, number>;
  readyMs: number;
  allModelsMs: number;
  chain: Segment[];
}

const templates = loadTemplateSource();

/** Nodes the GPU pool is created with, read from the AKS body the flow sends. */
function gpuPoolCount(input: CriticalPathInput): number {
  const body = AZURE_RESOURCES.aksCluster.body({ spec: input.spec, names: input.names, secret: () => '' });
  const pools = (body.properties.agentPoolProfiles ?? []) as {
    count?: number;
    nodeLabels?: Record<string, string>;
  }[];
  return pools.find((p) => p.nodeLabels?.gpu === 'true')?.count ?? 0;
}

function inClusterSchedule(input: CriticalPathInput): InCluster {
  const { delays, pullMs, spec } = input;
  const objects = renderManifests(spec, input.names, templates) as KubernetesObject[];
  const stages = applyStages(objects);
  const end: Record<string, number> = {};
  const applied = new Map<KubernetesObject, number>();
  const chain: Segment[] = [];
  let at = 0;
  stages.forEach((stage, i) => {
    // The step names come from the catalogue's APPLY_STAGES, by the stage's name in the manifests.
    const steps = APPLY_STAGES.find((s) => s.stage === stage.stage);
    if (!steps) throw new Error(`the step catalogue has no apply stage '${stage.stage}'`);
    end[steps.apply] = at;
    for (const o of stage.objects) applied.set(o, at);
    if (stage.waitFor) {
      if (!('job' in steps))
        throw new Error(`apply stage '${stage.stage}' ends with a Job but has no job step`);
      const step = steps.job;
      at += delays.jobCompleteMs;
      end[step] = at;
      chain.push({
        step,
        ms: delays.jobCompleteMs,
        source: `Kubernetes delays.jobCompleteMs (Job ${stage.waitFor.name}, apply stage ${i + 1})`,
      });
    }
  });
  const lastApply = at;
  const appliedAt = (o: KubernetesObject) => applied.get(o) ?? 0;
  const kind = (k: string) => objects.filter((o) => o.kind === k);

  // The GPU node: created with the cluster when the GPU pool starts with nodes; from zero, the cluster
  // autoscaler adds it for the first pending pod that requests a GPU (its next scan, then the node's
  // provisioning time). The GPU is advertised once a device-plugin pod is ready on it.
  const gpuPool = gpuPoolCount(input);
  const gpuPods = objects.filter(
    (o) => WORKLOADS.has(o.kind ?? '') && o.kind !== 'DaemonSet' && requestsGpu(get(o, 'spec', 'template')),
  );
  const gpuNodeAt =
    gpuPool > 0
      ? 0
      : Math.min(...gpuPods.map(appliedAt)) + delays.autoscalerScanMs + delays.gpuNodeProvisionMs;
  const plugins = kind('DaemonSet').filter((o) => (o.metadata?.name ?? '').includes('nvidia-device-plugin'));
  const gpuAt = Math.min(...plugins.map((o) => Math.max(appliedAt(o), gpuNodeAt) + delays.workloadReadyMs));
  end.nodesReady = 0;
  end.gpuNode = gpuAt;
  end.volumesBound = 0;

  const workloadReady = new Map<KubernetesObject, number>();
  for (const o of objects.filter((x) => WORKLOADS.has(x.kind ?? ''))) {
    const template = get(o, 'spec', 'template');
    const start = requestsGpu(template) ? Math.max(appliedAt(o), gpuAt) : appliedAt(o);
    const ordered = o.kind === 'StatefulSet' && get(o, 'spec', 'podManagementPolicy') !== 'Parallel';
    const replicas = Number(get(o, 'spec', 'replicas') ?? 1);
    workloadReady.set(o, start + (ordered ? replicas : 1) * delays.workloadReadyMs);
  }
  const slowestWorkload = [...workloadReady.entries()].sort(([, a], [, b]) => b - a)[0];
  end.workloadsReady = Math.max(0, ...workloadReady.values());

  const balancers = kind('Service').filter((o) => get(o, 'spec', 'type') === 'LoadBalancer');
  end.endpoints = Math.max(0, ...balancers.map((o) => appliedAt(o) + delays.loadBalancerIpMs));

  const backingReady = (service: { name?: unknown; namespace?: unknown }) => {
    const svc = kind('Service').find(
      (o) => o.metadata?.name === service.name && o.metadata?.namespace === service.namespace,
    );
    const selector = (get(svc, 'spec', 'selector') ?? {}) as Record<string, string>;
    const backing = [...workloadReady.entries()].filter(
      ([o]) =>
        o.metadata?.namespace === service.namespace &&
        Object.entries(selector).every(([k, v]) => get(o, 'spec', 'template', 'metadata', 'labels', k) === v),
    );
    return Math.min(...backing.map(([, t]) => t));
  };
  end.metricsApi = Math.max(
    0,
    ...kind('APIService').map(
      (o) =>
        Math.max(appliedAt(o), backingReady((get(o, 'spec', 'service') ?? {}) as Obj)) +
        delays.apiServiceAvailableMs,
    ),
  );

  const preload = kind('Job').find((o) => o.metadata?.name === 'model-preload');
  const pullsFrom = preload ? appliedAt(preload) : lastApply;
  end.firstModel = pullsFrom + pullMs;
  const allModelsMs = pullsFrom + spec.models.length * pullMs;

  const gates = {
    gpuNode: end.gpuNode,
    workloadsReady: end.workloadsReady,
    endpoints: end.endpoints,
    metricsApi: end.metricsApi,
    firstModel: end.firstModel,
  };
  const readyMs = Math.max(...Object.values(gates));
  // The smoke test's chat waits for Ollama to load the first model (the first the preload Job pulls).
  const firstModel = spec.models[0] ?? '';
  const loadMs = coldLoadMs(modelSize(firstModel));
  end.smokeTest = readyMs + loadMs;
  const [decisive] = Object.entries(gates).sort(([, a], [, b]) => b - a)[0]!;
  const others = Object.entries(gates)
    .filter(([name]) => name !== decisive)
    .map(([name, t]) => `${name} at +${t / 1000} s`)
    .join(', ');
  const sources: Record<string, string> = {
    firstModel: `Ollama pullMs (model-preload Job applied in stage ${stages.findIndex((s) => preload && s.objects.includes(preload)) + 1})`,
    workloadsReady: `Kubernetes delays.workloadReadyMs (${slowestWorkload?.[0].kind}/${slowestWorkload?.[0].metadata?.name})`,
    endpoints: 'Kubernetes delays.loadBalancerIpMs',
    metricsApi: 'Kubernetes delays.workloadReadyMs + apiServiceAvailableMs',
    gpuNode:
      gpuPool > 0
        ? 'Kubernetes delays.workloadReadyMs (device plugin; the GPU node came with the cluster)'
        : 'Kubernetes delays.autoscalerScanMs + gpuNodeProvisionMs (the autoscaler adds the GPU node for the first GPU pod) + workloadReadyMs (device plugin)',
  };
  chain.push({
    step: decisive,
    ms: readyMs - lastApply,
    source: `${sources[decisive]}; after the last apply stage, the other gates are met sooner (${others}, counted from the first apply)`,
  });
  chain.push({
    step: 'smokeTest',
    ms: loadMs,
    source: `Ollama's cold load of ${normalizeModel(firstModel)} from the share (${(modelSize(firstModel) / 2 ** 30).toFixed(1)} GiB at SHARE_READ_BYTES_PER_S)`,
  });
  return { end, readyMs: end.smokeTest, allModelsMs: Math.max(allModelsMs, end.smokeTest), chain };
}
