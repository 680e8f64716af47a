/** A platform, happy-path stubs for each half of its flows, and readers of what the flows recorded. */
import type { ProgressUpdate, ResourceState } from '../../../src/activities/contract.js';
import type { PlatformSpec } from '../../../src/platform/types.js';
import { ok, type Finished, type Stubs } from '../../support/orchestrator.js';
import { makeRecord } from '../../support/records.js';

export const PLATFORM = 'team1';

export const spec = (change: Partial<PlatformSpec> = {}): PlatformSpec => {
  const base = makeRecord(PLATFORM).spec;
  return {
    ...base,
    models: ['phi3.5', 'llama3.2:1b'],
    gpu: { ...base.gpu, spot: false },
    webui: { replicas: 1 },
    ...change,
  };
};

export const succeeded: ResourceState = { provisioningState: 'Succeeded', mutated: true };

/** The Azure half of provisioning: every resource is there at once. */
export const azureStubs = (platform = spec()): Stubs => ({
  getPlatformSpec: async () => platform,
  ensureResourceGroup: async () => ok(succeeded),
  ensurePlatformSecrets: async () => ok({ created: ['postgres-admin'], recovered: [] }),
  beginAzureResource: async () => ok(succeeded),
  ensurePostgresChild: async () => ok(succeeded),
  getAksOutboundIps: async () => ok({ ips: ['20.1.2.3'], clusterId: 'aks' }),
  ensureAksMaintenanceWindow: async () => ok(succeeded),
  ensureClusterAccess: async () => ok(succeeded),
  ensureFileShares: async () => ok({ mutated: true }),
});

/** The in-cluster half: every stage but the last waits for its Job, every check holds, every model pulls. */
export const clusterStubs = (platform = spec()): Stubs => ({
  getPlatformSpec: async () => platform,
  applyPlatformManifests: async ({ stage }) =>
    ok({
      applied: 4,
      ...(stage === 'workloads' ? {} : { waitFor: { namespace: 'llm', name: `${stage}-job` } }),
    }),
  checkPlatformReadiness: async () => ok({ ready: true, detail: '' }),
  getModelReport: async () => ok({ ready: platform.models, failed: [], preloadFinished: true }),
  runSmokeTest: async ({ model }) => ok({ model, tokensPerSecond: 40, onGpu: true }),
  getPowerStates: async () => ok({ aks: 'Running', postgres: 'Ready' }),
  deleteOllamaModels: async ({ models }) => ok({ deleted: models }),
  ensureFileShares: async () => ok({ mutated: true }),
});

const progress = (run: Finished): ProgressUpdate[] => run.callsOf('recordProgress').map((c) => c.input);

/** The steps in the order they started. */
export const stepsStarted = (run: Finished) =>
  progress(run).flatMap((u) => (u.step?.state === 'running' ? [u.step.name] : []));

export const phases = (run: Finished) => progress(run).flatMap((u) => (u.phase ? [u.phase] : []));

/** What the flow recorded when it marked the platform Failed. */
export const failure = (run: Finished) => progress(run).find((u) => u.phase === 'Failed')?.lastError;

/** The step's record as it ended (succeeded or failed). */
export const stepEnded = (run: Finished, name: string) =>
  progress(run).find((u) => u.step?.name === name && u.step.state !== 'running')?.step;
