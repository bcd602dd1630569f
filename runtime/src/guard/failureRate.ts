import type { TripReason } from './breakerState.ts';
import type { TripStrategy } from './breakerStrategy.ts';
import type { CallWindow } from './callWindow.ts';

/** Opens when failures reach `thresholdPercent` of the window, once it holds `minimumCalls`. */
export class FailureRate implements TripStrategy {
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
    if (!failed || w.calls < this.minimumCalls) return undefined;
    return w.failures * 100 >= this.thresholdPercent * w.calls ? 'failureRate' : undefined;
  }

  reset(): void {
    this.window.reset();
  }
}
