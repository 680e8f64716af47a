/**
 * An hourly cost estimate, running, with the GPU tier released (gpuIdle) and stopped, from list prices. It is an estimate for comparing choices
 * (spot or not, VM size, replicas), not a bill: prices vary by region, spot prices move with demand, and
 * traffic is not counted. The assumptions travel with every estimate.
 */
import { choosePostgresSku, modelShareGiB, WEBUI_SHARE_GIB } from './sizing.js';
import type { PlatformSpec } from './types.js';

const HOURS_PER_MONTH = 730;

/** Pay-as-you-go Linux list prices in USD per hour (East US, 2025 price sheets), rounded. */
export const PRICES = {
  vm: {
    Standard_D2s_v5: 0.096,
    Standard_D4s_v5: 0.192,
    Standard_NC4as_T4_v3: 0.526,
    Standard_NC8as_T4_v3: 0.752,
    Standard_NC16as_T4_v3: 1.204,
    Standard_NC64as_T4_v3: 4.352,
  } satisfies Record<string, number>,
  /** Spot VMs are typically 60–90 % cheaper; 70 % off is the assumption used here. */
  spotFactor: 0.3,
  postgres: { Standard_B1ms: 0.0207, Standard_B2s: 0.0828, Standard_D2ds_v5: 0.178 } satisfies Record<
    string,
    number
  >,
  postgresStorageGiBMonth: 0.115,
  premiumFilesGiBMonth: 0.16,
  publicIp: 0.005,
  loadBalancer: 0.025,
} as const;

/** Node pools outside the GPU pool; the provisioning creates exactly these. */
export const SYSTEM_POOL = { vmSize: 'Standard_D2s_v5', count: 2 } as const;
export const APPS_POOL = { vmSize: 'Standard_D4s_v5', minCount: 1, maxCount: 3 } as const;
export const POSTGRES_STORAGE_GIB = 32;
/** The cluster's egress IP plus the HTTPS entry's load-balancer IP (Open WebUI and Grafana behind it). */
export const PUBLIC_IPS = 2;

export interface CostLine {
  item: string;
  running: number;
  /** Ready with the GPU tier released (autoStop.gpuIdleMinutes): Ollama at zero, the GPU pool at its minimum. */
  gpuIdle: number;
  stopped: number;
}

export interface CostEstimate {
  currency: 'USD';
  perHour: { running: number; gpuIdle: number; stopped: number };
  breakdown: CostLine[];
  assumptions: string[];
}

const round = (n: number) => Math.round(n * 10_000) / 10_000;

export function estimateCost(spec: PlatformSpec): CostEstimate {
  const gpuNodes = Math.max(1, spec.gpu.minNodes);
  const gpuPrice = PRICES.vm[spec.gpu.vmSize] * (spec.gpu.spot ? PRICES.spotFactor : 1);
  const pg = choosePostgresSku(spec.webui.replicas);
  const shareGiB = modelShareGiB(spec.models) + WEBUI_SHARE_GIB;
  const perMonth = (gib: number, price: number) => (gib * price) / HOURS_PER_MONTH;

  const lines: CostLine[] = (
    [
      {
        item: `AKS system pool: ${SYSTEM_POOL.count} × ${SYSTEM_POOL.vmSize}`,
        running: SYSTEM_POOL.count * PRICES.vm[SYSTEM_POOL.vmSize],
        stopped: 0,
      },
      {
        item: `AKS apps pool: ${APPS_POOL.minCount} × ${APPS_POOL.vmSize}`,
        running: APPS_POOL.minCount * PRICES.vm[APPS_POOL.vmSize],
        stopped: 0,
      },
      {
        item: `AKS GPU pool: ${gpuNodes} × ${spec.gpu.vmSize}${spec.gpu.spot ? ' (spot)' : ''}`,
        running: gpuNodes * gpuPrice,
        // Released: the autoscaler takes the pool down to its minimum; a deallocated node's compute is not billed.
        gpuIdle: spec.gpu.minNodes * gpuPrice,
        stopped: 0,
      },
      {
        item: `PostgreSQL ${pg.name} compute`,
        running: PRICES.postgres[pg.name as keyof typeof PRICES.postgres],
        stopped: 0,
      },
      {
        item: `PostgreSQL storage: ${POSTGRES_STORAGE_GIB} GiB`,
        running: perMonth(POSTGRES_STORAGE_GIB, PRICES.postgresStorageGiBMonth),
        stopped: perMonth(POSTGRES_STORAGE_GIB, PRICES.postgresStorageGiBMonth),
      },
      {
        item: `Azure Files Premium: ${shareGiB} GiB provisioned`,
        running: perMonth(shareGiB, PRICES.premiumFilesGiBMonth),
        stopped: perMonth(shareGiB, PRICES.premiumFilesGiBMonth),
      },
      {
        item: `Public IPs: ${PUBLIC_IPS}`,
        running: PUBLIC_IPS * PRICES.publicIp,
        stopped: PUBLIC_IPS * PRICES.publicIp,
      },
      // A stopped cluster keeps its Standard load balancer in the node resource group (Azure/AKS#3749).
      { item: 'Standard load balancer', running: PRICES.loadBalancer, stopped: PRICES.loadBalancer },
    ] as (Omit<CostLine, 'gpuIdle'> & { gpuIdle?: number })[]
  ).map((l) => ({
    item: l.item,
    running: round(l.running),
    // Everything but the GPU pool runs on while the GPU tier is released.
    gpuIdle: round(l.gpuIdle ?? l.running),
    stopped: round(l.stopped),
  }));

  return {
    currency: 'USD',
    perHour: {
      running: round(lines.reduce((s, l) => s + l.running, 0)),
      gpuIdle: round(lines.reduce((s, l) => s + l.gpuIdle, 0)),
      stopped: round(lines.reduce((s, l) => s + l.stopped, 0)),
    },
    breakdown: lines,
    assumptions: [
      'Pay-as-you-go list prices for East US; other regions differ.',
      `GPU pool running at ${gpuNodes} node(s) (the autoscaler adds nodes up to ${spec.gpu.maxNodes} under load).`,
      spec.gpu.spot
        ? 'Spot price assumed at 30 % of on-demand; it varies with demand.'
        : 'On-demand GPU nodes.',
      'AKS Free tier control plane; traffic, logs and snapshots not included.',
      'Stopped: AKS and PostgreSQL compute stop billing; storage, public IPs and the load balancer keep billing.',
      `GPU idle (autoStop.gpuIdleMinutes): the GPU pool at its minimum (${spec.gpu.minNodes}), the rest running; a released node is deallocated (scale-down mode Deallocate), its OS disk is not counted here, as for running nodes.`,
    ],
  };
}
