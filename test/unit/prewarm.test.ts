/** The learned pre-warm policy (src/platform/prewarm.ts): what it keeps, and when it wakes a platform. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  HISTORY_WEEKS,
  HOURS_PER_WEEK,
  hourOfWeek,
  isUsualHour,
  prewarmDue,
  recordUse,
  weekStartMs,
  type UsageHistory,
} from '../../src/platform/prewarm.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;
const MONDAY = Date.parse('2026-01-05T00:00:00Z');
const LEAD = 20 * 60_000;

/** A history of use at the given hours (UTC) of the given weekdays (0 = Monday), every week for `weeks`. */
function routine(weeks: number, days: number[], hours: number[]): UsageHistory | undefined {
  let h: UsageHistory | undefined;
  for (let w = 0; w < weeks; w++)
    for (const d of days)
      for (const hour of hours)
        h = recordUse(h, new Date(MONDAY + w * WEEK + d * DAY + hour * HOUR + 600_000));
  return h;
}

const times = fc.array(fc.integer({ min: MONDAY, max: MONDAY + 20 * WEEK }), { maxLength: 60 });
const historyOf = (ts: number[]) =>
  ts.reduce<UsageHistory | undefined>((h, t) => recordUse(h, new Date(t)), undefined);

describe('usage history', () => {
  it('weeks start on Monday 00:00 UTC and hours count from there', () => {
    expect(weekStartMs(Date.parse('2026-01-11T23:59:59Z'))).toBe(MONDAY);
    expect(weekStartMs(MONDAY)).toBe(MONDAY);
    expect(hourOfWeek(Date.parse('2026-01-06T09:30:00Z'))).toBe(33);
    expect(hourOfWeek(Date.parse('2026-01-11T23:59:59Z'))).toBe(167);
  });

  it('stays small and bounded whatever is recorded', () => {
    fc.assert(
      fc.property(times, (ts) => {
        const h = historyOf(ts);
        if (!h) return;
        expect(h.hours).toHaveLength(HOURS_PER_WEEK);
        for (const bits of h.hours) expect(bits).toBeLessThan(2 ** HISTORY_WEEKS);
        expect(JSON.stringify(h).length).toBeLessThan(1_000);
      }),
    );
  });

  it('is idempotent and order-independent (a repeated or late write changes nothing)', () => {
    fc.assert(
      fc.property(times, fc.integer({ min: MONDAY, max: MONDAY + 20 * WEEK }), (ts, t) => {
        const h = historyOf(ts);
        expect(recordUse(recordUse(h, new Date(t)), new Date(t))).toEqual(recordUse(h, new Date(t)));
        expect(historyOf([...ts].reverse())).toEqual(h);
      }),
    );
  });
});

describe('pre-warm', () => {
  const officeHours = routine(3, [0, 1, 2, 3, 4], [9, 10, 11, 12, 13, 14, 15, 16]);
  const week3 = MONDAY + 3 * WEEK;

  it('wakes a weekday platform shortly before its first usual hour, on weekdays only', () => {
    for (let d = 0; d < 5; d++)
      expect(prewarmDue(officeHours, new Date(week3 + d * DAY + 8.75 * HOUR), LEAD)).toBe(
        new Date(week3 + d * DAY + 9 * HOUR).toISOString(),
      );
    for (const d of [5, 6])
      expect(prewarmDue(officeHours, new Date(week3 + d * DAY + 8.75 * HOUR), LEAD)).toBe(null);
    // Not earlier than the lead, and not again inside the stretch (a platform stopped at noon stays stopped).
    expect(prewarmDue(officeHours, new Date(week3 + 8.5 * HOUR), LEAD)).toBe(null);
    expect(prewarmDue(officeHours, new Date(week3 + 11.75 * HOUR), LEAD)).toBe(null);
  });

  it('is off when disabled, and learns nothing from fewer than two weeks', () => {
    expect(prewarmDue(officeHours, new Date(week3 + 8.75 * HOUR), LEAD, false)).toBe(null);
    const oneWeek = routine(1, [0, 1, 2, 3, 4], [9]);
    expect(prewarmDue(oneWeek, new Date(MONDAY + WEEK + 8.75 * HOUR), LEAD)).toBe(null);
    expect(prewarmDue(undefined, new Date(week3 + 8.75 * HOUR), LEAD)).toBe(null);
  });

  it('needs three quarters of the weeks looked at: 2 of 2 and 3 of 4 are a habit, 2 of 3 is not', () => {
    const usedIn = (weeks: number[]) =>
      weeks.reduce<UsageHistory | undefined>(
        (h, w) => recordUse(h, new Date(MONDAY + w * WEEK + 3 * HOUR)),
        undefined,
      );
    const hourOfWeek = (week: number) => MONDAY + week * WEEK + 3 * HOUR;
    expect(isUsualHour(usedIn([0, 1]), hourOfWeek(2))).toBe(true);
    expect(isUsualHour(usedIn([0, 2]), hourOfWeek(3))).toBe(false);
    expect(isUsualHour(usedIn([0, 1, 3]), hourOfWeek(4))).toBe(true);
    expect(isUsualHour(usedIn([0, 3]), hourOfWeek(4))).toBe(false);
  });

  it('forgets a habit that stopped: after weeks without use, no wake', () => {
    const later = week3 + 3 * WEEK; // three unused weeks since the last use
    expect(prewarmDue(officeHours, new Date(later + 8.75 * HOUR), LEAD)).toBe(null);
  });

  it('never wakes for an hour used in only one week, however many other uses there were', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: HOURS_PER_WEEK - 1 }),
        fc.integer({ min: 0, max: 3 }),
        fc.array(fc.integer({ min: 0, max: HOURS_PER_WEEK - 1 }), { maxLength: 40 }),
        (once, week, others) => {
          // Other uses at other hours, every week; one use at `once`, in a single week.
          let h: UsageHistory | undefined;
          for (let w = 0; w < 4; w++)
            for (const o of others.filter((x) => x !== once))
              h = recordUse(h, new Date(MONDAY + w * WEEK + o * HOUR));
          h = recordUse(h, new Date(MONDAY + week * WEEK + once * HOUR));
          expect(isUsualHour(h, MONDAY + 4 * WEEK + once * HOUR)).toBe(false);
        },
      ),
    );
  });

  it('wakes before every stretch of a weekly routine, and only then', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: HOURS_PER_WEEK - 1 }), { maxLength: 30 }),
        (used) => {
          let h: UsageHistory | undefined;
          for (let w = 0; w < 4; w++)
            for (const u of used) h = recordUse(h, new Date(MONDAY + w * WEEK + u * HOUR));
          const set = new Set(used);
          const week = MONDAY + 4 * WEEK;
          for (let hour = 0; hour < HOURS_PER_WEEK; hour++) {
            const starts = set.has(hour) && !set.has((hour + HOURS_PER_WEEK - 1) % HOURS_PER_WEEK);
            const due = prewarmDue(h, new Date(week + hour * HOUR - LEAD / 2), LEAD);
            // Monday 00:00's previous hour is last week's Sunday 23:00: the same hour of the week.
            expect(due).toBe(starts ? new Date(week + hour * HOUR).toISOString() : null);
          }
        },
      ),
    );
  });
});
