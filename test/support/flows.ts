/** Helpers for tests that drive whole flows through the sandbox on its virtual clock. */
import { expect } from 'vitest';
import { getServices } from '../../src/composition.js';
import type { SimulatedCluster } from '../../sandbox/kube/fleet.js';
import type { SweepSummary } from '../../src/orchestrators/sweep.js';
import type { TestApp } from './harness.js';

export const MINUTES = 60_000;
export const HOURS = 60 * MINUTES;

const FINISHED = new Set(['Completed', 'Failed', 'Terminated', 'Canceled']);

/** `app` is a getter: test files create their app in beforeAll. */
export function platformFlows(app: () => TestApp) {
  const finished =
    (...instanceIds: string[]) =>
    () =>
      instanceIds.every((id) => FINISHED.has(app().instances.instances.get(id)?.runtimeStatus ?? ''));
  const record = async (id: string) => (await getServices().registry.get(id))!;
  /** Runs the durable runtime until every named instance has finished (at most 12 simulated hours). */
  const run = async (...instanceIds: string[]) => {
    expect(await app().driver.runUntil(finished(...instanceIds), { maxSimulatedMs: 12 * HOURS })).toBe(true);
  };
  return {
    finished,
    record,
    run,
    /** The simulated Azure resources tagged with a platform's id. */
    tagged(id: string) {
      return app()
        .arm.inventory()
        .filter((r) => r.tags['platform-id'] === id);
    },
    /** Fires the idle-sweep timer and runs the sweep to its end; returns its summary. */
    async sweep(): Promise<SweepSummary> {
      await app().host.fireTimer('idleSweepTimer');
      await run('_idle-sweep');
      return app().instances.instances.get('_idle-sweep')!.output as SweepSummary;
    },
    /** Keeps the text of every answer `app.call` gives until `stop()`, to scan them for secret values. */
    recordAnswers() {
      const answers: string[] = [];
      const call = app().call;
      app().call = async (...args) => {
        const reply = await call(...args);
        answers.push(reply.text);
        return reply;
      };
      return { answers, stop: () => void (app().call = call) };
    },
    /** The simulated cluster behind a platform's AKS cluster (created ahead of time if need be). */
    async clusterOf(id: string): Promise<SimulatedCluster> {
      const { names, subscriptionId = app().config.subscriptionId } = await record(id);
      const clusterId = `/subscriptions/${subscriptionId}/resourceGroups/${names.resourceGroup}/providers/Microsoft.ContainerService/managedClusters/${names.aksCluster}`;
      return app().clusters.cluster(clusterId.toLowerCase());
    },
  };
}
