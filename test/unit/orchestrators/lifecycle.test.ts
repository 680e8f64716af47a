/**
 * stopPlatform and startPlatform on stub activities: the order Azure needs (the workloads hold database
 * connections; Open WebUI needs its database when it starts) and the wait AKS asks for between a stop
 * and a start.
 */
import { describe, expect, it } from 'vitest';
import type { ResourceState } from '../../../src/activities/contract.js';
import { ORCHESTRATORS, WAKE_GPU_TIER } from '../../../src/orchestrators/names.js';
import {
  MINUTES,
  ok,
  refused,
  RUN_START,
  runOrchestrator,
  type Finished,
  type Stubs,
} from '../../support/orchestrator.js';
import { PLATFORM, stepsStarted } from './fixtures.js';

/** Each power change is an ARM operation that ends at the second read. */
function powerStubs(): Stubs {
  const reads = new Map<string, number>();
  const begin =
    (resource: string) =>
    async ({ action }: { action: string }) =>
      ok<ResourceState>({
        provisioningState: 'Updating',
        mutated: true,
        operationUrl: `${resource}/${action}`,
      });
  return {
    beginAksClusterPower: begin('aks'),
    beginPostgresServerPower: begin('postgres'),
    getArmOperationStatus: async ({ operationUrl }) => {
      const n = (reads.get(operationUrl) ?? 0) + 1;
      reads.set(operationUrl, n);
      return ok({ status: n < 2 ? 'InProgress' : 'Succeeded' });
    },
    getPowerStates: async () => ok({ aks: 'Running', postgres: 'Ready' }),
    checkPlatformReadiness: async () => ok({ ready: true, detail: '' }),
    startOllama: async () => ok({ replicas: 1 }),
  };
}

/** The power operations in the order they were sent and read, e.g. `begin aks/stop`, `read aks/stop`. */
const powerOperations = (run: Finished) =>
  run.calls.flatMap((c) => {
    if (c.name === 'beginAksClusterPower') return [`begin aks/${c.input.action}`];
    if (c.name === 'beginPostgresServerPower') return [`begin postgres/${c.input.action}`];
    if (c.name === 'getArmOperationStatus') return [`read ${c.input.operationUrl}`];
    return [];
  });

/** An operation sent, then read until it ended (at its second read). */
const followed = (operation: string) => [`begin ${operation}`, `read ${operation}`, `read ${operation}`];

describe('stopPlatform', () => {
  it('a power read that is throttled is waited out: the status records the state the stop left', async () => {
    let reads = 0;
    const run = await runOrchestrator(
      ORCHESTRATORS.stop,
      { platformId: PLATFORM },
      {
        ...powerStubs(),
        getPowerStates: async () =>
          ++reads === 1
            ? refused('throttled', 'TooManyRequests')
            : ok({ aks: 'Stopped', postgres: reads === 2 ? 'Ready' : 'Stopped' }),
      },
    );
    expect(run.runtimeStatus).toBe('Completed');
    const recorded = run.callsOf('recordProgress').flatMap((c) => (c.input.power ? [c.input.power] : []));
    // One record after each power step, each from an answered read (the throttled one is read again).
    expect(recorded.map(({ aks, postgres }) => ({ aks, postgres }))).toEqual([
      { aks: 'Stopped', postgres: 'Ready' },
      { aks: 'Stopped', postgres: 'Stopped' },
    ]);
  });

  it('stops AKS, and waits for it to be stopped, before it stops PostgreSQL', async () => {
    const run = await runOrchestrator(ORCHESTRATORS.stop, { platformId: PLATFORM }, powerStubs());
    expect(run.runtimeStatus).toBe('Completed');
    expect(powerOperations(run)).toEqual([...followed('aks/stop'), ...followed('postgres/stop')]);
    expect(stepsStarted(run)).toEqual(['aksStop', 'postgresStop']);
  });
});

