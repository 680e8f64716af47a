/**
 * The Kubernetes activities with the real @kubernetes/client-node against the simulated API server, reached
 * through the admin kubeconfig the simulated AKS returns: the staged apply and the Job readiness check.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { platformObjects } from '../../src/activities/kubernetes.js';
import { applyStages } from '../../src/platform/apply.js';
import { APPLY_STAGES, type ApplyStage } from '../../src/platform/steps.js';
import type { PlatformRecord } from '../../src/platform/types.js';
import { answerOf, startActivitySandbox, type ActivitySandbox } from '../support/activities.js';
import { TEMPLATES } from '../support/manifests.js';

let sandbox: ActivitySandbox;
let record: PlatformRecord;

beforeEach(async () => {
  sandbox = await startActivitySandbox();
  record = await sandbox.platform();
  // The apply reads the cluster's admin kubeconfig and the storage account's key from ARM.
  for (const kind of ['aksCluster', 'storageAccount'] as const)
    answerOf(await sandbox.activities.beginAzureResource({ platformId: record.id, kind }));
  sandbox.settle();
});

const refOf = (o: { kind?: string; metadata?: { name?: unknown; namespace?: unknown } }) =>
  `${o.kind} ${String(o.metadata?.namespace ?? '')}/${String(o.metadata?.name)}`;
const stored = () => new Set(sandbox.kube.inventory({ includeSystem: false }).map(refOf));
const apply = (stage: ApplyStage) =>
  sandbox.activities.applyPlatformManifests({ platformId: record.id, stage });

/** The objects of each stage, as the activity cuts the platform's objects (secret values do not matter here). */
async function expectedStages() {
  const stages = applyStages(
    await platformObjects(
      record,
      async () => '',
      async () => '',
      TEMPLATES,
    ),
  );
  return new Map(stages.map((s) => [s.stage, s.objects.map(refOf).sort()]));
}

describe('applyPlatformManifests', () => {
  const WAITS_FOR: Record<ApplyStage, RegExp | undefined> = {
    database: /^database-setup$/,
    migration: /^open-webui-migrate-/,
    workloads: undefined,
  };

  it.each(APPLY_STAGES.map((s, index) => [s.stage, index] as const))(
    "stage '%s' applies exactly its own objects and reports the Job to wait for",
    async (stage, index) => {
      for (const earlier of APPLY_STAGES.slice(0, index)) answerOf(await apply(earlier.stage));
      const expected = (await expectedStages()).get(stage)!;
      const before = stored();

      const answer = answerOf(await apply(stage));

      const added = [...stored()].filter((r) => !before.has(r)).sort();
      expect(added).toEqual(expected);
      expect(answer.applied).toBe(expected.length);
      const waitFor = WAITS_FOR[stage];
      if (waitFor) {
        expect(answer.waitFor).toEqual({ namespace: 'llm', name: expect.stringMatching(waitFor) });
        expect(added).toContain(`Job llm/${answer.waitFor!.name}`);
      } else expect(answer.waitFor).toBeUndefined();
    },
  );

  it('an unknown stage is refused for good (not retried) and applies nothing', async () => {
    const before = stored();
    expect(await apply('nonsense' as ApplyStage)).toMatchObject({
      ok: false,
      kind: 'invalid',
      code: 'UnknownApplyStage',
      message: expect.stringContaining("no apply stage 'nonsense'"),
    });
    expect(stored()).toEqual(before);
  });
});

describe("checkPlatformReadiness 'job'", () => {
  it('reports a failed Job as a failure with its reason', async () => {
    const job = answerOf(await apply('database')).waitFor!;
    sandbox.kube.failJob(job.namespace, job.name, 'psql: could not connect to server');
    // Its pods run (and fail) before Kubernetes gives up on the Job.
    sandbox.clock.advanceBy(10 * 60_000);

    expect(
      await sandbox.activities.checkPlatformReadiness({ platformId: record.id, check: 'job', job }),
    ).toEqual({
      ok: false,
      kind: 'invalid',
      code: 'BackoffLimitExceeded',
      message: expect.stringContaining(`Job ${job.name} failed`),
    });
  });

  it('reports a running Job as not ready, and a completed one as ready', async () => {
    const job = answerOf(await apply('database')).waitFor!;
    const check = () =>
      sandbox.activities.checkPlatformReadiness({ platformId: record.id, check: 'job', job });
    expect(answerOf(await check())).toMatchObject({ ready: false });
    sandbox.clock.advanceBy(10 * 60_000);
    expect(answerOf(await check())).toMatchObject({ ready: true });
  });
});
