import type { TripReason } from './breakerState.ts';
import type { TripStrategy } from './breakerStrategy.ts';
import type { CallWindow } from './callWindow.ts';

/**
 * Opens when calls slower than the slow-call duration (successful or not) reach
 * `thresholdPercent` of the window, once it holds `minimumCalls`: a provider that answers
 * in a minute is as unusable as one that fails.
 */
export class SlowCallRate implements TripStrategy {
  readonly window: CallWindow;
  /**
   * True when the window is the failure-rate rule's (same shape): that rule records each
   * call into it first, so this one only reads it.
   */
  readonly sharesWindow: boolean;
  thresholdPercent: number;
  minimumCalls: number;

  constructor(
    window: CallWindow,
    thresholdPercent: number,
    minimumCalls: number,
    sharesWindow = false,
  ) {
    this.window = window;
    this.thresholdPercent = thresholdPercent;
    this.minimumCalls = minimumCalls;
    this.sharesWindow = sharesWindow;
  }

  record(failed: boolean, slow: boolean, now: number): TripReason | undefined {
    const w = this.window;
    if (!this.sharesWindow) w.add(failed, slow, now);
    if (!slow || w.calls < this.minimumCalls) return undefined;
    return w.slow * 100 >= this.thresholdPercent * w.calls ? 'slowCallRate' : undefined;
  }

  reset(): void {
    this.window.reset();
  }
}
