/**
 * What a guarded function receives for one attempt: which target to call, how much time is
 * left, and ways to report back (usage for the token budget, response headers for adaptive
 * pacing). One small object per attempt; the AbortSignal inside is created only if read.
 */
import type { Classification } from './classification.ts';
import { TimeoutError } from './errors.ts';
import type { HeaderSource } from './headers.ts';
import type { DeadlineEntry } from './timeout.ts';
import type { TokenUsage } from './tokenBudget.ts';

/** What an attempt needs from its guard. */
export interface AttemptHost {
  now(): number;
  observeHeaders(headers: HeaderSource): void;
  timedOut(attempt: GuardAttempt): void;
  /** Stops watching the attempt's deadline (a stream's first event arrived). */
  disarm(deadline: AttemptDeadline): void;
  /** The guard's classifier on an attempt's error, made once and carried on the error. */
  classify(err: unknown): Classification;
}

/** Request options for `@anthropic-ai/sdk` calls (`client.messages.create(params, options)`). */
export interface SdkRequestOptions {
  /** The guard retries; the SDK must not retry underneath it. */
  maxRetries: 0;
  timeout?: number;
  signal?: AbortSignal;
}

/** An attempt's deadline, linked into the guard's deadline list; only attempts with a timeout have one. */
export class AttemptDeadline implements DeadlineEntry {
  readonly deadlineAt: number;
  readonly timeoutMs: number;
  prevDeadline: DeadlineEntry | undefined;
  nextDeadline: DeadlineEntry | undefined;
  linked = false;
  /** Set by the guard while it races the attempt against this deadline. */
  rejectRace: ((err: Error) => void) | undefined;
  readonly #attempt: GuardAttempt;

  constructor(attempt: GuardAttempt, timeoutMs: number, now: number) {
    this.#attempt = attempt;
    this.timeoutMs = timeoutMs;
    this.deadlineAt = now + timeoutMs;
  }

  onDeadline(): void {
    const err = new TimeoutError(this.timeoutMs);
    this.#attempt.expire(err);
    this.rejectRace?.(err);
  }
}

/** Hears that an attempt's deadline passed while it ran (GuardAttempt.whenGivenUp). */
export interface GivenUpListener {
  givenUp(): void;
}

export class GuardAttempt {
  /** Name of the guard's target (`<backend>/<model>`, `tool:<name>`). */
  readonly target: string;
  /** 1 for the first attempt at this target. */
  readonly attempt: number;
  #usage: TokenUsage | undefined;
  readonly #host: AttemptHost;
  readonly #callerSignal: AbortSignal | undefined;
  #controller: AbortController | undefined;
  #deadline: AttemptDeadline | undefined;
  /** Set when the deadline passed before anyone asked for the signal. */
  #timedOut: TimeoutError | undefined;
  #firstEventAt: number | undefined;
  #committed = false;
  /** The deadline's error, once it passed. */
  #expiredWith: TimeoutError | undefined;
  #onExpire: ((err: TimeoutError) => void) | undefined;
  #givenUp: GivenUpListener | undefined;

  constructor(
    host: AttemptHost,
    target: string,
    attempt: number,
    callerSignal: AbortSignal | undefined,
  ) {
    this.#host = host;
    this.target = target;
    this.attempt = attempt;
    this.#callerSignal = callerSignal;
  }

  get usage(): TokenUsage | undefined {
    return this.#usage;
  }

  /** The deadline the guard set, if it has a timeout. */
  get deadline(): AttemptDeadline | undefined {
    return this.#deadline;
  }

  /** Epoch ms at which this attempt times out; Infinity without a timeout. */
  get deadlineAt(): number {
    return this.#deadline?.deadlineAt ?? Infinity;
  }

