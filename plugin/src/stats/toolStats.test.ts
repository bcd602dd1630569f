import { describe, expect, it } from '@jest/globals';
import type {
  DebugStatsDocument,
  WindowSummary,
} from '../../../contract/src/reporting/debugStats.ts';
import { mergeToolStats } from './toolStats.ts';

const window = (over: Partial<WindowSummary>): WindowSummary => ({
  windowSeconds: 300,
  count: 0,
  successRate: null,
  throughputPerSecond: 0,
  latencyMs: { p50: null, p95: null, p99: null },
  topErrors: [],
  ...over,
});

const doc = (tools: Record<string, WindowSummary>): DebugStatsDocument => ({ models: {}, tools });

describe('mergeToolStats', () => {
  it('adds calls and errors per tool over replicas, and reads p95 from the summed histograms', () => {
    const a = doc({
      github__search: window({
        count: 19,
        successRate: 1,
        latencyHistogram: [{ le: 10.5, count: 19 }],
      }),
      lookup: window({ count: 1, successRate: 1, latencyHistogram: [{ le: 2, count: 1 }] }),
    });
    const b = doc({
      github__search: window({
        count: 1,
        successRate: 0,
        topErrors: [{ type: 'Timeout', count: 1 }],
        latencyHistogram: [{ le: 30_000, count: 1 }],
      }),
    });
    expect(mergeToolStats([a, b])).toEqual([
      {
        tool: 'github__search',
        count: 20,
        errors: 1,
        successRate: 0.95,
        p95Ms: 10.5,
        topErrors: [{ type: 'Timeout', count: 1 }],
      },
      { tool: 'lookup', count: 1, errors: 0, successRate: 1, p95Ms: 2, topErrors: [] },
    ]);
  });

  it('has no rows without tools, and no percentile without a histogram', () => {
    expect(mergeToolStats([doc({})])).toEqual([]);
    expect(mergeToolStats([doc({ t: window({ count: 2, successRate: 1 }) })])[0]?.p95Ms).toBeNull();
  });
});
