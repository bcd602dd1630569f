/**
 * A pod's status from its containers, as kubelet computes it: phase, the conditions kubelet
 * owns (PodReadyToStartContainers, Initialized, ContainersReady, Ready — PodScheduled is the
 * scheduler's), container statuses, IPs and start time. Pure: the caller passes the time and
 * the status written last, whose lastTransitionTimes survive unless a condition flips.
 */
import type {
  ContainerHistory,
  ContainerSnapshot,
  ContainerState,
  TerminatedState,
} from './containerWorker.ts';
import {
  wireTime,
  type ConditionStatus,
  type ContainerStateWire,
  type ContainerStatus,
  type Pod,
  type PodCondition,
  type PodPhase,
  type PodStatus,
  type RestartPolicy,
} from './podTypes.ts';
import { constants } from 'node:os';

export interface PodSnapshot {
  readonly initContainers: readonly ContainerSnapshot[];
  readonly containers: readonly ContainerSnapshot[];
  /** Every init container has succeeded. */
  readonly initialized: boolean;
  /** Ports are allocated: what kubelet calls the sandbox exists. */
  readonly sandboxReady: boolean;
  readonly startTime: number;
  readonly podIP: string;
}

export function podPhase(snapshot: PodSnapshot): PodPhase {
  const failedInit = snapshot.initContainers.some((c) => c.done && exitCode(c.state) !== 0);
  if (failedInit) return 'Failed';
  if (!snapshot.initialized) return 'Pending';
  const containers = snapshot.containers;
  if (containers.length > 0 && containers.every((c) => c.done)) {
    return containers.every((c) => exitCode(c.state) === 0) ? 'Succeeded' : 'Failed';
  }
  // A container that never ran (bad image, missing secret) keeps the pod Pending.
  if (containers.some((c) => !c.everStarted)) return 'Pending';
  return 'Running';
}

export function isTerminal(phase: PodPhase | undefined): boolean {
  return phase === 'Succeeded' || phase === 'Failed';
}

export function buildPodStatus(
  pod: Pod,
  snapshot: PodSnapshot,
  previous: PodStatus | undefined,
  now: number,
): PodStatus {
  const phase = isTerminal(previous?.phase) ? (previous?.phase ?? 'Failed') : podPhase(snapshot);
  const terminal = isTerminal(phase);
  const generation = pod.metadata.generation;
  const previousConditions = previous?.conditions ?? [];
  const condition = (
    type: string,
    status: ConditionStatus,
    reason?: string,
    message?: string,
  ): PodCondition => {
    const before = previousConditions.find((c) => c.type === type);
    return {
      type,
      status,
      ...(reason === undefined ? {} : { reason }),
      ...(message === undefined ? {} : { message }),
      lastTransitionTime:
        before?.status === status && before.lastTransitionTime !== undefined
          ? before.lastTransitionTime
          : wireTime(now),
      ...(generation === undefined ? {} : { observedGeneration: generation }),
    };
  };

  const incompleteInit = snapshot.initialized
    ? []
    : snapshot.initContainers
        .filter((c) => !(c.done && exitCode(c.state) === 0))
        .map((c) => c.name);
  const unready = snapshot.containers.filter((c) => !c.ready).map((c) => c.name);
  const containersReady = !terminal && unready.length === 0 && snapshot.initialized;
  const gatesMessage = readinessGatesProblem(pod);

  const conditions: PodCondition[] = [
    condition('PodReadyToStartContainers', snapshot.sandboxReady ? 'True' : 'False'),
    snapshot.initialized
      ? condition('Initialized', 'True')
      : condition(
          'Initialized',
          'False',
          'ContainersNotInitialized',
          `containers with incomplete status: [${incompleteInit.join(' ')}]`,
        ),
    containersReady
      ? condition('ContainersReady', 'True')
      : condition(
          'ContainersReady',
          'False',
          terminal ? 'PodCompleted' : 'ContainersNotReady',
          terminal ? undefined : `containers with unready status: [${unready.join(' ')}]`,
        ),
    containersReady && gatesMessage === undefined
      ? condition('Ready', 'True')
      : condition(
          'Ready',
          'False',
          terminal
            ? 'PodCompleted'
            : containersReady
              ? 'ReadinessGatesNotReady'
              : 'ContainersNotReady',
          terminal
            ? undefined
            : containersReady
              ? gatesMessage
              : `containers with unready status: [${unready.join(' ')}]`,
        ),
  ];

  const status: PodStatus = {
    phase,
    conditions,
    hostIP: snapshot.podIP,
    hostIPs: [{ ip: snapshot.podIP }],
    podIP: snapshot.podIP,
    podIPs: [{ ip: snapshot.podIP }],
    startTime: previous?.startTime ?? wireTime(snapshot.startTime),
    containerStatuses: snapshot.containers.map(containerStatus),
    ...(generation === undefined ? {} : { observedGeneration: generation }),
  };
  if (snapshot.initContainers.length > 0) {
    status.initContainerStatuses = snapshot.initContainers.map(containerStatus);
  }
  return status;
}

