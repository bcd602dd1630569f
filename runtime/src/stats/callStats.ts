/**
 * `/debug/stats`: one sliding window per model, per tool and per backend that answered. The number of windows is
 * capped, so a caller inventing model names cannot grow memory without bound.
 */
import type { Clock } from '../../../platform/src/time/clock.ts';
import { SlidingWindow, type CallOutcome, type WindowSummary } from './slidingWindow.ts';

const MAX_SUBJECTS = 128;

export type Subject = 'model' | 'tool' | 'backend';

export class CallStats {
  readonly #clock: Clock;
  readonly #windows = new Map<string, SlidingWindow>();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  record(subject: Subject, name: string, durationMs: number, outcome: CallOutcome = {}): void {
    const key = `${subject}:${name}`;
    let window = this.#windows.get(key);
    if (window === undefined) {
      if (this.#windows.size >= MAX_SUBJECTS) return;
      window = new SlidingWindow(this.#clock);
      this.#windows.set(key, window);
    }
    window.record(durationMs, outcome);
  }

  snapshot(): {
    models: Record<string, WindowSummary>;
    tools: Record<string, WindowSummary>;
    backends: Record<string, WindowSummary>;
  } {
    const out = {
      models: {} as Record<string, WindowSummary>,
      tools: {} as Record<string, WindowSummary>,
      backends: {} as Record<string, WindowSummary>,
    };
    for (const [key, window] of this.#windows) {
      const colon = key.indexOf(':');
      const subject = key.slice(0, colon) as Subject;
      out[`${subject}s`][key.slice(colon + 1)] = window.summary();
    }
    return out;
  }
}
