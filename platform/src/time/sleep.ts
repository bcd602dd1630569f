import type { Cancel, Clock } from './clock.ts';

/**
 * Waits until `clock` says `ms` have passed. With a signal, an abort rejects at once with the
 * signal's reason and cancels the timer, so nothing lingers after the caller gave up.
 *
 * A timer alone is not enough: Node schedules it from the event loop's cached time, which can
 * be a millisecond behind the clock, so it may fire while `clock.now()` still reads a moment
 * short. A retry that waited out a provider's retry-after would then find the limiter's pause
 * (kept on the same clock) not yet over, and be refused. What is left is waited again.
 */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted === true) return Promise.reject(signal.reason as Error);
  const until = clock.now() + ms;
  return new Promise((resolve, reject) => {
    let cancel: Cancel = () => undefined;
    const onAbort = () => {
      cancel();
      reject(signal?.reason as Error);
    };
    const wait = (left: number) => {
      cancel = clock.setTimeout(() => {
        const rest = until - clock.now();
        if (rest > 0) {
          wait(rest);
          return;
        }
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, left);
    };
    wait(ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
