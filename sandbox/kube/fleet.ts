/**
 * One simulated Kubernetes API server (and Ollama) per AKS cluster, behind one loopback listener: each
 * cluster's kubeconfig points at `<base>/clusters/<cluster key>`, and requests under that prefix are
 * forwarded to that cluster's own simulator, created on first use. Platforms never share a cluster.
 */
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../clock.js';
import { SimulatedKubernetes, type ApiServerPower, type SimulatedKubernetesOptions } from './apiserver.js';
import { SimulatedOllama } from './ollama.js';

export interface SimulatedCluster {
  key: string;
  kube: SimulatedKubernetes;
  ollama: SimulatedOllama;
}

export class SimulatedKubernetesFleet {
  private server?: Server;
  private base = '';
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
  ) {}

  async listen(): Promise<string> {
    this.server = createServer((req, res) => {
      const match = /^\/clusters\/([^/]+)(\/.*)?$/.exec(req.url ?? '');
      if (!match) {
        res.writeHead(404).end();
        return;
      }
      void this.cluster(decodeURIComponent(match[1]!)).then(({ kube }) => {
        const target = new URL(match[2] ?? '/', kube.url);
        const upstream = httpRequest(target, { method: req.method, headers: req.headers }, (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        });
        upstream.on('error', () => res.destroy());
        req.pipe(upstream);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.base;
  }

  /** The API server URL to put into the kubeconfig of the cluster `key`. */
  serverFor(key: string): string {
    return `${this.base}/clusters/${encodeURIComponent(key)}`;
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
    await Promise.all(this.ready.map((c) => c.kube.close()));
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }
}
