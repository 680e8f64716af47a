/** The cost bench's trace and replay (bench/cost-model.ts): fixed scenarios with known answers. */
import { describe, expect, it } from 'vitest';
import {
  DAY,
  HOUR,
  MINUTE,
  SECOND,
  merge,
  observedMs,
  replay,
  totalMs,
  usageTrace,
  type ReplayOptions,
} from '../../bench/cost-model.js';
import { parseSchedule } from '../../sandbox/timers.js';
import { seededRandom } from '../../sandbox/azure/arm/faults.js';

const MONDAY = Date.parse('2026-01-05T00:00:00Z');
const at = (iso: string) => Date.parse(`2026-01-05T${iso}Z`);
const every5 = parseSchedule('0 */5 * * * *');
const base: ReplayOptions = {
  startMs: MONDAY,
  endMs: MONDAY + DAY,
  nextTick: (after) => every5.next(after),
  idleMinutes: 60,
  keepAliveMs: 5 * MINUTE,
  startFlowMs: 10 * MINUTE,
  aksStopMs: 4 * MINUTE,
  stopFlowMs: 6 * MINUTE,
  startAfterStopMs: 15 * MINUTE,
};

describe('usage trace', () => {
  const options = {
    seed: 7,
    startMs: MONDAY,
    days: 28,
    busyStartHour: 9,
    busyHours: 8,
    visitsPerDay: 3,
    visitMinutes: [10, 30] as const,
  };

  it('is the same for the same seed and differs for another', () => {
    expect(usageTrace(options)).toEqual(usageTrace(options));
    expect(usageTrace({ ...options, seed: 8 }).visits).not.toEqual(usageTrace(options).visits);
    expect(seededRandom(1)()).toBe(seededRandom(1)());
  });

  it('has an 8-hour block on each weekday only, and visits of 10–30 minutes starting outside the blocks', () => {
    const { busy, visits, use } = usageTrace(options);
    expect(busy).toHaveLength(20);
    for (const b of busy) {
      expect(b.end - b.start).toBe(8 * HOUR);
      expect(new Date(b.start).getUTCHours()).toBe(9);
      expect([1, 2, 3, 4, 5]).toContain(new Date(b.start).getUTCDay());
    }
    expect(visits.length).toBeGreaterThan(28 * 3 * 0.6);
    expect(visits.length).toBeLessThan(28 * 3 * 1.4);
    for (const v of visits) {
      expect(v.end - v.start).toBeGreaterThanOrEqual(10 * MINUTE - SECOND);
      expect(v.end - v.start).toBeLessThanOrEqual(30 * MINUTE + SECOND);
      expect(busy.some((b) => v.start >= b.start && v.start < b.end)).toBe(false);
    }
    expect(totalMs(use)).toBeLessThanOrEqual(totalMs(busy) + totalMs(visits));
    expect(totalMs(use)).toBeGreaterThan(totalMs(busy));
  });

  it('merges overlapping intervals', () => {
    expect(
      merge([
        { start: 5, end: 8 },
        { start: 0, end: 3 },
        { start: 2, end: 6 },
        { start: 10, end: 11 },
      ]),
    ).toEqual([
      { start: 0, end: 8 },
      { start: 10, end: 11 },
    ]);
  });
});

describe('replay through the sweep decision', () => {
  it('a Ready platform used 10:00–10:20 is marked active while the model is loaded and stops an idle hour later', () => {
    const r = replay([{ start: at('10:00:00'), end: at('10:20:00') }], {
      ...base,
      startMs: at('09:00:00'),
      endMs: at('13:00:00'),
      initial: 'Ready',
    });
    // Ready since 09:00 (lastActiveAt 09:00): unused at 09:55, the 10:00 tick sees the model loaded.
    // Last request 10:19:59, loaded until 10:24:59: the 10:20 tick marks it active, the 10:25 one does not.
    expect(r.stopTimes).toEqual([at('11:20:00')]);
    expect(r.stopLagsMs).toEqual([0]);
    expect(r.billedMs).toBe(at('11:20:00') - at('09:00:00') + 6 * MINUTE);
    expect(r.billedStrictMs).toBe(r.billedMs);
    expect(r.starts).toBe(0);
    expect(r.unservedMs).toBe(0);
    expect(r.useMs).toBe(20 * MINUTE);
  });

  it('with a longer keep-alive the model is still loaded at 10:25, and the stop comes 5 minutes later', () => {
    const r = replay([{ start: at('10:00:00'), end: at('10:20:00') }], {
      ...base,
      keepAliveMs: 10 * MINUTE,
      startMs: at('09:00:00'),
      endMs: at('13:00:00'),
      initial: 'Ready',
    });
    expect(r.stopTimes).toEqual([at('11:25:00')]);
  });

  it('use during a stop waits until 15 minutes after the AKS stop, then the start; that wait is billed in one figure only', () => {
    const r = replay(
      [
        { start: at('10:00:00'), end: at('10:01:00') },
        { start: at('11:08:00'), end: at('12:00:00') },
      ],
      { ...base, startMs: at('09:58:00'), endMs: at('13:00:00'), initial: 'Ready' },
    );
    // Loaded until 10:05:59, so the 10:05 tick is the last activity: stop at 11:05, AKS stopped at 11:09,
    // the flow done at 11:11. Use from 11:08 waits for Stopped, then until 11:24 (15 minutes after the AKS
    // stop); the start takes 10 minutes: Ready at 11:34.
    expect(r.stopTimes).toEqual([at('11:05:00')]);
    expect(r.readyTimes).toEqual([at('11:34:00')]);
    expect(r.startWaitsMs).toEqual([26 * MINUTE]);
    expect(r.unservedMs).toBe(26 * MINUTE);
    expect(r.starts).toBe(1);
    expect(r.billedMs - r.billedStrictMs).toBe(at('11:24:00') - at('11:11:00'));
    // Billed strictly: Ready then stopping 09:58–11:11, starting and Ready 11:24–13:00.
    expect(r.billedStrictMs).toBe(at('11:11:00') - at('09:58:00') + at('13:00:00') - at('11:24:00'));
  });

  it('a platform that stays idle is never started and bills nothing', () => {
    const r = replay([], base);
    expect(r.billedMs).toBe(0);
    expect(r.ticks).toBe(288);
  });
});

