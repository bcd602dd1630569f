/**
 * Time, injected. Every breaker, bucket, queue and condition helper takes a Clock so that
 * tests advance a manual clock instead of sleeping.
 */
export interface Clock {
  /** Milliseconds since the epoch (like Date.now()). */
  now(): number;
  /** Schedules `fn` after `ms`; the returned handle cancels it. Timers never keep the process alive. */
  setTimeout(fn: () => void, ms: number): Cancel;
}

export type Cancel = () => void;

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return () => {
      clearTimeout(timer);
    };
  },
};
