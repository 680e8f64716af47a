/**
 * provisionPlatform on stub activities: a refusal at each step of the Azure half fails the platform naming
 * the step and Azure's code, the resources are created in parallel, and the in-cluster half runs its
 * stages and gates in order before Ready.
 */
import { describe, expect, it } from 'vitest';
import type { Failure, OperationStatus, ResourceState } from '../../../src/activities/contract.js';
import { ORCHESTRATORS } from '../../../src/orchestrators/names.js';
import { AZURE_RESOURCE_NAMES, type AzureResourceName } from '../../../src/platform/azure-resources.js';
import { PROVISION_ORDER } from '../../../src/platform/steps.js';
import type { PlatformSpec } from '../../../src/platform/types.js';
import { ok, refused, RUN_START, runOrchestrator, type Stubs } from '../../support/orchestrator.js';
import {
  azureStubs,
  clusterStubs,
  failure,
  phases,
  PLATFORM,
  spec,
  stepEnded,
  stepsStarted,
  succeeded,
} from './fixtures.js';

const provision = (stubs: Stubs, platform: PlatformSpec = spec()) =>
  runOrchestrator(
    ORCHESTRATORS.provision,
    { platformId: PLATFORM },
    {
      ...clusterStubs(platform),
      ...azureStubs(platform),
      ...stubs,
    },
  );

/** A begin activity that refuses the resources `matches` picks and creates the others. */
const refusing =
  <I>(matches: (input: I) => boolean, refusal: Failure) =>
  async (input: I) =>
    matches(input) ? refusal : ok(succeeded);

/** Every resource of the table accepted, its operation read until its `readsUntilDone`-th read succeeds. */
function creating(readsUntilDone: Record<AzureResourceName, number>): Stubs {
  const reads = new Map<string, number>();
  return {
    beginAzureResource: async ({ kind }) =>
      ok<ResourceState>({ provisioningState: 'Creating', mutated: true, operationUrl: kind }),
    getArmOperationStatus: async ({ operationUrl }) => {
      const n = (reads.get(operationUrl) ?? 0) + 1;
      reads.set(operationUrl, n);
      const done = n >= readsUntilDone[operationUrl as AzureResourceName];
      return ok<OperationStatus>({ status: done ? 'Succeeded' : 'InProgress' });
    },
  };
}

/** One refusal per step of the Azure half, as the activity of that step answers it. */
const REFUSALS: { step: string; code: string; stubs: Stubs }[] = [
  {
    step: 'resourceGroup',
    code: 'InvalidResourceGroupLocation',
    stubs: { ensureResourceGroup: async () => refused('invalid', 'InvalidResourceGroupLocation') },
  },
  {
    step: 'secrets',
    code: 'Forbidden',
    stubs: { ensurePlatformSecrets: async () => refused('invalid', 'Forbidden') },
  },
  {
    step: 'aksCluster',
    code: 'QuotaExceeded',
    stubs: {
      beginAzureResource: refusing(({ kind }) => kind === 'aksCluster', refused('quota', 'QuotaExceeded')),
    },
  },
  {
    step: 'aksMaintenanceWindow',
    code: 'InvalidParameter',
    stubs: { ensureAksMaintenanceWindow: async () => refused('invalid', 'InvalidParameter') },
  },
  {
    step: 'postgresServer',
    code: 'InternalServerError',
    stubs: {
      beginAzureResource: async ({ kind }) =>
        ok<ResourceState>({ provisioningState: 'Creating', mutated: true, operationUrl: `op/${kind}` }),
      getArmOperationStatus: async ({ operationUrl }) =>
        ok<OperationStatus>(
          operationUrl === 'op/postgresServer'
            ? { status: 'Failed', error: { code: 'InternalServerError', message: 'Provisioning failed.' } }
            : { status: 'Succeeded' },
        ),
    },
  },
  {
    step: 'storageAccount',
    code: 'StorageAccountAlreadyTaken',
    stubs: {
      beginAzureResource: refusing(
        ({ kind }) => kind === 'storageAccount',
        refused('conflict', 'StorageAccountAlreadyTaken'),
      ),
    },
  },
  {
    step: 'postgresSettings',
    code: 'InvalidParameterValue',
    stubs: {
      ensurePostgresChild: refusing(
        ({ child }) => child.kind === 'configuration',
        refused('invalid', 'InvalidParameterValue'),
      ),
    },
  },
  {
    step: 'postgresFirewall',
    code: 'InvalidParameterValue',
    stubs: {
      ensurePostgresChild: refusing(
        ({ child }) => child.kind === 'firewallRule',
        refused('invalid', 'InvalidParameterValue'),
      ),
    },
  },
  {
    step: 'fileShares',
    code: 'InvalidHeaderValue',
    stubs: { ensureFileShares: async () => refused('invalid', 'InvalidHeaderValue') },
  },
  {
    // The API's identity may not write role assignments (it needs more than Contributor).
    step: 'clusterAccess',
    code: 'AuthorizationFailed',
    stubs: { ensureClusterAccess: async () => refused('invalid', 'AuthorizationFailed') },
  },
];

