/**
 * The circuit breaker. Closed → Open when a trip rule fires; Open → HalfOpen lazily, on the
 * first call (or state read) after the open time, so an idle breaker owns no timer;
 * HalfOpen → Closed after `successThreshold` good probes, back to Open (for longer) on a bad
 * one. Every state change bumps an epoch: an outcome is counted only against the state its
 * call was admitted in, so a slow call from before a trip cannot close or re-open anything.
 *
 * Hot path (Closed, no override): tryAcquire is two field reads; onSuccess is a counter and
 * the trip rules' O(1) bookkeeping. Nothing is allocated.
 */
import {
  openDurationFor,
  resolveBreakerOptions,
  type BreakerOptions,
  type BreakerSettings,
} from './breakerOptions.ts';
import {
  reportedState,
  type AutoState,
  type AutoStateName,
  type BreakerOverride,
  type BreakerStateName,
  type StateChangeEvent,
  type TransitionReason,
  type TripReason,
} from './breakerState.ts';
import type { TripStrategy } from './breakerStrategy.ts';
import {
  sameWindow,
  type CallWindow,
  type WindowOptions,
  type WindowSnapshot,
} from './callWindow.ts';
import { ConsecutiveFailures } from './consecutiveFailures.ts';
import { CountWindow } from './countWindow.ts';
import { FAILURE_CLASSES, type FailureClass } from '../../../contract/src/api/vocabulary.ts';
import { CircuitOpenError } from './errors.ts';
import { FailureRate } from './failureRate.ts';
import { SlowCallRate } from './slowCallRate.ts';
import { TimeWindow } from './timeWindow.ts';
import type { Clock } from '../../../platform/src/time/clock.ts';

/** tryAcquire's answer when the call must not run. */
export const REJECTED = -1;
/** A call let through only because the breaker is in Shadow mode (or ForcedClosed): its outcome is not counted. */
export const UNCOUNTED = -2;

/** Retry-After hint while half-open with every probe slot taken: a probe is an LLM call away. */
const HALF_OPEN_RETRY_AFTER_MS = 1_000;

export type StateChangeListener = (event: StateChangeEvent) => void;

/** Plain JSON: what survives a restart or a hand-over to a new breaker. */
export interface BreakerSnapshot {
  readonly version: 1;
  readonly state: AutoStateName;
  readonly since: number;
  /** Open only: when the next probe is let through. */
  readonly openUntil?: number;
  /** HalfOpen only: good probes so far. */
  readonly halfOpenSuccesses?: number;
  readonly consecutiveOpens: number;
  readonly trips: number;
  readonly lastTripAt: number | null;
  readonly consecutiveFailures: number;
  readonly failureRateWindow?: WindowSnapshot;
  readonly slowCallWindow?: WindowSnapshot;
}

export interface BreakerCounters {
  readonly successes: number;
  readonly failures: number;
  /** Outcomes that say nothing about the provider (4xx, spend limit, cancelled, not in failOn). */
  readonly ignored: number;
  readonly rejected: number;
  /** Calls a Shadow breaker would have rejected (and let through). */
  readonly shadowRejected: number;
  readonly failuresByClass: Readonly<Record<FailureClass, number>>;
  readonly trips: number;
}

export interface CircuitBreakerConfig {
  readonly name: string;
  readonly clock: Clock;
  /** The policy document's breaker settings; the schema's defaults when absent. */
  readonly options?: BreakerSettings;
}

export class CircuitBreaker {
  readonly name: string;
  readonly #clock: Clock;
  #options: BreakerOptions;
  #failOnMask = 0;
  #shadow = false;

  #state: AutoState;
  #override: BreakerOverride | undefined;
  #epoch = 0;
  #consecutiveOpens = 0;

  readonly #consecutive: ConsecutiveFailures;
  #failureRate: FailureRate | undefined;
  #slowCall: SlowCallRate | undefined;
  #strategies: TripStrategy[];
  #slowMs = Infinity;
  #needsDuration = false;

  #successes = 0;
  #failures = 0;
  #ignored = 0;
  #rejected = 0;
  #shadowRejected = 0;
  #failuresByClass: number[] | undefined;
  #trips = 0;
  #lastTripAt: number | null = null;
  #listeners: StateChangeListener[] | undefined;

