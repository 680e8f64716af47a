/**
 * Provisioning through the whole sandbox with a GPU pool that starts at zero nodes (as a cluster whose GPU
 * node was scaled down): the cluster autoscaler adds the node for Ollama's pending pod and the platform
 * reaches Ready; when the cloud refuses the scale-up (no spot capacity), the gpuNode step fails within
 * minutes with the spot hint instead of waiting out its 45-minute deadline.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_DELAYS } from '../../sandbox/kube/simulation.js';
import { MINUTES, platformFlows } from '../support/flows.js';
import { startTestApp, type TestApp } from '../support/harness.js';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({
    arm: { retryAfterSeconds: 0 },
    agentPools: (pools) => pools.map((p) => (p.labels.gpu === 'true' ? { ...p, count: 0 } : p)),
  });
});
afterAll(() => app?.close());

const { run, record, clusterOf } = platformFlows(() => app);

const create = async (prefix: string, spot: boolean) =>
  expect(
    (
      await app.call('POST', '/platforms', {
        body: { prefix, models: ['phi3.5'], gpu: { spot }, webui: { adminEmail: 'ops@example.com' } },
      })
    ).status,
  ).toBe(202);

/** How long the gpuNode step ran, from the registry's step timeline. */
async function gpuNodeStep(prefix: string) {
  const step = (await record(prefix)).steps.find((s) => s.name === 'gpuNode')!;
  return { ...step, ms: Date.parse(step.endedAt!) - Date.parse(step.startedAt!) };
}

describe('a GPU pool at zero nodes', () => {
  it('reaches Ready once the autoscaler added the GPU node', async () => {
    await create('gpuzero', false);
    await run('gpuzero');
    expect((await record('gpuzero')).phase).toBe('Ready');
    const { kube } = await clusterOf('gpuzero');
    const triggered = kube
      .inventory()
      .filter((o) => o.kind === 'Event')
      .map((o) => kube.get('v1', 'Event', o.metadata.name as string, 'llm'))
      .filter((e) => e?.reason === 'TriggeredScaleUp');
    expect(triggered).toHaveLength(1);
    // The step waited for the node: the scan, the GPU node's provisioning, the device plugin.
    const step = await gpuNodeStep('gpuzero');
    expect(step.state).toBe('succeeded');
    expect(step.ms).toBeGreaterThanOrEqual(DEFAULT_DELAYS.gpuNodeProvisionMs);
  });

  it('a refused scale-up fails gpuNode within minutes, with the spot hint in the status', async () => {
    app.arm.faults.refuseScaleUp('gput4', 'spotCapacity');
    try {
      await create('gpudeny', true);
      await run('gpudeny');
    } finally {
      app.arm.faults.allowScaleUp('gput4');
    }
    const r = await record('gpudeny');
    expect(r.phase).toBe('Failed');
    expect(r.lastError).toMatchObject({ step: 'gpuNode', code: 'GpuScaleUpRefused' });
    expect(r.lastError!.message).toMatch(
      /in backoff after failed scale-up.*spot GPU pool could not be allocated/,
    );
    const step = await gpuNodeStep('gpudeny');
    expect(step.state).toBe('failed');
    expect(step.ms).toBeLessThan(10 * MINUTES);
    const status = await app.call('GET', '/platforms/gpudeny/status');
    expect(status.text).toMatch(/spot GPU pool could not be allocated/);
  });
});
