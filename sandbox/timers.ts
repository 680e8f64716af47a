/**
 * Timer triggers for `npm run sandbox`: every `app.timer` registration fires on its schedule in simulated
 * time (the sandbox clock), as the Functions host would fire it in real time.
 *
 * Schedules as the host reads them:
 * - NCRONTAB with six fields `{second} {minute} {hour} {day} {month} {day-of-week}` (five fields: seconds
 *   are 0), each `*`, a number, a range `a-b`, either of those followed by a step `/n`, or a comma list; months
 *   and days of the week also by three-letter name (JAN, MON), Sunday is 0. As in NCrontab, a time matches
 *   when EVERY field matches (day of month and day of week both restrict).
 * - A TimeSpan `hh:mm:ss` (App Service plans): every interval from start-up.
 * - `%NAME%` is replaced by the app setting NAME (the host's binding expression), read from `setting`.
 *
 * Times are UTC (the host's default without WEBSITE_TIME_ZONE). `runOnStartup: true` fires once at start.
 * An occurrence that comes due while the previous invocation still runs is skipped, as the host's
 * singleton lock would delay it; a failed invocation is reported and the schedule goes on.
 */
import type { Clock } from './clock.js';
import type { FunctionsHost, Registration } from './host.js';

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

interface Field {
  min: number;
  max: number;
  names?: string[];
  /** First value the names map to (months: 1, days: 0). */
  nameBase?: number;
}

const FIELDS: Field[] = [
  { min: 0, max: 59 }, // second
  { min: 0, max: 59 }, // minute
  { min: 0, max: 23 }, // hour
  { min: 1, max: 31 }, // day of month
  { min: 1, max: 12, names: MONTHS, nameBase: 1 }, // month
  { min: 0, max: 6, names: DAYS, nameBase: 0 }, // day of week
];

export interface Schedule {
  /** The first occurrence strictly after `afterMs`, or undefined when there is none in the next 5 years. */
  next(afterMs: number): number | undefined;
}

/** Parses an NCRONTAB expression (six or five fields) or a TimeSpan `hh:mm:ss`. Throws on anything else. */
export function parseSchedule(expression: string, startMs = 0): Schedule {
  const span = /^(\d{1,2}):(\d{2}):(\d{2})$/.exec(expression.trim());
  if (span) {
    const every = ((Number(span[1]) * 60 + Number(span[2])) * 60 + Number(span[3])) * 1000;
    if (every <= 0) throw new Error(`schedule ${expression}: the interval must be positive`);
    return { next: (after) => startMs + (Math.floor((after - startMs) / every) + 1) * every };
  }
  const parts = expression.trim().split(/\s+/);
  if (parts.length === 5) parts.unshift('0');
  if (parts.length !== 6) throw new Error(`schedule ${expression}: expected six NCRONTAB fields`);
  const sets = parts.map((part, i) => parseField(part, FIELDS[i]!, expression));
  const [seconds, minutes, hours, days, months, weekdays] = sets as [
    Set<number>,
    Set<number>,
    Set<number>,
    Set<number>,
    Set<number>,
    Set<number>,
  ];
  return {
    next(afterMs) {
      const t = new Date(Math.floor(afterMs / 1000) * 1000 + 1000);
      const limit = afterMs + 5 * 366 * 86_400_000;
      while (t.getTime() <= limit) {
        if (!months.has(t.getUTCMonth() + 1)) {
          t.setUTCMonth(t.getUTCMonth() + 1, 1);
          t.setUTCHours(0, 0, 0);
        } else if (!days.has(t.getUTCDate()) || !weekdays.has(t.getUTCDay())) {
          t.setUTCDate(t.getUTCDate() + 1);
          t.setUTCHours(0, 0, 0);
        } else if (!hours.has(t.getUTCHours())) {
          t.setUTCHours(t.getUTCHours() + 1, 0, 0);
        } else if (!minutes.has(t.getUTCMinutes())) {
          t.setUTCMinutes(t.getUTCMinutes() + 1, 0);
        } else if (!seconds.has(t.getUTCSeconds())) {
          t.setUTCSeconds(t.getUTCSeconds() + 1);
        } else return t.getTime();
      }
      return undefined;
    },
  };
}

