/** APIService availability and CRD establishment. */
import { arr, isObject, obj, str, type JsonObject } from '../json.js';
import type { Snapshot } from '../simulation.js';
import type { Entry } from '../store.js';
import { condition } from './common.js';

export function apiServiceStatus(s: Snapshot, entry: Entry): JsonObject {
  const { at, reason, message } = s.apiServiceAvailableAt(entry);
  const ok = at <= s.now;
  return {
    conditions: [
      ok
        ? condition(
            s.now,
            'Available',
            true,
            reason === 'Local' ? 'Local' : 'Passed',
            reason === 'Local' ? message : 'all checks passed',
            at,
          )
        : condition(s.now, 'Available', false, reason, message, entry.revisionMs),
    ],
  };
}

export function crdStatus(s: Snapshot, entry: Entry): JsonObject {
  const established = s.now >= entry.revisionMs + s.config.delays.crdEstablishedMs;
  const spec = obj(entry.content, 'spec');
  const storage = arr(spec, 'versions').find((v) => isObject(v) && v.storage === true);
  return {
    acceptedNames: obj(spec, 'names'),
    conditions: [
      condition(s.now, 'NamesAccepted', true, 'NoConflicts', 'no conflicts found', entry.createdMs),
      established
        ? condition(
            s.now,
            'Established',
            true,
            'InitialNamesAccepted',
            'the initial names have been accepted',
            entry.revisionMs + s.config.delays.crdEstablishedMs,
          )
        : condition(
            s.now,
            'Established',
            false,
            'Installing',
            'the initial names have not been accepted',
            entry.createdMs,
          ),
    ],
    storedVersions: storage ? [str(storage, 'name') ?? 'v1'] : [],
  };
}
