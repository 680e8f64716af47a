/**
 * AKS agent pools and the cluster autoscaler in the simulated Kubernetes API server, read through the real
 * @kubernetes/client-node: nodes per pool from the AKS body, a GPU node added for a pending GPU pod after the
 * published delay, the autoscaler's events when it cannot, and scale-down of an unneeded node.
 */
import {
  CoreV1Api,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  type CoreV1Event,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../sandbox/clock.js';
import { DEFAULT_POOLS, SimulatedKubernetes, type AgentPoolSpec } from '../../sandbox/kube/apiserver.js';
import { autoscalerDelaysFromAksBody, poolsFromAksBody } from '../../sandbox/kube/autoscaler.js';
import { DEFAULT_DELAYS } from '../../sandbox/kube/simulation.js';
import { AZURE_RESOURCES } from '../../src/platform/azure-resources.js';
import {
  devicePlugin as devicePluginOf,
  GPU_TOLERATIONS,
  ollamaStatefulSet,
} from '../support/kube-fixtures.js';
import { makeRecord } from '../support/records.js';

const S = 1000;
const MIN = 60 * S;
const SPOT = 'kubernetes.azure.com/scalesetpriority';
const ollama = ollamaStatefulSet;
const devicePlugin = devicePluginOf(GPU_TOLERATIONS);
/** The platform's pools as the product's AKS body declares them, the GPU pool starting at `gpuCount`. */
function platformPools(spot: boolean, gpuCount = 0): AgentPoolSpec[] {
  const record = makeRecord('autoscale');
  const spec = { ...record.spec, gpu: { ...record.spec.gpu, minNodes: 0, maxNodes: 2, spot } };
  const body = AZURE_RESOURCES.aksCluster.body({ spec, names: record.names, secret: () => '' });
  return poolsFromAksBody(body.properties).map((p) =>
    p.labels.gpu === 'true' ? { ...p, count: gpuCount } : p,
  );
}

let sim: SimulatedKubernetes | undefined;
afterEach(async () => sim?.close());

async function start(agentPools: readonly AgentPoolSpec[], delays: Partial<typeof DEFAULT_DELAYS> = {}) {
  const clock = new VirtualClock();
  sim = new SimulatedKubernetes({ clock, agentPools, delays });
  await sim.listen();
  const kc = new KubeConfig();
  kc.loadFromString(sim.kubeconfig());
  const core = kc.makeApiClient(CoreV1Api);
  const objects = KubernetesObjectApi.makeApiClient(kc);
  const apply = (o: object) =>
    objects.patch(o as KubernetesObject, undefined, undefined, 'test', true, PatchStrategy.ServerSideApply);
  await apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'llm' } });
  const gpuNodes = async () => (await core.listNode({ labelSelector: 'gpu=true' })).items;
  const events = async (reason: string): Promise<CoreV1Event[]> =>
    (await core.listNamespacedEvent({ namespace: 'llm', fieldSelector: `reason=${reason}` })).items;
  return { clock, core, apply, gpuNodes, events };
}

describe('agent pools', () => {
  it('nodes come per pool from the AKS body; only a spot pool carries the spot label and taint', async () => {
    for (const spot of [true, false]) {
      const { gpuNodes, core } = await start(platformPools(spot, 1));
      const [gpu] = await gpuNodes();
      expect(gpu?.metadata?.labels?.agentpool).toBe('gput4');
      expect(gpu?.metadata?.labels?.[SPOT]).toBe(spot ? 'spot' : undefined);
      expect(gpu?.spec?.taints?.some((t) => t.key === SPOT)).toBe(spot);
      const all = (await core.listNode()).items;
      expect(all.map((n) => n.metadata?.labels?.agentpool).sort()).toEqual([
        'apps',
        'gput4',
        'system',
        'system',
      ]);
      // CPU pools are never spot.
      for (const n of all.filter((x) => x.metadata?.labels?.agentpool !== 'gput4'))
        expect(n.metadata?.labels?.[SPOT]).toBeUndefined();
      await sim!.close();
    }
  });

  it('a GPU pool created at zero has no GPU node', async () => {
    const { gpuNodes } = await start(platformPools(true, 0));
    expect(await gpuNodes()).toEqual([]);
  });

  it('the default pools are the platform’s, GPU pool included', () => {
    expect(DEFAULT_POOLS.map((p) => p.name)).toEqual(platformPools(true).map((p) => p.name));
  });
});

