/**
 * updatePlatform and wipePlatform on stub activities: an update runs only what its change touches, a wipe
 * stops Open WebUI before the database goes and runs the stages' Jobs again.
 */
import { describe, expect, it } from 'vitest';
import { ORCHESTRATORS } from '../../../src/orchestrators/names.js';
import { choosePostgresSku } from '../../../src/platform/sizing.js';
import type { PlatformChange } from '../../../src/platform/types.js';
import { ok, runOrchestrator, type Stubs } from '../../support/orchestrator.js';
import { clusterStubs, phases, PLATFORM, spec, stepsStarted, succeeded } from './fixtures.js';

const APPLY = ['applyDatabase', 'databaseSetup', 'applyMigration', 'databaseMigration', 'applyWorkloads'];

const update = (change: Partial<PlatformChange>) =>
  runOrchestrator(
    ORCHESTRATORS.update,
    { platformId: PLATFORM, change: { addedModels: [], removedModels: [], ...change } },
    { ...clusterStubs(), beginAzureResource: async () => ok(succeeded) },
  );

describe('updatePlatform runs only what the change touches', () => {
  it('models added: the file shares, the stages, the workloads, then the pulls of the new models', async () => {
    const run = await update({ addedModels: ['llama3.2:1b'] });
    expect(run.runtimeStatus).toBe('Completed');
    expect(stepsStarted(run)).toEqual(['fileShares', ...APPLY, 'workloadsReady', 'models']);
    expect(phases(run)).toEqual(['Updating', 'Ready']);
  });

  it('models removed: removed from Ollama, then the stages and the workloads; no share, no pulls', async () => {
    const run = await update({ removedModels: ['llama3.2:1b'] });
    expect(stepsStarted(run)).toEqual(['modelsRemove', ...APPLY, 'workloadsReady']);
    expect(run.callsOf('deleteOllamaModels').map((c) => c.input)).toEqual([
      { platformId: PLATFORM, models: ['llama3.2:1b'] },
    ]);
  });

  it('more replicas than the PostgreSQL SKU serves: the server is resized BEFORE the stages are applied', async () => {
    expect(choosePostgresSku(2).name).not.toBe(choosePostgresSku(1).name);
    const run = await update({ replicas: { from: 1, to: 2 } });
    expect(stepsStarted(run)).toEqual(['postgresResize', ...APPLY, 'workloadsReady']);
    expect(run.callsOf('beginAzureResource').map((c) => c.input)).toEqual([
      { platformId: PLATFORM, kind: 'postgresServer' },
    ]);
  });

  it('fewer replicas that fit a smaller SKU: the server is resized only AFTER the workloads are ready', async () => {
    const run = await update({ replicas: { from: 2, to: 1 } });
    expect(stepsStarted(run)).toEqual([...APPLY, 'workloadsReady', 'postgresResize']);
  });

  it('replicas within the same SKU: no resize', async () => {
    expect(choosePostgresSku(4).name).toBe(choosePostgresSku(2).name);
    const run = await update({ replicas: { from: 2, to: 4 } });
    expect(stepsStarted(run)).toEqual([...APPLY, 'workloadsReady']);
    expect(run.callsOf('beginAzureResource')).toEqual([]);
  });

  it('a model that cannot be pulled is recorded as failed, and the platform is Ready', async () => {
    const platform = spec({ models: ['phi3.5', 'nosuch:7b'] });
    const run = await runOrchestrator(
      ORCHESTRATORS.update,
      { platformId: PLATFORM, change: { addedModels: ['nosuch:7b'], removedModels: [] } },
      {
        ...clusterStubs(platform),
        getModelReport: async () => ok({ ready: ['phi3.5'], failed: ['nosuch:7b'], preloadFinished: true }),
      },
    );
    expect(run.runtimeStatus).toBe('Completed');
    expect(run.callsOf('recordProgress').find((c) => c.input.models)!.input.models).toEqual({
      'phi3.5': 'ready',
      'nosuch:7b': 'failed',
    });
    expect(phases(run).at(-1)).toBe('Ready');
  });
});

describe('wipePlatform', () => {
  const wipeStubs = (): Stubs => ({
    ...clusterStubs(),
    stopOpenWebui: async () => ok({ replicas: 0 }),
    startOpenWebui: async () => ok({ replicas: 2 }),
    startWebuiDataWipe: async () => ok({ namespace: 'llm', name: 'webui-wipe' }),
    beginPostgresDatabaseDelete: async () => ok(succeeded),
    ensurePostgresChild: async () => ok(succeeded),
  });

  it('stops Open WebUI, and waits until no pod runs, before it drops the database', async () => {
    const run = await runOrchestrator(ORCHESTRATORS.wipe, { platformId: PLATFORM }, wipeStubs());
    expect(run.runtimeStatus).toBe('Completed');
    const order = run.calls
      .map((c) =>
        c.name === 'checkPlatformReadiness'
          ? `check ${c.input.check}`
          : c.name === 'recordProgress'
            ? ''
            : c.name,
      )
      .filter(Boolean);
    expect(order.slice(0, 6)).toEqual([
      'stopOpenWebui',
      'check webuiStopped',
      'startWebuiDataWipe',
      'check job',
      'beginPostgresDatabaseDelete',
      'ensurePostgresChild',
    ]);
    expect(stepsStarted(run)).toEqual([
      'webuiStop',
      'webuiStopped',
      'webuiDataWipe',
      'databaseDrop',
      'databaseCreate',
      ...APPLY,
      'webuiStart',
      'workloadsReady',
    ]);
    // Open WebUI is scaled back up only after the migration Job made the new database's schema.
    const at = (name: string) => order.lastIndexOf(name);
    expect(at('startOpenWebui')).toBeGreaterThan(at('applyPlatformManifests'));
    expect(at('startOpenWebui')).toBeLessThan(order.lastIndexOf('check workloads'));
  });

  it('applies every stage again with rerunJobs, so the setup and migration Jobs run on the new database', async () => {
    const run = await runOrchestrator(ORCHESTRATORS.wipe, { platformId: PLATFORM }, wipeStubs());
    expect(run.callsOf('applyPlatformManifests').map((c) => c.input)).toEqual(
      ['database', 'migration', 'workloads'].map((stage) => ({
        platformId: PLATFORM,
        stage,
        rerunJobs: true,
      })),
    );
  });

  it('keeps waiting while an Open WebUI pod still runs, and drops the database only once none does', async () => {
    let checks = 0;
    const run = await runOrchestrator(
      ORCHESTRATORS.wipe,
      { platformId: PLATFORM },
      {
        ...wipeStubs(),
        checkPlatformReadiness: async ({ check }) =>
          check === 'webuiStopped' && ++checks < 3
            ? ok({ ready: false, detail: 'open-webui-0 still running' })
            : ok({ ready: true, detail: '' }),
      },
    );
    expect(checks).toBe(3);
    const lastCheck = run.calls.findLastIndex(
      (c) => c.name === 'checkPlatformReadiness' && c.input.check === 'webuiStopped',
    );
    expect(run.calls.findIndex((c) => c.name === 'beginPostgresDatabaseDelete')).toBeGreaterThan(lastCheck);
    // The checks were a backoff apart: the wait is durable time, not a busy loop.
    expect(run.calls[lastCheck]!.at).toBeGreaterThan(0);
  });
});
