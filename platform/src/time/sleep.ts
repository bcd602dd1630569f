import type { Clock } from './clock.ts';

/**
 * Waits `ms` on `clock`. With a signal, an abort rejects at once with the signal's reason
 * and cancels the timer, so nothing lingers after the caller gave up.
 */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal === undefined) {
    return new Promise((resolve) => {
      clock.setTimeout(resolve, ms);
    });
  }
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      cancel();
      reject(signal.reason as Error);
    };
    const cancel = clock.setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
