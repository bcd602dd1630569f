import type { BreakerSettings } from '../../../contract/src/policy/policyDocument.ts';
import type { TripReason } from './breakerState.ts';
import type { TripStrategy } from './breakerStrategy.ts';

/** Opens after `failureThreshold` failures in a row; any success starts the count again. */
export class ConsecutiveFailures implements TripStrategy {
  #threshold: number;
  #count = 0;

  constructor(settings: BreakerSettings) {
    this.#threshold = settings.failureThreshold;
  }

  /** Takes a new threshold live, keeping the count. */
  reconfigure(settings: BreakerSettings): void {
    this.#threshold = settings.failureThreshold;
  }

  get count(): number {
    return this.#count;
  }

  record(failed: boolean): TripReason | undefined {
    if (!failed) {
      this.#count = 0;
      return undefined;
    }
    return ++this.#count >= this.#threshold ? 'consecutiveFailures' : undefined;
  }

  reset(): void {
    this.#count = 0;
  }

  restore(count: number): void {
    this.#count = Math.max(0, Math.floor(count));
  }
}
