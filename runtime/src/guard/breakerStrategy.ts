/**
 * The tiny interface a trip rule implements. The breaker feeds every counted outcome seen
 * while Closed to each rule; the first rule that answers with a reason opens it.
 */
import type { TripReason } from './breakerState.ts';

export interface TripStrategy {
  /** Records one finished call; returns why the breaker should open now, if it should. */
  record(failed: boolean, slow: boolean, now: number): TripReason | undefined;
  /** Forgets everything (on every state change: a new Closed period starts from zero). */
  reset(): void;
}
