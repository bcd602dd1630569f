/**
 * Call statistics over a sliding time window in bounded memory: the window is a ring of
 * time slices, each holding a count, a success count, a latency histogram and error counts
 * by type (at most MAX_ERROR_TYPES per slice). Old slices are reused, never accumulated.
 */
import type { Clock } from '../../../platform/src/time/clock.ts';
import type { LatencyBucket, WindowSummary } from '../../../contract/src/reporting/debugStats.ts';
import { LATENCY_BUCKETS, bucketOf, bucketUpperMs, quantile } from './latencyHistogram.ts';

export type { WindowSummary };

const MAX_ERROR_TYPES = 16;

/** How one call ended, as the window counts it. */
export interface CallOutcome {
  /** Set when the call failed: its outcome class or error type. */
  readonly errorType?: string | undefined;
  /** Answered by a fallback model. */
  readonly fallback?: boolean | undefined;
}

interface Slice {
  /** Which slice of time (now / sliceMs) this slot currently holds. */
  epoch: number;
  count: number;
  successes: number;
  fallbacks: number;
  latency: Uint32Array;
  errors: Map<string, number>;
}

export class SlidingWindow {
  readonly #clock: Clock;
  readonly #sliceMs: number;
  readonly #slices: Slice[];

  constructor(clock: Clock, windowMs = 300_000, slices = 30) {
    this.#clock = clock;
    this.#sliceMs = Math.max(1, Math.floor(windowMs / slices));
    this.#slices = Array.from({ length: slices }, () => ({
      epoch: -1,
      count: 0,
      successes: 0,
      fallbacks: 0,
      latency: new Uint32Array(LATENCY_BUCKETS),
      errors: new Map<string, number>(),
    }));
  }

  record(durationMs: number, outcome: CallOutcome = {}): void {
    const { errorType } = outcome;
    const slice = this.#current();
    slice.count++;
    if (outcome.fallback === true) slice.fallbacks++;
    const bucket = bucketOf(durationMs);
    slice.latency[bucket] = (slice.latency[bucket] ?? 0) + 1;
    if (errorType === undefined) {
      slice.successes++;
      return;
    }
    const seen = slice.errors.get(errorType);
    if (seen !== undefined) slice.errors.set(errorType, seen + 1);
    else if (slice.errors.size < MAX_ERROR_TYPES) slice.errors.set(errorType, 1);
    else slice.errors.set('other', (slice.errors.get('other') ?? 0) + 1);
  }

  summary(): Required<WindowSummary> {
    const nowEpoch = Math.floor(this.#clock.now() / this.#sliceMs);
    const oldest = nowEpoch - this.#slices.length + 1;
    const latency = new Uint32Array(LATENCY_BUCKETS);
    const errors = new Map<string, number>();
    let count = 0;
    let successes = 0;
    let fallbacks = 0;
    for (const slice of this.#slices) {
      if (slice.epoch < oldest || slice.epoch > nowEpoch) continue;
      count += slice.count;
      successes += slice.successes;
      fallbacks += slice.fallbacks;
      for (let i = 0; i < LATENCY_BUCKETS; i++)
        latency[i] = (latency[i] ?? 0) + (slice.latency[i] ?? 0);
      for (const [type, n] of slice.errors) errors.set(type, (errors.get(type) ?? 0) + n);
    }
    const windowSeconds = (this.#slices.length * this.#sliceMs) / 1000;
    const round = (v: number | undefined) => (v === undefined ? null : Math.round(v * 100) / 100);
    return {
      windowSeconds,
      count,
      successRate: count === 0 ? null : successes / count,
      throughputPerSecond: count / windowSeconds,
      latencyMs: {
        p50: round(quantile(latency, count, 0.5)),
        p95: round(quantile(latency, count, 0.95)),
        p99: round(quantile(latency, count, 0.99)),
      },
      // Ties in name order, so two replicas with the same counts list them alike.
      topErrors: [...errors]
        .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
        .slice(0, 5)
        .map(([type, n]) => ({ type, count: n })),
      fallbacks,
      latencyHistogram: nonEmptyBuckets(latency),
    };
  }

  #current(): Slice {
    const epoch = Math.floor(this.#clock.now() / this.#sliceMs);
    const slice = this.#slices[epoch % this.#slices.length];
    if (slice === undefined) throw new Error('unreachable: empty ring');
    if (slice.epoch !== epoch) {
      slice.epoch = epoch;
      slice.count = 0;
      slice.successes = 0;
      slice.fallbacks = 0;
      slice.latency.fill(0);
      slice.errors.clear();
    }
    return slice;
  }
}

function nonEmptyBuckets(counts: Uint32Array): LatencyBucket[] {
  const buckets: LatencyBucket[] = [];
  counts.forEach((count, i) => {
    // Two decimals, like the percentiles: every replica rounds the same bounds the same way.
    if (count > 0) buckets.push({ le: Math.round(bucketUpperMs(i) * 100) / 100, count });
  });
  return buckets;
}