describe('the Azure half of provisioning', () => {
  it.each(REFUSALS.map((r) => [r.step, r] as const))(
    'a refusal at %s makes the platform Failed naming the step and Azure’s code',
    async (_, { step, code, stubs }) => {
      const run = await provision(stubs);
      expect(run.runtimeStatus).toBe('Failed');
      expect(failure(run)).toMatchObject({ step, code });
      expect(stepEnded(run, step)).toMatchObject({ state: 'failed', error: { code } });
      expect(phases(run).at(-1)).toBe('Failed');
      // Nothing of the in-cluster half runs on a platform that failed.
      expect(run.callsOf('applyPlatformManifests')).toEqual([]);
    },
  );

  it('a failed provisioning’s custom status names the phase and the step that failed', async () => {
    const { stubs } = REFUSALS.find((r) => r.step === 'fileShares')!;
    const run = await provision(stubs);
    expect(run.customStatus).toMatchObject({ phase: 'Failed', step: 'fileShares' });
  });

  it('an AKS quota refusal on a spot platform carries the spot hint', async () => {
    const { stubs } = REFUSALS.find((r) => r.step === 'aksCluster')!;
    const platform = spec({ gpu: { ...spec().gpu, spot: true } });
    const run = await provision(stubs, platform);
    expect(failure(run)!.message).toMatch(/spot GPU pool could not be allocated.*"spot": false/);
  });

  it('an AKS quota refusal on a regular platform carries no spot hint', async () => {
    const { stubs } = REFUSALS.find((r) => r.step === 'aksCluster')!;
    const run = await provision(stubs);
    expect(failure(run)).toMatchObject({ step: 'aksCluster', code: 'QuotaExceeded' });
    expect(failure(run)!.message).not.toMatch(/spot/);
  });

  it.each([
    ['OverconstrainedAllocationRequest', 'Allocation failed.'],
    ['SkuNotAvailable', 'The requested VM size is currently not available.'],
    [
      'OperationNotAllowed',
      'Operation could not be completed as it results in exceeding approved Standard NCASv3_T4 Family Cores quota.',
    ],
  ])(
    'the AKS operation failing with %s (the cause AKS nests in details[]) is a quota failure with the spot hint',
    async (code, message) => {
      const run = await provision(
        {
          beginAzureResource: async ({ kind }) =>
            ok<ResourceState>({ provisioningState: 'Creating', mutated: true, operationUrl: `op/${kind}` }),
          getArmOperationStatus: async ({ operationUrl }) =>
            ok<OperationStatus>(
              operationUrl === 'op/aksCluster'
                ? // The activity reports the innermost cause, classified (table-tested in azure-errors.test.ts).
                  { status: 'Failed', error: { code, message, kind: 'quota' } }
                : { status: 'Succeeded' },
            ),
        },
        spec({ gpu: { ...spec().gpu, spot: true } }),
      );
      expect(run.runtimeStatus).toBe('Failed');
      expect(failure(run)).toMatchObject({ step: 'aksCluster', code });
      expect(failure(run)!.message).toContain(message);
      expect(failure(run)!.message).toMatch(/spot GPU pool could not be allocated.*"spot": false/);
      expect(stepEnded(run, 'aksCluster')).toMatchObject({ state: 'failed', error: { code, message } });
    },
  );

  it('creates every resource of the table in parallel: all start before any ends', async () => {
    // Storage ends at its second read, the server at its third, the cluster at its fifth (a backoff apart).
    const run = await provision(creating({ aksCluster: 5, postgresServer: 3, storageAccount: 2 }));
    expect(run.runtimeStatus).toBe('Completed');
    const begun = run.callsOf('beginAzureResource');
    expect(begun.map((c) => c.input.kind).sort()).toEqual([...AZURE_RESOURCE_NAMES].sort());
    const ends = AZURE_RESOURCE_NAMES.map((s) => Date.parse(stepEnded(run, s)!.endedAt!));
    const starts = AZURE_RESOURCE_NAMES.map((s) =>
      Date.parse(run.callsOf('recordProgress').find((c) => c.input.step?.name === s)!.input.step!.startedAt!),
    );
    expect(Math.max(...starts)).toBeLessThan(Math.min(...ends));
    expect(new Set(begun.map((c) => c.at)).size).toBe(1);
    // Each in its own sub-orchestration.
    expect(new Set(begun.map((c) => c.instanceId)).size).toBe(AZURE_RESOURCE_NAMES.length);
  });
});

