/**
 * Learned pre-warm: from a platform's own recorded use, when to wake it shortly before the hours it is
 * usually used, and not on days it is not. Pure, so the sweep, the cost bench and the tests share one answer.
 *
 * What is kept is small and bounded: for each of the 168 hours of the week (UTC), one bit per week for the
 * last HISTORY_WEEKS weeks, set when the idle sweep saw the platform in use in that hour (Ollama had a model
 * loaded, the same signal that resets the idle clock). Recording is idempotent and commutative (the same
 * observation twice, or two in either order, give the same history), so a repeated activity is harmless.
 *
 * Hours are UTC: a daylight-saving change moves a team's habits by an hour, which the history relearns
 * within a few weeks; the lead before the hour covers part of the gap meanwhile.
 */

const HOUR_MS = 3_600_000;
const WEEK_MS = 7 * 24 * HOUR_MS;
export const HOURS_PER_WEEK = 168;

/** Weeks of history kept (one bit each, per hour of the week). */
export const HISTORY_WEEKS = 8;
/** Weeks a decision looks back over: recent habits count, older ones fade out. */
export const PREWARM_WINDOW_WEEKS = 4;
/**
 * An hour is usual when it was used in at least this many of the weeks looked at, and in at least three
 * quarters of them: 2 of 2, 3 of 3, 3 of 4. A lower bar (more than half: 2 of 3) made a team's occasional
 * visits at random hours "usual" now and then (bench:cost's trace: two visits a day wake it at 01:00, 03:00).
 */
export const PREWARM_MIN_WEEKS = 2;

export interface UsageHistory {
  /** Monday 00:00 UTC of the newest week recorded (ISO). */
  week: string;
  /** Monday 00:00 UTC of the first week recorded: earlier weeks were not observed, so are not "unused". */
  since: string;
  /** 168 entries, Monday 00:00–01:00 UTC first; bit k set = used in that hour k weeks before `week`. */
  hours: number[];
}

/** Monday 00:00 UTC of the week holding `t` (1970-01-01 was a Thursday, hence the 3-day shift). */
export function weekStartMs(t: number): number {
  const shift = 3 * 24 * HOUR_MS;
  return Math.floor((t + shift) / WEEK_MS) * WEEK_MS - shift;
}

export function hourOfWeek(t: number): number {
  return Math.floor((t - weekStartMs(t)) / HOUR_MS);
}

const weeksBetween = (fromWeekMs: number, toWeekMs: number) => Math.round((toWeekMs - fromWeekMs) / WEEK_MS);
const MASK = (1 << HISTORY_WEEKS) - 1;

/** The history with use seen at `at` added (weeks older than HISTORY_WEEKS fall out). */
export function recordUse(history: UsageHistory | undefined, at: Date): UsageHistory {
  const t = at.getTime();
  const week = weekStartMs(t);
  const hour = hourOfWeek(t);
  if (!history) {
    const hours = new Array<number>(HOURS_PER_WEEK).fill(0);
    hours[hour] = 1;
    const iso = new Date(week).toISOString();
    return { week: iso, since: iso, hours };
  }
  const newest = Date.parse(history.week);
  const since = new Date(Math.min(Date.parse(history.since), week)).toISOString();
  if (week >= newest) {
    const shift = weeksBetween(newest, week);
    const hours = history.hours.map((bits, h) => {
      const shifted = shift >= HISTORY_WEEKS ? 0 : (bits << shift) & MASK;
      return h === hour ? shifted | 1 : shifted;
    });
    return { week: new Date(week).toISOString(), since, hours };
  }
  // An observation older than the newest week (a late write): its bit, if still inside the kept weeks.
  const age = weeksBetween(week, newest);
  const hours = history.hours.map((bits, h) =>
    h === hour && age < HISTORY_WEEKS ? bits | (1 << age) : bits,
  );
  return { ...history, since, hours };
}

/**
 * Whether the hour holding `t` is one the platform is usually used in: over the (up to) PREWARM_WINDOW_WEEKS
 * whole weeks observed before t's week, used in at least PREWARM_MIN_WEEKS of them and in three quarters.
 */
export function isUsualHour(history: UsageHistory | undefined, t: number): boolean {
  if (!history) return false;
  const week = weekStartMs(t);
  const observed = Math.min(PREWARM_WINDOW_WEEKS, weeksBetween(Date.parse(history.since), week));
  if (observed < PREWARM_MIN_WEEKS) return false;
  // Bit k of an hour is week (history.week − k); the weeks looked at are week − j for j = 1..observed.
  const offset = weeksBetween(Date.parse(history.week), week);
  const bits = history.hours[hourOfWeek(t)] ?? 0;
  let used = 0;
  for (let j = 1; j <= observed; j++) {
    const k = j - offset;
    if (k >= 0 && k < HISTORY_WEEKS && bits & (1 << k)) used++;
  }
  return used >= PREWARM_MIN_WEEKS && 4 * used >= 3 * observed;
}

/**
 * The start of the next usual stretch of use in (now, now + horizon]: a usual hour whose previous hour is not
 * usual. Only the start of a stretch: a platform stopped for idleness in the middle of its usual hours is not
 * woken again until the next stretch (use wakes it).
 */
export function nextUsualStretch(
  history: UsageHistory | undefined,
  now: Date,
  horizonMs: number,
): string | null {
  if (!history) return null;
  const t = now.getTime();
  const next = Math.floor(t / HOUR_MS) * HOUR_MS + HOUR_MS;
  for (let hour = next; hour <= t + horizonMs; hour += HOUR_MS) {
    if (isUsualHour(history, hour) && !isUsualHour(history, hour - HOUR_MS))
      return new Date(hour).toISOString();
  }
  return null;
}

/** The usual stretch the platform should be woken for now, if any: one starting within the lead. */
export function prewarmDue(
  history: UsageHistory | undefined,
  now: Date,
  leadMs: number,
  enabled = true,
): string | null {
  return enabled ? nextUsualStretch(history, now, leadMs) : null;
}
