/**
 * Histogram counts kept by the component that observes them (a plain array bump per
 * observation, no label lookup), exported by BucketCountsHistogram at scrape time.
 */
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
