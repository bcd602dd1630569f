import { describe, expect, it } from '@jest/globals';
import type { ContainerSnapshot, ContainerState } from './containerWorker.ts';
import { buildPodStatus, containerHistory, podPhase, type PodSnapshot } from './podStatus.ts';
import type { Pod, PodStatus } from './podTypes.ts';

const t0 = Date.parse('2026-01-01T00:00:00Z');
const running: ContainerState = { kind: 'running', startedAt: t0, pid: 4242 };
const waiting = (reason: string): ContainerState => ({ kind: 'waiting', reason });
const exited = (exitCode: number): ContainerState => ({
  kind: 'terminated',
  exitCode,
  reason: exitCode === 0 ? 'Completed' : 'Error',
  startedAt: t0,
  finishedAt: t0 + 5_000,
  pid: 4242,
});

function container(name: string, overrides: Partial<ContainerSnapshot> = {}): ContainerSnapshot {
  return {
    name,
    image: 'breakwater.dev/test/http-echo:latest',
    state: running,
    lastTerminated: undefined,
    restartCount: 0,
    started: true,
    ready: true,
    done: false,
    everStarted: true,
    ...overrides,
  };
}

function snapshot(overrides: Partial<PodSnapshot> = {}): PodSnapshot {
  return {
    initContainers: [],
    containers: [container('main')],
    initialized: true,
    sandboxReady: true,
    startTime: t0,
    podIP: '127.0.0.1',
    ...overrides,
  };
}

const pod: Pod = {
  metadata: { name: 'p', namespace: 'ns', uid: 'u', generation: 1 },
  spec: { containers: [{ name: 'main' }] },
};

const conditionOf = (status: PodStatus, type: string) =>
  status.conditions?.find((c) => c.type === type);

describe('podPhase', () => {
  it.each<[string, Partial<PodSnapshot>, string]>([
    ['is Running when every container has started', {}, 'Running'],
    [
      'is Pending while a container has never started',
      {
        containers: [
          container('a'),
          container('b', { everStarted: false, state: waiting('ErrImagePull') }),
        ],
      },
      'Pending',
    ],
    [
      'is Running while a container is in crash-loop back-off',
      { containers: [container('a', { state: waiting('CrashLoopBackOff') })] },
      'Running',
    ],
    [
      'is Pending while init containers run',
      { initialized: false, initContainers: [container('init')] },
      'Pending',
    ],
    [
      'is Failed when an init container failed for good',
      { initialized: false, initContainers: [container('init', { done: true, state: exited(1) })] },
      'Failed',
    ],
    [
      'is Succeeded when every container exited 0 for good',
      { containers: [container('a', { done: true, state: exited(0) })] },
      'Succeeded',
    ],
    [
      'is Failed when a container exited non-zero for good',
      {
        containers: [
          container('a', { done: true, state: exited(0) }),
          container('b', { done: true, state: exited(2) }),
        ],
      },
      'Failed',
    ],
  ])('%s', (_name, overrides, phase) => {
    expect(podPhase(snapshot(overrides))).toBe(phase);
  });
});