describe('startPlatform', () => {
  it('starts PostgreSQL, and waits for it to be ready, before it starts AKS', async () => {
    const run = await runOrchestrator(
      ORCHESTRATORS.start,
      { platformId: PLATFORM },
      {
        ...powerStubs(),
        getLastStopTime: async () => null,
      },
    );
    expect(run.runtimeStatus).toBe('Completed');
    expect(powerOperations(run)).toEqual([...followed('postgres/start'), ...followed('aks/start')]);
    expect(stepsStarted(run)).toEqual([
      'postgresStart',
      'aksStart',
      'gpuWake',
      'nodesReady',
      'workloadsReady',
      'endpoints',
    ]);
  });

  it('wakes a GPU tier released before the stop: Ollama back to one, recorded running, before the gates', async () => {
    const run = await runOrchestrator(
      ORCHESTRATORS.start,
      { platformId: PLATFORM },
      { ...powerStubs(), getLastStopTime: async () => null },
    );
    expect(run.runtimeStatus).toBe('Completed');
    expect(run.callsOf('startOllama').map((c) => c.input)).toEqual([{ platformId: PLATFORM }]);
    const order = (find: (c: Finished['calls'][number]) => boolean) => run.calls.findIndex(find);
    const woke = order((c) => c.name === 'startOllama');
    const running = order((c) => c.name === 'recordProgress' && c.input.gpu === null);
    const firstGate = order((c) => c.name === 'checkPlatformReadiness');
    expect(woke).toBeGreaterThan(order((c) => c.name === 'beginAksClusterPower'));
    expect(running).toBeGreaterThan(woke);
    expect(firstGate).toBeGreaterThan(running);
  });

  it('a start 5 minutes after the last stop waits on a durable timer until 15 minutes after it', async () => {
    const stoppedAt = RUN_START - 5 * MINUTES;
    const run = await runOrchestrator(
      ORCHESTRATORS.start,
      { platformId: PLATFORM },
      {
        ...powerStubs(),
        getLastStopTime: async () => new Date(stoppedAt).toISOString(),
      },
    );
    expect(run.runtimeStatus).toBe('Completed');
    expect(stepsStarted(run)[0]).toBe('waitAfterStop');
    expect(run.timers[0]!.at).toBe(10 * MINUTES);
    expect(run.callsOf('beginPostgresServerPower')[0]!.at).toBe(10 * MINUTES);
  });

  it('a start more than 15 minutes after the last stop starts at once', async () => {
    const run = await runOrchestrator(
      ORCHESTRATORS.start,
      { platformId: PLATFORM },
      {
        ...powerStubs(),
        getLastStopTime: async () => new Date(RUN_START - 16 * MINUTES).toISOString(),
      },
    );
    expect(stepsStarted(run)).not.toContain('waitAfterStop');
    expect(run.callsOf('beginPostgresServerPower')[0]!.at).toBe(0);
  });
});

