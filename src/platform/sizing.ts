/**
 * Sizes that follow from a spec: the PostgreSQL SKU and the Open WebUI connection pools that must fit in
 * it, and the model share. Pure, so the plan, the provisioning and the manifests agree on one answer.
 */
import { knownModel } from './catalog.js';

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