describe("the cluster's maintenance window", () => {
  it('is written once the cluster exists, in its sub-orchestration, while PostgreSQL is still being created', async () => {
    // The server ends at its sixth read, the cluster at its second: the window comes in between.
    const run = await provision(creating({ aksCluster: 2, postgresServer: 6, storageAccount: 1 }));
    expect(run.runtimeStatus).toBe('Completed');
    const [written] = run.callsOf('ensureAksMaintenanceWindow');
    // The run's own write of the cluster just ended: the window is written without a read first.
    expect(written!.input).toEqual({ platformId: PLATFORM, clusterWritten: true });
    const clusterBegin = run.callsOf('beginAzureResource').find((c) => c.input.kind === 'aksCluster')!;
    expect(written!.instanceId).toBe(clusterBegin.instanceId);
    expect(written!.at).toBeGreaterThanOrEqual(
      Date.parse(stepEnded(run, 'aksCluster')!.endedAt!) - RUN_START,
    );
    expect(written!.at).toBeLessThan(Date.parse(stepEnded(run, 'postgresServer')!.endedAt!) - RUN_START);
    expect(stepEnded(run, 'aksMaintenanceWindow')).toMatchObject({ state: 'succeeded' });
    expect(run.callsOf('ensureAksMaintenanceWindow')).toHaveLength(1);
  });

  it('a cluster that was already there (a retry): the window is read before it is written', async () => {
    const run = await provision({ beginAzureResource: async () => ok({ ...succeeded, mutated: false }) });
    expect(run.runtimeStatus).toBe('Completed');
    expect(run.callsOf('ensureAksMaintenanceWindow').map((c) => c.input)).toEqual([{ platformId: PLATFORM }]);
  });

  it('a busy refusal (the cluster upgrading) is waited out, then the window is written', async () => {
    let calls = 0;
    const run = await provision({
      ensureAksMaintenanceWindow: async () =>
        ++calls <= 3 ? refused('busy', 'OperationNotAllowed', 60_000) : ok(succeeded),
    });
    expect(run.runtimeStatus).toBe('Completed');
    expect(run.callsOf('ensureAksMaintenanceWindow')).toHaveLength(4);
  });
});

describe("the API's access to the cluster (Entra ID, Azure RBAC, no local accounts)", () => {
  it('grants the role before the cluster is created, then waits on durable timers until the API server honours it, before any apply', async () => {
    let accessReads = 0;
    const run = await provision({
      // 403 (the role assignment not propagated yet) twice, then access.
      checkPlatformReadiness: async ({ check }) =>
        check === 'access'
          ? ok({ ready: ++accessReads > 2, detail: 'waiting for the role assignment to take effect' })
          : ok({ ready: true, detail: '' }),
    });
    expect(run.runtimeStatus).toBe('Completed');
    const names = run.calls.map((c) =>
      c.name === 'checkPlatformReadiness' ? `check:${c.input.check}` : c.name,
    );
    const grant = names.indexOf('ensureClusterAccess');
    const firstAccess = names.indexOf('check:access');
    const lastAccess = names.lastIndexOf('check:access');
    // Granted before the cluster is created (it propagates meanwhile), waited for before the first apply.
    expect(grant).toBeGreaterThan(names.indexOf('ensurePlatformSecrets'));
    expect(grant).toBeLessThan(names.indexOf('beginAzureResource'));
    expect(firstAccess).toBeGreaterThan(names.indexOf('ensureFileShares'));
    expect(names.filter((n) => n === 'check:access')).toHaveLength(3);
    expect(names.indexOf('applyPlatformManifests')).toBeGreaterThan(lastAccess);
    expect(run.timers.length).toBeGreaterThanOrEqual(2);
    expect(stepEnded(run, 'clusterAccessReady')).toMatchObject({ state: 'succeeded' });
  });

  it('fails clusterAccessReady as a timeout when the grant never takes effect', async () => {
    const run = await provision({
      checkPlatformReadiness: async ({ check }) =>
        ok({ ready: check !== 'access', detail: 'waiting for the role assignment to take effect' }),
    });
    expect(run.runtimeStatus).toBe('Failed');
    expect(failure(run)).toMatchObject({ step: 'clusterAccessReady' });
    expect(run.callsOf('applyPlatformManifests')).toEqual([]);
  });
});

