/**
 * Simulated Kubernetes API server (plain HTTP on 127.0.0.1) for the real @kubernetes/client-node.
 *
 * - Discovery (`/api`, `/api/v1`, `/apis`, `/apis/<group>[/<version>]`) for the groups the platform uses,
 *   each CRD's group/version once it is established, and custom.metrics.k8s.io once the APIService
 *   `v1beta1.custom.metrics.k8s.io` is Available.
 * - A generic store for every kind: server-side apply (field managers, 409 conflicts, force), create,
 *   replace, merge/strategic/JSON patches, get, list (label and field selectors, limit/continue), delete
 *   (a Namespace goes Terminating and takes its content with it; a CRD takes its objects), `scale`,
 *   `status`, pod `log`. resourceVersion moves only when the object changes; generation on spec changes.
 * - Status computed from the clock on read (see simulation.ts): workloads, pods, Jobs, LoadBalancer IPs,
 *   PVC binding, APIService availability, CRD establishment, nodes (GPU advertised once the NVIDIA device
 *   plugin runs on the node), HPA/PDB/ResourceQuota.
 * - The service proxy (`/api/v1/namespaces/<ns>/services/<name>[:<port>]/proxy/<path>`) forwards to a
 *   SimulatedOllama for the Ollama Service, once the Service exists and has ready endpoints.
 *
 * Not simulated: watch, admission webhooks, OpenAPI schema validation, server-side defaulting beyond the
 * Service fields below, list-merge in apply (lists are atomic: one owner per list).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { stringify as stringifyYaml } from 'yaml';
import { Cluster, type NodeSpec, type SimulatedKubernetesOptions } from './cluster.js';
import * as controls from './controls.js';
import type { KubeRequest } from './http.js';
import type { JsonObject } from './json.js';
import { handle } from './server.js';
import type { NameRule } from './simulation.js';
import type { ScaleUpRefusal } from './autoscaler.js';

export { DEFAULT_NODES, type NodeSpec, type SimulatedKubernetesOptions } from './cluster.js';
export { DEFAULT_POOLS, poolsFromAksBody, type AgentPoolSpec, type ScaleUpRefusal } from './autoscaler.js';
export type { KubeRequest } from './http.js';
export type { KubeDelays, NameRule } from './simulation.js';

/**
 * The facade: the listener and kubeconfig here; the store in cluster.ts, request handling in server.ts (and
 * the verbs, subresources, metrics and proxy modules it routes to), test controls in controls.ts.
 */
/** Whether the cluster's API server answers and since when, as the simulated ARM's AKS power decides it. */
export type ApiServerPower = () => { answering: boolean; since: number } | undefined;

export class SimulatedKubernetes {
  readonly requests: KubeRequest[];
  readonly clusterName: string;
  private readonly cluster: Cluster;
  private server?: Server;
  private serverUrl?: string;
  private power?: ApiServerPower;
  private seenPower?: ReturnType<ApiServerPower>;

  constructor(options: SimulatedKubernetesOptions & { power?: ApiServerPower }) {
    this.cluster = new Cluster(options);
    this.requests = this.cluster.requests;
    this.clusterName = this.cluster.clusterName;
    this.power = options.power;
  }

  // ---- lifecycle -----------------------------------------------------------------------------------

  /** Follows the power state AKS reports: the API server of a stopped cluster does not answer. */
  followPower(power: ApiServerPower | undefined): void {
    this.power = power;
  }

  async listen(port = 0): Promise<string> {
    this.server = createServer((req, res) => {
      this.syncPower();
      void handle(this.cluster, req, res);
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.serverUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.serverUrl;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = undefined;
  }

  get url(): string {
    if (!this.serverUrl) throw new Error('SimulatedKubernetes: call listen() first');
    return this.serverUrl;
  }

  /**
   * A kubeconfig for this server itself, for tests and tools (context `<cluster>-admin`, user
   * `clusterAdmin_…`, the test token if any). What AKS returns points at the HTTPS front door instead
   * (front-door.ts). client-node refuses plain http unless the cluster has `insecure-skip-tls-verify:
   * true`, which is set.
   */
  kubeconfig(user = 'clusterAdmin'): string {
    const userName = user === 'clusterAdmin' ? `clusterAdmin_sandbox_${this.clusterName}` : user;
    const context = user === 'clusterAdmin' ? `${this.clusterName}-admin` : this.clusterName;
    return stringifyYaml({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: this.clusterName, cluster: { server: this.url, 'insecure-skip-tls-verify': true } }],
      contexts: [{ name: context, context: { cluster: this.clusterName, user: userName } }],
      'current-context': context,
      preferences: {},
      users: [{ name: userName, user: this.cluster.token ? { token: this.cluster.token } : {} }],
    });
  }

