/** Service status: a LoadBalancer gets its ingress IP after a delay. */
import { str, type JsonObject } from '../json.js';
import type { Snapshot } from '../simulation.js';
import type { Entry } from '../store.js';

export function serviceStatus(s: Snapshot, entry: Entry): JsonObject {
  if (str(entry.content, 'spec', 'type') !== 'LoadBalancer') return { loadBalancer: {} };
  if (s.now < entry.createdMs + s.config.delays.loadBalancerIpMs) return { loadBalancer: {} };
  return { loadBalancer: { ingress: [{ ip: s.loadBalancerIp(entry), ipMode: 'VIP' }] } };
}
