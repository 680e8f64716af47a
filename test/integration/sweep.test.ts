/**
 * The idle sweep through the sandbox: the real timer registration starts the singleton sweep, which probes
 * Ollama through the simulated Kubernetes API and stops idle platforms through the simulated ARM.
 */
import { AutoscalingV2Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeClients } from '../../src/kube/client.js';
import { hourOfWeek, weekStartMs } from '../../src/platform/prewarm.js';
import type { VirtualClock } from '../../sandbox/clock.js';
import { HOURS, MINUTES, platformFlows } from '../support/flows.js';
import { startTestApp, type TestApp } from '../support/harness.js';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ arm: { retryAfterSeconds: 0 } });
});
afterAll(() => app?.close());

const { run, record, clusterOf, sweep } = platformFlows(() => app);
const clock = () => app.clock as VirtualClock;
const server = (id: string) =>
  app.arm
    .inventory()
    .find(
      (r) =>
        r.tags['platform-id'] === id && r.type.toLowerCase() === 'microsoft.dbforpostgresql/flexibleservers',
    );
describe('idle sweep', () => {
  it('stops a platform idle past its limit, keeps one in use, and re-stops a PostgreSQL restarted by Azure', async () => {
    await app.call('POST', '/platforms', {
      body: { prefix: 'idle', models: ['phi3.5'], autoStop: { idleMinutes: 30 } },
    });
    await app.call('POST', '/platforms', {
      body: { prefix: 'inuse', models: ['phi3.5'], autoStop: { idleMinutes: 30 } },
    });
    await run('idle', 'inuse');
    expect((await record('idle')).phase).toBe('Ready');
    expect((await record('idle')).lastActiveAt).toBeDefined();

    // 45 minutes later: nobody used `idle` (its smoke-test model expired); `inuse` has a model loaded.
    clock().advanceBy(45 * MINUTES);
    (await clusterOf('inuse')).ollama.setLoaded(['phi3.5']);
    const sweptAt = clock().now();
    const first = await sweep();
    expect(first.stopped).toEqual(['idle']);
    expect(first.active).toBe(1);
    await run('idle');
    expect((await record('idle')).phase).toBe('Stopped');
    expect((await record('inuse')).phase).toBe('Ready');
    expect(Date.parse((await record('inuse')).lastActiveAt!)).toBeGreaterThanOrEqual(sweptAt);
    // The hour of use is kept (what the learned pre-warm learns from); an unused platform has none.
    const usage = (await record('inuse')).usage!;
    expect(usage.week).toBe(new Date(weekStartMs(sweptAt)).toISOString());
    expect(usage.hours[hourOfWeek(sweptAt)]).toBe(1);
    expect(usage.hours.filter((bits) => bits !== 0)).toHaveLength(1);
    expect((await record('idle')).usage).toBeUndefined();

    // Azure starts a flexible server stopped for seven days by itself: the next sweep stops it again.
    clock().advanceBy(7 * 24 * HOURS + HOURS);
    (await clusterOf('inuse')).ollama.setLoaded(['phi3.5']);
    expect(server('idle')!.properties.state).toBe('Ready');
    const later = await sweep();
    expect(later.restopped).toEqual(['idle']);
    await run('idle');
    expect((await record('idle')).phase).toBe('Stopped');
    expect(server('idle')!.properties.state).toBe('Stopped');
  });

  it('a platform whose cluster was stopped in the portal is stopped by the next sweep, never reported Ready, and starts again', async () => {
    await app.call('POST', '/platforms', { body: { prefix: 'portal', models: ['phi3.5'] } });
    await run('portal');
    expect((await record('portal')).phase).toBe('Ready');

    // Someone stops the AKS cluster in the portal (ARM's own stop, not this API).
    const cluster = app.arm
      .inventory()
      .find((r) => r.tags['platform-id'] === 'portal' && /managedclusters$/i.test(r.type))!;
    const stop = await fetch(`${app.arm.url}${cluster.id}/stop?api-version=2026-04-01`, { method: 'POST' });
    expect(stop.status).toBe(202);
    clock().advanceBy(30 * MINUTES);
    const lastActiveAt = (await record('portal')).lastActiveAt;

    const swept = await sweep();
    expect(swept.stopped).toContain('portal');
    expect(swept.probeFailures).not.toContain('portal');
    await run('portal');
    expect((await record('portal')).lastActiveAt).toBe(lastActiveAt); // never recorded active
    const status = (await app.call('GET', '/platforms/portal/status')).json as {
      phase: string;
      power: { aks: string; postgres: string };
    };
    expect(status).toMatchObject({ phase: 'Stopped', power: { aks: 'Stopped', postgres: 'Stopped' } });

    expect((await app.call('POST', '/platforms/portal/start')).status).toBe(202);
    await run('portal');
    expect(await record('portal')).toMatchObject({ phase: 'Ready', power: { aks: 'Running' } });
  });

  it('a warm worker probes every Ready platform without an ARM call: no credential read, sweep after sweep', async () => {
    for (const prefix of ['warma', 'warmb'])
      await app.call('POST', '/platforms', { body: { prefix, models: ['phi3.5'] } });
    await run('warma', 'warmb');
    const credentialReads = (from: number) =>
      app.arm.requests.slice(from).filter((r) => /\/listclusterusercredential$/i.test(r.path)).length;
    // Sweeps on the timer's schedule for half an hour, longer than anything kept could age.
    for (let i = 0; i < 6; i++) {
      clock().advanceBy(5 * MINUTES);
      for (const prefix of ['warma', 'warmb']) (await clusterOf(prefix)).ollama.setLoaded(['phi3.5']);
      const from = app.arm.requests.length;
      const swept = await sweep();
      expect(swept.probeFailures).toEqual([]);
      expect(swept.active).toBeGreaterThanOrEqual(2);
      expect(credentialReads(from)).toBe(0);
    }
  });

  it('learns the hour a platform is used each week and starts it (or wakes its released GPU) shortly before, unless pre-warm is off', async () => {
    for (const prefix of ['habit', 'lazy'])
      await app.call('POST', '/platforms', {
        body: { prefix, models: ['phi3.5'], autoStop: { idleMinutes: 0 } },
      });
    await app.call('POST', '/platforms', {
      body: { prefix: 'gpuhabit', models: ['phi3.5'], autoStop: { idleMinutes: 0, gpuIdleMinutes: 10 } },
    });
    await run('habit', 'lazy', 'gpuhabit');
    // Used at 10 past the same hour two weeks running: the sweep sees a model loaded each time.
    const hour = Math.ceil(clock().now() / HOURS) * HOURS + HOURS;
    for (const week of [0, 1]) {
      clock().advanceBy(hour + week * 7 * 24 * HOURS + 10 * MINUTES - clock().now());
      for (const id of ['habit', 'lazy', 'gpuhabit']) (await clusterOf(id)).ollama.setLoaded(['phi3.5']);
      expect((await sweep()).active).toBeGreaterThanOrEqual(3);
    }
    for (const id of ['habit', 'lazy'])
      expect((await app.call('POST', `/platforms/${id}/stop`)).status).toBe(202);
    await run('habit', 'lazy');
    // Turned off by a PATCH: it takes effect at the next sweep.
    const off = await app.call('PATCH', '/platforms/lazy', { body: { autoStop: { prewarm: false } } });
    expect(off.status).toBe(200);
    // Idle past its GPU limit: its GPU tier is released, the platform stays Ready.
    (await clusterOf('gpuhabit')).ollama.setLoaded([]);
    clock().advanceBy(20 * MINUTES);
    expect((await sweep()).gpuReleased).toEqual(['gpuhabit']);
    const gpuState = async () =>
      ((await app.call('GET', '/platforms/gpuhabit/status')).json as { tiers: { gpu: { state: string } } })
        .tiers.gpu.state;
    expect(await gpuState()).toBe('released');

    // The third week, 15 minutes before that hour: within the lead, `habit` is started, `gpuhabit`'s GPU
    // woken, and `lazy` left stopped.
    const due = hour + 2 * 7 * 24 * HOURS;
    clock().advanceBy(due - 15 * MINUTES - clock().now());
    const swept = await sweep();
    expect([...swept.prewarmed].sort()).toEqual(['gpuhabit', 'habit']);
    await run('habit', 'gpuhabit');
    expect((await record('habit')).phase).toBe('Ready');
    expect(await gpuState()).toBe('running');
    expect(clock().now()).toBeLessThan(due);
    expect((await record('lazy')).phase).toBe('Stopped');
  });

  it('releases the GPU of a platform idle past gpuIdleMinutes and keeps Open WebUI up; a chat then is held and answered after the wake; PATCH of the limit counts at the next sweep; POST /wake; the long limit still stops', async () => {
    await app.call('POST', '/platforms', {
      body: { prefix: 'tiers', models: ['phi3.5'], autoStop: { idleMinutes: 60, gpuIdleMinutes: 10 } },
    });
    await run('tiers');
    const cluster = await clusterOf('tiers');
    const kc = new KubeConfig();
    kc.loadFromString(cluster.kube.kubeconfig());
    const core = kc.makeApiClient(CoreV1Api);
    const autoscaling = kc.makeApiClient(AutoscalingV2Api);
    const gpuNodes = async () => (await core.listNode({ labelSelector: 'gpu=true' })).items;
    const running = (pattern: RegExp) =>
      cluster.kube
        .pods('llm')
        .filter(
          (p) =>
            pattern.test(String((p.metadata as { name?: string }).name)) &&
            (p.status as { phase?: string }).phase === 'Running',
        );
    const OLLAMA_PODS = /^ollama-\d+$/;
    const gpuOf = async () =>
      ((await app.call('GET', '/platforms/tiers/status')).json as { tiers: { gpu: { state: string } } }).tiers
        .gpu.state;
    const scaler = () =>
      cluster.kube.get('keda.sh/v1alpha1', 'ScaledObject', 'ollama', 'llm') as {
        spec: { minReplicaCount: number };
      };
    const [node] = await gpuNodes();
    expect(node).toBeDefined();
    // One controller of Ollama's replicas: KEDA's ScaledObject; no HPA of ours targets the StatefulSet.
    const hpas = (await autoscaling.listNamespacedHorizontalPodAutoscaler({ namespace: 'llm' })).items;
    expect(hpas.map((h) => `${h.spec?.scaleTargetRef.kind}/${h.spec?.scaleTargetRef.name}`)).toEqual([
      'Deployment/open-webui',
    ]);
    expect(scaler().spec.minReplicaCount).toBe(1);
    // Running: a wake has nothing to do.
    expect((await app.call('POST', '/platforms/tiers/wake')).status).toBe(202);
    expect(app.instances.instances.get('tiers:wake')).toBeUndefined();

    // 11 minutes without use (the smoke test's model has expired): the GPU tier is released, nothing stops.
    clock().advanceBy(11 * MINUTES);
    const first = await sweep();
    // (Platforms of the other tests share the sandbox: only this one's fate is asserted.)
    expect(first.gpuReleased).toContain('tiers');
    expect(first.stopped).not.toContain('tiers');
    expect(await record('tiers')).toMatchObject({ phase: 'Ready', gpu: { state: 'released' } });
    expect(await gpuOf()).toBe('released');
    // Expressed through the ScaledObject: KEDA, at its next poll, takes Ollama to zero.
    expect(scaler().spec.minReplicaCount).toBe(0);
    clock().advanceBy(15_000);
    await gpuNodes();
    expect(running(OLLAMA_PODS)).toEqual([]);
    // The autoscaler releases the node after its scale-down-unneeded-time (3m, the AKS body's profile).
    clock().advanceBy(4 * MINUTES);
    expect(await gpuNodes()).toEqual([]);
    expect(cluster.kube.deallocatedNodes('gput4')).toBe(1);
    expect(running(/^open-webui-/).length).toBeGreaterThan(0);
    // Later sweeps leave it so and record no probe failure.
    const second = await sweep();
    for (const key of ['gpuReleased', 'gpuWoken', 'stopped', 'probeFailures'] as const)
      expect(second[key]).not.toContain('tiers');

    // A chat the way Open WebUI sends it (OLLAMA_BASE_URL: the interceptor's Service) is held, not failed:
    // KEDA sees it in flight and brings Ollama back, the deallocated node starts, the model loads.
    const sentAt = clock().now();
    let answeredAt: number | undefined;
    const chat = kubeClients(cluster.kube.kubeconfig())
      .proxyPost('llm', 'ollama-wake', 11434, 'api/chat', {
        model: 'phi3.5',
        messages: [{ role: 'user', content: 'Hello' }],
        stream: false,
      })
      .finally(() => (answeredAt = clock().now()));
    for (let i = 0; i < 600 && answeredAt === undefined; i++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      clock().advanceBy(1000);
    }
    expect((await chat) as { message?: { role?: string } }).toMatchObject({ message: { role: 'assistant' } });
    const waited = answeredAt! - sentAt;
    // KEDA's poll (≤ 15 s), the autoscaler's scan, the deallocated node's restart (90 s), the device plugin
    // and Ollama's pod becoming ready (60 s), phi3.5's cold load from the share (≈ 20 s): about four minutes
    // (257 s measured), well within the interceptor's 10-minute try duration and Open WebUI's 1800 s.
    expect(waited).toBeGreaterThan(90_000 + 60_000);
    expect(waited).toBeLessThan(5 * MINUTES);
    expect((await gpuNodes()).map((n) => n.metadata?.name)).toEqual([node!.metadata?.name]);
    // The next sweep sees the tier woken: recorded running and in use, kept at one replica at least again.
    const third = await sweep();
    expect(third.gpuWoken).toContain('tiers');
    expect(await gpuOf()).toBe('running');
    expect(Date.parse((await record('tiers')).lastActiveAt!)).toBeGreaterThanOrEqual(answeredAt!);
    expect(scaler().spec.minReplicaCount).toBe(1);

    // PATCH of the GPU limit takes effect at the next sweep: idle 11 minutes is within the new 20.
    const patched = await app.call('PATCH', '/platforms/tiers', {
      body: { autoStop: { gpuIdleMinutes: 20 } },
    });
    expect(patched.status).toBe(200);
    clock().advanceBy(11 * MINUTES);
    expect((await sweep()).gpuReleased).not.toContain('tiers');
    expect(await gpuOf()).toBe('running');
    clock().advanceBy(10 * MINUTES);
    expect((await sweep()).gpuReleased).toContain('tiers');

    // The wake on demand: 202, waking, then running, the deallocated node back under its name.
    clock().advanceBy(4 * MINUTES);
    const wake = await app.call('POST', '/platforms/tiers/wake');
    expect(wake.status).toBe(202);
    expect(await gpuOf()).toBe('waking');
    await run('tiers:wake');
    expect(await gpuOf()).toBe('running');
    expect((await gpuNodes()).map((n) => n.metadata?.name)).toEqual([node!.metadata?.name]);
    expect(running(OLLAMA_PODS)).toHaveLength(1);

    // Released again, then idle past the long limit: the whole platform stops as before.
    clock().advanceBy(21 * MINUTES);
    expect((await sweep()).gpuReleased).toContain('tiers');
    clock().advanceBy(40 * MINUTES);
    expect((await sweep()).stopped).toContain('tiers');
    await run('tiers');
    expect((await record('tiers')).phase).toBe('Stopped');
    // A wake of the Stopped platform starts it (a chat cannot reach a stopped cluster) and says so; the
    // start brings the GPU tier back with the platform.
    clock().advanceBy(20 * MINUTES);
    const started = await app.call('POST', '/platforms/tiers/wake');
    expect(started.status).toBe(202);
    expect(started.json).toMatchObject({ phase: 'Starting', operation: 'start' });
    expect((started.json as { detail: string }).detail).toMatch(/was Stopped: it is being started/);
    await run('tiers');
    expect(await record('tiers')).toMatchObject({ phase: 'Ready' });
    expect((await record('tiers')).gpu).toBeUndefined();
    expect(scaler().spec.minReplicaCount).toBe(1);
    expect(running(OLLAMA_PODS)).toHaveLength(1);
  });

  it('a sweep that is still running is not started twice', async () => {
    await app.host.fireTimer('idleSweepTimer');
    const started = app.instances.instances.get('_idle-sweep')!.createdTime;
    await app.host.fireTimer('idleSweepTimer');
    expect(app.instances.instances.get('_idle-sweep')!.createdTime).toBe(started);
    await run('_idle-sweep');
  });
});
