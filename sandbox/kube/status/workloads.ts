/** Deployment, StatefulSet, DaemonSet and Job status, from their virtual pods and the rollout in progress. */
import { k8sTime, num, obj, safeHash, str, type JsonObject } from '../json.js';
import type { Snapshot } from '../simulation.js';
import type { Entry } from '../store.js';
import { condition, omitZero, probe } from './common.js';

/** Ready pods now, plus old pods still serving during a rolling update. */
function rollout(
  s: Snapshot,
  entry: Entry,
  replicas: number,
  newReady: number,
  surge: 'rolling' | 'recreate' | 'one-by-one',
) {
  const prev = entry.prev;
  const oldReady =
    prev && prev.ready && prev.templateChanged && entry.revisionMs >= s.config.clusterStartedMs
      ? Math.min(prev.replicas, replicas)
      : 0;
  if (newReady >= replicas || oldReady === 0) return { ready: newReady, old: 0 };
  if (surge === 'recreate') return { ready: newReady, old: 0 };
  if (surge === 'one-by-one')
    return { ready: Math.max(newReady, oldReady - 1), old: Math.max(0, oldReady - 1 - newReady) };
  return { ready: Math.max(newReady, oldReady), old: Math.max(0, oldReady - newReady) };
}

export function deploymentStatus(s: Snapshot, entry: Entry): JsonObject {
  const spec = obj(entry.content, 'spec');
  const replicas = num(spec, 'replicas') ?? 1;
  const pods = s.podsOf(entry);
  const readyPods = pods.filter((p) => p.readyMs <= s.now);
  const strategy = str(spec, 'strategy', 'type') === 'Recreate' ? 'recreate' : 'rolling';
  const { ready, old } = rollout(s, entry, replicas, readyPods.length, strategy);
  const complete = readyPods.length >= replicas;
  const rs = `${entry.name}-${safeHash(JSON.stringify(obj(spec, 'template')), 10)}`;
  const readyAt = complete
    ? Math.max(entry.revisionMs, ...readyPods.map((p) => p.readyMs))
    : entry.revisionMs;
  const deadlineMs = (num(spec, 'progressDeadlineSeconds') ?? 600) * 1000;
  const maxUnavailable = Math.floor(replicas * 0.25);
  const available = ready >= replicas - (strategy === 'rolling' ? maxUnavailable : 0);
  const createError = s.createError(entry);
  const conditions = [
    condition(
      s.now,
      'Available',
      available,
      available ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable',
      available ? 'Deployment has minimum availability.' : 'Deployment does not have minimum availability.',
      available ? readyAt : entry.createdMs,
      true,
    ),
    complete
      ? condition(
          s.now,
          'Progressing',
          true,
          'NewReplicaSetAvailable',
          `ReplicaSet "${rs}" has successfully progressed.`,
          readyAt,
          true,
        )
      : s.now > entry.revisionMs + deadlineMs
        ? condition(
            s.now,
            'Progressing',
            false,
            'ProgressDeadlineExceeded',
            `ReplicaSet "${rs}" has timed out progressing.`,
            entry.revisionMs + deadlineMs,
            true,
          )
        : condition(
            s.now,
            'Progressing',
            true,
            'ReplicaSetUpdated',
            `ReplicaSet "${rs}" is progressing.`,
            entry.revisionMs,
            true,
          ),
    ...(createError
      ? [condition(s.now, 'ReplicaFailure', true, 'FailedCreate', createError, entry.revisionMs, true)]
      : []),
  ];
  return omitZero({
    observedGeneration: entry.generation,
    replicas: pods.length + old,
    updatedReplicas: pods.length,
    readyReplicas: ready,
    availableReplicas: ready,
    unavailableReplicas: Math.max(0, replicas - ready),
    conditions,
  });
}

export function statefulSetStatus(s: Snapshot, entry: Entry): JsonObject {
  const spec = obj(entry.content, 'spec');
  const replicas = num(spec, 'replicas') ?? 1;
  const pods = s.podsOf(entry);
  const newReady = pods.filter((p) => p.readyMs <= s.now).length;
  const { ready } = rollout(s, entry, replicas, newReady, 'one-by-one');
  const revision = `${entry.name}-${safeHash(JSON.stringify(obj(spec, 'template')), 10)}`;
  return {
    observedGeneration: entry.generation,
    replicas: Math.max(pods.length, ready),
    ...omitZero({
      readyReplicas: ready,
      currentReplicas: newReady >= replicas ? pods.length : ready,
      updatedReplicas: pods.length,
    }),
    availableReplicas: ready,
    currentRevision: revision,
    updateRevision: revision,
    collisionCount: 0,
  };
}

export function daemonSetStatus(s: Snapshot, entry: Entry): JsonObject {
  const pods = s.podsOf(entry);
  const desired = pods.length;
  const newReady = pods.filter((p) => p.readyMs <= s.now).length;
  const { ready } = rollout(s, entry, desired, newReady, 'one-by-one');
  return {
    currentNumberScheduled: pods.filter((p) => p.nodeName).length,
    desiredNumberScheduled: desired,
    numberMisscheduled: 0,
    numberReady: ready,
    observedGeneration: entry.generation,
    ...omitZero({
      updatedNumberScheduled: desired,
      numberAvailable: ready,
      numberUnavailable: desired - ready,
    }),
  };
}

export function jobStatus(s: Snapshot, entry: Entry): JsonObject {
  const pod = s.podsOf(entry)[0];
  const createError = s.createError(entry);
  if (!pod) return createError ? { active: 0 } : {};
  const base = { startTime: k8sTime(pod.createdMs), terminating: 0, uncountedTerminatedPods: {} };
  if (pod.finishMs !== undefined && pod.finishMs <= s.now) {
    if (pod.outcome === 'Failed') {
      const backoffLimit = num(entry.content, 'spec', 'backoffLimit') ?? 6;
      const msg = 'Job has reached the specified backoff limit';
      return {
        ...base,
        failed: backoffLimit + 1,
        ready: 0,
        conditions: [
          condition(s.now, 'FailureTarget', true, 'BackoffLimitExceeded', msg, pod.finishMs),
          condition(s.now, 'Failed', true, 'BackoffLimitExceeded', msg, pod.finishMs),
        ].map(probe),
      };
    }
    return {
      ...base,
      completionTime: k8sTime(pod.finishMs),
      succeeded: 1,
      ready: 0,
      conditions: [
        condition(
          s.now,
          'SuccessCriteriaMet',
          true,
          'CompletionsReached',
          'Reached expected number of succeeded pods',
          pod.finishMs,
        ),
        condition(
          s.now,
          'Complete',
          true,
          'CompletionsReached',
          'Reached expected number of succeeded pods',
          pod.finishMs,
        ),
      ].map(probe),
    };
  }
  return { ...base, active: 1, ready: pod.readyMs <= s.now ? 1 : 0 };
}