describe('wakeGpuTier', () => {
  it('scales Ollama back to one, waits for the GPU node and the workloads, then records the tier running and the wake as use', async () => {
    const checks: string[] = [];
    const run = await runOrchestrator(
      WAKE_GPU_TIER,
      { platformId: PLATFORM },
      {
        startOllama: async () => ok({ replicas: 1 }),
        checkPlatformReadiness: async ({ check }) => {
          checks.push(check);
          // The GPU node comes at the third read (the autoscaler starts the deallocated VM).
          return ok({ ready: check !== 'gpu' || checks.length >= 3, detail: 'no GPU node yet' });
        },
      },
      { instanceId: `${PLATFORM}:wake` },
    );
    expect(run.runtimeStatus).toBe('Completed');
    expect(run.callsOf('startOllama')).toHaveLength(1);
    expect(checks).toEqual(['gpu', 'gpu', 'gpu', 'workloads']);
    const recorded = run.callsOf('recordProgress').map((c) => c.input);
    // The timeline and the phase are not touched: the platform stays Ready.
    expect(recorded).toEqual([
      { platformId: PLATFORM, gpu: null, lastActiveAt: expect.any(String) as unknown },
    ]);
  });

  it("a throttled readiness check (the cluster's credentials read from AKS's budget) waits the Retry-After Azure asked for", async () => {
    let reads = 0;
    const run = await runOrchestrator(
      WAKE_GPU_TIER,
      { platformId: PLATFORM },
      {
        startOllama: async () => ok({ replicas: 1 }),
        checkPlatformReadiness: async () =>
          ++reads === 1 ? refused('throttled', 'TooManyRequests', 40_000) : ok({ ready: true, detail: '' }),
      },
      { instanceId: `${PLATFORM}:wake` },
    );
    expect(run.runtimeStatus).toBe('Completed');
    const at = run.callsOf('checkPlatformReadiness').map((c) => c.at);
    // Not the kubernetes policy's first 5 s: Azure's 40 s.
    expect(at[1]! - at[0]!).toBe(40_000);
  });

  it('a GPU node that does not come (spot capacity) leaves the tier waking with the reason', async () => {
    const run = await runOrchestrator(
      WAKE_GPU_TIER,
      { platformId: PLATFORM },
      {
        startOllama: async () => ok({ replicas: 1 }),
        checkPlatformReadiness: async () => refused('quota', 'NotTriggerScaleUp'),
      },
      { instanceId: `${PLATFORM}:wake` },
    );
    expect(run.runtimeStatus).toBe('Completed');
    expect(run.callsOf('recordProgress').map((c) => c.input)).toEqual([
      {
        platformId: PLATFORM,
        gpu: {
          state: 'waking',
          since: expect.any(String) as unknown,
          error: 'NotTriggerScaleUp: NotTriggerScaleUp (stub)',
        },
      },
    ]);
  });
});

describe('teardownPlatform', () => {
  const teardown = (softDeleted: { name: string; scheduledPurgeDate: string }[]) =>
    runOrchestrator(
      ORCHESTRATORS.delete,
      { platformId: PLATFORM },
      {
        beginResourceGroupDelete: async () =>
          ok<ResourceState>({ provisioningState: 'Succeeded', mutated: true }),
        purgePlatformSecrets: async () => ok({ purged: [], softDeleted }),
      },
      { instanceId: `${PLATFORM}:teardown` },
    );

  it('purge protection keeping secrets soft-deleted ends Deleted, with the secrets and their purge dates recorded', async () => {
    const kept = [
      { name: 'platform-team1-grafana-admin-password', scheduledPurgeDate: '2026-04-05T09:00:00.000Z' },
    ];
    const run = await teardown(kept);
    expect(run.runtimeStatus).toBe('Completed');
    const updates = run.callsOf('recordProgress').map((c) => c.input);
    expect(updates.filter((u) => u.softDeletedSecrets)).toEqual([
      { platformId: PLATFORM, softDeletedSecrets: kept },
    ]);
    expect(updates.at(-1)?.phase).toBe('Deleted');
  });

  it('nothing kept: no soft-deleted secrets recorded', async () => {
    const run = await teardown([]);
    expect(run.runtimeStatus).toBe('Completed');
    expect(run.callsOf('recordProgress').some((c) => c.input.softDeletedSecrets)).toBe(false);
  });

  it('once Deleted, admits the platforms queued for the room it frees; a failed admission pass does not fail the delete', async () => {
    const run = await teardown([]);
    expect(run.callsOf('admitQueuedPlatforms')).toHaveLength(1);
    expect(run.calls.map((c) => c.name).indexOf('admitQueuedPlatforms')).toBeGreaterThan(
      run.calls.findLastIndex((c) => c.name === 'recordProgress' && c.input.phase === 'Deleted'),
    );
    const failing = await runOrchestrator(
      ORCHESTRATORS.delete,
      { platformId: PLATFORM },
      {
        beginResourceGroupDelete: async () =>
          ok<ResourceState>({ provisioningState: 'Succeeded', mutated: true }),
        purgePlatformSecrets: async () => ok({ purged: [], softDeleted: [] }),
        admitQueuedPlatforms: async () => refused('transient', 'QueueAdmissionFailed'),
      },
      { instanceId: `${PLATFORM}:teardown` },
    );
    expect(failing.runtimeStatus).toBe('Completed');
    expect(failing.output).toMatchObject({ phase: 'Deleted' });
  });
});
