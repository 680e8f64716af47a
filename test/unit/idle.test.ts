import { describe, expect, it } from 'vitest';
import { decide, gpuReleasesAt, stopsAt, type SweepCandidate } from '../../src/platform/idle.js';

const now = new Date('2026-01-05T12:00:00Z');
const ready = (over: Partial<SweepCandidate> = {}): SweepCandidate => ({
  platformId: 'p',
  phase: 'Ready',
  idleMinutes: 60,
  lastActiveAt: '2026-01-05T10:30:00Z',
  ...over,
});

describe('idle policy', () => {
  it('loaded models mean recent use', () => {
    expect(decide(ready(), { kind: 'ollama', loadedModels: 1 }, now)).toBe('markActive');
  });
  it('stops a platform idle for at least its idle minutes', () => {
    expect(decide(ready(), { kind: 'ollama', loadedModels: 0 }, now)).toBe('stop');
    expect(
      decide(ready({ lastActiveAt: '2026-01-05T11:00:00Z' }), { kind: 'ollama', loadedModels: 0 }, now),
    ).toBe('stop');
    expect(
      decide(ready({ lastActiveAt: '2026-01-05T11:00:01Z' }), { kind: 'ollama', loadedModels: 0 }, now),
    ).toBe('keep');
  });
  it('never stops when auto-stop is off (0)', () => {
    expect(
      decide(
        ready({ idleMinutes: 0, lastActiveAt: '2020-01-01T00:00:00Z' }),
        { kind: 'ollama', loadedModels: 0 },
        now,
      ),
    ).toBe('keep');
  });
  it('never stops on a failed probe', () => {
    expect(
      decide(
        ready({ lastActiveAt: '2020-01-01T00:00:00Z' }),
        { kind: 'probeFailed', reason: 'timeout' },
        now,
      ),
    ).toBe('probeFailed');
  });
  it('stops a Ready platform whose cluster is stopped, whatever its auto-stop; a Stopped one is kept', () => {
    const observation = { kind: 'clusterStopped', reason: 'ClusterStopped: …' } as const;
    expect(decide(ready({ idleMinutes: 0 }), observation, now)).toBe('stop');
    expect(decide(ready({ lastActiveAt: '2026-01-05T11:59:00Z' }), observation, now)).toBe('stop');
    expect(decide({ ...ready(), phase: 'Stopped' }, observation, now)).toBe('keep');
  });
  it('starts a stopped platform due for a usual hour of use (pre-warm), even one whose PostgreSQL woke', () => {
    const due = {
      platformId: 'p',
      phase: 'Stopped',
      idleMinutes: 60,
      prewarmFor: '2026-01-05T13:00:00.000Z',
    } as const;
    expect(decide(due, { kind: 'power', postgres: 'Stopped' }, now)).toBe('prewarm');
    expect(decide(due, { kind: 'power', postgres: 'Ready' }, now)).toBe('prewarm');
    // Never on a failed probe, and never for a Ready platform.
    expect(decide(due, { kind: 'probeFailed', reason: 'timeout' }, now)).toBe('probeFailed');
    expect(decide({ ...ready(), prewarmFor: due.prewarmFor }, { kind: 'ollama', loadedModels: 1 }, now)).toBe(
      'markActive',
    );
  });
  it('wakes a released GPU tier due for a usual hour (pre-warm), before the long limit would stop it', () => {
    const released = ready({ gpu: 'released', lastActiveAt: '2026-01-05T10:30:00Z' });
    const zero = { kind: 'gpuTier', ollamaReplicas: 0 } as const;
    expect(decide(released, zero, now)).toBe('stop');
    expect(decide({ ...released, prewarmFor: '2026-01-05T12:15:00.000Z' }, zero, now)).toBe('prewarm');
    // A chat already brought it back: that is use, not a pre-warm.
    expect(
      decide(
        { ...released, prewarmFor: '2026-01-05T12:15:00.000Z' },
        { kind: 'gpuTier', ollamaReplicas: 1 },
        now,
      ),
    ).toBe('gpuWoken');
  });
  it('starts counting when there is no baseline', () => {
    expect(decide(ready({ lastActiveAt: undefined }), { kind: 'ollama', loadedModels: 0 }, now)).toBe(
      'markActive',
    );
  });
  it('stops again a stopped platform whose PostgreSQL restarted by itself', () => {
    expect(
      decide(
        { platformId: 'p', phase: 'Stopped', idleMinutes: 60 },
        { kind: 'power', postgres: 'Ready' },
        now,
      ),
    ).toBe('restopPostgres');
    expect(
      decide(
        { platformId: 'p', phase: 'Stopped', idleMinutes: 60 },
        { kind: 'power', postgres: 'Stopped' },
        now,
      ),
    ).toBe('keep');
  });
  it('says when an idle platform will stop', () => {
    expect(stopsAt(ready())).toBe('2026-01-05T11:30:00.000Z');
    expect(stopsAt(ready({ idleMinutes: 0 }))).toBeNull();
  });
});

describe('the GPU tier', () => {
  const idle = { kind: 'ollama', loadedModels: 0 } as const;
  // Idle for 90 minutes at `now`.
  const tiered = (over: Partial<SweepCandidate> = {}) =>
    ready({ idleMinutes: 120, gpuIdleMinutes: 10, ...over });
  it('is released after gpuIdleMinutes without use, while the long limit is not reached', () => {
    expect(decide(tiered(), idle, now)).toBe('releaseGpu');
    expect(decide(tiered({ lastActiveAt: '2026-01-05T11:50:01Z' }), idle, now)).toBe('keep');
    expect(decide(tiered({ idleMinutes: 0 }), idle, now)).toBe('releaseGpu');
  });
  it('is never released with gpuIdleMinutes 0 (or absent), and a use keeps it', () => {
    expect(decide(tiered({ gpuIdleMinutes: 0 }), idle, now)).toBe('keep');
    expect(decide(ready({ idleMinutes: 0 }), idle, now)).toBe('keep');
    expect(decide(tiered(), { kind: 'ollama', loadedModels: 1 }, now)).toBe('markActive');
  });
  it('the long limit wins over the GPU limit', () => {
    expect(decide(tiered({ idleMinutes: 60 }), idle, now)).toBe('stop');
  });
  it('released: the long limit counts from the last use; a stopped cluster completes the stop', () => {
    const power = { kind: 'power', aks: 'Running', postgres: 'Ready' } as const;
    expect(decide(tiered({ gpu: 'released' }), power, now)).toBe('keep');
    expect(decide(tiered({ gpu: 'released', idleMinutes: 60 }), power, now)).toBe('stop');
    expect(decide(tiered({ gpu: 'released', idleMinutes: 0 }), power, now)).toBe('keep');
    expect(decide(tiered({ gpu: 'released' }), { ...power, aks: 'Stopped' }, now)).toBe('stop');
    expect(decide(tiered({ gpu: 'waking', idleMinutes: 60 }), power, now)).toBe('keep');
  });
  it('gpuReleasesAt: the last use plus gpuIdleMinutes, while running', () => {
    expect(gpuReleasesAt(tiered())).toBe('2026-01-05T10:40:00.000Z');
    expect(gpuReleasesAt(tiered({ gpu: 'released' }))).toBeNull();
    expect(gpuReleasesAt(tiered({ gpuIdleMinutes: 0 }))).toBeNull();
  });
});
