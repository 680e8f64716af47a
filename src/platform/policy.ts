/** Limits of the request contract that more than one layer needs (schema, config, idle sweep). */

export const IDLE_MINUTES = { never: 0, min: 15, max: 1440 } as const;

/**
 * The GPU tier's idle limit (`autoStop.gpuIdleMinutes`): after this many minutes without use Ollama goes to
 * zero and the autoscaler releases the GPU node, while the rest of the platform keeps running. Ten by
 * default (issue 15's "default short"): a chat keeps its model loaded for Ollama's keep-alive (5 minutes)
 * anyway, and a wake from a deallocated node takes about two (BENCHMARKS.md, bench:cost's two-tier rows).
 */
export const GPU_IDLE_MINUTES = { never: 0, min: 5, max: 1440, default: 10 } as const;

export const isValidIdleMinutes = (n: number): boolean =>
  Number.isInteger(n) && (n === IDLE_MINUTES.never || (n >= IDLE_MINUTES.min && n <= IDLE_MINUTES.max));

/**
 * How long before a usual hour of use the sweep starts a stopped platform (learned pre-warm): a start takes
 * about 12 minutes in the sandbox's figures (BENCHMARKS.md, bench:cost) and the sweep runs every 5, so the
 * first tick inside the lead still has it Ready by the hour.
 */
export const PREWARM_LEAD_MINUTES = 20;

export const LIMITS = {
  models: { min: 1, max: 10 },
  gpuNodes: { max: 10 },
  webuiReplicas: { min: 1, max: 10, default: 3 },
  gpuNodesDefault: { min: 0, max: 2 },
  tags: { maxPairs: 15, maxNameLength: 128, maxValueLength: 256 },
  /** Owners of one platform (Entra object ids of people, groups, service principals). */
  owners: { min: 1, max: 20 },
  /** CIDRs a request may admit to its HTTPS entry (one line of the entry's Caddyfile). */
  allowedSourceRanges: { max: 32 },
  /** Request bodies larger than this are refused with 413 before parsing. */
  maxBodyBytes: 64 * 1024,
} as const;
