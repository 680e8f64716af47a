import { describe, expect, it } from 'vitest';
import { estimateCost } from '../../src/platform/cost.js';
import { recordUse } from '../../src/platform/prewarm.js';
import { SETTLED_PHASES } from '../../src/platform/phases.js';
import {
  carryModelStates,
  platformStatus,
  platformView,
  publicNames,
  warningsOf,
  type FlowInstance,
} from '../../src/platform/status.js';
import type { PlatformRecord, StepRecord } from '../../src/platform/types.js';
import { makeRecord } from '../support/records.js';

const now = new Date('2026-01-05T12:00:00Z');
const minutesAgo = (n: number) => new Date(now.getTime() - n * 60_000).toISOString();
const tenMinutes = () => 10 * 60_000;
const record = (overrides: Partial<PlatformRecord> = {}) =>
  makeRecord('alpha', { updatedAt: minutesAgo(5), ...overrides });
const running = (name: string, startedMinutesAgo: number): StepRecord => ({
  name,
  state: 'running',
  startedAt: minutesAgo(startedMinutesAgo),
});
const status = (r: PlatformRecord, instance?: FlowInstance) => platformStatus(r, instance, now, tenMinutes);

describe('platform view', () => {
  it('names the platform resources but not its secrets', () => {
    const view = platformView(record());
    expect(view.names).toMatchObject({ aksCluster: 'aks-alpha' });
    expect(view.names).not.toHaveProperty('secrets');
  });

  it('links to the platform and its status', () => {
    expect(platformView(record()).links).toEqual({
      self: '/platforms/alpha',
      status: '/platforms/alpha/status',
    });
  });

  it('public names are every derived name except the secret names', () => {
    const { secrets: _secrets, ...rest } = record().names;
    expect(publicNames(record())).toEqual(rest);
  });
});

