/**
 * The auto-stop cost model behind `npm run bench:cost`: a reproducible usage trace, and its replay through
 * the idle sweep's own decision (src/platform/idle.ts) at the timer's cadence. Pure: no I/O, no clock.
 *
 * The platform, second by second:
 * - Ready: a moment of use is a request; Ollama keeps the model loaded `keepAliveMs` after the last one
 *   (OLLAMA_KEEP_ALIVE), which is what the sweep's probe (`/api/ps`) sees as "in use".
 * - At every sweep tick a Ready platform is probed and `decide` runs: markActive sets lastActiveAt to the
 *   tick, stop starts the stop flow.
 * - Stopping takes `stopFlowMs` (the AKS stop, then PostgreSQL); the AKS stop ends at `aksStopMs` (the time
 *   startPlatform counts its 15-minute wait from).
 * - Use while Stopped starts the platform (someone calls POST /start); use while Stopping waits until it
 *   is Stopped and then starts it. startPlatform first waits until 15 minutes after the last AKS stop
 *   (START_AFTER_STOP_MS), then takes `startFlowMs`; it becomes Ready with lastActiveAt = that moment and
 *   nothing loaded (the pods restarted). Use meanwhile is not served (the user waits).
 * - Billed (GPU node running, cost at the running rate): Starting, Ready, Stopping. The wait before a start
 *   is billed in the figure the brief asks for (`billedMs`) and not in `billedStrictMs` (Azure bills nothing
 *   while the cluster is stopped).
 *
 * Two policies layered on it, each optional:
 * - Learned pre-warm (`prewarm`): the sweep records each hour of use it sees (`recordUse`, the sweep's own
 *   write) and starts a Stopped platform when `prewarmDue` says a usual hour is near (src/platform/prewarm.ts).
 * - Two tiers of idle (`gpuTier`), a MODEL of a mechanism not built yet: a Ready platform idle for
 *   `gpuIdleMinutes` releases its GPU node (Ollama at zero; the node goes `releaseMs` later) and keeps the
 *   rest running; use then waits `wakeMs` for the GPU (a node back, the pods, the model loaded), or
 *   `rewakeMs` while the node is still there. With pre-warm, the GPU is woken ahead of a usual hour too
 *   (lead `gpuLeadMs`). The whole platform still stops after `idleMinutes`. GPU node time is `gpuMs`.
 */
import { decide, stopsAt, type SweepCandidate } from '../src/platform/idle.js';
import { prewarmDue, recordUse, type UsageHistory } from '../src/platform/prewarm.js';
import { seededRandom } from '../sandbox/azure/arm/faults.js';

export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

export interface Interval {
  start: number;
  end: number;
}

export interface TraceOptions {
  seed: number;
  /** Start of the trace (ms since the epoch, UTC); a Monday 00:00 for whole weeks. */
  startMs: number;
  days: number;
  /** Busy block on each weekday (Monday–Friday, UTC): from this hour, for `busyHours`. */
  busyStartHour: number;
  busyHours: number;
  /** Mean number of visits per day outside the busy blocks. */
  visitsPerDay: number;
  /** Visit length, uniform between these (minutes). */
  visitMinutes: readonly [number, number];
}

export interface Trace {
  busy: Interval[];
  visits: Interval[];
  /** Every moment of use: busy blocks and visits merged, sorted, non-overlapping. */
  use: Interval[];
}

/**
 * Busy blocks every weekday, and visits at other times: arrivals of a Poisson process over the time outside
 * the busy blocks (arrivals inside a block are dropped), each lasting a uniform random length.
 */
