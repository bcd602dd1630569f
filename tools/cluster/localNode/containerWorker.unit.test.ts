import { describe, expect, it } from '@jest/globals';
import { ManualClock } from '../../../test/support/manualClock.ts';
import type { ContainerProcess, ExitStatus, LaunchSpec } from './containerProcess.ts';
import {
  ContainerWorker,
  type ContainerHistory,
  type ContainerProbes,
  type Preparation,
} from './containerWorker.ts';
import { silentLogger } from './log.ts';
import type { Probe, RestartPolicy } from './podTypes.ts';
import type { ProbeCheck } from './probeWorker.ts';
import { kubeletBackoff } from './restartBackoff.ts';

const flush = async (): Promise<void> => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

/** A process that exits when told to, or on SIGTERM unless it ignores it; SIGKILL always works. */
class FakeProcess implements ContainerProcess {
  readonly pid: number;
  readonly exited: Promise<ExitStatus>;
  readonly signals: string[] = [];
  ignoresSigterm = false;
  #resolve: (status: ExitStatus) => void = () => undefined;
  #done = false;

  constructor(pid: number) {
    this.pid = pid;
    this.exited = new Promise((resolve) => (this.#resolve = resolve));
  }

  signal(signal: NodeJS.Signals): void {
    this.signals.push(signal);
    if (signal === 'SIGKILL') this.exit(137, 'SIGKILL');
    if (signal === 'SIGTERM' && !this.ignoresSigterm) this.exit(0);
  }

  exit(exitCode: number, signal?: NodeJS.Signals): void {
    if (this.#done) return;
    this.#done = true;
    this.#resolve({ exitCode, signal });
  }
}

const launchSpec: LaunchSpec = { argv: ['echo'], env: {}, cwd: '/tmp', logPath: '/tmp/x.log' };
const ok: Preparation = {
  ok: true,
  launch: launchSpec,
  probeTarget: { host: '127.0.0.1', resolvePort: (p) => Number(p), env: {}, cwd: '/tmp' },
};

/** A probe the test answers: an exec probe whose command names a switch. */
const probe = (name: string, extra: Partial<Probe> = {}): Probe => ({
  exec: { command: [name] },
  periodSeconds: 1,
  failureThreshold: 2,
  ...extra,
});

interface Rig {
  readonly worker: ContainerWorker;
  readonly clock: ManualClock;
  readonly processes: FakeProcess[];
  readonly healthy: Map<string, boolean>;
  preparations: Preparation[];
  launchFailure: Error | undefined;
  readonly last: () => FakeProcess;
  readonly advance: (ms: number) => Promise<void>;
}

function rig(
  options: {
    restartPolicy?: RestartPolicy;
    probes?: ContainerProbes;
    history?: ContainerHistory;
  } = {},
): Rig {
  const clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z'));
  const processes: FakeProcess[] = [];
  const healthy = new Map<string, boolean>();
  const r: Rig = {
    clock,
    processes,
    healthy,
    preparations: [],
    launchFailure: undefined,
    last: () => {
      const p = processes.at(-1);
      if (p === undefined) throw new Error('nothing launched');
      return p;
    },
    advance: async (ms) => {
      clock.advance(ms);
      await flush();
    },
    worker: new ContainerWorker({
      name: 'main',
      image: 'breakwater.dev/test/http-echo',
      podRef: 'ns/pod',
      restartPolicy: options.restartPolicy ?? 'Always',
      probes: options.probes ?? {},
      gracePeriodMs: 30_000,
      clock,
      backoff: kubeletBackoff,
      launcher: {
        launch: () => {
          if (r.launchFailure !== undefined) return Promise.reject(r.launchFailure);
          const p = new FakeProcess(1000 + processes.length);
          processes.push(p);
          return Promise.resolve(p);
        },
      },
      prepare: () => Promise.resolve(r.preparations.shift() ?? ok),
      checkFor: (p): ProbeCheck => {
        const name = p.exec?.command?.[0] ?? '';
        return () =>
          Promise.resolve(
            healthy.get(name) === true
              ? { success: true }
              : { success: false, message: `${name} says no` },
          );
      },
      onChange: () => undefined,
      log: silentLogger,
      history: options.history,
    }),
  };
  return r;
}

async function started(options: Parameters<typeof rig>[0] = {}): Promise<Rig> {
  const r = rig(options);
  r.worker.start();
  await flush();
  return r;
}

describe('ContainerWorker', () => {
  it('starts the process and is ready at once without a readiness probe', async () => {
    const r = await started();
    expect(r.worker.snapshot()).toMatchObject({
      state: { kind: 'running', pid: 1000 },
      started: true,
      ready: true,
      restartCount: 0,
    });
  });

  it('restarts a crashed container at once, then after 10s, then after 20s', async () => {
    const r = await started();
    r.last().exit(1);
    await flush();
    expect(r.processes).toHaveLength(2);
    expect(r.worker.snapshot().restartCount).toBe(1);

    r.last().exit(1);
    await flush();
    expect(r.worker.snapshot().state).toEqual({
      kind: 'waiting',
      reason: 'CrashLoopBackOff',
      message: 'back-off 10s restarting failed container=main pod=ns/pod',
    });
    expect(r.worker.snapshot().lastTerminated).toMatchObject({ exitCode: 1, reason: 'Error' });
    await r.advance(9_999);
    expect(r.processes).toHaveLength(2);
    await r.advance(1);
    expect(r.processes).toHaveLength(3);

    r.last().exit(1);
    await flush();
    await r.advance(19_999);
    expect(r.processes).toHaveLength(3);
    await r.advance(1);
    expect(r.worker.snapshot()).toMatchObject({ restartCount: 3, state: { kind: 'running' } });
  });

  it('leaves a container that exited 0 alone under OnFailure', async () => {
    const r = await started({ restartPolicy: 'OnFailure' });
    r.last().exit(0);
    await r.worker.whenDone;
    expect(r.worker.snapshot()).toMatchObject({
      done: true,
      state: { kind: 'terminated', exitCode: 0, reason: 'Completed' },
    });
    await r.advance(60_000);
    expect(r.processes).toHaveLength(1);
  });

  it('waits with the reason preparation gives and retries a second later', async () => {
    const r = rig();
    r.preparations.push({
      ok: false,
      reason: 'CreateContainerConfigError',
      message: 'secret "creds" not found',
    });
    r.worker.start();
    await flush();
    expect(r.worker.snapshot()).toMatchObject({
      state: {
        kind: 'waiting',
        reason: 'CreateContainerConfigError',
        message: 'secret "creds" not found',
      },
      everStarted: false,
    });
    await r.advance(1_000);
    expect(r.worker.snapshot().state.kind).toBe('running');
    expect(r.worker.snapshot().restartCount).toBe(0);
  });

  it('reports a process that cannot start as StartError and tries again', async () => {
    const r = rig();
    r.launchFailure = new Error('spawn nope ENOENT');
    r.worker.start();
    await flush();
    expect(r.worker.snapshot().lastTerminated).toMatchObject({
      exitCode: 128,
      reason: 'StartError',
      message: 'spawn nope ENOENT',
    });
    r.launchFailure = undefined;
    await r.advance(10_000);
    expect(r.worker.snapshot().state.kind).toBe('running');
  });

  it('becomes ready only once the readiness probe succeeds, and unready when it fails', async () => {
    const r = await started({ probes: { readiness: probe('ready') } });
    expect(r.worker.snapshot().ready).toBe(false);
    r.healthy.set('ready', true);
    await r.advance(1_000);
    expect(r.worker.snapshot().ready).toBe(true);
    r.healthy.set('ready', false);
    await r.advance(1_000);
    expect(r.worker.snapshot().ready).toBe(true);
    await r.advance(1_000);
    expect(r.worker.snapshot().ready).toBe(false);
    expect(r.processes).toHaveLength(1);
  });

  it('kills and restarts a container whose liveness probe fails', async () => {
    const r = await started({ probes: { liveness: probe('live') } });
    await r.advance(0);
    await r.advance(1_000);
    expect(r.processes[0]?.signals).toEqual(['SIGTERM']);
    expect(r.worker.snapshot()).toMatchObject({ restartCount: 1, state: { kind: 'running' } });
    expect(r.worker.snapshot().lastTerminated?.message).toBe(
      'Container main failed liveness probe, will be restarted: live says no',
    );
  });

  it('runs liveness and readiness only after the startup probe succeeds', async () => {
    const r = await started({
      probes: { startup: probe('startup'), liveness: probe('live'), readiness: probe('ready') },
    });
    r.healthy.set('ready', true);
    await r.advance(0);
    expect(r.worker.snapshot()).toMatchObject({ started: false, ready: false });
    r.healthy.set('startup', true);
    r.healthy.set('live', true);
    await r.advance(1_000);
    expect(r.worker.snapshot().started).toBe(true);
    await r.advance(0);
    expect(r.worker.snapshot().ready).toBe(true);
  });

  it('kills a container whose startup probe never succeeds', async () => {
    const r = await started({ probes: { startup: probe('startup') } });
    await r.advance(0);
    await r.advance(1_000);
    expect(r.processes[0]?.signals).toEqual(['SIGTERM']);
    expect(r.worker.snapshot().lastTerminated?.message).toContain('failed startup probe');
  });

  it('sends SIGKILL when the grace period runs out', async () => {
    const r = await started();
    r.last().ignoresSigterm = true;
    const done = r.worker.stop(5_000);
    await r.advance(4_999);
    expect(r.last().signals).toEqual(['SIGTERM']);
    await r.advance(1);
    await done;
    expect(r.last().signals).toEqual(['SIGTERM', 'SIGKILL']);
    expect(r.worker.snapshot()).toMatchObject({
      done: true,
      state: { kind: 'terminated', exitCode: 137 },
    });
  });

  it('brings SIGKILL forward when stopped again with a shorter grace', async () => {
    const r = await started();
    r.last().ignoresSigterm = true;
    void r.worker.stop(30_000);
    void r.worker.stop(1_000);
    await r.advance(1_000);
    expect(r.last().signals).toEqual(['SIGTERM', 'SIGKILL']);
  });

  it('never restarts a container after it was stopped', async () => {
    const r = await started();
    await r.worker.stop(1_000);
    await r.advance(600_000);
    expect(r.processes).toHaveLength(1);
  });

  it('stops a container that is waiting to start, and never starts it', async () => {
    const r = rig();
    r.preparations.push({ ok: false, reason: 'ErrImagePull', message: 'no such image' });
    r.worker.start();
    await flush();
    await r.worker.stop(30_000);
    await r.advance(60_000);
    expect(r.processes).toHaveLength(0);
    expect(r.worker.snapshot().done).toBe(true);
  });

  it('does not launch a container stopped while it was being prepared', async () => {
    const r = rig();
    r.worker.start();
    const done = r.worker.stop(30_000);
    await flush();
    await done;
    expect(r.processes).toHaveLength(0);
    expect(r.worker.snapshot().done).toBe(true);
  });

  it('restarts a container an earlier local node lost, counting the restart', async () => {
    const r = await started({
      history: { kind: 'lost', restartCount: 2, startedAt: Date.parse('2025-12-31T00:00:00Z') },
    });
    expect(r.worker.snapshot()).toMatchObject({
      restartCount: 3,
      state: { kind: 'running' },
      lastTerminated: { reason: 'ContainerStatusUnknown', exitCode: 137 },
    });
  });

  it('does not run again a container that had finished', async () => {
    const r = await started({
      restartPolicy: 'Never',
      history: {
        kind: 'finished',
        restartCount: 0,
        terminated: {
          kind: 'terminated',
          exitCode: 0,
          reason: 'Completed',
          startedAt: 0,
          finishedAt: 1,
        },
      },
    });
    expect(r.processes).toHaveLength(0);
    expect(r.worker.snapshot().done).toBe(true);
  });
});