describe('buildPodStatus', () => {
  it('reports a ready pod on the loopback address', () => {
    const status = buildPodStatus(pod, snapshot(), undefined, t0);
    expect(status).toMatchObject({
      phase: 'Running',
      podIP: '127.0.0.1',
      podIPs: [{ ip: '127.0.0.1' }],
      hostIP: '127.0.0.1',
      startTime: '2026-01-01T00:00:00Z',
      observedGeneration: 1,
    });
    expect(status.conditions?.map((c) => `${c.type}=${c.status}`)).toEqual([
      'PodReadyToStartContainers=True',
      'Initialized=True',
      'ContainersReady=True',
      'Ready=True',
    ]);
  });

  it('names the unready containers', () => {
    const status = buildPodStatus(
      pod,
      snapshot({ containers: [container('a'), container('b', { ready: false })] }),
      undefined,
      t0,
    );
    expect(conditionOf(status, 'Ready')).toMatchObject({
      status: 'False',
      reason: 'ContainersNotReady',
      message: 'containers with unready status: [b]',
    });
  });

  it('keeps lastTransitionTime while a condition holds and moves it when it flips', () => {
    const first = buildPodStatus(pod, snapshot(), undefined, t0);
    const same = buildPodStatus(pod, snapshot(), first, t0 + 60_000);
    const flipped = buildPodStatus(
      pod,
      snapshot({ containers: [container('main', { ready: false })] }),
      same,
      t0 + 120_000,
    );
    expect(conditionOf(same, 'Ready')?.lastTransitionTime).toBe('2026-01-01T00:00:00Z');
    expect(conditionOf(flipped, 'Ready')?.lastTransitionTime).toBe('2026-01-01T00:02:00Z');
    expect(conditionOf(flipped, 'Initialized')?.lastTransitionTime).toBe('2026-01-01T00:00:00Z');
  });

  it('holds Ready back until every readiness gate is True', () => {
    const gated: Pod = {
      ...pod,
      spec: { ...pod.spec, readinessGates: [{ conditionType: 'example.com/LoadBalanced' }] },
    };
    expect(conditionOf(buildPodStatus(gated, snapshot(), undefined, t0), 'Ready')).toMatchObject({
      status: 'False',
      reason: 'ReadinessGatesNotReady',
    });
    const passed: Pod = {
      ...gated,
      status: { conditions: [{ type: 'example.com/LoadBalanced', status: 'True' }] },
    };
    expect(conditionOf(buildPodStatus(passed, snapshot(), undefined, t0), 'Ready')?.status).toBe(
      'True',
    );
  });

  it('writes container states the way kubectl reads them', () => {
    const status = buildPodStatus(
      pod,
      snapshot({
        containers: [
          container('main', {
            state: waiting('CrashLoopBackOff'),
            lastTerminated: exited(3) as ContainerSnapshot['lastTerminated'],
            restartCount: 2,
            ready: false,
            started: false,
          }),
        ],
      }),
      undefined,
      t0,
    );
    expect(status.containerStatuses).toEqual([
      {
        name: 'main',
        image: 'breakwater.dev/test/http-echo:latest',
        imageID: 'localnode://breakwater.dev/test/http-echo:latest',
        ready: false,
        started: false,
        restartCount: 2,
        state: { waiting: { reason: 'CrashLoopBackOff' } },
        lastState: {
          terminated: {
            exitCode: 3,
            reason: 'Error',
            startedAt: '2026-01-01T00:00:00Z',
            finishedAt: '2026-01-01T00:00:05Z',
            containerID: 'localnode://4242',
          },
        },
      },
    ]);
  });

  it('keeps a terminal phase once written', () => {
    const done = buildPodStatus(
      pod,
      snapshot({ containers: [container('a', { done: true, state: exited(0) })] }),
      undefined,
      t0,
    );
    expect(done.phase).toBe('Succeeded');
    expect(conditionOf(done, 'Ready')?.reason).toBe('PodCompleted');
    expect(buildPodStatus(pod, snapshot(), done, t0).phase).toBe('Succeeded');
  });
});

describe('containerHistory', () => {
  const base = { name: 'main', image: 'i', imageID: '', ready: false };

  it('starts afresh without a previous status', () => {
    expect(containerHistory(undefined, 'Always')).toEqual({ kind: 'fresh' });
  });

  it('reports a container that was running as lost, keeping its restart count', () => {
    expect(
      containerHistory(
        { ...base, restartCount: 2, state: { running: { startedAt: '2026-01-01T00:00:00Z' } } },
        'Always',
      ),
    ).toEqual({ kind: 'lost', restartCount: 2, startedAt: t0 });
  });

  it('keeps a container that exited for good finished', () => {
    const history = containerHistory(
      { ...base, restartCount: 0, state: { terminated: { exitCode: 0 } } },
      'OnFailure',
    );
    expect(history.kind).toBe('finished');
  });

  it('resumes a failed container that its restart policy restarts', () => {
    const history = containerHistory(
      { ...base, restartCount: 1, state: { terminated: { exitCode: 1 } } },
      'OnFailure',
    );
    expect(history).toMatchObject({ kind: 'resumed', restartCount: 1 });
  });
});
