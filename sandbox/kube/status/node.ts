/** Node status: conditions, addresses, and the GPU capacity once the device plugin advertises it. */
import { k8sTime, obj, type JsonObject } from '../json.js';
import type { Snapshot } from '../simulation.js';
import type { Entry } from '../store.js';

export function nodeStatus(s: Snapshot, entry: Entry): JsonObject {
  const view = s.nodes.find((n) => n.entry === entry);
  const stored = entry.status ?? {};
  const capacity: JsonObject = { ...obj(stored, 'capacity') };
  const allocatable: JsonObject = { ...obj(stored, 'allocatable') };
  if (view && view.gpus > 0 && view.gpuAt <= s.now) {
    capacity['nvidia.com/gpu'] = String(view.gpus);
    allocatable['nvidia.com/gpu'] = String(view.gpus);
  }
  const ready = view?.ready ?? true;
  const since = k8sTime(view?.joinedMs ?? entry.createdMs);
  const c = (type: string, status: string, reason: string, message: string) => ({
    type,
    status,
    lastHeartbeatTime: k8sTime(s.now),
    lastTransitionTime: since,
    reason,
    message,
  });
  return {
    ...stored,
    capacity,
    allocatable,
    conditions: [
      c('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
      c('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
      c('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
      ready
        ? c('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status')
        : c('Ready', 'Unknown', 'NodeStatusUnknown', 'Kubelet stopped posting node status.'),
    ],
    addresses: [
      { type: 'InternalIP', address: view?.ip ?? '10.224.0.4' },
      { type: 'Hostname', address: entry.name },
    ],
  };
}
