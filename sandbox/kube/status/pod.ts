/** Pod status: scheduling, container states and readiness of a virtual or stored pod. */
import { arr, isObject, k8sTime, safeHash, str, type JsonObject } from '../json.js';
import type { PodView, Snapshot } from '../simulation.js';
import { NEVER } from './common.js';

export function podStatus(s: Snapshot, pod: PodView | undefined): JsonObject {
  if (!pod) return { phase: 'Pending' };
  const t = (ms: number) => k8sTime(ms);
  const containers = arr(pod.spec, 'containers').filter(isObject);
  if (pod.unschedulable || pod.scheduledMs === undefined || pod.nodeName === undefined) {
    return {
      phase: 'Pending',
      conditions: [
        {
          type: 'PodScheduled',
          status: 'False',
          lastProbeTime: null,
          lastTransitionTime: t(pod.createdMs),
          reason: 'Unschedulable',
          message: pod.unschedulable ?? 'waiting for a node',
        },
      ],
      qosClass: 'Burstable',
    };
  }
  const node = s.nodes.find((n) => n.name === pod.nodeName);
  const finished = pod.finishMs !== undefined && pod.finishMs <= s.now;
  const ready = !finished && pod.readyMs <= s.now;
  const running = ready || (pod.readyMs !== NEVER && !pod.waiting && pod.readyMs - s.now <= 30_000);
  const phase = finished
    ? pod.outcome!
    : running || pod.waiting?.reason === 'CrashLoopBackOff'
      ? 'Running'
      : 'Pending';
  const state = (image: string): JsonObject => {
    if (finished)
      return {
        terminated: {
          exitCode: pod.outcome === 'Failed' ? 1 : 0,
          reason: pod.outcome === 'Failed' ? 'Error' : 'Completed',
          ...(pod.failureMessage ? { message: pod.failureMessage } : {}),
          startedAt: t(pod.scheduledMs!),
          finishedAt: t(pod.finishMs!),
          containerID: `containerd://${safeHash(`${pod.name}/${image}`, 20)}`,
        },
      };
    if (pod.waiting)
      return {
        waiting: {
          reason: pod.waiting.reason,
          ...(pod.waiting.message ? { message: pod.waiting.message } : {}),
        },
      };
    if (running) return { running: { startedAt: t(Math.max(pod.scheduledMs!, pod.readyMs - 30_000)) } };
    return { waiting: { reason: 'ContainerCreating' } };
  };
  return {
    phase,
    conditions: [
      {
        type: 'PodReadyToStartContainers',
        status: running || finished ? 'True' : 'False',
        lastProbeTime: null,
        lastTransitionTime: t(pod.scheduledMs),
      },
      { type: 'Initialized', status: 'True', lastProbeTime: null, lastTransitionTime: t(pod.scheduledMs) },
      {
        type: 'Ready',
        status: ready ? 'True' : 'False',
        lastProbeTime: null,
        lastTransitionTime: t(ready ? pod.readyMs : pod.scheduledMs),
        ...(ready ? {} : { reason: finished ? 'PodCompleted' : 'ContainersNotReady' }),
      },
      {
        type: 'ContainersReady',
        status: ready ? 'True' : 'False',
        lastProbeTime: null,
        lastTransitionTime: t(ready ? pod.readyMs : pod.scheduledMs),
        ...(ready ? {} : { reason: finished ? 'PodCompleted' : 'ContainersNotReady' }),
      },
      { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: t(pod.scheduledMs) },
    ],
    hostIP: node?.ip ?? '10.224.0.4',
    podIP: pod.ip,
    podIPs: [{ ip: pod.ip }],
    startTime: t(pod.scheduledMs),
    containerStatuses: containers.map((c) => ({
      name: str(c, 'name') ?? 'main',
      image: str(c, 'image') ?? '',
      imageID: '',
      ready,
      started: running && !finished,
      restartCount: pod.restarts,
      state: state(str(c, 'image') ?? ''),
    })),
    qosClass: 'Burstable',
  };
}