  constructor(config: CircuitBreakerConfig) {
    this.name = config.name;
    this.#clock = config.clock;
    this.#options = resolveBreakerOptions(config.options);
    this.#state = { kind: 'Closed', since: config.clock.now() };
    this.#consecutive = new ConsecutiveFailures(this.#options.failureThreshold);
    this.#strategies = [this.#consecutive];
    this.#apply(this.#options, undefined);
    this.#override = this.#options.override;
  }

  get options(): BreakerOptions {
    return this.#options;
  }

  /**
   * Whether outcomes need the call's duration and time (a slow-call rule, a time window):
   * when not, the guard does not read the clock after a call.
   */
  get needsDuration(): boolean {
    return this.#needsDuration;
  }

  /** The state now (settles a due Open → HalfOpen edge or a lapsed override first). */
  get state(): BreakerStateName {
    const now = this.#clock.now();
    this.#settle(now);
    return reportedState(this.#state, this.#override);
  }

  /** When the current state began. */
  get since(): number {
    this.#settle(this.#clock.now());
    return this.#state.since;
  }

  /**
   * When time alone next changes this breaker — its open period ends or its override lapses —
   * or undefined when nothing will until a call comes. The breaker keeps no timer itself: the
   * GuardSet keeps one for the soonest edge of all its breakers (see edgeTimer.ts).
   */
  nextEdgeAt(): number | undefined {
    const s = this.#state;
    const openEnds = s.kind === 'Open' ? s.until : undefined;
    const lapses = this.#override?.untilMs;
    if (openEnds === undefined) return lapses;
    return lapses === undefined ? openEnds : Math.min(openEnds, lapses);
  }

  /** Takes the edges due by `now`, as any read does: the GuardSet's edge timer calls it. */
  settle(now: number): void {
    this.#settle(now);
  }

  /**
   * Asks to run one call. Returns a permit (≥ 0, or UNCOUNTED) to hand back to onSuccess /
   * onFailure / onIgnored, or REJECTED. Never throws, never allocates on the Closed path.
   */
  tryAcquire(now: number): number {
    if (this.#override === undefined && this.#state.kind === 'Closed') return this.#epoch;
    return this.#acquireSlow(now);
  }

  /**
   * The permit for a call when Closed with no override, the common case; -1 otherwise, and
   * then nothing was taken or counted (ask tryAcquire). Needs no clock: Closed has no edge
   * that time alone takes.
   */
  closedPermit(): number {
    return this.#override === undefined && this.#state.kind === 'Closed' ? this.#epoch : -1;
  }

  /**
   * Whether tryAcquire would refuse now, without taking a probe slot or counting anything:
   * lets the guard skip a target whose breaker is open before it spends a rate token.
   */
  isRejecting(now: number): boolean {
    if (this.#override === undefined && this.#state.kind === 'Closed') return false;
    this.#settle(now);
    if (this.#shadow) return false;
    const override = this.#override;
    if (override !== undefined) return override.state === 'ForcedOpen';
    const s = this.#state;
    if (s.kind === 'Open') return true;
    return s.kind === 'HalfOpen' && s.probes >= this.#options.halfOpenMaxCalls;
  }

  #acquireSlow(now: number): number {
    this.#settle(now);
    const override = this.#override;
    if (override !== undefined) {
      if (override.state === 'ForcedOpen') return this.#refuse();
      // ForcedClosed: the automatic machine keeps running underneath, as in Shadow.
      const permit = this.#acquireAuto();
      return permit === REJECTED ? UNCOUNTED : permit;
    }
    const permit = this.#acquireAuto();
    return permit === REJECTED ? this.#refuse() : permit;
  }

  #acquireAuto(): number {
    const s = this.#state;
    if (s.kind === 'Closed') return this.#epoch;
    if (s.kind === 'HalfOpen' && s.probes < this.#options.halfOpenMaxCalls) {
      s.probes++;
      return this.#epoch;
    }
    return REJECTED;
  }

  #refuse(): number {
    if (this.#shadow) {
      this.#shadowRejected++;
      return UNCOUNTED;
    }
    this.#rejected++;
    return REJECTED;
  }

  /** The error for a REJECTED permit, with how long until a call may pass. */
  rejection(now: number): CircuitOpenError {
    const s = this.#state;
    if (this.#override?.state === 'ForcedOpen') {
      const until = this.#override.untilMs;
      return new CircuitOpenError(
        this.name,
        'ForcedOpen',
        until === undefined ? this.#options.openDurationMs : Math.max(0, until - now),
      );
    }
    if (s.kind === 'Open')
      return new CircuitOpenError(this.name, 'Open', Math.max(0, s.until - now));
    return new CircuitOpenError(this.name, 'HalfOpen', HALF_OPEN_RETRY_AFTER_MS);
  }

  /** A call admitted with `permit` succeeded after `durationMs`. */
  onSuccess(permit: number, durationMs: number, now: number): void {
    this.#successes++;
    if (permit !== this.#epoch) return;
    const s = this.#state;
    if (s.kind === 'Closed' && this.#failureRate === undefined && this.#slowCall === undefined) {
      this.#consecutive.reset(); // a success is all the consecutive rule needs to hear
      return;
    }
    const slow = durationMs >= this.#slowMs;
    if (s.kind === 'Closed') {
      const strategies = this.#strategies;
      for (let i = 0; i < strategies.length; i++) {
        const trip = strategies[i]?.record(false, slow, now);
        if (trip !== undefined) {
          this.#open(trip, now);
          return;
        }
      }
      return;
    }
    if (s.kind !== 'HalfOpen') return;
    s.probes--;
    if (slow) {
      this.#open('probeSlow', now);
      return;
    }
    if (++s.successes >= this.#options.successThreshold) this.#close(now);
  }

  /** A call admitted with `permit` failed with `failure` after `durationMs`. */
  onFailure(permit: number, failure: FailureClass, durationMs: number, now: number): void {
    const bit = classBit(failure);
    if ((this.#failOnMask & bit) === 0) {
      this.onIgnored(permit);
      return;
    }
    this.#failures++;
    const byClass = (this.#failuresByClass ??= [0, 0, 0, 0, 0]);
    const index = 31 - Math.clz32(bit);
    byClass[index] = (byClass[index] ?? 0) + 1;
    if (permit !== this.#epoch) return;
    const s = this.#state;
    if (s.kind === 'Closed') {
      const slow = durationMs >= this.#slowMs;
      const strategies = this.#strategies;
      for (let i = 0; i < strategies.length; i++) {
        const trip = strategies[i]?.record(true, slow, now);
        if (trip !== undefined) {
          this.#open(trip, now);
          return;
        }
      }
      return;
    }
    if (s.kind === 'HalfOpen') {
      s.probes--;
      this.#open('probeFailed', now);
    }
  }

  /** The call ended in a way that says nothing about the provider: release its permit only. */
  onIgnored(permit: number): void {
    this.#ignored++;
    if (permit !== this.#epoch) return;
    const s = this.#state;
    if (s.kind === 'HalfOpen') s.probes--;
  }

  /** Subscribes to state changes; returns the unsubscribe function. */
  onStateChange(listener: StateChangeListener): () => void {
    (this.#listeners ??= []).push(listener);
    return () => {
      const listeners = this.#listeners;
      if (listeners === undefined) return;
      const i = listeners.indexOf(listener);
      if (i >= 0) listeners.splice(i, 1);
    };
  }

  counters(): BreakerCounters {
    const byClass = this.#failuresByClass;
    const failuresByClass = {} as Record<FailureClass, number>;
    FAILURE_CLASSES.forEach((c, i) => (failuresByClass[c] = byClass?.[i] ?? 0));
    return {
      successes: this.#successes,
      failures: this.#failures,
      ignored: this.#ignored,
      rejected: this.#rejected,
      shadowRejected: this.#shadowRejected,
      failuresByClass,
      trips: this.#trips,
    };
  }

  /**
   * Swaps thresholds live. In-flight calls keep their permits (the epoch does not move).
   * Carried over: the state and its start, the consecutive-failure count, the re-open
   * count, trips; a rate window when its shape is unchanged (a count window resized keeps
   * its newest calls); an Open period is re-measured from when it began with the new open
   * duration. Dropped: a rate window whose type or time span changed, a rule switched off.
   */
  reconfigure(settings: BreakerSettings): void {
    const next = resolveBreakerOptions(settings);
    const now = this.#clock.now();
    this.#settle(now);
    const before = reportedState(this.#state, this.#override);
    this.#apply(next, this.#options);
    this.#options = next;
    const s = this.#state;
    if (s.kind === 'Open') {
      this.#state = {
        kind: 'Open',
        since: s.since,
        until: s.since + openDurationFor(next, this.#consecutiveOpens),
      };
    }
    if (!sameOverride(this.#override, next.override)) {
      this.#override = next.override;
      this.#emit(before, next.override === undefined ? 'overrideRemoved' : 'overrideApplied', now);
    }
    this.#settle(now);
  }

  snapshot(): BreakerSnapshot {
    this.#settle(this.#clock.now());
    const s = this.#state;
    return {
      version: 1,
      state: s.kind,
      since: s.since,
      ...(s.kind === 'Open' ? { openUntil: s.until } : {}),
      ...(s.kind === 'HalfOpen' ? { halfOpenSuccesses: s.successes } : {}),
      consecutiveOpens: this.#consecutiveOpens,
      trips: this.#trips,
      lastTripAt: this.#lastTripAt,
      consecutiveFailures: this.#consecutive.count,
      ...(this.#failureRate ? { failureRateWindow: this.#failureRate.window.snapshot() } : {}),
      ...(this.#slowCall && !this.#slowCall.sharesWindow
        ? { slowCallWindow: this.#slowCall.window.snapshot() }
        : {}),
    };
  }

  /**
   * Takes over a snapshot's state. Probes in flight are not carried (they belonged to the
   * old process); windows are restored only when their shape matches this breaker's options.
   */
  restore(snapshot: BreakerSnapshot): void {
    const version: unknown = snapshot.version;
    if (version !== 1)
      throw new Error(
        `circuit breaker "${this.name}": unknown snapshot version ${String(version)}`,
      );
    const now = this.#clock.now();
    const before = reportedState(this.#state, this.#override);
    switch (snapshot.state) {
      case 'Closed':
        this.#state = { kind: 'Closed', since: snapshot.since };
        break;
      case 'Open':
        this.#state = { kind: 'Open', since: snapshot.since, until: snapshot.openUntil ?? now };
        break;
      case 'HalfOpen':
        this.#state = {
          kind: 'HalfOpen',
          since: snapshot.since,
          probes: 0,
          successes: snapshot.halfOpenSuccesses ?? 0,
        };
        break;
    }
    this.#epoch++;
    this.#consecutiveOpens = snapshot.consecutiveOpens;
    this.#trips = snapshot.trips;
    this.#lastTripAt = snapshot.lastTripAt;
    this.#consecutive.restore(snapshot.consecutiveFailures);
    if (snapshot.failureRateWindow && this.#failureRate)
      this.#failureRate.window.restore(snapshot.failureRateWindow);
    if (snapshot.slowCallWindow && this.#slowCall && !this.#slowCall.sharesWindow)
      this.#slowCall.window.restore(snapshot.slowCallWindow);
    if (reportedState(this.#state, this.#override) !== before) this.#emit(before, 'restored', now);
    this.#settle(now);
  }

  /** Applies options to the rules, keeping what is still meaningful from `previous`. */
  #apply(next: BreakerOptions, previous: BreakerOptions | undefined): void {
    this.#consecutive.threshold = next.failureThreshold;
    this.#failOnMask = next.failOn.reduce((mask, c) => mask | classBit(c), 0);
    this.#shadow = next.mode === 'Shadow';
    this.#slowMs = next.slowCall?.durationMs ?? Infinity;
    this.#needsDuration = next.slowCall !== undefined || next.failureRate?.window.type === 'Time';

    const fr = next.failureRate;
    if (fr === undefined) this.#failureRate = undefined;
    else {
      const window = carryWindow(
        this.#failureRate?.window,
        previous?.failureRate?.window,
        fr.window,
      );
      this.#failureRate = new FailureRate(window, fr.thresholdPercent, fr.minimumCalls);
    }
    const sc = next.slowCall;
    if (sc === undefined) this.#slowCall = undefined;
    else {
      const shared = this.#failureRate?.window;
      if (shared !== undefined && sameWindow(shared.options, sc.window)) {
        this.#slowCall = new SlowCallRate(shared, sc.thresholdPercent, sc.minimumCalls, true);
      } else {
        const old = this.#slowCall;
        // A window that was shared belongs to the failure-rate rule: take a copy, not it.
        const window = old?.sharesWindow
          ? carryWindow(undefined, undefined, sc.window, old.window)
          : carryWindow(old?.window, previous?.slowCall?.window, sc.window);
        this.#slowCall = new SlowCallRate(window, sc.thresholdPercent, sc.minimumCalls);
      }
    }
    const strategies: TripStrategy[] = [this.#consecutive];
    if (this.#failureRate) strategies.push(this.#failureRate);
    if (this.#slowCall) strategies.push(this.#slowCall);
    this.#strategies = strategies;
  }

  /** Takes the edges that time alone causes: a lapsed override, a finished open period. */
  #settle(now: number): void {
    const override = this.#override;
    if (override?.untilMs !== undefined && now >= override.untilMs) {
      const before = reportedState(this.#state, override);
      this.#override = undefined;
      this.#emit(before, 'overrideExpired', now);
    }
    const s = this.#state;
    if (s.kind === 'Open' && now >= s.until)
      this.#transition(
        { kind: 'HalfOpen', since: now, probes: 0, successes: 0 },
        'openDurationElapsed',
        now,
      );
  }

  #open(reason: TripReason | 'probeFailed' | 'probeSlow', now: number): void {
    this.#consecutiveOpens++;
    this.#trips++;
    this.#lastTripAt = now;
    const until = now + openDurationFor(this.#options, this.#consecutiveOpens);
    this.#transition({ kind: 'Open', since: now, until }, reason, now);
  }

  #close(now: number): void {
    this.#consecutiveOpens = 0;
    this.#transition({ kind: 'Closed', since: now }, 'probesSucceeded', now);
  }

  #transition(next: AutoState, reason: TransitionReason, now: number): void {
    const before = reportedState(this.#state, this.#override);
    this.#state = next;
    this.#epoch++;
    for (const s of this.#strategies) s.reset();
    this.#emit(before, reason, now);
  }

  #emit(from: BreakerStateName, reason: TransitionReason, at: number): void {
    const to = reportedState(this.#state, this.#override);
    const listeners = this.#listeners;
    if (from === to || listeners === undefined || listeners.length === 0) return;
    const event: StateChangeEvent = { breaker: this.name, from, to, reason, at };
    for (const listener of [...listeners]) {
      try {
        listener(event);
      } catch {
        // A listener's failure must not fail the call that caused the change.
      }
    }
  }
}

function classBit(c: FailureClass): number {
  switch (c) {
    case 'ServerError':
      return 1;
    case 'Overloaded':
      return 2;
    case 'Timeout':
      return 4;
    case 'ConnectionError':
      return 8;
    case 'RateLimited':
      return 16;
  }
}

function sameOverride(a: BreakerOverride | undefined, b: BreakerOverride | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.state === b.state && a.reason === b.reason && a.untilMs === b.untilMs;
}

function carryWindow(
  current: CallWindow | undefined,
  previous: WindowOptions | undefined,
  next: WindowOptions,
  copyFrom: CallWindow | undefined = current,
): CallWindow {
  if (current !== undefined && previous !== undefined && sameWindow(previous, next)) return current;
  if (next.type === 'Count') {
    const window = new CountWindow(next.size);
    if (copyFrom instanceof CountWindow) window.replay(copyFrom.outcomes());
    return window;
  }
  const window = new TimeWindow(next.sizeMs);
  if (copyFrom instanceof TimeWindow && copyFrom.options.sizeMs === next.sizeMs) {
    window.restore(copyFrom.snapshot());
  }
  return window;
}