export function usageTrace(o: TraceOptions): Trace {
  // The sandbox's seedable PRNG (mulberry32): the same seed gives the same trace on every machine.
  const random = seededRandom(o.seed);
  const endMs = o.startMs + o.days * DAY;
  const busy: Interval[] = [];
  for (let day = 0; day < o.days; day++) {
    const midnight = o.startMs + day * DAY;
    const weekday = new Date(midnight).getUTCDay();
    if (weekday === 0 || weekday === 6 || o.busyHours <= 0) continue;
    const start = midnight + o.busyStartHour * HOUR;
    busy.push({ start, end: Math.min(endMs, start + o.busyHours * HOUR) });
  }
  const inBusy = (t: number) => busy.some((b) => t >= b.start && t < b.end);
  // Rate per ms of non-busy time, so that a day has `visitsPerDay` visits outside its busy block on average.
  const busyMs = busy.reduce((s, b) => s + b.end - b.start, 0);
  const freeMs = o.days * DAY - busyMs;
  const rate = freeMs > 0 ? (o.visitsPerDay * o.days) / freeMs : 0;
  const visits: Interval[] = [];
  if (rate > 0) {
    const [minMinutes, maxMinutes] = o.visitMinutes;
    // Arrivals over the whole span at the same rate, the ones inside a busy block dropped (thinning).
    for (let t = o.startMs - Math.log(1 - random()) / rate; t < endMs; t -= Math.log(1 - random()) / rate) {
      const length = (minMinutes + (maxMinutes - minMinutes) * random()) * MINUTE;
      if (inBusy(t)) continue;
      const start = Math.floor(t / SECOND) * SECOND;
      visits.push({ start, end: Math.min(endMs, start + Math.round(length / SECOND) * SECOND) });
    }
  }
  return { busy, visits, use: merge([...busy, ...visits]) };
}

/** Sorted, merged intervals. */
export function merge(intervals: readonly Interval[]): Interval[] {
  const sorted = [...intervals].sort((a, b) => a.start - b.start);
  const out: Interval[] = [];
  for (const i of sorted) {
    const last = out[out.length - 1];
    if (last && i.start <= last.end) last.end = Math.max(last.end, i.end);
    else out.push({ ...i });
  }
  return out;
}

export const totalMs = (intervals: readonly Interval[]) => intervals.reduce((s, i) => s + i.end - i.start, 0);

export interface ReplayOptions {
  startMs: number;
  endMs: number;
  /** The sweep's next tick strictly after a time (the timer's NCRONTAB schedule). */
  nextTick: (afterMs: number) => number | undefined;
  idleMinutes: number;
  keepAliveMs: number;
  /** POST /start → Ready, after the wait that follows a stop. */
  startFlowMs: number;
  /** Stop flow: AKS stopped after `aksStopMs`, the whole flow (PostgreSQL too) after `stopFlowMs`. */
  aksStopMs: number;
  stopFlowMs: number;
  /** The wait between the end of an AKS stop and the next start (START_AFTER_STOP_MS). */
  startAfterStopMs: number;
  /** Phase at `startMs`: Stopped (idle since long before) by default. */
  initial?: 'Ready' | 'Stopped';
  /** Learned pre-warm: start a Stopped platform `leadMs` ahead of a usual hour. */
  prewarm?: { leadMs: number };
  /** Two tiers of idle (modelled): release the GPU after `gpuIdleMinutes`, wake it on use. */
  gpuTier?: GpuTierOptions;
}

export interface GpuTierOptions {
  gpuIdleMinutes: number;
  /** From the release decision until the GPU node is gone (billed meanwhile). */
  releaseMs: number;
  /** From use (or a pre-warm) to a served request once the node is gone. */
  wakeMs: number;
  /** The same while the node is still there (Ollama scaled to zero, the node not yet removed). */
  rewakeMs: number;
  /** How long before a usual hour pre-warm wakes the GPU (with `prewarm` only). */
  gpuLeadMs: number;
}

export interface ReplayResult {
  /** Billed running time: starting (its wait included), Ready, stopping. */
  billedMs: number;
  /** The same without the wait before a start (the cluster is stopped then). */
  billedStrictMs: number;
  spanMs: number;
  useMs: number;
  /** Use while the platform was not Ready (someone waited). */
  unservedMs: number;
  starts: number;
  stops: number;
  ticks: number;
  /** From use arriving at a stopped (or stopping) platform to Ready, for each start. */
  startWaitsMs: number[];
  /** How long after `stopsAt` the stopping tick came, for each stop. */
  stopLagsMs: number[];
  /** Times the platform went Ready → stopping (for tests and plots). */
  stopTimes: number[];
  readyTimes: number[];
  /** GPU node running (strict: nothing while the cluster is stopped or the node released). */
  gpuMs: number;
  /** Platform running (Starting, Ready, Stopping), strict as `billedStrictMs`. */
  platformMs: number;
  /** GPU wakes that use waited for (two tiers), and their waits. */
  wakes: number;
  wakeWaitsMs: number[];
  /** Starts and GPU wakes a pre-warm made (nobody waited for them). */
  prewarmStarts: number;
  prewarmWakes: number;
}

