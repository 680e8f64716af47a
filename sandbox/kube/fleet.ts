/**
 * One simulated Kubernetes API server (and Ollama) per AKS cluster, behind one HTTPS loopback listener (the
 * front door, which authenticates as AKS does): each cluster's kubeconfig points at
 * `<base>/clusters/<cluster key>`, and requests under that prefix are forwarded to that cluster's own
 * simulator, created on first use. Platforms never share a cluster.
 */
import type { Clock } from '../clock.js';
import { SimulatedKubernetes, type ApiServerPower, type SimulatedKubernetesOptions } from './apiserver.js';
import { AksFrontDoor, type ClusterAuthority } from './front-door.js';
import { SimulatedOllama } from './ollama.js';

export interface SimulatedCluster {
  key: string;
  kube: SimulatedKubernetes;
  ollama: SimulatedOllama;
}

export class SimulatedKubernetesFleet {
  /** The listener every kubeconfig points at; what the simulated ARM writes into kubeconfigs. */
  readonly frontDoor: AksFrontDoor;
  private readonly clusters = new Map<string, Promise<SimulatedCluster>>();
  private readonly ready: SimulatedCluster[] = [];

  constructor(
    private readonly clock: Clock,
    /** Options of the cluster `key` (e.g. its agent pools, from the AKS body the simulated ARM stored). */
    private readonly options: (
      ollama: SimulatedOllama,
      key: string,
    ) => Partial<SimulatedKubernetesOptions> = () => ({}),
    /** Whether the API server of the cluster `key` answers (AKS power, from the simulated ARM). */
    private readonly power?: (key: string) => ReturnType<ApiServerPower>,
    /** The clusters' access settings and role assignments (the simulated ARM). */
    authority?: ClusterAuthority,
  ) {
    this.frontDoor = new AksFrontDoor(clock, async (key) => (await this.cluster(key)).kube, authority);
  }

  listen(): Promise<string> {
    return this.frontDoor.listen();
  }

  /** The API server URL to put into the kubeconfig of the cluster `key`. */
  serverFor(key: string, fqdn?: string): string {
    return this.frontDoor.serverFor(key, fqdn);
  }

  /** The cluster's simulators (created if needed). */
  cluster(key: string): Promise<SimulatedCluster> {
    let cluster = this.clusters.get(key);
    if (!cluster) {
      cluster = (async () => {
        const ollama = new SimulatedOllama({ clock: this.clock });
        const power = this.power;
        const kube = new SimulatedKubernetes({
          clock: this.clock,
          ollama,
          ...this.options(ollama, key),
          ...(power ? { power: () => power(key) } : {}),
        });
        await kube.listen();
        const created = { key, kube, ollama };
        this.ready.push(created);
        return created;
      })();
      this.clusters.set(key, cluster);
    }
    return cluster;
  }

  /** Clusters that exist so far. */
  all(): readonly SimulatedCluster[] {
    return this.ready;
  }

  async close(): Promise<void> {
    await Promise.all([...this.ready.map((c) => c.kube.close()), this.frontDoor.close()]);
  }
}