describe('replay with learned pre-warm', () => {
  it('learns a weekday hour in two weeks and then starts the platform before it: nobody waits in week three', () => {
    const use = [0, 1, 2].flatMap((week) =>
      [0, 1, 2, 3, 4].map((day) => {
        const start = MONDAY + week * 7 * DAY + day * DAY + 9 * HOUR;
        return { start, end: start + HOUR };
      }),
    );
    const o = { ...base, endMs: MONDAY + 21 * DAY, idleMinutes: 60 };
    const plain = replay(use, o);
    const warmed = replay(use, { ...o, prewarm: { leadMs: 20 * MINUTE } });
    expect(plain.starts).toBe(15);
    expect(plain.startWaitsMs).toEqual(new Array(15).fill(10 * MINUTE));
    // Weeks one and two as before; in week three the 08:40 tick starts it (Ready 08:50), weekdays only.
    expect(warmed.starts).toBe(10);
    expect(warmed.prewarmStarts).toBe(5);
    expect(warmed.startWaitsMs).toEqual(new Array(10).fill(10 * MINUTE));
    expect(warmed.unservedMs).toBe(plain.unservedMs - 5 * 10 * MINUTE);
    expect(warmed.readyTimes.slice(10)).toEqual(
      [0, 1, 2, 3, 4].map((day) => MONDAY + 14 * DAY + day * DAY + 8 * HOUR + 50 * MINUTE),
    );
  });
});

describe('replay with two tiers of idle (a model)', () => {
  it('releases the GPU after its shorter limit, wakes it on use, and stops the platform after the long one', () => {
    const r = replay(
      [
        { start: at('10:00:00'), end: at('10:20:00') },
        { start: at('10:50:00'), end: at('11:00:00') },
      ],
      {
        ...base,
        startMs: at('09:00:00'),
        endMs: at('13:00:00'),
        initial: 'Ready',
        gpuTier: {
          gpuIdleMinutes: 10,
          releaseMs: 10 * MINUTE,
          wakeMs: 3 * MINUTE,
          rewakeMs: MINUTE,
          gpuLeadMs: 10 * MINUTE,
        },
      },
    );
    // Ready since 09:00 and unused: the GPU is released at the 09:10 tick, the node gone at 09:20. Use at
    // 10:00 waits 3 minutes; active at the 10:20 tick, released at 10:30 (gone 10:40); use at 10:50 waits 3
    // minutes; active at 11:00, released at 11:10 (gone 11:20); the platform stops at 12:00 (idle 60).
    expect(r.wakes).toBe(2);
    expect(r.wakeWaitsMs).toEqual([3 * MINUTE, 3 * MINUTE]);
    expect(r.unservedMs).toBe(6 * MINUTE);
    expect(r.stopTimes).toEqual([at('12:00:00')]);
    expect(r.gpuMs).toBe(20 * MINUTE + at('10:40:00') - at('10:00:00') + at('11:20:00') - at('10:50:00'));
    expect(r.platformMs).toBe(at('12:06:00') - at('09:00:00'));
  });
});

describe('observed operation time', () => {
  it('is the first poll at or after the operation ends', () => {
    const waits = (attempt: number) => [10, 20, 40][attempt] ?? 40;
    expect(observedMs(0, waits, 0)).toBe(0);
    expect(observedMs(25, waits, 0)).toBe(30);
    expect(observedMs(25, waits, 1)).toBe(60);
    expect(observedMs(100, waits, 0)).toBe(110);
  });
});
