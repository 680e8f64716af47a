/**
 * Test controls and assertions: nodes, failing Jobs and workloads, ready delays, metric values, AKS stop
 * and start; the store as a client would read it.
 */
import { num, obj, str, type JsonObject } from './json.js';
import { ruleMatches, type NameRule } from './simulation.js';
import type { Cluster } from './cluster.js';

export function removeNode(cluster: Cluster, name: string): boolean {
  const removed = cluster.store.delete(cluster.key(cluster.builtin('', 'Node'), undefined, name));
  cluster.touch();
  return removed;
}

export function setNodeReady(cluster: Cluster, name: string, ready: boolean): void {
  const entry = cluster.store.get(cluster.key(cluster.builtin('', 'Node'), undefined, name));
  if (!entry?.node) throw new Error(`no node ${name}`);
  if (ready && !entry.node.ready) entry.node.joinedMs = cluster.now();
  entry.node.ready = ready;
  cluster.touch();
}

/** The Job fails (now or when created) with BackoffLimitExceeded; `message` is its pod's error and log. */
export function failJob(
  cluster: Cluster,
  namespace: string,
  name: string,
  message = 'simulated job failure',
): void {
  failJobs(cluster, { namespace, name, message });
}

/** Jobs matching the rule fail, now (if not finished yet) and when created later. */
export function failJobs(cluster: Cluster, rule: NameRule & { message?: string }): void {
  cluster.jobFailureRules.push(rule);
  const snapshot = cluster.snapshot();
  for (const job of snapshot.ofKind('Job')) {
    if (!ruleMatches(rule, 'Job', job.namespace, job.name) || snapshot.jobFinishedMs(job) !== undefined)
      continue;
    job.jobOutcome = { failed: true, message: rule.message ?? 'simulated job failure' };
  }
  cluster.touch();
}

export function clearJobFailures(cluster: Cluster): void {
  cluster.jobFailureRules = [];
}

/** Pods of matching workloads never become ready (CrashLoopBackOff, ImagePullBackOff, …). */
export function failWorkload(
  cluster: Cluster,
  rule: NameRule,
  reason = 'CrashLoopBackOff',
  message = 'back-off 5m0s restarting failed container',
): void {
  cluster.workloadFailures.push({ rule, reason, message });
  cluster.touch();
}

export function clearWorkloadFailures(cluster: Cluster): void {
  cluster.workloadFailures.length = 0;
  cluster.touch();
}

/** Matching workloads take `ms` to become ready (Jobs: to finish) instead of the default delay. */
export function setReadyDelay(cluster: Cluster, rule: NameRule, ms: number): void {
  cluster.readyDelays.unshift({ rule, ms });
  cluster.touch();
}

/** Value reported by custom.metrics.k8s.io for `pods/<metric>` (default "0"). */
export function setCustomMetric(cluster: Cluster, metric: string, value: string): void {
  cluster.customMetricNames.add(metric);
  cluster.customMetricValues.set(metric, value);
}

/**
 * The workload's pods average `percent` of their CPU requests now; the load stays the same as the HPA adds
 * or removes pods (the average falls as pods are added), so an HPA on cpu settles where it meets its target.
 */
export function setCpuUtilization(
  cluster: Cluster,
  namespace: string,
  workload: string,
  percent: number,
): void {
  const entry = [...cluster.store.values()].find(
    (e) =>
      (e.type.kind === 'Deployment' || e.type.kind === 'StatefulSet') &&
      e.namespace === namespace &&
      e.name === workload,
  );
  const replicas = entry ? (num(entry.content, 'spec', 'replicas') ?? 1) : 1;
  cluster.cpuLoad.set(`${namespace}/${workload}`, percent * replicas);
  cluster.touch();
}

/** Every stored object (without managedFields); `includeSystem: false` leaves out seeded objects. */
export function inventory(
  cluster: Cluster,
  options: { includeSystem?: boolean } = {},
): { apiVersion: string; kind: string; metadata: JsonObject }[] {
  cluster.sweep();
  return [...cluster.store.values()]
    .filter((e) => options.includeSystem !== false || !e.system)
    .map((e) => {
      const rendered = cluster.render(e, undefined, { managedFields: false, status: false });
      return {
        apiVersion: str(rendered, 'apiVersion')!,
        kind: e.type.kind,
        metadata: obj(rendered, 'metadata'),
      };
    });
}

/** One object as a client would read it now (with computed status), or undefined. */
export function get(
  cluster: Cluster,
  apiVersion: string,
  kind: string,
  name: string,
  namespace?: string,
): JsonObject | undefined {
  cluster.sweep();
  const entry = [...cluster.store.values()].find(
    (e) =>
      e.type.kind === kind &&
      e.name === name &&
      e.namespace === namespace &&
      e.type.group === (apiVersion.includes('/') ? apiVersion.split('/')[0] : ''),
  );
  return entry ? cluster.render(entry, apiVersion) : undefined;
}

/** Pods (workload-created and standalone) as a client would list them. */
export function pods(cluster: Cluster, namespace?: string): JsonObject[] {
  cluster.sweep();
  const snapshot = cluster.snapshot();
  return snapshot.pods
    .filter((p) => namespace === undefined || p.namespace === namespace)
    .map((p) => cluster.renderPod(p, snapshot));
}

/** AKS stop: the API server stops answering (connections are reset). */
export function stop(cluster: Cluster): void {
  cluster.stopped = true;
}

/**
 * AKS start: nodes rejoin, every pod restarts, standalone pods are gone, Ollama has nothing loaded. `at`: when
 * the start finished (default now), for a cluster that follows the simulated ARM's power state lazily.
 */
export function start(cluster: Cluster, at = cluster.now()): void {
  cluster.stopped = false;
  const now = at;
  cluster.clusterStartedMs = now;
  for (const [key, e] of cluster.store) {
    if (e.type.kind === 'Pod' && e.type.builtin) cluster.store.delete(key);
    if (e.node) e.node.joinedMs = now;
  }
  cluster.ollama?.unloadAll();
  cluster.touch();
}

export function restart(cluster: Cluster): void {
  stop(cluster);
  start(cluster);
}

/** A new, empty cluster (seeded nodes, system namespaces, storage classes); rules are cleared. */
export function reset(cluster: Cluster): void {
  cluster.store.clear();
  cluster.readyDelays.length = 0;
  cluster.workloadFailures.length = 0;
  cluster.jobFailureRules = [];
  cluster.customMetricValues.clear();
  cluster.cpuLoad.clear();
  cluster.clusterStartedMs = cluster.now();
  cluster.stopped = false;
  cluster.ollama?.reset();
  cluster.seed();
}
