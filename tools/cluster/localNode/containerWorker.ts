/**
 * The life of one container, kubelet-style: prepare (image, env, credentials) → start the
 * process → run its probes → on exit, restart per the pod's restartPolicy with crash-loop
 * back-off, or stay terminated. Failed preparation leaves it waiting with the reason
 * kubelet would give (ErrImagePull, CreateContainerConfigError) and retries.
 *
 * Timing goes through the injected Clock; the process and the preparation are passed in,
 * so the whole state machine runs in unit tests without a process or a sleep.
 */
import type { Cancel, Clock } from '../../../platform/src/time/clock.ts';
import type {
  ContainerProcess,
  ExitStatus,
  LaunchSpec,
  ProcessLauncher,
} from './containerProcess.ts';
import { errorMessage, type Logger } from './log.ts';
import type { ContainerEventSink } from './podEvents.ts';
import type { Probe, RestartPolicy } from './podTypes.ts';
import { probeCheck, type ProbeTarget } from './probeChecks.ts';
import { probeTiming, ProbeWorker, type ProbeResult } from './probeWorker.ts';
import { configRetryDelayMs, CrashCounter, type BackoffPolicy } from './restartBackoff.ts';

export interface TerminatedState {
  readonly kind: 'terminated';
  readonly exitCode: number;
  readonly signal?: NodeJS.Signals | undefined;
  readonly reason: string;
  readonly message?: string | undefined;
  readonly startedAt: number;
  readonly finishedAt: number;
  readonly pid?: number | undefined;
}

export type ContainerState =
  | { readonly kind: 'waiting'; readonly reason: string; readonly message?: string | undefined }
  | { readonly kind: 'running'; readonly startedAt: number; readonly pid: number }
  | TerminatedState;

export interface ContainerSnapshot {
  readonly name: string;
  readonly image: string;
  readonly state: ContainerState;
  readonly lastTerminated: TerminatedState | undefined;
  readonly restartCount: number;
  readonly started: boolean;
  readonly ready: boolean;
  /** Terminated and will not be restarted. */
  readonly done: boolean;
  /** It has run at least once (for the pod phase: a never-started container keeps the pod Pending). */
  readonly everStarted: boolean;
}

export type Preparation =
  | { readonly ok: true; readonly launch: LaunchSpec; readonly probeTarget: ProbeTarget }
  | { readonly ok: false; readonly reason: string; readonly message: string };

export interface ContainerProbes {
  readonly startup?: Probe | undefined;
  readonly liveness?: Probe | undefined;
  readonly readiness?: Probe | undefined;
}

/** What the pod's status said about this container before the local node (re)started. */
export type ContainerHistory =
  | { readonly kind: 'fresh' }
  /** It had run before: the next start counts as a restart. */
  | {
      readonly kind: 'resumed';
      readonly restartCount: number;
      readonly lastTerminated?: TerminatedState | undefined;
    }
  /** It was running when the local node went away; its process is gone. */
  | { readonly kind: 'lost'; readonly restartCount: number; readonly startedAt: number }
  /** It had exited for good. */
  | {
      readonly kind: 'finished';
      readonly restartCount: number;
      readonly terminated: TerminatedState;
    };

export interface ContainerWorkerOptions {
  readonly name: string;
  readonly image: string;
  /** `ns/pod`, for messages. */
  readonly podRef: string;
  readonly restartPolicy: RestartPolicy;
  readonly probes: ContainerProbes;
  /** Grace between SIGTERM and SIGKILL when a probe failure kills the container. */
  readonly gracePeriodMs: number;
  readonly clock: Clock;
  readonly backoff: BackoffPolicy;
  readonly launcher: ProcessLauncher;
  readonly prepare: () => Promise<Preparation>;
  /** Something in the snapshot changed. */
  readonly onChange: () => void;
  /** A process started (for the state directory). */
  readonly onProcess?: ((pid: number | undefined) => void) | undefined;
  readonly log: Logger;
  /** Kubelet-style events (Started, Killing, Unhealthy, BackOff, Failed). */
  readonly onEvent?: ContainerEventSink | undefined;
  readonly history?: ContainerHistory | undefined;
  /** Builds the check behind a probe. @default probeCheck (HTTP, TCP, exec from this host) */
  readonly checkFor?: typeof probeCheck | undefined;
  /** Why it waits before its first start. @default 'ContainerCreating' */
  readonly waitingReason?: string | undefined;
}

