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
  DEFAULT_BREAKER_SETTINGS,
  openDurationFor,
  overrideOf,
  type BreakerSettings,
} from './breakerOptions.ts';
import {
  reportedState,
  type AutoState,
  type BreakerOverride,
  type BreakerStateName,
  type TransitionReason,
  type TripReason,
} from './breakerState.ts';
import type { TripStrategy } from './breakerStrategy.ts';
import { breakerRules, classBit, sameOverride } from './breakerRules.ts';
import { BreakerTally, type BreakerCounters } from './breakerCounters.ts';
import { snapshotOf, stateFromSnapshot, type BreakerSnapshot } from './breakerSnapshot.ts';
import { ConsecutiveFailures } from './consecutiveFailures.ts';
import type { FailureClass } from '../../../contract/src/api/vocabulary.ts';
import type { CircuitOpenError } from './errors.ts';
import { BreakerListeners, rejectionOf, type StateChangeListener } from './breakerEvents.ts';
import type { FailureRate } from './failureRate.ts';
import type { SlowCallRate } from './slowCallRate.ts';
import type { Clock } from '../../../platform/src/time/clock.ts';

/** tryAcquire's answer when the call must not run. */
export const REJECTED = -1;
/** A call let through only because the breaker is in Shadow mode (or ForcedClosed): its outcome is not counted. */
export const UNCOUNTED = -2;

export type { BreakerCounters, BreakerSnapshot, StateChangeListener };

export interface CircuitBreakerConfig {
  readonly name: string;
  readonly clock: Clock;
  /** The policy document's breaker settings; the schema's defaults when absent. */
  readonly options?: BreakerSettings;
}

export class CircuitBreaker {
  readonly name: string;
  readonly #clock: Clock;
  #options: BreakerSettings;
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

  /** Plain counters, read at scrape time; trips and the last trip survive a restore. */
  readonly #tally = new BreakerTally();
  /** Allocated at the first subscription: an idle breaker without listeners holds none. */
  #listeners: BreakerListeners | undefined;

  constructor(config: CircuitBreakerConfig) {
    this.name = config.name;
    this.#clock = config.clock;
    this.#options = config.options ?? DEFAULT_BREAKER_SETTINGS;
    this.#state = { kind: 'Closed', since: config.clock.now() };
    this.#consecutive = new ConsecutiveFailures(this.#options);
    this.#strategies = [this.#consecutive];
    this.#apply(this.#options, undefined);
    this.#override = overrideOf(this.#options);
  }

  get options(): BreakerSettings {
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

  /** Whether its policy is in Shadow mode: it counts and reports, and never refuses a call. */
  get shadow(): boolean {
    return this.#shadow;
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
      this.#tally.shadowRejected++;
      return UNCOUNTED;
    }
    this.#tally.rejected++;
    return REJECTED;
  }

  /** The error for a REJECTED permit, with how long until a call may pass. */
  rejection(now: number): CircuitOpenError {
    return rejectionOf(this.name, this.#state, this.#override, this.#options, now);
  }

  /** A call admitted with `permit` succeeded after `durationMs`. */
  onSuccess(permit: number, durationMs: number, now: number): void {
    this.#tally.successes++;
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
    this.#tally.failures++;
    const byClass = (this.#tally.byClass ??= [0, 0, 0, 0, 0]);
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
    this.#tally.ignored++;
    if (permit !== this.#epoch) return;
    const s = this.#state;
    if (s.kind === 'HalfOpen') s.probes--;
  }

  /** Subscribes to state changes; returns the unsubscribe function. */
  onStateChange(listener: StateChangeListener): () => void {
    return (this.#listeners ??= new BreakerListeners()).add(listener);
  }

  counters(): BreakerCounters {
    return this.#tally.counters();
  }

  /**
   * Swaps thresholds live. In-flight calls keep their permits (the epoch does not move).
   * Carried over: the state and its start, the consecutive-failure count, the re-open
   * count, trips; a rate window when its shape is unchanged (a count window resized keeps
   * its newest calls); an Open period is re-measured from when it began with the new open
   * duration. Dropped: a rate window whose type or time span changed, a rule switched off.
   */
  reconfigure(next: BreakerSettings): void {
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
    const override = overrideOf(next);
    if (!sameOverride(this.#override, override)) {
      this.#override = override;
      this.#emit(before, override === undefined ? 'overrideRemoved' : 'overrideApplied', now);
    }
    this.#settle(now);
  }

  snapshot(): BreakerSnapshot {
    this.#settle(this.#clock.now());
    return snapshotOf({
      state: this.#state,
      consecutiveOpens: this.#consecutiveOpens,
      trips: this.#tally.trips,
      lastTripAt: this.#tally.lastTripAt,
      consecutiveFailures: this.#consecutive.count,
      failureRateWindow: this.#failureRate?.window,
      slowCallWindow: this.#slowCall?.sharesWindow === false ? this.#slowCall.window : undefined,
    });
  }

  /**
   * Takes over a snapshot's state. Probes in flight are not carried (they belonged to the
   * old process); windows are restored only when their shape matches this breaker's options.
   */
  restore(snapshot: BreakerSnapshot): void {
    const now = this.#clock.now();
    const before = reportedState(this.#state, this.#override);
    this.#state = stateFromSnapshot(snapshot, this.name, now);
    this.#epoch++;
    this.#consecutiveOpens = snapshot.consecutiveOpens;
    this.#tally.trips = snapshot.trips;
    this.#tally.lastTripAt = snapshot.lastTripAt;
    this.#consecutive.restore(snapshot.consecutiveFailures);
    if (snapshot.failureRateWindow && this.#failureRate)
      this.#failureRate.window.restore(snapshot.failureRateWindow);
    if (snapshot.slowCallWindow && this.#slowCall && !this.#slowCall.sharesWindow)
      this.#slowCall.window.restore(snapshot.slowCallWindow);
    if (reportedState(this.#state, this.#override) !== before) this.#emit(before, 'restored', now);
    this.#settle(now);
  }

  /** Applies settings to the rules, keeping what is still meaningful from `previous`. */
  #apply(next: BreakerSettings, previous: BreakerSettings | undefined): void {
    const rules = breakerRules(
      next,
      previous,
      this.#consecutive,
      this.#failureRate,
      this.#slowCall,
    );
    this.#failOnMask = rules.failOnMask;
    this.#shadow = rules.shadow;
    this.#slowMs = rules.slowMs;
    this.#needsDuration = rules.needsDuration;
    this.#failureRate = rules.failureRate;
    this.#slowCall = rules.slowCall;
    this.#strategies = rules.strategies;
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
    this.#tally.trips++;
    this.#tally.lastTripAt = now;
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
    if (from !== to) this.#listeners?.emit(this.name, from, to, reason, at);
  }
}
