/**
 * What a worker keeps per AKS cluster between activities: the API server's address and CA (from
 * listClusterUserCredential) and the Kubernetes clients built on a keep-alive agent trusting that CA, so a
 * warm probe costs no ARM call, and no TLS handshake while the API server keeps the connection open. AKS
 * allows its "all other APIs" (the credential POSTs among them) 60 calls in a burst and then one a second
 * per subscription and region (azure-real-behaviours §3.2): a sweep reading every cluster's credential
 * could not keep a five-minute schedule past a few hundred platforms.
 *
 * Nothing expires by time: an entry is dropped when the cluster refuses it (a connection or TLS failure, a
 * 401), and the next use reads the credential again. A started cluster with a new address, or a cluster
 * re-created under the same name (a new FQDN and CA), fails once on the kept entry and then works.
 */
import type { Agent } from 'node:https';

export interface KeptCluster<C> {
  server: string;
  caData?: string;
  clients: C;
  agent: Agent;
}

interface Slot<C> {
  opening: Promise<KeptCluster<C>>;
  /** Set once opened. */
  entry?: KeptCluster<C>;
}

/** A bounded map, least recently used first out; concurrent misses for one cluster share one read. */
export class ClusterConnectionCache<C> {
  private readonly slots = new Map<string, Slot<C>>();

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.slots.size;
  }

  /**
   * The kept entry of `key`, or the one `open` makes (then kept). `fresh` says it was made by this call: a
   * failure on a fresh entry is not cured by reading the credential again.
   */
  async get(
    key: string,
    open: () => Promise<KeptCluster<C>>,
  ): Promise<{ entry: KeptCluster<C>; fresh: boolean }> {
    const kept = this.slots.get(key);
    if (kept) {
      // Most recently used last: a Map keeps insertion order.
      this.slots.delete(key);
      this.slots.set(key, kept);
      return { entry: await kept.opening, fresh: false };
    }
    const slot: Slot<C> = { opening: open() };
    this.slots.set(key, slot);
    slot.opening.then(
      (entry) => (slot.entry = entry),
      () => {
        if (this.slots.get(key) === slot) this.slots.delete(key);
      },
    );
    while (this.slots.size > this.capacity) {
      const [oldest, old] = this.slots.entries().next().value!;
      this.slots.delete(oldest);
      close(old);
    }
    return { entry: await slot.opening, fresh: true };
  }

  /** Forgets `key` (only while it still holds `entry`, when given) and closes its connections. */
  drop(key: string, entry?: KeptCluster<C>): void {
    const slot = this.slots.get(key);
    if (!slot || (entry && slot.entry !== entry)) return;
    this.slots.delete(key);
    close(slot);
  }
}

/**
 * Closes an entry's idle connection and lets those in use close when their request ends (another activity
 * may be using the entry while it is dropped or evicted).
 */
function close<C>(slot: Slot<C>): void {
  void slot.opening.then(
    ({ agent }) => {
      agent.maxFreeSockets = 0;
      for (const sockets of Object.values(agent.freeSockets)) for (const s of sockets ?? []) s.destroy();
    },
    () => undefined,
  );
}
