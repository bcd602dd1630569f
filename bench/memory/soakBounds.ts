/**
 * What the runtime keeps per client key, per run, per conversation and per session, and what
 * bounds each (docs/design.md, "Bounded state"): the soak (bench/memory/soak.ts) allows the
 * heap retained after its warm-up to grow by each structure's cost for the entries first seen
 * after it, up to the structure's cap, and no more than SLACK_MB besides.
 *
 * `bytesPerEntry`: one entry with the Map's share, measured (2026-11-27, Node 24) as the heap
 * used after a full collection, before and after 10,000 entries (40,000 pins) made through the
 * structure's own class with the soak's kinds of keys (UUID run ids, `key-…` fingerprints),
 * rounded up; the store's answer per account and the response cache's entry (a soak answer
 * with its key) are estimated from their fields.
 */
export interface Bound {
  readonly structure: string;
  readonly file: string;
  /** What makes it grow. */
  readonly grows: string;
  /** What bounds it. */
  readonly bound: string;
  /** What the soak counts it by, and its cap in those (undefined: the count itself). */
  readonly per: 'keys' | 'runs' | 'conversations' | 'fixed';
  readonly cap?: number;
  readonly bytesPerEntry: number;
}

export const BOUNDS: readonly Bound[] = [
  {
    structure: 'budget accounts',
    file: 'runtime/src/budget/budgetAccounts.ts',
    grows: 'one per budget, and per client key under a per: ClientKey budget',
    bound: 'the accepted client keys x budgets; an account is replaced when its period ends',
    per: 'keys',
    bytesPerEntry: 400,
  },
  {
    structure: "the store's last answer per account",
    file: 'runtime/src/budget/budgetStoreAccounts.ts',
    grows: 'one per account the store decided',
    bound: 'as the accounts; dropped once its period has ended',
    per: 'keys',
    bytesPerEntry: 400,
  },
  {
    structure: 'cache-affinity pins',
    file: 'runtime/src/provider/cacheAffinity/pinTable.ts',
    grows: 'one per conversation prefix (cache_control) in its pin time',
    bound: 'LRU at 50,000; an expired pin goes when looked up',
    per: 'conversations',
    cap: 50_000,
    bytesPerEntry: 110,
  },
  {
    structure: 'run activity (last call per run)',
    file: 'runtime/src/durable/runActivity.ts',
    grows: 'one per durable run called',
    bound: 'LRU at 10,000 runs (about 6 MB full)',
    per: 'runs',
    cap: 10_000,
    bytesPerEntry: 600,
  },
  {
    structure: 'run tails (next step per attempt)',
    file: 'runtime/src/durable/runTails.ts',
    grows: 'one per durable run called',
    bound: 'LRU at 10,000 runs (about 11 MB full)',
    per: 'runs',
    cap: 10_000,
    bytesPerEntry: 1_100,
  },
  {
    structure: 'response cache',
    file: 'runtime/src/cache/responseCache.ts',
    grows: 'one per distinct cacheable request (temperature 0, not streamed, no tools)',
    bound: 'cache.maxEntries (the soak: 1,000), each for cache.ttl',
    per: 'fixed',
    cap: 1_000,
    bytesPerEntry: 8_000,
  },
  {
    structure: 'MCP sessions of /mcp/<name>',
    file: 'runtime/src/mcp/sessionTable.ts',
    grows: 'one per session a caller opens',
    bound: '1,000 (the owner with the most loses its oldest); not exercised by the soak',
    per: 'fixed',
    cap: 0,
    bytesPerEntry: 0,
  },
  {
    structure: 'callers of durable runs',
    file: 'runtime/src/durable/durableRuns.ts',
    grows: 'one per caller binding',
    bound: '256, then started afresh',
    per: 'fixed',
    cap: 256,
    bytesPerEntry: 300,
  },
  {
    structure: 'breakers, call stats, metric series',
    file: 'runtime/src/guard/guardSet/breakerRegistry.ts, runtime/src/stats/callStats.ts, runtime/src/telemetry/tally.ts',
    grows: 'one per model or backend name, subject, label set',
    bound: '512 breakers, 128 subjects, 1,000 series per family',
    per: 'fixed',
    cap: 0,
    bytesPerEntry: 0,
  },
];

/** Code compiled, pools and buffers grown after the warm-up: not per key, run or session. */
export const SLACK_MB = 8;

interface Seen {
  readonly keys: number;
  readonly runs: number;
  readonly conversations: number;
}

/**
 * The growth in MB the bounds allow between `warm` and `end`: each structure's entries new
 * since the warm-up, within its cap, at its cost; the fixed ones whole (full or not at the
 * warm-up, the soak cannot tell); and the slack.
 */
export function allowedGrowthMb(warm: Seen, end: Seen): number {
  let bytes = 0;
  for (const b of BOUNDS) {
    if (b.per === 'fixed') {
      bytes += (b.cap ?? 0) * b.bytesPerEntry;
      continue;
    }
    const cap = b.cap ?? Number.POSITIVE_INFINITY;
    bytes += (Math.min(end[b.per], cap) - Math.min(warm[b.per], cap)) * b.bytesPerEntry;
  }
  return Math.round((bytes / 1e6 + SLACK_MB) * 10) / 10;
}
