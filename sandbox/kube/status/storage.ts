/** PersistentVolumeClaim binding and PersistentVolume phase. */
import { arr, k8sTime, str, type JsonObject } from '../json.js';
import type { Snapshot } from '../simulation.js';
import type { Entry } from '../store.js';

export function pvcStatus(s: Snapshot, entry: Entry): JsonObject {
  const b = s.pvcBinding(entry);
  return b.bound
    ? {
        phase: 'Bound',
        accessModes: arr(entry.content, 'spec', 'accessModes'),
        ...(b.capacity ? { capacity: { storage: b.capacity } } : {}),
      }
    : { phase: 'Pending' };
}

export function pvStatus(s: Snapshot, entry: Entry): JsonObject {
  const claimed = s
    .ofKind('PersistentVolumeClaim')
    .some(
      (pvc) =>
        str(pvc.content, 'spec', 'volumeName') === entry.name ||
        (str(entry.content, 'spec', 'claimRef', 'name') === pvc.name &&
          str(entry.content, 'spec', 'claimRef', 'namespace') === pvc.namespace),
    );
  return { phase: claimed ? 'Bound' : 'Available', lastPhaseTransitionTime: k8sTime(entry.createdMs) };
}
