/**
 * The status a real cluster would report now, per built-in kind: each function reads the snapshot (virtual
 * pods, nodes, the clock) and the stored entry. Kinds without an entry here report what was stored.
 */
import type { JsonObject } from '../json.js';
import type { Snapshot } from '../simulation.js';
import type { Entry } from '../store.js';
import { apiServiceStatus, crdStatus } from './api.js';
import { hpaStatus, pdbStatus } from './autoscaling.js';
import { nodeStatus } from './node.js';
import { podStatus } from './pod.js';
import { quotaStatus } from './quota.js';
import { serviceStatus } from './service.js';
import { pvStatus, pvcStatus } from './storage.js';
import { daemonSetStatus, deploymentStatus, jobStatus, statefulSetStatus } from './workloads.js';

export type StatusOf = (snapshot: Snapshot, entry: Entry) => JsonObject;

export const STATUS_BY_KIND: ReadonlyMap<string, StatusOf> = new Map<string, StatusOf>([
  ['Deployment', deploymentStatus],
  ['StatefulSet', statefulSetStatus],
  ['DaemonSet', daemonSetStatus],
  ['Job', jobStatus],
  ['Pod', (s, entry) => podStatus(s, s.podsOf(entry)[0])],
  ['Node', nodeStatus],
  ['Service', serviceStatus],
  ['PersistentVolumeClaim', pvcStatus],
  ['PersistentVolume', pvStatus],
  ['Namespace', (_, entry) => ({ phase: entry.deletingSinceMs === undefined ? 'Active' : 'Terminating' })],
  ['APIService', apiServiceStatus],
  ['CustomResourceDefinition', crdStatus],
  ['HorizontalPodAutoscaler', hpaStatus],
  ['PodDisruptionBudget', pdbStatus],
  ['ResourceQuota', quotaStatus],
]);
