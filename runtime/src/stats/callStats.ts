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
  /** By subject, then name: a call looks its window up without building a key. */
  readonly #windows: Record<Subject, Map<string, SlidingWindow>> = {
    model: new Map(),
    tool: new Map(),
    backend: new Map(),
  };
  #count = 0;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  record(subject: Subject, name: string, durationMs: number, outcome: CallOutcome = {}): void {
    const windows = this.#windows[subject];
    let window = windows.get(name);
    if (window === undefined) {
      if (this.#count >= MAX_SUBJECTS) return;
      window = new SlidingWindow(this.#clock);
      windows.set(name, window);
      this.#count++;
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
    for (const subject of ['model', 'tool', 'backend'] as const) {
      for (const [name, window] of this.#windows[subject])
        out[`${subject}s`][name] = window.summary();
    }
    return out;
  }
}