describe('the cluster autoscaler', () => {
  it('adds a GPU node for a pending GPU pod after the scan and the GPU node provisioning time', async () => {
    const { clock, apply, gpuNodes, events, core } = await start(platformPools(true, 0));
    await apply(devicePlugin);
    await apply(ollama);
    clock.advanceBy(S);
    const [scheduling] = await events('FailedScheduling');
    expect(scheduling).toMatchObject({
      type: 'Warning',
      involvedObject: { kind: 'Pod', name: 'ollama-0' },
      source: { component: 'default-scheduler' },
    });
    expect(scheduling?.message).toMatch(
      /^0\/3 nodes are available: 3 node\(s\) didn't match Pod's node affinity\/selector/,
    );
    const [triggered] = await events('TriggeredScaleUp');
    expect(triggered?.message).toBe('pod triggered scale-up: [{aks-gput4-16180339-vmss 0->1 (max: 2)}]');

    const arrives = DEFAULT_DELAYS.autoscalerScanMs + DEFAULT_DELAYS.gpuNodeProvisionMs;
    clock.advanceBy(arrives - 2 * S);
    expect(await gpuNodes()).toEqual([]);
    clock.advanceBy(2 * S);
    const [node] = await gpuNodes();
    expect(node?.metadata?.name).toBe('aks-gput4-16180339-vmss000000');
    expect(node?.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    // The device plugin advertises the GPU once its pod is ready on the new node.
    expect(node?.status?.capacity?.['nvidia.com/gpu']).toBeUndefined();
    clock.advanceBy(DEFAULT_DELAYS.workloadReadyMs);
    expect((await gpuNodes())[0]?.status?.capacity?.['nvidia.com/gpu']).toBe('1');
    clock.advanceBy(DEFAULT_DELAYS.workloadReadyMs);
    const pod = await core.readNamespacedPod({ name: 'ollama-0', namespace: 'llm' });
    expect(pod.spec?.nodeName).toBe('aks-gput4-16180339-vmss000000');
    expect(pod.status?.phase).toBe('Running');
  });

  it('a refused scale-up shows as FailedScheduling and NotTriggerScaleUp (backoff) events, and no node', async () => {
    const { clock, apply, gpuNodes, events } = await start(platformPools(true, 0));
    sim!.refuseScaleUp('gput4', 'spotCapacity');
    await apply(devicePlugin);
    await apply(ollama);
    for (let t = 0; t < 4 * MIN; t += 30 * S) {
      clock.advanceBy(30 * S);
      await gpuNodes();
    }
    expect(await gpuNodes()).toEqual([]);
    expect(await events('FailedScheduling')).not.toEqual([]);
    const [notTriggered] = await events('NotTriggerScaleUp');
    expect(notTriggered).toMatchObject({
      type: 'Normal',
      source: { component: 'cluster-autoscaler' },
      involvedObject: { kind: 'Pod', name: 'ollama-0' },
    });
    expect(notTriggered?.message).toMatch(
      /^pod didn't trigger scale-up: .*1 in backoff after failed scale-up/,
    );
    const span = +new Date(notTriggered!.lastTimestamp!) - +new Date(notTriggered!.firstTimestamp!);
    expect(span).toBeGreaterThanOrEqual(2.5 * MIN);

    // Capacity back: the next attempt after the backoff (5 min) succeeds.
    sim!.allowScaleUp('gput4');
    clock.advanceBy(3 * MIN);
    await gpuNodes();
    clock.advanceBy(DEFAULT_DELAYS.autoscalerScanMs + DEFAULT_DELAYS.gpuNodeProvisionMs);
    expect(await gpuNodes()).toHaveLength(1);
  });

  it('a pool at its maximum does not grow: the pod waits with "max node group size reached"', async () => {
    const pools = platformPools(false, 1).map((p) => (p.name === 'gput4' ? { ...p, maxCount: 1 } : p));
    const { clock, apply, gpuNodes, events } = await start(pools);
    await apply(devicePlugin);
    await apply(ollama);
    await apply({ ...ollama, metadata: { ...ollama.metadata, name: 'ollama2' } });
    clock.advanceBy(10 * MIN);
    expect(await gpuNodes()).toHaveLength(1);
    const messages = (await events('NotTriggerScaleUp')).map((e) => e.message);
    expect(messages).toContainEqual(expect.stringMatching(/1 max node group size reached/));
  });

  it('removes a GPU node that has been unneeded for the scale-down delay, down to the pool minimum', async () => {
    const { clock, gpuNodes, core } = await start(platformPools(true, 1));
    clock.advanceBy(DEFAULT_DELAYS.scaleDownUnneededMs - S);
    expect(await gpuNodes()).toHaveLength(1);
    clock.advanceBy(2 * S);
    expect(await gpuNodes()).toEqual([]);
    // The apps pool stays at its minimum of 1.
    expect((await core.listNode({ labelSelector: 'agentpool=apps' })).items).toHaveLength(1);
  });

  it('honours the AKS body: its scale-down-unneeded-time, and a GPU pool in scale-down mode Deallocate starts its deallocated node again, sooner than a new one', async () => {
    const record = makeRecord('autoscale');
    const body = AZURE_RESOURCES.aksCluster.body({
      spec: record.spec,
      names: record.names,
      secret: () => '',
    });
    const delays = autoscalerDelaysFromAksBody(body.properties);
    expect(delays.scaleDownUnneededMs).toBe(3 * MIN);
    const pools = poolsFromAksBody(body.properties);
    expect(pools.find((p) => p.name === 'gput4')?.scaleDownMode).toBe('Deallocate');
    const { clock, apply, gpuNodes, core } = await start(pools, delays);
    const [first] = await gpuNodes();
    clock.advanceBy(3 * MIN + S);
    expect(await gpuNodes()).toEqual([]);
    expect(sim!.deallocatedNodes('gput4')).toBe(1);

    await apply(devicePlugin);
    await apply(ollama);
    clock.advanceBy(S);
    const arrives = DEFAULT_DELAYS.autoscalerScanMs + DEFAULT_DELAYS.deallocatedNodeStartMs;
    expect(arrives).toBeLessThan(DEFAULT_DELAYS.gpuNodeProvisionMs);
    clock.advanceBy(arrives - 2 * S);
    expect(await gpuNodes()).toEqual([]);
    clock.advanceBy(2 * S);
    const [again] = await gpuNodes();
    // The same VM, started again: its name (and its disk) are the deallocated instance's.
    expect(again?.metadata?.name).toBe(first?.metadata?.name);
    expect(sim!.deallocatedNodes('gput4')).toBe(0);
    clock.advanceBy(2 * DEFAULT_DELAYS.workloadReadyMs);
    const pod = await core.readNamespacedPod({ name: 'ollama-0', namespace: 'llm' });
    expect(pod.status?.phase).toBe('Running');
  });
});
