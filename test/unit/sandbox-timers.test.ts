/** The sandbox's timer-trigger scheduling (sandbox/timers.ts): NCRONTAB in simulated time. */
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../sandbox/clock.js';
import type { FunctionsHost, Registration } from '../../sandbox/host.js';
import { parseSchedule, startTimers } from '../../sandbox/timers.js';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
const next = (expression: string, after: string) => iso(parseSchedule(expression).next(at(after)));

describe('parseSchedule', () => {
  it('reads six-field NCRONTAB, seconds first, in UTC', () => {
    expect(next('0 */5 * * * *', '2026-01-05T09:02:30Z')).toBe('2026-01-05T09:05:00.000Z');
    expect(next('0 */5 * * * *', '2026-01-05T09:05:00Z')).toBe('2026-01-05T09:10:00.000Z');
    expect(next('*/10 * * * * *', '2026-01-05T09:00:05.500Z')).toBe('2026-01-05T09:00:10.000Z');
    expect(next('0 30 9 * * *', '2026-01-05T09:30:00Z')).toBe('2026-01-06T09:30:00.000Z');
    expect(next('0 0 22 * * 1-5', '2026-01-09T23:00:00Z')).toBe('2026-01-12T22:00:00.000Z'); // Fri → Mon
    expect(next('0 0 0 1 JAN,Jul *', '2026-01-05T00:00:00Z')).toBe('2026-07-01T00:00:00.000Z');
    expect(next('0 0 12 * * SUN', '2026-01-05T00:00:00Z')).toBe('2026-01-11T12:00:00.000Z');
    expect(next('5/20 * * * * *', '2026-01-05T09:00:30Z')).toBe('2026-01-05T09:00:45.000Z');
  });

  it('accepts five fields (seconds 0) and a TimeSpan interval', () => {
    expect(next('*/15 * * * *', '2026-01-05T09:01:00Z')).toBe('2026-01-05T09:15:00.000Z');
    const span = parseSchedule('00:05:00', at('2026-01-05T09:00:00Z'));
    expect(iso(span.next(at('2026-01-05T09:07:00Z')))).toBe('2026-01-05T09:10:00.000Z');
  });

  it('has no next occurrence for a date that never comes, and refuses malformed schedules', () => {
    expect(next('0 0 0 30 2 *', '2026-01-05T00:00:00Z')).toBeUndefined();
    for (const bad of ['* * * *', '0 61 * * * *', '0 */0 * * * *', '0 0 0 * * 7', 'a b c d e f', '00:00:00'])
      expect(() => parseSchedule(bad), bad).toThrow();
  });
});

describe('startTimers', () => {
  const registration = (
    name: string,
    schedule: string,
    extra: Record<string, unknown> = {},
  ): Registration => {
    const trigger = { type: 'timerTrigger', direction: 'in' as const, name: 'timer', schedule, ...extra };
    return { name, bindings: { timer: trigger }, handler: () => undefined, trigger };
  };

  it('fires each timer function on its schedule in simulated time, resolving %SETTING%', async () => {
    const clock = new VirtualClock(at('2026-01-05T09:00:00Z'));
    const fired: string[] = [];
    const logs: string[] = [];
    const host = {
      fireTimer: async (name: string) => void fired.push(`${name}@${iso(clock.now())}`),
    } as unknown as FunctionsHost;
    const stop = startTimers({
      host,
      clock,
      registrations: new Map([
        ['sweep', registration('sweep', '%AUTO_STOP_SCHEDULE%')],
        ['boot', registration('boot', '0 0 0 * * *', { runOnStartup: true })],
        ['broken', registration('broken', '%MISSING%')],
      ]),
      setting: (name) => (name === 'AUTO_STOP_SCHEDULE' ? '0 */5 * * * *' : undefined),
      log: (m) => logs.push(m),
    });
    // Minute by minute, letting each invocation finish (an occurrence due while one runs is skipped).
    for (let minute = 0; minute < 11; minute++) {
      clock.advanceBy(60_000);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(fired).toEqual([
      'boot@2026-01-05T09:00:00.000Z',
      'sweep@2026-01-05T09:05:00.000Z',
      'sweep@2026-01-05T09:10:00.000Z',
    ]);
    expect(logs.join('\n')).toMatch(/broken: not scheduled: app setting MISSING/);
    stop();
    clock.advanceBy(60 * 60_000);
    expect(fired).toHaveLength(3);
  });
});
