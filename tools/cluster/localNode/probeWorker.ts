/**
 * One probe of one container, run on a schedule like kubelet's prober: wait
 * `initialDelaySeconds`, check every `periodSeconds`, and flip the result only after
 * `successThreshold` successes or `failureThreshold` failures in a row.
 */
import type { Clock, Cancel } from '../../../platform/src/time/clock.ts';
import type { Probe } from './podTypes.ts';

export type ProbeResult = 'unknown' | 'success' | 'failure';

export interface ProbeOutcome {
  readonly success: boolean;
  /** Why it failed, for logs and status messages. */
  readonly message?: string;
}

/** One check, bounded by the probe's timeout by whoever builds it. */
export type ProbeCheck = () => Promise<ProbeOutcome>;

export interface ProbeTiming {
  readonly initialDelayMs: number;
  readonly periodMs: number;
  readonly timeoutMs: number;
  readonly successThreshold: number;
  readonly failureThreshold: number;
}

/** The probe's timing with the API's defaults filled in. */
export function probeTiming(probe: Probe): ProbeTiming {
  return {
    initialDelayMs: (probe.initialDelaySeconds ?? 0) * 1000,
    periodMs: Math.max(1, probe.periodSeconds ?? 10) * 1000,
    timeoutMs: Math.max(1, probe.timeoutSeconds ?? 1) * 1000,
    successThreshold: Math.max(1, probe.successThreshold ?? 1),
    failureThreshold: Math.max(1, probe.failureThreshold ?? 3),
  };
}

export interface ProbeWorkerOptions {
  readonly timing: ProbeTiming;
  readonly check: ProbeCheck;
  readonly clock: Clock;
  /** Readiness starts as failure, liveness as success, startup as unknown (kubelet's choices). */
  readonly initial: ProbeResult;
  /** Called when the result flips, with the last check's message. */
  readonly onResult: (result: ProbeResult, message: string | undefined) => void;
}

export class ProbeWorker {
  readonly #options: ProbeWorkerOptions;
  #result: ProbeResult;
  #lastOutcome: boolean | undefined;
  #run = 0;
  #cancel: Cancel | undefined;
  #stopped = false;

  constructor(options: ProbeWorkerOptions) {
    this.#options = options;
    this.#result = options.initial;
  }

  get result(): ProbeResult {
    return this.#result;
  }

  start(): void {
    this.#schedule(this.#options.timing.initialDelayMs);
  }

  stop(): void {
    this.#stopped = true;
    this.#cancel?.();
    this.#cancel = undefined;
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#cancel = this.#options.clock.setTimeout(() => {
      this.#cancel = undefined;
      void this.#probe();
    }, ms);
  }

  async #probe(): Promise<void> {
    const startedAt = this.#options.clock.now();
    let outcome: ProbeOutcome;
    try {
      outcome = await this.#options.check();
    } catch (err) {
      outcome = { success: false, message: err instanceof Error ? err.message : String(err) };
    }
    if (this.#stopped) return;
    this.#record(outcome);
    // onResult may have stopped this worker (a liveness failure kills the container).
    if (this.#isStopped()) return;
    const elapsed = this.#options.clock.now() - startedAt;
    this.#schedule(Math.max(0, this.#options.timing.periodMs - elapsed));
  }

  #isStopped(): boolean {
    return this.#stopped;
  }

  #record(outcome: ProbeOutcome): void {
    this.#run = outcome.success === this.#lastOutcome ? this.#run + 1 : 1;
    this.#lastOutcome = outcome.success;
    const { successThreshold, failureThreshold } = this.#options.timing;
    const next: ProbeResult | undefined = outcome.success
      ? this.#run >= successThreshold
        ? 'success'
        : undefined
      : this.#run >= failureThreshold
        ? 'failure'
        : undefined;
    if (next === undefined || next === this.#result) return;
    this.#result = next;
    this.#options.onResult(next, outcome.message);
  }
}
