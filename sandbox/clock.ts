/**
 * The sandbox's one notion of time, shared by the durable driver (timers), the simulated Azure (operation
 * durations) and the simulated Kubernetes (readiness delays). Tests use a virtual clock that only moves
 * when told to; `npm run sandbox` uses a real clock sped up by a factor.
 */
export interface Clock {
  /** Milliseconds since the epoch, in simulated time. */
  now(): number;
  /** Calls `fn` once simulated time reaches `at`; returns a cancel function. */
  setTimer(at: number, fn: () => void): () => void;
}

interface PendingTimer {
  at: number;
  seq: number;
  fn: () => void;
}

/** Time stands still until `advanceTo`/`advanceBy`; due timers then fire in order. */
export class VirtualClock implements Clock {
  private current: number;
  private timers: PendingTimer[] = [];
  private seq = 0;
  private waits = 0;

  constructor(start = Date.parse('2026-01-05T09:00:00Z')) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimer(at: number, fn: () => void): () => void {
    const timer = { at, seq: this.seq++, fn };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((t) => t !== timer);
    };
  }

  /**
   * Simulated work that takes time (a blocking call answered once a model is loaded): resolves when the
   * clock reaches `at`. `sleeping` counts the waits not over yet, so the durable driver can tell that every
   * running activity is waiting for time to pass and move the clock at once.
   */
  wait(at: number): Promise<void> {
    this.waits++;
    return new Promise<void>((resolve) =>
      this.setTimer(at, () => {
        this.waits--;
        resolve();
      }),
    );
  }

  get sleeping(): number {
    return this.waits;
  }

  nextTimerAt(): number | undefined {
    return this.timers.reduce<number | undefined>(
      (min, t) => (min === undefined || t.at < min ? t.at : min),
      undefined,
    );
  }

  advanceTo(at: number): void {
    if (at < this.current) return;
    for (;;) {
      const due = this.timers.filter((t) => t.at <= at).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.current = Math.max(this.current, due.at);
      due.fn();
    }
    this.current = at;
  }

  advanceBy(ms: number): void {
    this.advanceTo(this.current + ms);
  }
}

/** Real time multiplied by `speed` (speed 60: a simulated minute per real second). */
export class ScaledClock implements Clock {
  private readonly realStart = Date.now();

  constructor(
    readonly speed: number,
    private readonly start = Date.now(),
  ) {
    if (!(speed > 0)) throw new RangeError('speed must be positive');
  }

  now(): number {
    return this.start + (Date.now() - this.realStart) * this.speed;
  }

  setTimer(at: number, fn: () => void): () => void {
    const handle = setTimeout(fn, Math.max(0, (at - this.now()) / this.speed));
    handle.unref?.();
    return () => clearTimeout(handle);
  }
}

/** Resolves when `clock` reaches `at` (counted by a VirtualClock as a wait, see `VirtualClock.wait`). */
export function waitUntil(clock: Clock, at: number): Promise<void> {
  if (clock instanceof VirtualClock) return clock.wait(at);
  return new Promise<void>((resolve) => clock.setTimer(at, resolve));
}