describe('platform status', () => {
  it('shows no orchestration when none ever ran', () => {
    expect(status(record()).orchestration).toBeNull();
  });

  it('shows the orchestration it is given, a missing custom status as null', () => {
    const instance: FlowInstance = {
      instanceId: 'alpha',
      name: 'provisionPlatform',
      runtimeStatus: 'Running',
      lastUpdatedTime: minutesAgo(1),
    };
    expect(status(record(), instance).orchestration).toEqual({ ...instance, customStatus: null });
  });

  it('lists the Key Vault secret names, the Hugging Face token only when the request carried one', () => {
    const without = record();
    const withToken = record({ spec: { ...without.spec, huggingFaceToken: true } });
    const secrets = without.names.secrets;
    expect(status(without).credentials.keyVaultSecrets).not.toContain(secrets['huggingface-token']);
    expect(status(withToken).credentials.keyVaultSecrets).toContain(secrets['huggingface-token']);
  });

  it('names where each credential lives: the account, as whom, and its Key Vault secret, never a value', () => {
    const r = record({ spec: { ...record().spec, webui: { replicas: 1, adminEmail: 'ops@example.com' } } });
    const host = `llm-${r.names.aksDnsPrefix}.westeurope.cloudapp.azure.com`;
    const pg = `${r.names.postgresServer}.postgres.database.azure.com`;
    expect(status(r).credentials.accounts).toEqual({
      openWebuiAdmin: {
        url: `https://${host}`,
        user: 'ops@example.com',
        keyVaultSecret: 'platform-alpha-openwebui-admin-password',
      },
      grafanaAdmin: {
        url: `https://${host}/grafana/`,
        user: 'admin',
        keyVaultSecret: 'platform-alpha-grafana-admin-password',
      },
      postgresAdmin: { host: pg, user: 'llmadmin', keyVaultSecret: 'platform-alpha-postgres-admin-password' },
      openWebuiDatabase: {
        host: pg,
        user: 'openwebui',
        keyVaultSecret: 'platform-alpha-openwebui-db-password',
      },
      openWebuiSecretKey: { keyVaultSecret: 'platform-alpha-openwebui-secret-key' },
    });
    // Every secret the platform has is named by exactly one entry, and the Hugging Face token only when given.
    const named = (x: ReturnType<typeof status>) =>
      Object.values(x.credentials.accounts)
        .map((a) => a.keyVaultSecret)
        .sort();
    expect(named(status(r))).toEqual([...status(r).credentials.keyVaultSecrets].sort());
    const withToken = status(record({ spec: { ...r.spec, huggingFaceToken: true } }));
    expect(withToken.credentials.accounts).toMatchObject({
      huggingFaceToken: { keyVaultSecret: 'platform-alpha-huggingface-token' },
    });
    expect(named(withToken)).toEqual([...withToken.credentials.keyVaultSecrets].sort());
    // The default admin address when the request named none.
    expect(status(record()).credentials.accounts.openWebuiAdmin.user).toBe('admin@alpha.local');
  });

  it('a deleted platform whose secrets purge protection keeps lists them, with a warning saying until when', () => {
    const kept = [
      { name: 'platform-alpha-grafana-admin-password', scheduledPurgeDate: '2026-04-05T09:00:00.000Z' },
      { name: 'platform-alpha-openwebui-secret-key', scheduledPurgeDate: '2026-04-05T09:00:01.000Z' },
    ];
    const deleted = status(record({ phase: 'Deleted', softDeletedSecrets: kept }));
    expect(deleted.credentials.softDeleted).toEqual(kept);
    expect(deleted.warnings).toEqual([
      expect.stringMatching(/2 secret\(s\).*until 2026-04-05T09:00:01.000Z/),
    ]);
    expect(status(record({ phase: 'Deleted' })).credentials.softDeleted).toEqual([]);
    expect(status(record({ phase: 'Deleted' })).warnings).toEqual([]);
  });

  it('a Ready platform says when the idle sweep stops it: its idle minutes after its last use', () => {
    const r = record({ phase: 'Ready', lastActiveAt: minutesAgo(20) });
    expect(status(r).autoStop).toEqual({
      idleMinutes: 60,
      gpuIdleMinutes: 10,
      stopsAt: '2026-01-05T12:40:00.000Z',
      gpuReleasesAt: '2026-01-05T11:50:00.000Z',
    });
  });

  describe('tiers and the planned idle actions', () => {
    const withLimits = (autoStop: PlatformRecord['spec']['autoStop'], over: Partial<PlatformRecord> = {}) => {
      const r = record({ phase: 'Ready', lastActiveAt: minutesAgo(5), ...over });
      return { ...r, spec: { ...r.spec, autoStop } };
    };

    it('Ready and running: both tiers run; the GPU release, then the stop, each with its reason', () => {
      const s = status(withLimits({ idleMinutes: 60, gpuIdleMinutes: 10 }));
      expect(s.tiers).toEqual({ platform: { state: 'running' }, gpu: { state: 'running', since: null } });
      expect(s.planned).toEqual([
        {
          action: 'releaseGpu',
          at: '2026-01-05T12:05:00.000Z',
          reason: expect.stringContaining('autoStop.gpuIdleMinutes (10)') as unknown,
        },
        {
          action: 'stop',
          at: '2026-01-05T12:55:00.000Z',
          reason: expect.stringContaining('autoStop.idleMinutes (60)') as unknown,
        },
      ]);
    });

    it('GPU released: the tier says so since when, and only the stop is planned', () => {
      const s = status(
        withLimits(
          { idleMinutes: 60, gpuIdleMinutes: 10 },
          { gpu: { state: 'released', since: minutesAgo(1) } },
        ),
      );
      expect(s.tiers.gpu).toEqual({ state: 'released', since: minutesAgo(1) });
      expect(s.planned.map((p) => p.action)).toEqual(['stop']);
      expect(s.autoStop.gpuReleasesAt).toBeNull();
    });

    it('a wake that has not finished shows waking with its reason', () => {
      const gpu = { state: 'waking', since: minutesAgo(1), error: 'quota: no spot capacity' } as const;
      expect(status(withLimits({ idleMinutes: 60, gpuIdleMinutes: 10 }, { gpu })).tiers.gpu).toEqual(gpu);
    });

    it('limits off, or the long limit first: nothing, or only the stop, is planned', () => {
      expect(status(withLimits({ idleMinutes: 0, gpuIdleMinutes: 0 })).planned).toEqual([]);
      expect(
        status(withLimits({ idleMinutes: 15, gpuIdleMinutes: 30 })).planned.map((p) => p.action),
      ).toEqual(['stop']);
    });

    it('learned pre-warm: the next start (Stopped) or GPU wake (released) 20 minutes before a usual stretch; none when off', () => {
      // Used at 14:10 UTC on the two Mondays before `now` (Monday 2026-01-05 12:00): 14:00 is a usual hour.
      let usage = recordUse(undefined, new Date('2025-12-22T14:10:00Z'));
      usage = recordUse(usage, new Date('2025-12-29T14:10:00Z'));
      const stopped = withLimits({ idleMinutes: 60 }, { phase: 'Stopped', usage });
      expect(status(stopped).planned).toEqual([
        {
          action: 'start',
          at: '2026-01-05T13:40:00.000Z',
          reason: expect.stringContaining('autoStop.prewarm') as unknown,
        },
      ]);
      const released = withLimits(
        { idleMinutes: 600, gpuIdleMinutes: 10 },
        { usage, gpu: { state: 'released', since: minutesAgo(1) } },
      );
      expect(status(released).planned.map((p) => [p.action, p.at])).toEqual([
        ['stop', '2026-01-05T21:55:00.000Z'],
        ['wakeGpu', '2026-01-05T13:40:00.000Z'],
      ]);
      // Off, or the GPU running (nothing to wake): no pre-warm planned.
      expect(
        status(withLimits({ idleMinutes: 60, prewarm: false }, { phase: 'Stopped', usage })).planned,
      ).toEqual([]);
      expect(
        status(withLimits({ idleMinutes: 600, gpuIdleMinutes: 10 }, { usage })).planned.map((p) => p.action),
      ).toEqual(['releaseGpu', 'stop']);
    });

    it('Stopped: both tiers stopped, nothing planned', () => {
      const s = status(withLimits({ idleMinutes: 60 }, { phase: 'Stopped' }));
      expect(s.tiers).toEqual({ platform: { state: 'stopped' }, gpu: { state: 'stopped', since: null } });
      expect(s.planned).toEqual([]);
    });
  });

  it('a Ready platform never used counts from its last update', () => {
    expect(status(record({ phase: 'Ready' })).autoStop.stopsAt).toBe('2026-01-05T12:55:00.000Z');
  });

  it('a platform that is not Ready has no stop time', () => {
    expect(status(record({ phase: 'Stopped', lastActiveAt: minutesAgo(20) })).autoStop.stopsAt).toBeNull();
  });

  it('what was never recorded shows as null', () => {
    expect(status(record())).toMatchObject({
      lastError: null,
      power: null,
      smokeTest: null,
      lastActiveAt: null,
    });
  });

  it("the cost per hour is the estimate's, running, GPU idle and stopped, in US dollars", () => {
    const r = record();
    expect(status(r).costPerHour).toEqual({ currency: 'USD', ...estimateCost(r.spec).perHour });
  });

  it('GPU idle costs what running costs without the GPU nodes above the pool minimum, and more than stopped', () => {
    const spec = record().spec;
    for (const minNodes of [0, 1]) {
      const cost = estimateCost({ ...spec, gpu: { ...spec.gpu, minNodes } });
      const gpu = cost.breakdown.find((l) => l.item.startsWith('AKS GPU pool'))!;
      const gpuPrice = gpu.running / Math.max(1, minNodes);
      expect(cost.perHour.gpuIdle).toBeCloseTo(cost.perHour.running - gpu.running + minNodes * gpuPrice, 3);
      expect(cost.perHour.gpuIdle).toBeGreaterThan(cost.perHour.stopped);
      if (minNodes === 0) expect(cost.perHour.gpuIdle).toBeLessThan(cost.perHour.running);
      // Every other line runs on while the GPU tier is released.
      for (const line of cost.breakdown.filter((l) => l !== gpu)) expect(line.gpuIdle).toBe(line.running);
    }
  });

  it('carries the warnings', () => {
    const r = record({ models: { 'llama3.1:8b': 'failed' } });
    expect(status(r).warnings).toEqual(warningsOf(r, now, tenMinutes));
  });
});