/** Why the pod's readiness gates hold it back, or undefined when they do not. */
function readinessGatesProblem(pod: Pod): string | undefined {
  for (const gate of pod.spec.readinessGates ?? []) {
    const condition = pod.status?.conditions?.find((c) => c.type === gate.conditionType);
    if (condition === undefined) {
      return `corresponding condition of pod readiness gate "${gate.conditionType}" does not exist.`;
    }
    if (condition.status !== 'True') {
      return `the status of pod readiness gate "${gate.conditionType}" is not "True", but ${condition.status}`;
    }
  }
  return undefined;
}

export function containerStatus(c: ContainerSnapshot): ContainerStatus {
  const pid = c.state.kind === 'waiting' ? undefined : c.state.pid;
  return {
    name: c.name,
    image: c.image,
    imageID: c.everStarted ? `localnode://${c.image}` : '',
    ...(pid === undefined ? {} : { containerID: containerId(pid) }),
    ready: c.ready,
    started: c.started,
    restartCount: c.restartCount,
    state: wireState(c.state),
    lastState: c.lastTerminated === undefined ? {} : wireState(c.lastTerminated),
  };
}

function wireState(state: ContainerState): ContainerStateWire {
  switch (state.kind) {
    case 'waiting':
      return {
        waiting: {
          reason: state.reason,
          ...(state.message === undefined ? {} : { message: state.message }),
        },
      };
    case 'running':
      return { running: { startedAt: wireTime(state.startedAt) } };
    case 'terminated':
      return { terminated: wireTerminated(state) };
  }
}

function wireTerminated(state: TerminatedState): NonNullable<ContainerStateWire['terminated']> {
  const signal = state.signal === undefined ? undefined : constants.signals[state.signal];
  return {
    exitCode: state.exitCode,
    ...(signal === undefined ? {} : { signal }),
    reason: state.reason,
    ...(state.message === undefined ? {} : { message: state.message }),
    startedAt: wireTime(state.startedAt),
    finishedAt: wireTime(state.finishedAt),
    ...(state.pid === undefined ? {} : { containerID: containerId(state.pid) }),
  };
}

/** A local process has no container ID; the pid, in the runtime://id shape kubectl expects. */
function containerId(pid: number): string {
  return `localnode://${pid}`;
}

function exitCode(state: ContainerState): number | undefined {
  return state.kind === 'terminated' ? state.exitCode : undefined;
}

/**
 * What a pod's last status says about one container, so that a restarted local node picks
 * up where it left off: restart counts carry on, a container that was running is reported
 * lost (its process died with the old local node), one that had exited for good stays so.
 */
export function containerHistory(
  status: ContainerStatus | undefined,
  restartPolicy: RestartPolicy,
): ContainerHistory {
  if (status === undefined) return { kind: 'fresh' };
  const restartCount = status.restartCount;
  const running = status.state?.running;
  if (running !== undefined) {
    return { kind: 'lost', restartCount, startedAt: parseTime(running.startedAt) };
  }
  const terminated = terminatedFromWire(status.state?.terminated);
  if (terminated !== undefined) {
    const restarts =
      restartPolicy === 'Always' || (restartPolicy === 'OnFailure' && terminated.exitCode !== 0);
    return restarts
      ? { kind: 'resumed', restartCount, lastTerminated: terminated }
      : { kind: 'finished', restartCount, terminated };
  }
  const last = terminatedFromWire(status.lastState?.terminated);
  if (restartCount > 0 || last !== undefined) {
    return { kind: 'resumed', restartCount, lastTerminated: last };
  }
  return { kind: 'fresh' };
}

function terminatedFromWire(wire: ContainerStateWire['terminated']): TerminatedState | undefined {
  if (wire === undefined) return undefined;
  return {
    kind: 'terminated',
    exitCode: wire.exitCode,
    reason: wire.reason ?? (wire.exitCode === 0 ? 'Completed' : 'Error'),
    message: wire.message,
    startedAt: parseTime(wire.startedAt),
    finishedAt: parseTime(wire.finishedAt),
  };
}

function parseTime(value: string | undefined): number {
  const ms = value === undefined ? Number.NaN : Date.parse(value);
  return Number.isNaN(ms) ? 0 : ms;
}