type ProbeKind = 'startup' | 'liveness' | 'readiness';

const initialProbeResult: Record<ProbeKind, ProbeResult> = {
  startup: 'unknown',
  liveness: 'success',
  readiness: 'failure',
};

export class ContainerWorker {
  readonly #o: ContainerWorkerOptions;
  readonly #crashes: CrashCounter;
  #state: ContainerState;
  #lastTerminated: TerminatedState | undefined;
  #restartCount = 0;
  #everStarted = false;
  #started = false;
  #ready = false;
  #done = false;
  #stopping = false;
  /** Preparations or launches in flight (a failed launch may start the next one at once). */
  #attempts = 0;
  #configFailures = 0;
  #process: ContainerProcess | undefined;
  #probes: ProbeWorker[] = [];
  #retry: Cancel | undefined;
  #killReason: string | undefined;
  #killDeadline: number | undefined;
  #cancelKill: Cancel | undefined;
  readonly #whenDone: Promise<void>;
  #resolveDone: () => void = () => undefined;

  constructor(options: ContainerWorkerOptions) {
    this.#o = options;
    this.#crashes = new CrashCounter(options.backoff);
    this.#state = { kind: 'waiting', reason: options.waitingReason ?? 'ContainerCreating' };
    this.#whenDone = new Promise((resolve) => (this.#resolveDone = resolve));
  }

  get name(): string {
    return this.#o.name;
  }

  /** Resolves when the container has exited for good (or was stopped). */
  get whenDone(): Promise<void> {
    return this.#whenDone;
  }

  snapshot(): ContainerSnapshot {
    return {
      name: this.#o.name,
      image: this.#o.image,
      state: this.#state,
      lastTerminated: this.#lastTerminated,
      restartCount: this.#restartCount,
      started: this.#started,
      ready: this.#ready,
      done: this.#done,
      everStarted: this.#everStarted,
    };
  }

