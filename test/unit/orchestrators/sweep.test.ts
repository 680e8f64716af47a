/**
 * idleSweep on stub activities: what one pass decides for each kind of platform, and what it records.
 */
import { describe, expect, it } from 'vitest';
import { IDLE_SWEEP, SWEEP_INSTANCE_ID } from '../../../src/orchestrators/names.js';
import type { SweepSummary } from '../../../src/orchestrators/sweep.js';
import type { SweepCandidate } from '../../../src/platform/idle.js';
import { MINUTES, ok, refused, RUN_START, runOrchestrator, type Stubs } from '../../support/orchestrator.js';

const ago = (minutes: number) => new Date(RUN_START - minutes * MINUTES).toISOString();
const AT_START = new Date(RUN_START).toISOString();

const ready = (platformId: string, lastActiveMinutesAgo: number, change: Partial<SweepCandidate> = {}) =>
  ({
    platformId,
    phase: 'Ready',
    idleMinutes: 60,
    lastActiveAt: ago(lastActiveMinutesAgo),
    ...change,
  }) as const;
const stopped = (platformId: string, postgres: string) =>
  ({ platformId, phase: 'Stopped', idleMinutes: 60, postgres }) as const;

const sweep = async (candidates: SweepCandidate[], stubs: Stubs) => {
  const run = await runOrchestrator(
    IDLE_SWEEP,
    null,
    {
      listSweepCandidates: async () => candidates,
      requestPlatformStop: async () => ok({ phase: 'Stopping' }),
      ...stubs,
    },
    { instanceId: SWEEP_INSTANCE_ID },
  );
  expect(run.runtimeStatus).toBe('Completed');
  return { run, summary: run.output as SweepSummary };
};

