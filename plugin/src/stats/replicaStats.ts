/**
 * One agent's call statistics from its replicas' `/debug/stats` windows. Counts add up;
 * percentiles do not: the p99 of three replicas is not the mean (or the max) of their p99s.
 * So each replica sends the latency histogram its own percentiles come from (the same
 * log-scale buckets in every runtime), the buckets are summed by their upper bound, and the
 * agent's percentiles are read from the sum exactly as a replica reads its own — the upper
 * bound of the bucket holding the q-th call, within one bucket's width (about 10%).
 *
 * Error types: each replica lists only its five most frequent per model, so a merged count
 * is a lower bound for types that were not in every replica's five.
 */
import type {
  DebugStatsDocument,
  LatencyBucket,
} from '../../../contract/src/reporting/debugStats.ts';

export interface MergedStats {
  /** Replicas whose window went into these numbers. */
  readonly replicas: number;
  readonly windowSeconds: number | null;
  /** Requests in the window, over every replica and model. */
  readonly count: number;
  readonly throughputPerSecond: number;
  readonly successRate: number | null;
  readonly latencyMs: {
    readonly p50: number | null;
    readonly p95: number | null;
    readonly p99: number | null;
  };
  /** Requests answered by a fallback model, of all requests. */
  readonly fallbackShare: number | null;
  readonly topErrors: readonly { readonly type: string; readonly count: number }[];
  /**
   * Replicas whose runtime sent no histogram (older than the histogram): counted, but not in
   * the percentiles.
   */
  readonly withoutHistogram: number;
}

const TOP_ERRORS = 3;

export function mergeReplicaStats(documents: readonly DebugStatsDocument[]): MergedStats {
  let count = 0;
  let successes = 0;
  let fallbacks = 0;
  let throughput = 0;
  let windowSeconds: number | null = null;
  let withoutHistogram = 0;
  const buckets = new Map<number, number>();
  const errors = new Map<string, number>();
  for (const doc of documents) {
    let histogramSeen = true;
    for (const window of Object.values(doc.models)) {
      count += window.count;
      successes += Math.round((window.successRate ?? 0) * window.count);
      fallbacks += window.fallbacks ?? 0;
      throughput += window.throughputPerSecond;
      windowSeconds ??= window.windowSeconds;
      for (const e of window.topErrors) errors.set(e.type, (errors.get(e.type) ?? 0) + e.count);
      if (window.latencyHistogram === undefined) {
        if (window.count > 0) histogramSeen = false;
        continue;
      }
      for (const b of window.latencyHistogram)
        buckets.set(b.le, (buckets.get(b.le) ?? 0) + b.count);
    }
    if (!histogramSeen) withoutHistogram++;
  }
  const histogram = [...buckets].map(([le, n]) => ({ le, count: n })).sort((a, b) => a.le - b.le);
  return {
    replicas: documents.length,
    windowSeconds,
    count,
    throughputPerSecond: Math.round(throughput * 1000) / 1000,
    successRate: count === 0 ? null : successes / count,
    latencyMs: {
      p50: quantileOf(histogram, 0.5),
      p95: quantileOf(histogram, 0.95),
      p99: quantileOf(histogram, 0.99),
    },
    fallbackShare: count === 0 ? null : fallbacks / count,
    topErrors: [...errors]
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .slice(0, TOP_ERRORS)
      .map(([type, n]) => ({ type, count: n })),
    withoutHistogram,
  };
}

/** The upper bound of the bucket that holds the ⌈q·n⌉-th call; null for no calls. */
export function quantileOf(histogram: readonly LatencyBucket[], q: number): number | null {
  const total = histogram.reduce((sum, b) => sum + b.count, 0);
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (const bucket of histogram) {
    seen += bucket.count;
    if (seen >= rank) return bucket.le;
  }
  return histogram[histogram.length - 1]?.le ?? null;
}
