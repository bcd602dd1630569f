/**
 * What a breaker tells the outside: state changes to its listeners, and a refusal as an error
 * that says how long until a call may pass.
 */
import type { BreakerSettings } from './breakerOptions.ts';
import type {
  AutoState,
  BreakerOverride,
  BreakerStateName,
  StateChangeEvent,
  TransitionReason,
} from './breakerState.ts';
import { CircuitOpenError } from './errors.ts';

export type StateChangeListener = (event: StateChangeEvent) => void;

/** Retry-After hint while half-open with every probe slot taken: a probe is an LLM call away. */
const HALF_OPEN_RETRY_AFTER_MS = 1_000;

/** A breaker's listeners; none is allocated until the first subscribes. */
export class BreakerListeners {
  #listeners: StateChangeListener[] | undefined;

  /** Returns the unsubscribe function. */
  add(listener: StateChangeListener): () => void {
    (this.#listeners ??= []).push(listener);
    return () => {
      const listeners = this.#listeners;
      if (listeners === undefined) return;
      const i = listeners.indexOf(listener);
      if (i >= 0) listeners.splice(i, 1);
    };
  }

  emit(
    breaker: string,
    from: BreakerStateName,
    to: BreakerStateName,
    reason: TransitionReason,
    at: number,
  ): void {
    const listeners = this.#listeners;
    if (listeners === undefined || listeners.length === 0) return;
    const event: StateChangeEvent = { breaker, from, to, reason, at };
    for (const listener of [...listeners]) {
      try {
        listener(event);
      } catch {
        // A listener's failure must not fail the call that caused the change.
      }
    }
  }
}

/** The error for a refused call, with how long until a call may pass. */
export function rejectionOf(
  breaker: string,
  state: AutoState,
  override: BreakerOverride | undefined,
  options: BreakerSettings,
  now: number,
): CircuitOpenError {
  if (override?.state === 'ForcedOpen') {
    const until = override.untilMs;
    return new CircuitOpenError(
      breaker,
      'ForcedOpen',
      until === undefined ? options.openDurationMs : Math.max(0, until - now),
      options,
    );
  }
  if (state.kind === 'Open')
    return new CircuitOpenError(breaker, 'Open', Math.max(0, state.until - now), options);
  return new CircuitOpenError(breaker, 'HalfOpen', HALF_OPEN_RETRY_AFTER_MS, options);
}