  /** Called by the guard before the call starts. */
  startDeadline(timeoutMs: number, now: number): AttemptDeadline {
    return (this.#deadline = new AttemptDeadline(this, timeoutMs, now));
  }

  /** Milliseconds left before this attempt times out (Infinity without a timeout). */
  remainingMs(): number {
    const deadline = this.#deadline;
    return deadline === undefined ? Infinity : Math.max(0, deadline.deadlineAt - this.#host.now());
  }

  /**
   * Aborts at the deadline or when the caller aborts. Created on first read: SDK calls
   * should prefer `sdkOptions()`, which hands the deadline to the SDK's own timer instead.
   */
  get signal(): AbortSignal {
    if (this.#controller !== undefined) return this.#controller.signal;
    if (this.#deadline === undefined && this.#callerSignal !== undefined) return this.#callerSignal;
    const controller = (this.#controller = new AbortController());
    if (this.#timedOut !== undefined) controller.abort(this.#timedOut);
    const caller = this.#callerSignal;
    if (caller !== undefined) {
      if (caller.aborted) controller.abort(caller.reason);
      else
        caller.addEventListener(
          'abort',
          () => {
            controller.abort(caller.reason);
          },
          { once: true },
        );
    }
    return controller.signal;
  }

  /** `{maxRetries: 0, timeout?, signal?}` for the SDK: its timer enforces our deadline. */
  sdkOptions(): SdkRequestOptions {
    const options: SdkRequestOptions = { maxRetries: 0 };
    if (this.#deadline !== undefined) options.timeout = Math.max(1, Math.ceil(this.remainingMs()));
    if (this.#controller !== undefined) options.signal = this.#controller.signal;
    else if (this.#callerSignal !== undefined) options.signal = this.#callerSignal;
    return options;
  }

  /**
   * A streamed answer's first event arrived: from here the deadline no longer bounds the
   * attempt (the stream's own idle and duration limits do), and the time to this event is
   * the attempt's duration for the breaker's slow-call rule.
   */
  firstEvent(): void {
    if (this.#firstEventAt !== undefined) return;
    this.#firstEventAt = this.#host.now();
    if (this.#deadline !== undefined) this.#host.disarm(this.#deadline);
  }

  /** Clock time of the first event of a streamed answer; undefined for a plain answer. */
  get firstEventAt(): number | undefined {
    return this.#firstEventAt;
  }

  /**
   * Part of the answer has reached the caller: whatever happens next is this attempt's
   * outcome, counted as usual but never retried or replaced by a fallback, since the caller
   * cannot be handed a second answer spliced onto the first.
   */
  commit(): void {
    this.#committed = true;
  }

  get committed(): boolean {
    return this.#committed;
  }

  /** Real token usage (the response's `usage`), to settle the token budget reservation. */
  reportUsage(usage: TokenUsage): void {
    this.#usage = usage;
  }

  /**
   * What this attempt's error means, in the guard's terms: classified here, where it failed,
   * and carried on the error, so that the guard, the router and the route read it, not redo it.
   */
  classify(err: unknown): Classification {
    return this.#host.classify(err);
  }

  /** The response's headers (`.withResponse()`), for adaptive pacing. */
  observeHeaders(headers: HeaderSource): void {
    this.#host.observeHeaders(headers);
  }

  /**
   * Calls `fn` if the deadline passes: a cheaper way than `signal` to stop work the guard has
   * given up on (no AbortController, no event listener). One per attempt.
   */
  whenExpired(fn: (err: TimeoutError) => void): void {
    this.#onExpire = fn;
    // Registered after the deadline passed (work that began late): told at once.
    if (this.#expiredWith !== undefined) fn(this.#expiredWith);
  }

  /**
   * Tells `listener` if the deadline passes while the attempt runs, before the guard hears of
   * it (and may retry): what the attempt had sent may be billed.
   */
  whenGivenUp(listener: GivenUpListener): void {
    this.#givenUp = listener;
  }

  /** Whether the attempt's deadline passed (a timeout already counted by the host). */
  get expired(): boolean {
    return this.#expiredWith !== undefined;
  }

  /** The deadline passed: abort the signal, if anyone asked for it. */
  expire(err: TimeoutError): void {
    this.#expiredWith = err;
    this.#givenUp?.givenUp();
    if (this.#controller === undefined) this.#timedOut = err;
    else this.#controller.abort(err);
    this.#onExpire?.(err);
    this.#host.timedOut(this);
  }
}
