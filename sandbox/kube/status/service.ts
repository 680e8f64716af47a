/**
 * Service status: a LoadBalancer gets its ingress IP after a delay, as AKS's cloud provider reports it (the
 * IP only; a DNS label is published by Azure DNS, not in the status). A DNS label Azure refuses (AKS: the
 * `service.beta.kubernetes.io/azure-dns-label-name` annotation names the public IP's domain name label,
 * which must be 3–63 characters, a lowercase letter first, lowercase letters, digits and hyphens, no
 * hyphen last) means the public IP is never configured: the Service stays without an IP.
 */
import { str, strMap, type JsonObject } from '../json.js';
import type { Snapshot } from '../simulation.js';
import type { Entry } from '../store.js';

export const DNS_LABEL_ANNOTATION = 'service.beta.kubernetes.io/azure-dns-label-name';
const DNS_LABEL = /^[a-z][a-z0-9-]{1,61}[a-z0-9]$/;

export function serviceStatus(s: Snapshot, entry: Entry): JsonObject {
  if (str(entry.content, 'spec', 'type') !== 'LoadBalancer') return { loadBalancer: {} };
  if (s.now < entry.createdMs + s.config.delays.loadBalancerIpMs) return { loadBalancer: {} };
  const label = strMap(entry.content, 'metadata', 'annotations')[DNS_LABEL_ANNOTATION];
  if (label !== undefined && !DNS_LABEL.test(label)) return { loadBalancer: {} };
  return { loadBalancer: { ingress: [{ ip: s.loadBalancerIp(entry), ipMode: 'VIP' }] } };
}
