import { describe, expect, it } from '@jest/globals';
import type {
  DebugStatsDocument,
  LatencyBucket,
  WindowSummary,
} from '../../../contract/src/reporting/debugStats.ts';
import { mergeReplicaStats, quantileOf } from './replicaStats.ts';

/** A replica's window, built the way the runtime builds one. */
function window(
  histogram: readonly LatencyBucket[],
  over: Partial<WindowSummary> = {},
): WindowSummary {
  const count = histogram.reduce((n, b) => n + b.count, 0);
  return {
    windowSeconds: 300,
    count,
    successRate: count === 0 ? null : 1,
    throughputPerSecond: count / 300,
    latencyMs: { p50: null, p95: null, p99: null },
    topErrors: [],
    fallbacks: 0,
    latencyHistogram: histogram,
    ...over,
  };
}

const doc = (models: Record<string, WindowSummary>): DebugStatsDocument => ({ models, tools: {} });

describe('mergeReplicaStats', () => {
  it("reads percentiles from the summed histograms, not from the replicas' own percentiles", () => {
    // Replica a: 98 fast calls (10 ms). Replica b: 2 slow calls (1000 ms). Averaging their
    // p99s would say ~505 ms; the agent's p99 is the 99th of 100 calls: a slow one. Its p95
    // is a fast one, where the slowest replica's own p95 would say 1000 ms.
    const a = doc({ m: window([{ le: 10.5, count: 98 }]) });
    const b = doc({ m: window([{ le: 1051.4, count: 2 }]) });
    const merged = mergeReplicaStats([a, b]);
    expect(merged.latencyMs).toEqual({ p50: 10.5, p95: 10.5, p99: 1051.4 });
    expect(merged.count).toBe(100);
  });

  it('adds counts, throughput, successes and fallbacks over replicas and models', () => {
    const a = doc({
      primary: window([{ le: 5, count: 10 }], { successRate: 0.9, fallbacks: 0 }),
      fallback: window([{ le: 5, count: 10 }], { fallbacks: 10 }),
    });
    const b = doc({ primary: window([{ le: 5, count: 20 }], { successRate: 0.5 }) });
    const merged = mergeReplicaStats([a, b]);
    expect(merged).toMatchObject({ replicas: 2, count: 40, windowSeconds: 300 });
    expect(merged.throughputPerSecond).toBeCloseTo(40 / 300);
    expect(merged.successRate).toBeCloseTo((9 + 10 + 10) / 40);
    expect(merged.fallbackShare).toBeCloseTo(10 / 40);
  });

  it('sums error types over replicas and keeps the three most frequent', () => {
    const errors = (list: [string, number][]) => list.map(([type, count]) => ({ type, count }));
    const a = doc({
      m: window([{ le: 5, count: 1 }], {
        topErrors: errors([
          ['Overloaded', 5],
          ['Timeout', 1],
        ]),
      }),
    });
    const b = doc({
      m: window([{ le: 5, count: 1 }], {
        topErrors: errors([
          ['Timeout', 5],
          ['RateLimited', 2],
          ['ServerError', 1],
        ]),
      }),
    });
    expect(mergeReplicaStats([a, b]).topErrors).toEqual(
      errors([
        ['Timeout', 6],
        ['Overloaded', 5],
        ['RateLimited', 2],
      ]),
    );
  });

  it('counts a replica without a histogram (an older runtime) but leaves it out of the percentiles', () => {
    const old = doc({
      m: { ...window([{ le: 900, count: 50 }]), latencyHistogram: undefined },
    });
    const current = doc({ m: window([{ le: 10, count: 50 }]) });
    const merged = mergeReplicaStats([old, current]);
    expect(merged.count).toBe(100);
    expect(merged.withoutHistogram).toBe(1);
    expect(merged.latencyMs.p99).toBe(10);
  });

  it('says nothing rather than zero when no call was made', () => {
    expect(mergeReplicaStats([doc({})])).toMatchObject({
      count: 0,
      successRate: null,
      fallbackShare: null,
      latencyMs: { p50: null, p95: null, p99: null },
    });
  });
});

describe('quantileOf', () => {
  const histogram = [
    { le: 1, count: 50 },
    { le: 2, count: 45 },
    { le: 4, count: 4 },
    { le: 8, count: 1 },
  ];

  it.each([
    [0.5, 1],
    [0.51, 2],
    [0.95, 2],
    [0.99, 4],
    [1, 8],
  ])('the %p quantile is the bound of the bucket that holds the ⌈q·n⌉-th call: %p', (q, le) => {
    expect(quantileOf(histogram, q)).toBe(le);
  });
});
