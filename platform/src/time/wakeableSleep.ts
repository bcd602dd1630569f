import type { Clock } from './clock.ts';

/**
 * A loop's pause between two tries (a relist's backoff, a lease's retry period) that its
 * owner's `stop()` can end at once, so stopping never waits out a long backoff.
 */
export class WakeableSleep {
  readonly #clock: Clock;
  #wake: (() => void) | undefined;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Resolves after `ms`, or as soon as `wake()` is called. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const cancel = this.#clock.setTimeout(() => {
        this.#wake = undefined;
        resolve();
      }, ms);
      this.#wake = () => {
        cancel();
        this.#wake = undefined;
        resolve();
      };
    });
  }

  /** Ends the sleep in progress, if there is one. */
  wake(): void {
    this.#wake?.();
  }
}
