/** Nearest-rank percentiles over a small sample (p95 of 20 samples is the 19th smallest). */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1] ?? Number.NaN;
}

export interface Summary {
  readonly count: number;
  readonly p50_ms: number;
  readonly p95_ms: number;
  readonly max_ms: number;
}

export function summarize(samples: readonly number[]): Summary {
  return {
    count: samples.length,
    p50_ms: Math.round(percentile(samples, 50)),
    p95_ms: Math.round(percentile(samples, 95)),
    max_ms: Math.round(Math.max(...samples)),
  };
}