  start(): void {
    if (this.#stopping || this.#done) return;
    const history = this.#o.history ?? { kind: 'fresh' };
    switch (history.kind) {
      case 'fresh':
        break;
      case 'resumed':
        this.#restartCount = history.restartCount;
        this.#lastTerminated = history.lastTerminated;
        this.#everStarted = true;
        break;
      case 'finished':
        this.#restartCount = history.restartCount;
        this.#everStarted = true;
        this.#finish(history.terminated);
        return;
      case 'lost': {
        this.#restartCount = history.restartCount;
        this.#everStarted = true;
        const now = this.#o.clock.now();
        this.#afterExit({
          kind: 'terminated',
          exitCode: 137,
          reason: 'ContainerStatusUnknown',
          message: 'The container could not be located when the local node restarted',
          startedAt: history.startedAt,
          finishedAt: now,
        });
        return;
      }
    }
    this.#state = { kind: 'waiting', reason: 'ContainerCreating' };
    void this.#attempt();
  }

  /**
   * Stops the container for good: SIGTERM to its process group, SIGKILL after `graceMs`.
   * Calling it again with a shorter grace brings the SIGKILL forward.
   */
  stop(graceMs: number): Promise<void> {
    this.#stopping = true;
    this.#retry?.();
    this.#retry = undefined;
    this.#stopProbes();
    if (this.#process !== undefined && this.#killDeadline === undefined) {
      this.#o.onEvent?.({
        type: 'Normal',
        reason: 'Killing',
        message: `Stopping container ${this.#o.name}`,
      });
    }
    if (this.#process !== undefined) this.#terminate(this.#process, graceMs);
    else if (this.#attempts === 0 && !this.#done) this.#finish(this.#stoppedBeforeRunning());
    return this.#whenDone;
  }

  async #attempt(): Promise<void> {
    this.#retry = undefined;
    if (this.#stopping) return;
    this.#attempts++;
    try {
      await this.#prepareAndLaunch();
    } finally {
      this.#attempts--;
    }
    if (this.#isStopping() && this.#process === undefined && !this.#done && this.#attempts === 0) {
      this.#finish(this.#stoppedBeforeRunning());
    }
  }

  async #prepareAndLaunch(): Promise<void> {
    let prep: Preparation;
    try {
      prep = await this.#o.prepare();
    } catch (err) {
      prep = { ok: false, reason: 'CreateContainerConfigError', message: errorMessage(err) };
    }
    if (this.#stopping) return;
    if (!prep.ok) {
      this.#configFailures++;
      const delay = configRetryDelayMs(this.#o.backoff, this.#configFailures);
      const previous = this.#state;
      if (previous.kind !== 'waiting' || previous.message !== prep.message) {
        this.#o.onEvent?.({ type: 'Warning', reason: 'Failed', message: `Error: ${prep.message}` });
      }
      this.#setState({ kind: 'waiting', reason: prep.reason, message: prep.message });
      this.#o.log.warn('container cannot start yet', {
        reason: prep.reason,
        message: prep.message,
        retryInMs: delay,
      });
      this.#retry = this.#o.clock.setTimeout(() => void this.#attempt(), delay);
      return;
    }
    this.#configFailures = 0;

    let proc: ContainerProcess;
    const startedAt = this.#o.clock.now();
    try {
      proc = await this.#o.launcher.launch(prep.launch);
    } catch (err) {
      if (this.#isStopping()) return;
      this.#o.log.warn('container process did not start', { error: errorMessage(err) });
      this.#afterExit({
        kind: 'terminated',
        exitCode: 128,
        reason: 'StartError',
        message: errorMessage(err),
        startedAt,
        finishedAt: this.#o.clock.now(),
      });
      return;
    }
    if (this.#everStarted) this.#restartCount++;
    this.#everStarted = true;
    this.#process = proc;
    this.#started = this.#o.probes.startup === undefined;
    this.#ready = this.#started && this.#o.probes.readiness === undefined;
    this.#state = { kind: 'running', startedAt, pid: proc.pid };
    this.#o.log.info('container started', {
      pid: proc.pid,
      argv: prep.launch.argv,
      restartCount: this.#restartCount,
    });
    this.#o.onProcess?.(proc.pid);
    this.#o.onEvent?.({
      type: 'Normal',
      reason: 'Started',
      message: `Started container ${this.#o.name}`,
    });
    if (this.#isStopping()) {
      // stop() came while the process was starting.
      this.#terminate(proc, 0);
    } else if (this.#o.probes.startup !== undefined) {
      this.#startProbe('startup', this.#o.probes.startup, prep.probeTarget);
    } else {
      this.#startRunningProbes(prep.probeTarget);
    }
    this.#o.onChange();
    void proc.exited.then((status) => {
      this.#onExit(proc, status, startedAt);
    });
  }

  #onExit(proc: ContainerProcess, status: ExitStatus, startedAt: number): void {
    this.#stopProbes();
    this.#cancelKill?.();
    this.#cancelKill = undefined;
    this.#killDeadline = undefined;
    this.#process = undefined;
    this.#started = false;
    this.#ready = false;
    this.#o.onProcess?.(undefined);
    const terminated: TerminatedState = {
      kind: 'terminated',
      exitCode: status.exitCode,
      signal: status.signal,
      reason: status.exitCode === 0 ? 'Completed' : 'Error',
      message: this.#killReason,
      startedAt,
      finishedAt: this.#o.clock.now(),
      pid: proc.pid,
    };
    this.#killReason = undefined;
    this.#o.log.info('container exited', { pid: proc.pid, exitCode: status.exitCode });
    if (this.#stopping) this.#finish(terminated);
    else this.#afterExit(terminated);
  }

  /** Restart per restartPolicy (after the crash-loop back-off), or stay terminated. */
  #afterExit(terminated: TerminatedState): void {
    const policy = this.#o.restartPolicy;
    const restart = policy === 'Always' || (policy === 'OnFailure' && terminated.exitCode !== 0);
    if (!restart) {
      this.#finish(terminated);
      return;
    }
    this.#lastTerminated = terminated;
    const delay = this.#crashes.crashed(terminated.finishedAt - terminated.startedAt);
    if (delay === 0) {
      this.#setState(terminated);
      void this.#attempt();
      return;
    }
    this.#o.onEvent?.({
      type: 'Warning',
      reason: 'BackOff',
      message: `Back-off restarting failed container ${this.#o.name} in pod ${this.#o.podRef}`,
    });
    this.#setState({
      kind: 'waiting',
      reason: 'CrashLoopBackOff',
      message: `back-off ${formatDuration(delay)} restarting failed container=${this.#o.name} pod=${this.#o.podRef}`,
    });
    this.#retry = this.#o.clock.setTimeout(() => void this.#attempt(), delay);
  }

  #startRunningProbes(target: ProbeTarget): void {
    if (this.#o.probes.liveness !== undefined) {
      this.#startProbe('liveness', this.#o.probes.liveness, target);
    }
    if (this.#o.probes.readiness !== undefined) {
      this.#startProbe('readiness', this.#o.probes.readiness, target);
    }
  }

  #startProbe(kind: ProbeKind, probe: Probe, target: ProbeTarget): void {
    const timing = probeTiming(probe);
    const worker: ProbeWorker = new ProbeWorker({
      timing,
      clock: this.#o.clock,
      initial: initialProbeResult[kind],
      check: (this.#o.checkFor ?? probeCheck)(probe, target, timing.timeoutMs),
      onResult: (result, message) => {
        this.#onProbe(kind, probe, result, message, target, worker);
      },
    });
    this.#probes.push(worker);
    worker.start();
  }

  #onProbe(
    kind: ProbeKind,
    probe: Probe,
    result: ProbeResult,
    message: string | undefined,
    target: ProbeTarget,
    worker: ProbeWorker,
  ): void {
    const proc = this.#process;
    if (proc === undefined || this.#stopping) return;
    this.#o.log.info('probe result changed', { probe: kind, result, message });
    if (result === 'failure') {
      const what = kind.charAt(0).toUpperCase() + kind.slice(1);
      this.#o.onEvent?.({
        type: 'Warning',
        reason: 'Unhealthy',
        message: `${what} probe failed: ${message ?? ''}`.trim(),
      });
    }
    if (result === 'failure' && kind !== 'readiness') {
      this.#killReason = `Container ${this.#o.name} failed ${kind} probe, will be restarted${message === undefined ? '' : `: ${message}`}`;
      this.#o.onEvent?.({ type: 'Normal', reason: 'Killing', message: this.#killReason });
      this.#stopProbes();
      this.#ready = false;
      this.#o.onChange();
      const graceSeconds = probe.terminationGracePeriodSeconds;
      this.#terminate(
        proc,
        graceSeconds === undefined ? this.#o.gracePeriodMs : graceSeconds * 1000,
      );
      return;
    }
    if (kind === 'startup' && result === 'success') {
      worker.stop();
      this.#probes = this.#probes.filter((p) => p !== worker);
      this.#started = true;
      this.#ready = this.#o.probes.readiness === undefined;
      this.#startRunningProbes(target);
    } else if (kind === 'readiness') {
      this.#ready = result === 'success';
    }
    this.#o.onChange();
  }

  /** SIGTERM now (once), SIGKILL at the deadline; a nearer deadline replaces a later one. */
  #terminate(proc: ContainerProcess, graceMs: number): void {
    const deadline = this.#o.clock.now() + graceMs;
    if (this.#killDeadline !== undefined && this.#killDeadline <= deadline) return;
    if (this.#killDeadline === undefined) proc.signal('SIGTERM');
    this.#cancelKill?.();
    this.#killDeadline = deadline;
    this.#cancelKill = this.#o.clock.setTimeout(() => {
      this.#o.log.warn('grace period over: killing the container', { pid: proc.pid, graceMs });
      proc.signal('SIGKILL');
    }, graceMs);
  }

  // A method, not a field read, so flow analysis does not assume it is unchanged across awaits.
  #isStopping(): boolean {
    return this.#stopping;
  }

  #stopProbes(): void {
    for (const probe of this.#probes) probe.stop();
    this.#probes = [];
  }

  #stoppedBeforeRunning(): TerminatedState {
    const now = this.#o.clock.now();
    return {
      kind: 'terminated',
      exitCode: 0,
      reason: 'ContainerCannotRun',
      message: 'stopped before it started',
      startedAt: now,
      finishedAt: now,
    };
  }

  #finish(terminated: TerminatedState): void {
    this.#retry?.();
    this.#retry = undefined;
    this.#done = true;
    this.#ready = false;
    this.#started = false;
    this.#setState(terminated);
    this.#resolveDone();
  }

  #setState(state: ContainerState): void {
    this.#state = state;
    this.#o.onChange();
  }
}

/** `10s`, `2m40s`, `5m0s`, like Go's time.Duration. */
export function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (ms < 1000) return `${ms}ms`;
  if (seconds < 60) return `${seconds}s`;
  return `${Math.floor(seconds / 60)}m${seconds % 60}s`;
}