describe('the in-cluster half of provisioning', () => {
  it('applies the stages in order, each Job awaited, then the gates, the first model and the smoke test, then Ready', async () => {
    const run = await provision({});
    expect(run.runtimeStatus).toBe('Completed');
    const started = stepsStarted(run);
    // The order the catalogue documents (ARCHITECTURE.md and the benchmarks read it).
    const inCluster = PROVISION_ORDER.slice(
      PROVISION_ORDER.findIndex((row) => row.includes('fileShares')) + 1,
    );
    expect(started.slice(started.indexOf('fileShares') + 1)).toEqual(inCluster.flat());
    expect(run.callsOf('applyPlatformManifests').map((c) => c.input.stage)).toEqual([
      'database',
      'migration',
      'workloads',
    ]);
    // Each stage's Job is the one the stage's apply named.
    expect(
      run
        .callsOf('checkPlatformReadiness')
        .flatMap((c) => (c.input.check === 'job' ? [c.input.job?.name] : [])),
    ).toEqual(['database-job', 'migration-job']);
    expect(phases(run)).toEqual(['Provisioning', 'Configuring', 'Ready']);
    const readyAt = run.calls.findIndex((c) => c.name === 'recordProgress' && c.input.phase === 'Ready');
    const smokeAt = run.calls.findIndex((c) => c.name === 'runSmokeTest');
    expect(smokeAt).toBeGreaterThan(-1);
    expect(readyAt).toBeGreaterThan(smokeAt);
    expect(run.output).toEqual({ platformId: PLATFORM, phase: 'Ready' });
    expect(run.customStatus).toMatchObject({ phase: 'Ready', step: null });
  });

  it('a smoke test answered on the CPU becomes a warning, and the platform is still Ready', async () => {
    const run = await provision({
      runSmokeTest: async ({ model }) => ok({ model, tokensPerSecond: 3, onGpu: false }),
    });
    expect(run.runtimeStatus).toBe('Completed');
    const warnings = run.callsOf('recordProgress').find((c) => c.input.warnings)!.input.warnings!;
    expect(warnings).toEqual([expect.stringMatching(/^phi3\.5 runs on the CPU, not the GPU/)]);
    expect(phases(run).at(-1)).toBe('Ready');
  });

  /** The gpu check waits twice, then the autoscaler's refusal to add the GPU node (the activity's answer). */
  const gpuRefused = (): Stubs => {
    let reads = 0;
    return {
      checkPlatformReadiness: async ({ check }) =>
        check !== 'gpu'
          ? ok({ ready: true, detail: '' })
          : ++reads < 3
            ? ok({ ready: false, detail: 'waiting for a GPU node (pod triggered scale-up)' })
            : refused('quota', 'GpuScaleUpRefused'),
    };
  };

  it('the autoscaler refusing the GPU node fails gpuNode at once, with the spot hint on a spot platform', async () => {
    const run = await provision(gpuRefused(), spec({ gpu: { ...spec().gpu, spot: true } }));
    expect(run.runtimeStatus).toBe('Failed');
    expect(failure(run)).toMatchObject({ step: 'gpuNode', code: 'GpuScaleUpRefused' });
    expect(failure(run)!.message).toMatch(/spot GPU pool could not be allocated.*"spot": false/);
    expect(stepEnded(run, 'gpuNode')).toMatchObject({ state: 'failed' });
    // No third reading after the refusal: the step does not wait for its deadline.
    expect(run.callsOf('checkPlatformReadiness').filter((c) => c.input.check === 'gpu')).toHaveLength(3);
  });

  it('the autoscaler refusing the GPU node on a regular platform fails gpuNode without the spot hint', async () => {
    const run = await provision(gpuRefused(), spec({ gpu: { ...spec().gpu, spot: false } }));
    expect(failure(run)).toMatchObject({ step: 'gpuNode', code: 'GpuScaleUpRefused' });
    expect(failure(run)!.message).not.toMatch(/spot/);
  });

  it('a smoke test answered on the GPU leaves no warning', async () => {
    const run = await provision({});
    expect(run.callsOf('recordProgress').find((c) => c.input.warnings)!.input.warnings).toEqual([]);
  });
});
