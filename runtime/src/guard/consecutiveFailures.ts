import type { TripReason } from './breakerState.ts';
import type { TripStrategy } from './breakerStrategy.ts';

/** Opens after `threshold` failures in a row; any success starts the count again. */
export class ConsecutiveFailures implements TripStrategy {
  threshold: number;
  #count = 0;

  constructor(threshold: number) {
    this.threshold = threshold;
  }

  get count(): number {
    return this.#count;
  }

  record(failed: boolean): TripReason | undefined {
    if (!failed) {
      this.#count = 0;
      return undefined;
    }
    return ++this.#count >= this.threshold ? 'consecutiveFailures' : undefined;
  }

  reset(): void {
    this.#count = 0;
  }

  restore(count: number): void {
    this.#count = Math.max(0, Math.floor(count));
  }
}
