/**
 * A fixed-size log-scale latency histogram: bucket i holds durations up to
 * BASE_MS × GROWTH^i, so memory stays constant however many calls are recorded, and a
 * percentile read from it is off by at most one bucket's width (about 10%).
 */
const BASE_MS = 0.25;
const GROWTH = 1.1;
export const LATENCY_BUCKETS = 160; // up to ~0.25 ms × 1.1^159 ≈ 10 minutes

const LOG_GROWTH = Math.log(GROWTH);

export function bucketOf(ms: number): number {
  if (ms <= BASE_MS) return 0;
  const i = Math.ceil(Math.log(ms / BASE_MS) / LOG_GROWTH);
  return Math.min(LATENCY_BUCKETS - 1, i);
}

export function bucketUpperMs(i: number): number {
  return BASE_MS * GROWTH ** i;
}

/** The q-quantile (0..1) of `counts`, as the upper bound of its bucket; undefined when empty. */
export function quantile(counts: ArrayLike<number>, total: number, q: number): number | undefined {
  if (total === 0) return undefined;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    seen += counts[i] ?? 0;
    if (seen >= rank) return bucketUpperMs(i);
  }
  return bucketUpperMs(counts.length - 1);
}
