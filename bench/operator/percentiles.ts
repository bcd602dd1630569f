import { percentile } from '../../tools/stats/samples.ts';

export interface Summary {
  readonly count: number;
  readonly p50_ms: number;
  readonly p95_ms: number;
  readonly max_ms: number;
}

export function summarize(samples: readonly number[]): Summary {
  return {
    count: samples.length,
    p50_ms: Math.round(percentile(samples, 0.5)),
    p95_ms: Math.round(percentile(samples, 0.95)),
    max_ms: Math.round(Math.max(...samples)),
  };
}
