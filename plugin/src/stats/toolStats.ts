/**
 * Per tool, one agent's calls from its replicas' `/debug/stats` windows (`tools`, keyed by the
 * name the model sees: an HTTP tool's own, `<server>__<tool>` for an MCP server's), merged as
 * the model windows are (replicaStats.ts): counts add up, percentiles come from the summed
 * histograms. So on-call sees which tool fails or slows down, not only that calls do.
 */
import type {
  DebugStatsDocument,
  WindowSummary,
} from '../../../contract/src/reporting/debugStats.ts';
import { quantileOf } from './replicaStats.ts';

export interface ToolStats {
  readonly tool: string;
  /** Calls in the window, over every replica. */
  readonly count: number;
  /** Calls that failed (the tool's error, its timeout, or its breaker open). */
  readonly errors: number;
  readonly successRate: number | null;
  /** From the summed histograms; null without calls or without a histogram. */
  readonly p95Ms: number | null;
  readonly topErrors: readonly { readonly type: string; readonly count: number }[];
}

const TOP_ERRORS = 3;

/** Every tool any replica reports, most calls first; ties by name, so the order is stable. */
export function mergeToolStats(documents: readonly DebugStatsDocument[]): ToolStats[] {
  const byTool = new Map<string, WindowSummary[]>();
  for (const doc of documents)
    for (const [tool, window] of Object.entries(doc.tools))
      byTool.set(tool, [...(byTool.get(tool) ?? []), window]);
  return [...byTool]
    .map(([tool, windows]) => mergeTool(tool, windows))
    .sort((a, b) => b.count - a.count || a.tool.localeCompare(b.tool));
}

function mergeTool(tool: string, windows: readonly WindowSummary[]): ToolStats {
  let count = 0;
  let successes = 0;
  const buckets = new Map<number, number>();
  const errors = new Map<string, number>();
  for (const window of windows) {
    count += window.count;
    successes += Math.round((window.successRate ?? 0) * window.count);
    for (const e of window.topErrors) errors.set(e.type, (errors.get(e.type) ?? 0) + e.count);
    for (const b of window.latencyHistogram ?? [])
      buckets.set(b.le, (buckets.get(b.le) ?? 0) + b.count);
  }
  const histogram = [...buckets].map(([le, n]) => ({ le, count: n })).sort((a, b) => a.le - b.le);
  return {
    tool,
    count,
    errors: count - successes,
    successRate: count === 0 ? null : successes / count,
    p95Ms: quantileOf(histogram, 0.95),
    topErrors: [...errors]
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .slice(0, TOP_ERRORS)
      .map(([type, n]) => ({ type, count: n })),
  };
}