  /**
   * Takes a change of the power state over before a request: stopped (connections reset), or started at its
   * end. Only changes: a test's own `stop()`/`start()` (a network fault) stays as it set it.
   */
  private syncPower(): void {
    const state = this.power?.();
    if (!state) return;
    const seen = this.seenPower;
    this.seenPower = state;
    if (seen ? seen.answering === state.answering && seen.since === state.since : state.answering) return;
    if (!state.answering && !this.cluster.stopped) controls.stop(this.cluster);
    else if (state.answering && this.cluster.stopped) controls.start(this.cluster, state.since);
  }

  /** AKS stop: the API server stops answering (connections are reset). */
  stop(): void {
    controls.stop(this.cluster);
  }

  /** AKS start: nodes rejoin, every pod restarts, standalone pods are gone, Ollama has nothing loaded. */
  start(): void {
    controls.start(this.cluster);
  }

  restart(): void {
    controls.restart(this.cluster);
  }

  /** A new, empty cluster (seeded nodes, system namespaces, storage classes); rules are cleared. */
  reset(): void {
    controls.reset(this.cluster);
  }

  // ---- test controls -------------------------------------------------------------------------------

  addNode(spec: NodeSpec): void {
    this.cluster.addNode(spec);
  }

  /** The cloud refuses scale-ups of an agent pool (no spot capacity, or quota) until allowScaleUp. */
  refuseScaleUp(pool: string, refusal: ScaleUpRefusal = 'spotCapacity'): void {
    this.cluster.autoscaler?.refuseScaleUp(pool, refusal);
  }

  allowScaleUp(pool: string): void {
    this.cluster.autoscaler?.allowScaleUp(pool);
  }

  /** Deallocated VMs of a pool in scale-down mode Deallocate (their Nodes are gone, their disks kept). */
  deallocatedNodes(pool: string): number {
    return this.cluster.autoscaler?.deallocatedNodes(pool) ?? 0;
  }

  removeNode(name: string): boolean {
    return controls.removeNode(this.cluster, name);
  }

  setNodeReady(name: string, ready: boolean): void {
    controls.setNodeReady(this.cluster, name, ready);
  }

  /** The Job fails (now or when created) with BackoffLimitExceeded; `message` is its pod's error and log. */
  failJob(namespace: string, name: string, message = 'simulated job failure'): void {
    controls.failJob(this.cluster, namespace, name, message);
  }

  /** Jobs matching the rule fail, now (if not finished yet) and when created later. */
  failJobs(rule: NameRule & { message?: string }): void {
    controls.failJobs(this.cluster, rule);
  }

  clearJobFailures(): void {
    controls.clearJobFailures(this.cluster);
  }

  /** Pods of matching workloads never become ready (CrashLoopBackOff, ImagePullBackOff, …). */
  failWorkload(
    rule: NameRule,
    reason = 'CrashLoopBackOff',
    message = 'back-off 5m0s restarting failed container',
  ): void {
    controls.failWorkload(this.cluster, rule, reason, message);
  }

  clearWorkloadFailures(): void {
    controls.clearWorkloadFailures(this.cluster);
  }

  /** Matching workloads take `ms` to become ready (Jobs: to finish) instead of the default delay. */
  setReadyDelay(rule: NameRule, ms: number): void {
    controls.setReadyDelay(this.cluster, rule, ms);
  }

  /** Value reported by custom.metrics.k8s.io for `pods/<metric>` (default "0"). */
  setCustomMetric(metric: string, value: string): void {
    controls.setCustomMetric(this.cluster, metric, value);
  }

  /**
   * Average CPU utilization (percent of requests) of a workload's pods, as the HPA controller reads it from
   * the resource metrics: an HPA on CPU scales its target towards it at its next sync.
   */
  setCpuUtilization(namespace: string, workload: string, percent: number): void {
    controls.setCpuUtilization(this.cluster, namespace, workload, percent);
  }

  // ---- assertions ----------------------------------------------------------------------------------

  /** Every stored object (without managedFields); `includeSystem: false` leaves out seeded objects. */
  inventory(
    options: { includeSystem?: boolean } = {},
  ): { apiVersion: string; kind: string; metadata: JsonObject }[] {
    return controls.inventory(this.cluster, options);
  }

  /** One object as a client would read it now (with computed status), or undefined. */
  get(apiVersion: string, kind: string, name: string, namespace?: string): JsonObject | undefined {
    return controls.get(this.cluster, apiVersion, kind, name, namespace);
  }

  /** Pods (workload-created and standalone) as a client would list them. */
  pods(namespace?: string): JsonObject[] {
    return controls.pods(this.cluster, namespace);
  }
}
