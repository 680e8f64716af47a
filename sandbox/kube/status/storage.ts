/** PersistentVolumeClaim binding and PersistentVolume phase. */
import { arr, k8sTime, type JsonObject } from '../json.js';
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
  const claimed = s.volumeHolder(entry) !== undefined;
  return { phase: claimed ? 'Bound' : 'Available', lastPhaseTransitionTime: k8sTime(entry.createdMs) };
}
