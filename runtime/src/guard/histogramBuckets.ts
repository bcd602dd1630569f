/**
 * Histogram counts kept by the component that observes them (a plain array bump per
 * observation, no label lookup) and exported by metrics.ts at scrape time.
 */

/** LLM calls take seconds to minutes: the 10 s top of prom-client's default is far too low. */
export const LLM_LATENCY_BUCKETS_SECONDS: readonly number[] = Object.freeze([
  0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300, 600,
]);

export class BucketCounts {
  /** Upper bounds, ascending, in the unit observed. */
  readonly bounds: readonly number[];
  /** Per bucket (not cumulative); the last one is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    this.counts[i] = (this.counts[i] ?? 0) + 1;
    this.sum += value;
    this.count++;
  }
}
