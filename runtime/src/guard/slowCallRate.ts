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
  thresholdPercent: number;
  minimumCalls: number;

  constructor(window: CallWindow, thresholdPercent: number, minimumCalls: number) {
    this.window = window;
    this.thresholdPercent = thresholdPercent;
    this.minimumCalls = minimumCalls;
  }

  record(failed: boolean, slow: boolean, now: number): TripReason | undefined {
    const w = this.window;
    w.add(failed, slow, now);
    if (!slow || w.calls < this.minimumCalls) return undefined;
    return w.slow * 100 >= this.thresholdPercent * w.calls ? 'slowCallRate' : undefined;
  }

  reset(): void {
    this.window.reset();
  }
}
