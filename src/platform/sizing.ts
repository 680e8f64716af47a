/**
 * Sizes that follow from a spec: the PostgreSQL SKU and the Open WebUI connection pools that must fit in
 * it, the model share, Ollama's resources and replicas, and the model pulls' time bounds. Pure, so the
 * plan, the provisioning and the manifests agree on one answer.
 */
import { T4_VM_SIZES, knownModel, type T4VmSize } from './catalog.js';
import { LIMITS } from './policy.js';
import type { PlatformSpec } from './types.js';

export interface PostgresSku {
  name: string;
  tier: 'Burstable' | 'GeneralPurpose';
  /** Connections available to users (Azure reserves some of max_connections for itself). */
  userConnections: number;
}

// Azure Database for PostgreSQL flexible server, "Limits": B1ms has max_connections 50 of which 35 are for
// users; B2s 429 (414 for users); D2ds_v5 859 (844). Burstable tiers have no built-in PgBouncer.
export const POSTGRES_SKUS: readonly PostgresSku[] = [
  { name: 'Standard_B1ms', tier: 'Burstable', userConnections: 35 },
  { name: 'Standard_B2s', tier: 'Burstable', userConnections: 414 },
  { name: 'Standard_D2ds_v5', tier: 'GeneralPurpose', userConnections: 844 },
];

/**
 * Open WebUI sizes two SQLAlchemy engines for its app database from DATABASE_POOL_* and one for pgvector
 * from PGVECTOR_POOL_*: three pools of size + overflow per replica.
 */
export const WEBUI_POOL = { size: 4, overflow: 2 } as const;
export const CONNECTIONS_PER_WEBUI_REPLICA = 3 * (WEBUI_POOL.size + WEBUI_POOL.overflow);
/** Head-room for the setup and migration Jobs and an operator's psql. */
export const RESERVED_CONNECTIONS = 5;

export function connectionsNeeded(webuiReplicas: number): number {
  // The Deployment uses the Recreate strategy (two Open WebUI versions never share a database), so no
  // surge replica adds connections during an update.
  return webuiReplicas * CONNECTIONS_PER_WEBUI_REPLICA + RESERVED_CONNECTIONS;
}

/** The smallest SKU whose user connections cover every pool at once (B1ms's 35 fit one replica: 23). */
export function choosePostgresSku(webuiReplicas: number): PostgresSku {
  const needed = connectionsNeeded(webuiReplicas);
  const sku = POSTGRES_SKUS.find((s) => s.userConnections >= needed);
  if (!sku) throw new RangeError(`no PostgreSQL SKU offers ${needed} connections`);
  return sku;
}

/** Premium file shares are provisioned (billed) by size with a 100 GiB minimum. */
export const PREMIUM_SHARE_MIN_GIB = 100;
/** Models whose size is unknown are assumed to be this large when sizing the share. */
export const UNKNOWN_MODEL_GIB = 10;

/** Room for every requested model twice over (a pull writes next to the old blobs) and later additions. */
export function modelShareGiB(models: readonly string[]): number {
  const total = models.reduce((sum, m) => sum + (knownModel(m)?.downloadGiB ?? UNKNOWN_MODEL_GIB), 0);
  return Math.max(PREMIUM_SHARE_MIN_GIB, Math.ceil((total * 2) / 50) * 50);
}

export const WEBUI_SHARE_GIB = PREMIUM_SHARE_MIN_GIB;

/**
 * Kept free on every GPU node for what is not Ollama: AKS's own reservation (kube-reserved CPU is 140m on 4
 * cores and 740m on 64; memory min(20 MiB × max pods + 50 MiB, 25 %) with 250 pods under Azure CNI overlay,
 * plus the 100 Mi eviction threshold; AKS "Node resource reservations"), AKS's system DaemonSets, and ours
 * (device plugin, DCGM exporter).
 */
export const GPU_NODE_HEADROOM = { cpuMillis: 1500, memoryMiB: 7 * 1024 } as const;

/**
 * Ollama's requests: what a GPU node has left after the headroom, split among its GPUs (one Ollama replica
 * per GPU). The seed asked for 4 CPUs, more than an NC4as_T4_v3 can allocate. Memory limit = request: a
 * model spilling into host memory is killed rather than starving the node.
 */
export function ollamaResources(vmSize: T4VmSize) {
  const { vcpus, memoryGiB, gpus } = T4_VM_SIZES[vmSize];
  const cpuMillis = Math.floor((vcpus * 1000 - GPU_NODE_HEADROOM.cpuMillis) / gpus / 100) * 100;
  const memoryGiBPerPod = Math.floor((memoryGiB * 1024 - GPU_NODE_HEADROOM.memoryMiB) / gpus / 1024);
  return {
    cpuRequest: `${cpuMillis}m`,
    memoryRequest: `${memoryGiBPerPod}Gi`,
    cpuLimit: String(vcpus / gpus),
    memoryLimit: `${memoryGiBPerPod}Gi`,
  };
}

/** One Ollama replica per GPU the pool can ever have. */
export function ollamaMaxReplicas(spec: PlatformSpec): number {
  return spec.gpu.maxNodes * T4_VM_SIZES[spec.gpu.vmSize].gpus;
}

/**
 * The Open WebUI HPA may add replicas only while every replica's connection pools still fit the PostgreSQL
 * SKU chosen for the requested count (B1ms fits exactly one).
 */
export function webuiMaxReplicas(replicas: number): number {
  const sku = choosePostgresSku(replicas);
  let max = replicas;
  while (max < LIMITS.webuiReplicas.max && connectionsNeeded(max + 1) <= sku.userConnections) max += 1;
  return max;
}

/** Seconds one pull attempt of a model may take: 10 minutes plus 3 minutes per GiB to download. */
export function pullTimeoutSeconds(model: string): number {
  return 600 + Math.ceil(180 * (knownModel(model)?.downloadGiB ?? UNKNOWN_MODEL_GIB));
}

/** The preload Job's deadline: the wait for Ollama plus 3 attempts (and their pauses) per model, twice. */
export function preloadDeadlineSeconds(models: readonly string[]): number {
  const onePass = 1200 + models.reduce((sum, m) => sum + 3 * (pullTimeoutSeconds(m) + 90), 0);
  return 2 * onePass;
}
