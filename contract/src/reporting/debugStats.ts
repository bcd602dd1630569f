/**
 * The `/debug/stats` document each runtime serves on its metrics port (and, behind the client
 * key, its API port): call statistics over a sliding window, per model and per tool. The
 * runtime writes it; `kubectl breakwater top` reads it from every replica through the API
 * server's pod proxy and merges the replicas.
 */
export const DEBUG_STATS_PATH = '/debug/stats';

/** What a `/debug` request gets while the policy turns them off. */
export const DEBUG_OFF = '/debug is turned off for this agent (spec.monitoring.debugEndpoints)';

/** One non-empty latency bucket: `count` calls took at most `le` milliseconds. */
export interface LatencyBucket {
  readonly le: number;
  readonly count: number;
}

export interface WindowSummary {
  readonly windowSeconds: number;
  readonly count: number;
  readonly successRate: number | null;
  readonly throughputPerSecond: number;
  readonly latencyMs: {
    readonly p50: number | null;
    readonly p95: number | null;
    readonly p99: number | null;
  };
  /** The five most frequent error types of the window. */
  readonly topErrors: readonly { readonly type: string; readonly count: number }[];
  /** Calls answered by a fallback model (absent from runtimes before it was added). */
  readonly fallbacks?: number;
  /**
   * The non-empty buckets of the histogram the percentiles come from (absent from runtimes
   * before it was added), so that replicas can be merged into true percentiles.
   */
  readonly latencyHistogram?: readonly LatencyBucket[];
}

export interface DebugStatsDocument {
  readonly models: Readonly<Record<string, WindowSummary>>;
  readonly tools: Readonly<Record<string, WindowSummary>>;
  /** Per backend that answered a caller (absent from runtimes before backends of three kinds). */
  readonly backends?: Readonly<Record<string, WindowSummary>>;
}