function parseField(text: string, field: Field, expression: string): Set<number> {
  const fail = (): never => {
    throw new Error(`schedule ${expression}: invalid field "${text}"`);
  };
  const value = (s: string): number => {
    const byName = field.names?.indexOf(s.toUpperCase()) ?? -1;
    const n = byName >= 0 ? byName + field.nameBase! : /^\d+$/.test(s) ? Number(s) : fail();
    return n < field.min || n > field.max ? fail() : n;
  };
  const out = new Set<number>();
  for (const item of text.split(',')) {
    const m = /^(\*|[0-9A-Za-z]+(?:-[0-9A-Za-z]+)?)(?:\/(\d+))?$/.exec(item) ?? fail();
    const [range, stepText] = [m[1]!, m[2]];
    const step = stepText === undefined ? 1 : Number(stepText);
    if (step < 1) fail();
    let [from, to] = [field.min, field.max];
    if (range !== '*') {
      const [a, b] = range.split('-');
      from = value(a!);
      // `5/15` means from 5 to the maximum, every 15 (as in NCrontab).
      to = b !== undefined ? value(b) : stepText !== undefined ? field.max : from;
      if (to < from) fail();
    }
    for (let v = from; v <= to; v += step) out.add(v);
  }
  return out;
}

export interface TimerSchedulerOptions {
  host: FunctionsHost;
  registrations: ReadonlyMap<string, Registration>;
  clock: Clock;
  /** App setting lookup for `%NAME%` in a schedule. */
  setting: (name: string) => string | undefined;
  /** Diagnostics (scheduled, fired, skipped, failed). */
  log: (message: string) => void;
}

/** Arms every timer trigger; returns a function that disarms them all. */
export function startTimers(options: TimerSchedulerOptions): () => void {
  const { host, clock, log } = options;
  const cancels = new Map<string, () => void>();
  let stopped = false;
  for (const registration of options.registrations.values()) {
    const trigger = registration.trigger;
    if (trigger.type !== 'timerTrigger') continue;
    const raw = String(trigger.schedule ?? '');
    let schedule: Schedule;
    let expression: string;
    try {
      expression = raw.replace(/%([^%]+)%/g, (_, name: string) => {
        const v = options.setting(name);
        if (v === undefined) throw new Error(`app setting ${name} (used by its schedule ${raw}) is not set`);
        return v;
      });
      schedule = parseSchedule(expression, clock.now());
    } catch (e) {
      log(`timer ${registration.name}: not scheduled: ${(e as Error).message}`);
      continue;
    }
    let running = false;
    const fire = async (reason: string) => {
      if (stopped) return;
      if (running) {
        log(`timer ${registration.name}: skipped (${reason}), the previous invocation is still running`);
        return;
      }
      running = true;
      try {
        await host.fireTimer(registration.name);
      } catch (e) {
        log(`timer ${registration.name}: failed: ${(e as Error).message}`);
      } finally {
        running = false;
      }
    };
    const arm = (after: number) => {
      const at = schedule.next(after);
      if (at === undefined || stopped) return;
      cancels.set(
        registration.name,
        clock.setTimer(at, () => {
          arm(at);
          void fire(new Date(at).toISOString());
        }),
      );
    };
    log(`timer ${registration.name}: schedule ${expression} (simulated time, UTC)`);
    if (trigger.runOnStartup === true) void fire('runOnStartup');
    arm(clock.now());
  }
  return () => {
    stopped = true;
    for (const cancel of cancels.values()) cancel();
    cancels.clear();
  };
}