type Phase = 'Ready' | 'Stopping' | 'Stopped' | 'Waiting' | 'Starting';
/** The GPU tier of a Ready platform (always `up` without `gpuTier`). */
type Gpu = 'up' | 'releasing' | 'released' | 'waking';

/** Replays `use` second by second through the sweep's decisions. */
export function replay(use: readonly Interval[], o: ReplayOptions): ReplayResult {
  const result: ReplayResult = {
    billedMs: 0,
    billedStrictMs: 0,
    spanMs: o.endMs - o.startMs,
    useMs: 0,
    unservedMs: 0,
    starts: 0,
    stops: 0,
    ticks: 0,
    startWaitsMs: [],
    stopLagsMs: [],
    stopTimes: [],
    readyTimes: [],
    gpuMs: 0,
    platformMs: 0,
    wakes: 0,
    wakeWaitsMs: [],
    prewarmStarts: 0,
    prewarmWakes: 0,
  };
  let phase: Phase = o.initial ?? 'Stopped';
  let gpu: Gpu = 'up';
  let gpuEndsAt = Infinity;
  /** When use first found the GPU away (until it is back). */
  let wakeWaitingSince: number | undefined;
  let usage: UsageHistory | undefined;
  let lastActiveAt = o.startMs;
  /** Last served request (use while Ready); the model stays loaded `keepAliveMs` after it. */
  let lastRequestAt = -Infinity;
  let lastAksStopAt = -Infinity;
  let phaseEndsAt = Infinity;
  /** When use first found the platform not Ready (until it is Ready again). */
  let waitingSince: number | undefined;
  let nextTick = o.nextTick(o.startMs - 1) ?? Infinity;
  let u = 0;
  const iso = (t: number) => new Date(t).toISOString();

  for (let t = o.startMs; t < o.endMs; t += SECOND) {
    while (u < use.length && use[u]!.end <= t) u++;
    const inUse = u < use.length && use[u]!.start <= t;

    // Flows that end now.
    if (t >= phaseEndsAt) {
      if (phase === 'Stopping') {
        phase = 'Stopped';
        phaseEndsAt = Infinity;
      } else if (phase === 'Waiting') {
        phase = 'Starting';
        phaseEndsAt = t + o.startFlowMs;
      } else if (phase === 'Starting') {
        phase = 'Ready';
        phaseEndsAt = Infinity;
        lastActiveAt = t; // becoming Ready counts as activity
        lastRequestAt = -Infinity; // the pods restarted: nothing loaded
        gpu = 'up';
        result.readyTimes.push(t);
        if (waitingSince !== undefined) result.startWaitsMs.push(t - waitingSince);
        waitingSince = undefined;
      }
    }
    if (t >= gpuEndsAt) {
      if (gpu === 'releasing') gpu = 'released';
      else if (gpu === 'waking') {
        gpu = 'up';
        lastActiveAt = t; // back up counts as activity, as becoming Ready does
        if (wakeWaitingSince !== undefined) {
          result.wakeWaitsMs.push(t - wakeWaitingSince);
          lastRequestAt = t; // the held request is answered: the model is loaded
        }
        wakeWaitingSince = undefined;
      }
      gpuEndsAt = Infinity;
    }
    // A start (by use or pre-warm) first waits until START_AFTER_STOP_MS after the last AKS stop.
    const startAt = (at: number): [Phase, number] => {
      const earliest = lastAksStopAt + o.startAfterStopMs;
      return earliest > at ? ['Waiting', earliest] : ['Starting', at + o.startFlowMs];
    };
    const wakeEndsAt = (at: number, from: Gpu) =>
      at + (from === 'releasing' ? o.gpuTier!.rewakeMs : o.gpuTier!.wakeMs);
    if (inUse && phase !== 'Ready') waitingSince ??= t;
    // Use of a stopped platform starts it (POST /start); a start soon after a stop waits first.
    if (inUse && phase === 'Stopped') {
      result.starts++;
      [phase, phaseEndsAt] = startAt(t);
    }
    // Use of a Ready platform whose GPU was released wakes it.
    if (inUse && phase === 'Ready' && gpu !== 'up') {
      if (gpu !== 'waking') {
        result.wakes++;
        gpuEndsAt = wakeEndsAt(t, gpu);
        gpu = 'waking';
      }
      wakeWaitingSince ??= t;
      lastActiveAt = t; // a held request is use: the platform is not stopped under it
    }
    if (inUse) {
      result.useMs += SECOND;
      if (phase === 'Ready' && gpu === 'up') lastRequestAt = t;
      else result.unservedMs += SECOND;
    }

    // The sweep.
    if (t >= nextTick) {
      result.ticks++;
      if (phase === 'Ready') {
        const candidate: SweepCandidate = {
          platformId: 'trace',
          phase: 'Ready',
          idleMinutes: o.idleMinutes,
          lastActiveAt: iso(lastActiveAt),
        };
        const loaded = gpu === 'up' && t < lastRequestAt + o.keepAliveMs ? 1 : 0;
        const observation = { kind: 'ollama', loadedModels: loaded } as const;
        const decision = decide(candidate, observation, new Date(t));
        // The sweep's write: the hour of use, learned from.
        if (o.prewarm && loaded > 0) usage = recordUse(usage, new Date(t));
        if (decision === 'markActive') lastActiveAt = t;
        else if (decision === 'stop') {
          const due = stopsAt(candidate);
          if (due) result.stopLagsMs.push(t - Date.parse(due));
          result.stops++;
          result.stopTimes.push(t);
          phase = 'Stopping';
          phaseEndsAt = t + o.stopFlowMs;
          lastAksStopAt = t + o.aksStopMs;
          gpuEndsAt = Infinity;
          wakeWaitingSince = undefined;
        } else if (o.gpuTier && gpu === 'up') {
          // The lower tier: the same rule over the shorter limit releases the GPU only.
          const gpuIdle = { ...candidate, idleMinutes: o.gpuTier.gpuIdleMinutes };
          if (decide(gpuIdle, observation, new Date(t)) === 'stop') {
            gpu = 'releasing';
            gpuEndsAt = t + o.gpuTier.releaseMs;
          }
        } else if (o.gpuTier && o.prewarm && (gpu === 'released' || gpu === 'releasing')) {
          if (prewarmDue(usage, new Date(t), o.gpuTier.gpuLeadMs)) {
            result.prewarmWakes++;
            gpuEndsAt = wakeEndsAt(t, gpu);
            gpu = 'waking';
          }
        }
      } else if (phase === 'Stopped' && o.prewarm && prewarmDue(usage, new Date(t), o.prewarm.leadMs)) {
        result.prewarmStarts++;
        [phase, phaseEndsAt] = startAt(t);
      }
      nextTick = o.nextTick(t) ?? Infinity;
    }

    if (phase === 'Ready' || phase === 'Stopping' || phase === 'Starting') {
      result.billedMs += SECOND;
      result.billedStrictMs += SECOND;
      result.platformMs += SECOND;
      // A stop of a platform whose GPU was released has no GPU node to stop.
      if (gpu !== 'released') result.gpuMs += SECOND;
    } else if (phase === 'Waiting') result.billedMs += SECOND;
    if (phase === 'Stopped') gpu = 'up'; // a start brings the GPU pool up with the cluster
  }
  return result;
}

/** A poll loop's view of an operation lasting `durationMs`: the first read at or after it completes. */
export function observedMs(
  durationMs: number,
  waits: (attempt: number) => number,
  firstAttempt: number,
): number {
  let elapsed = 0;
  for (let attempt = firstAttempt; elapsed < durationMs; attempt++) elapsed += waits(attempt);
  return elapsed;
}