describe('warnings', () => {
  it('a platform without trouble has none', () => {
    expect(warningsOf(record({ phase: 'Ready' }), now, tenMinutes)).toEqual([]);
  });

  it("the flows' own warnings are kept, first", () => {
    const r = record({ warnings: ['Model x runs on the CPU.'], models: { 'llama3.1:8b': 'failed' } });
    expect(warningsOf(r, now, tenMinutes)[0]).toBe('Model x runs on the CPU.');
  });

  it('a model that failed becomes a warning naming it', () => {
    const r = record({ models: { 'llama3.1:8b': 'failed', 'qwen2.5:7b': 'ready' } });
    expect(warningsOf(r, now, tenMinutes)).toEqual([
      'Model llama3.1:8b could not be pulled; the platform serves the others.',
    ]);
  });

  it('a failing idle probe is a warning while the platform is Ready', () => {
    const probeFailure = { at: minutesAgo(3), reason: 'timeout', consecutive: 2 };
    expect(warningsOf(record({ phase: 'Ready', probeFailure }), now, tenMinutes)).toEqual([
      expect.stringMatching(/^The idle probe failed 2 time\(s\) in a row .*timeout/),
    ]);
  });

  it('a failing idle probe is no warning once the platform is not Ready', () => {
    const probeFailure = { at: minutesAgo(3), reason: 'timeout', consecutive: 2 };
    expect(warningsOf(record({ phase: 'Stopping', probeFailure }), now, tenMinutes)).toEqual([]);
  });

  it('a step running past its deadline is a warning while a flow runs', () => {
    const r = record({ phase: 'Provisioning', steps: [running('aksCluster', 25)] });
    expect(warningsOf(r, now, tenMinutes)).toEqual([
      'Step aksCluster has been running for 25 minutes, past its 10-minute deadline.',
    ]);
  });

  it.each(SETTLED_PHASES)('a step left running is no warning in %s, where no flow runs', (phase) => {
    expect(warningsOf(record({ phase, steps: [running('aksCluster', 25)] }), now, tenMinutes)).toEqual([]);
  });

  it('a step within its deadline is no warning', () => {
    const r = record({ phase: 'Provisioning', steps: [running('aksCluster', 9)] });
    expect(warningsOf(r, now, tenMinutes)).toEqual([]);
  });

  it('a finished step is never overdue', () => {
    const step: StepRecord = { ...running('aksCluster', 25), state: 'succeeded', endedAt: minutesAgo(1) };
    expect(warningsOf(record({ phase: 'Provisioning', steps: [step] }), now, tenMinutes)).toEqual([]);
  });

  it('each step is held to its own deadline', () => {
    const deadlines: Record<string, number> = { aksCluster: 60 * 60_000, secrets: 5 * 60_000 };
    const r = record({ phase: 'Provisioning', steps: [running('aksCluster', 25), running('secrets', 25)] });
    expect(warningsOf(r, now, (step) => deadlines[step]!)).toEqual([
      'Step secrets has been running for 25 minutes, past its 5-minute deadline.',
    ]);
  });
});

describe('model states carried over a change', () => {
  it('a model kept in the list keeps its state', () => {
    expect(carryModelStates(['llama3.1:8b'], { 'llama3.1:8b': 'ready' }, [])).toEqual({
      'llama3.1:8b': 'ready',
    });
  });

  it('a model is recognised under another spelling of the same reference', () => {
    expect(carryModelStates(['library/mistral'], { 'mistral:latest': 'ready' }, [])).toEqual({
      'library/mistral': 'ready',
    });
  });

  it('an added model starts pending whatever an earlier state says', () => {
    expect(carryModelStates(['mistral'], { mistral: 'failed' }, ['mistral'])).toEqual({ mistral: 'pending' });
  });

  it('a model without an earlier state starts pending', () => {
    expect(carryModelStates(['mistral'], {}, [])).toEqual({ mistral: 'pending' });
  });

  it('a removed model is dropped', () => {
    expect(carryModelStates(['mistral'], { mistral: 'ready', 'llama3.1:8b': 'ready' }, [])).toEqual({
      mistral: 'ready',
    });
  });
});