describe('idleSweep', () => {
  it('first admits queued platforms whose room has freed (the backstop of a delete that could not)', async () => {
    const { run } = await sweep([], {});
    expect(run.calls[0]?.name).toBe('admitQueuedPlatforms');
  });

  it('stops a Ready platform idle for its idleMinutes', async () => {
    const { run, summary } = await sweep([ready('idle1', 61)], {
      probeOllama: async () => ok({ loadedModels: 0 }),
    });
    expect(run.callsOf('requestPlatformStop').map((c) => c.input)).toEqual([
      { platformId: 'idle1', restop: false },
    ]);
    expect(summary).toMatchObject({ probed: 1, stopped: ['idle1'], active: 0 });
  });

  it('keeps a Ready platform idle for less than its idleMinutes', async () => {
    const { run, summary } = await sweep([ready('fresh1', 59)], {
      probeOllama: async () => ok({ loadedModels: 0 }),
    });
    expect(run.callsOf('requestPlatformStop')).toEqual([]);
    expect(summary.stopped).toEqual([]);
  });

  it('marks a platform with a model loaded as active now, records the use, and does not stop it', async () => {
    const { run, summary } = await sweep([ready('busy1', 500)], {
      probeOllama: async () => ok({ loadedModels: 2 }),
    });
    expect(run.callsOf('requestPlatformStop')).toEqual([]);
    expect(run.callsOf('recordProgress').map((c) => c.input)).toEqual([
      { platformId: 'busy1', lastActiveAt: AT_START, usedAt: AT_START },
    ]);
    expect(summary).toMatchObject({ active: 1, stopped: [] });
  });

  it('starts counting a platform with no baseline yet, without recording it as used', async () => {
    const { run } = await sweep([ready('new1', 0, { lastActiveAt: undefined })], {
      probeOllama: async () => ok({ loadedModels: 0 }),
    });
    expect(run.callsOf('recordProgress').map((c) => c.input)).toEqual([
      { platformId: 'new1', lastActiveAt: AT_START },
    ]);
  });

  it('never stops a platform whose probe failed, and records the failure, counting those in a row', async () => {
    const { run, summary } = await sweep([ready('mute1', 500, { probeFailures: 2 })], {
      probeOllama: async () => refused('transient', 'ServiceUnavailable'),
    });
    expect(run.callsOf('requestPlatformStop')).toEqual([]);
    expect(run.callsOf('recordProgress').map((c) => c.input)).toEqual([
      {
        platformId: 'mute1',
        probeFailure: {
          at: AT_START,
          reason: 'ServiceUnavailable: ServiceUnavailable (stub)',
          consecutive: 3,
        },
      },
    ]);
    expect(summary.probeFailures).toEqual(['mute1']);
  });

  it('completes the stop of a Ready platform whose cluster was stopped outside the API, auto-stop or not', async () => {
    const { run, summary } = await sweep(
      [ready('portal1', 1, { probeFailures: 1 }), ready('portal2', 1, { idleMinutes: 0 })],
      { probeOllama: async () => refused('conflict', 'ClusterStopped') },
    );
    // Never recorded active, never left Ready: the guarded stop moves it to Stopping, then Stopped.
    expect(run.callsOf('requestPlatformStop').map((c) => c.input)).toEqual([
      { platformId: 'portal1', restop: false },
      { platformId: 'portal2', restop: false },
    ]);
    expect(run.callsOf('recordProgress').map((c) => c.input)).toEqual([
      { platformId: 'portal1', probeFailure: null },
    ]);
    expect(summary).toMatchObject({ active: 0, stopped: ['portal1', 'portal2'], probeFailures: [] });
  });

  it('clears the recorded probe failure once the probe answers again', async () => {
    const { run } = await sweep([ready('back1', 10, { probeFailures: 2 })], {
      probeOllama: async () => ok({ loadedModels: 0 }),
    });
    expect(run.callsOf('recordProgress').map((c) => c.input)).toEqual([
      { platformId: 'back1', probeFailure: null },
    ]);
  });

  it('stops again a Stopped platform whose PostgreSQL Azure started by itself, and records its power', async () => {
    const { run, summary } = await sweep([stopped('woke1', 'Stopped')], {
      getPowerStates: async () => ok({ aks: 'Stopped', postgres: 'Ready' }),
    });
    expect(run.callsOf('requestPlatformStop').map((c) => c.input)).toEqual([
      { platformId: 'woke1', restop: true },
    ]);
    expect(run.callsOf('recordProgress').map((c) => c.input.power)).toEqual([
      { aks: 'Stopped', postgres: 'Ready', observedAt: AT_START },
    ]);
    expect(summary).toMatchObject({ restopped: ['woke1'], stopped: [] });
  });

  it('leaves a Stopped platform whose PostgreSQL is stopped alone', async () => {
    const { run } = await sweep([stopped('calm1', 'Stopped')], {
      getPowerStates: async () => ok({ aks: 'Stopped', postgres: 'Stopped' }),
    });
    expect(run.callsOf('requestPlatformStop')).toEqual([]);
    expect(run.callsOf('recordProgress')).toEqual([]);
  });

  it('starts a Stopped platform due for a usual hour (pre-warm) through the guarded start, and lists it', async () => {
    const { run, summary } = await sweep(
      [
        { ...stopped('early1', 'Stopped'), prewarmFor: '2026-01-05T13:00:00.000Z' },
        { ...stopped('raced2', 'Stopped'), prewarmFor: '2026-01-05T13:00:00.000Z' },
        stopped('calm2', 'Stopped'),
      ],
      {
        getPowerStates: async () => ok({ aks: 'Stopped', postgres: 'Stopped' }),
        requestPlatformStart: async ({ platformId }) =>
          platformId === 'raced2' ? refused('conflict', 'PlatformBusy') : ok({ phase: 'Starting' }),
      },
    );
    expect(run.callsOf('requestPlatformStart').map((c) => c.input)).toEqual([
      { platformId: 'early1' },
      { platformId: 'raced2' },
    ]);
    expect(run.callsOf('requestPlatformStop')).toEqual([]);
    expect(run.callsOf('listSweepCandidates').map((c) => c.input)).toEqual([{ at: AT_START }]);
    expect(summary).toMatchObject({ prewarmed: ['early1'], refused: ['raced2'], stopped: [] });
  });

  it('reports a stop that was refused (another operation got there first) as refused, not stopped', async () => {
    const { summary } = await sweep([ready('raced1', 61), ready('idle2', 61)], {
      probeOllama: async () => ok({ loadedModels: 0 }),
      requestPlatformStop: async ({ platformId }) =>
        platformId === 'raced1' ? refused('conflict', 'PlatformBusy') : ok({ phase: 'Stopping' }),
    });
    expect(summary).toMatchObject({ refused: ['raced1'], stopped: ['idle2'] });
  });

  it("runs a batch's writes and stops alongside the next batch's probes, and every platform is counted once", async () => {
    // Three batches of SWEEP_CONCURRENCY (20) and a part one: idle ones to stop, used ones to record.
    const candidates = Array.from({ length: 65 }, (_, i) =>
      i % 2 === 0 ? ready(`idle${i}`, 61) : ready(`used${i}`, 5),
    );
    const { run, summary } = await sweep(candidates, {
      probeOllama: async ({ platformId }) => ok({ loadedModels: platformId.startsWith('used') ? 1 : 0 }),
      recordProgress: async () => undefined,
    });
    const index = (name: string, platformId: string) =>
      run.calls.findIndex(
        (c) => c.name === name && (c.input as { platformId?: string }).platformId === platformId,
      );
    // The second batch's first probe is sent before the first batch's stops and writes.
    expect(index('probeOllama', 'idle20')).toBeLessThan(index('requestPlatformStop', 'idle0'));
    expect(index('probeOllama', 'idle20')).toBeLessThan(index('recordProgress', 'used1'));
    // The last batch's acts still run, after its probes.
    expect(index('requestPlatformStop', 'idle64')).toBeGreaterThan(index('probeOllama', 'idle64'));
    expect(summary).toMatchObject({ probed: 65, active: 32, refused: [] });
    expect(summary.stopped).toEqual(
      candidates.filter((c) => c.platformId.startsWith('idle')).map((c) => c.platformId),
    );
    expect(run.callsOf('recordProgress')).toHaveLength(32);
  });

  describe('the GPU tier (autoStop.gpuIdleMinutes)', () => {
    const idleOllama = { probeOllama: async () => ok({ loadedModels: 0 }) };

    it('releases the GPU tier of a platform idle past gpuIdleMinutes and keeps it Ready (no stop)', async () => {
      const { run, summary } = await sweep([ready('gpu1', 11, { gpuIdleMinutes: 10 })], {
        ...idleOllama,
        releaseGpuTier: async () => ok({ replicas: 0 }),
      });
      expect(run.callsOf('releaseGpuTier').map((c) => c.input)).toEqual([{ platformId: 'gpu1' }]);
      expect(run.callsOf('requestPlatformStop')).toEqual([]);
      expect(summary).toMatchObject({ gpuReleased: ['gpu1'], stopped: [] });
    });

    it('keeps the GPU of a platform idle for less than gpuIdleMinutes, or with the limit off (0)', async () => {
      const { run } = await sweep(
        [ready('gpu2', 9, { gpuIdleMinutes: 10 }), ready('gpu3', 59, { gpuIdleMinutes: 0 })],
        { ...idleOllama, releaseGpuTier: async () => ok({ replicas: 0 }) },
      );
      expect(run.callsOf('releaseGpuTier')).toEqual([]);
      expect(run.callsOf('requestPlatformStop')).toEqual([]);
    });

    it('stops, rather than releases, a platform idle past both limits', async () => {
      const { run, summary } = await sweep([ready('both1', 61, { gpuIdleMinutes: 10 })], {
        ...idleOllama,
        releaseGpuTier: async () => ok({ replicas: 0 }),
      });
      expect(run.callsOf('releaseGpuTier')).toEqual([]);
      expect(summary).toMatchObject({ stopped: ['both1'], gpuReleased: [] });
    });

    it("does not probe Ollama (at zero) of a released platform: reads KEDA's replica count, stops it at the long limit", async () => {
      const { run, summary } = await sweep(
        [
          ready('rel1', 30, { gpuIdleMinutes: 10, gpu: 'released' }),
          ready('rel2', 61, { gpuIdleMinutes: 10, gpu: 'released' }),
          ready('wake1', 500, { gpuIdleMinutes: 10, gpu: 'waking' }),
        ],
        {
          probeOllama: async () => refused('transient', 'ServiceUnavailable'),
          probeGpuTier: async () => ok({ ollamaReplicas: 0 }),
          getPowerStates: async () => ok({ aks: 'Running', postgres: 'Ready' }),
          releaseGpuTier: async () => ok({ replicas: 0 }),
        },
      );
      expect(run.callsOf('probeOllama')).toEqual([]);
      expect(run.callsOf('probeGpuTier')).toHaveLength(2);
      expect(run.callsOf('getPowerStates')).toHaveLength(1);
      expect(run.callsOf('releaseGpuTier')).toEqual([]);
      // No probe failure is recorded for them; the long limit counts from the last use.
      expect(summary).toMatchObject({ stopped: ['rel2'], probeFailures: [], gpuReleased: [], gpuWoken: [] });
    });

    it('records a released tier a held chat woke (KEDA brought Ollama back) as running and in use, its minimum back to one', async () => {
      const { run, summary } = await sweep([ready('chat1', 30, { gpuIdleMinutes: 10, gpu: 'released' })], {
        probeGpuTier: async () => ok({ ollamaReplicas: 1 }),
        startOllama: async () => ok({ replicas: 1 }),
      });
      expect(summary.gpuWoken).toEqual(['chat1']);
      expect(run.callsOf('startOllama')).toHaveLength(1);
      const [update] = run.callsOf('recordProgress').map((c) => c.input) as {
        gpu?: unknown;
        lastActiveAt?: string;
        usedAt?: string;
      }[];
      expect(update).toMatchObject({ gpu: null });
      expect(update!.lastActiveAt).toBeDefined();
      expect(update!.usedAt).toBe(update!.lastActiveAt);
    });

    it('completes the stop of a released platform whose cluster was stopped outside the API', async () => {
      const { summary } = await sweep([ready('rel3', 20, { gpuIdleMinutes: 10, gpu: 'released' })], {
        probeGpuTier: async () => refused('conflict', 'ClusterStopped'),
      });
      expect(summary.stopped).toEqual(['rel3']);
    });
  });
});
