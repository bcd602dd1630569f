/**
 * The provider's prompt cache, per backend: a prefix up to a `cache_control` breakpoint is
 * cached on the account (API key, AWS key and region, Google project and region) that wrote
 * it, for the breakpoint's lifetime (5 minutes, or 1 hour), and every read renews it. A request
 * reads the longest prefix cached by its account: at a breakpoint, or at an earlier block
 * boundary within 20 blocks of one (the API's lookback). It then writes each of its
 * breakpoints past that point, when the prefix there is at least the model's minimum
 * cacheable length. Usage splits the input as the API does: read, written (by lifetime), and
 * the rest. Entries are bounded (the oldest go first); the clock is injected.
 */
import type { Clock } from '../../platform/src/time/clock.ts';
import type { PromptSegment } from './promptSegments.ts';

export const LOOKBACK_BLOCKS = 20;
export const FIVE_MINUTES_MS = 5 * 60_000;
const ONE_HOUR_MS = 60 * 60_000;
const CHARS_PER_TOKEN = 4;
export const DEFAULT_MAX_CACHE_ENTRIES = 100_000;

/** How a request's input tokens were served by the cache. */
export interface CacheUsage {
  readonly readTokens: number;
  readonly write5mTokens: number;
  readonly write1hTokens: number;
}

export const NO_CACHE_USAGE: CacheUsage = { readTokens: 0, write5mTokens: 0, write1hTokens: 0 };

/**
 * The shortest prefix the API caches for a model, by family (shorter ones are processed
 * without caching, and without an error).
 */
export function minCacheableTokens(model: string): number {
  if (/opus-4-[5-9]|haiku-4-5|mythos/.test(model)) return 4096;
  if (/haiku-3/.test(model)) return 2048;
  return 1024;
}

interface Entry {
  expiresAt: number;
  readonly ttlMs: number;
}

export class PromptCache {
  readonly #clock: Clock;
  readonly #minTokens: number | undefined;
  readonly #maxEntries: number;
  readonly #ttlMs: { readonly '5m': number; readonly '1h': number };
  readonly #entries = new Map<string, Entry>();

  /**
   * `minTokens` replaces the per-model minimum (`--cache-min-tokens`); `fiveMinuteTtlMs` the
   * five-minute lifetime (`--cache-ttl-ms`, for tests that watch a prefix expire).
   */
  constructor(options: {
    clock: Clock;
    minTokens?: number | undefined;
    maxEntries?: number;
    fiveMinuteTtlMs?: number | undefined;
  }) {
    this.#clock = options.clock;
    this.#minTokens = options.minTokens;
    this.#maxEntries = options.maxEntries ?? DEFAULT_MAX_CACHE_ENTRIES;
    this.#ttlMs = { '5m': options.fiveMinuteTtlMs ?? FIVE_MINUTES_MS, '1h': ONE_HOUR_MS };
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Forgets every entry (`DELETE /_sim/stats` keeps them; tests that need a cold cache call this). */
  clear(): void {
    this.#entries.clear();
  }

  /** Reads and writes `segments` for `account` and `model` now; the input tokens it served. */
  serve(
    account: string,
    model: string,
    segments: readonly PromptSegment[],
    totalTokens: number,
  ): CacheUsage {
    const breakpoints: number[] = [];
    segments.forEach((s, i) => {
      if (s.breakpoint !== undefined) breakpoints.push(i);
    });
    if (breakpoints.length === 0) return NO_CACHE_USAGE;
    const now = this.#clock.now();
    const scope = `${account}\u0000${model}\u0000`;
    const tokensAt = (i: number) =>
      i < 0
        ? 0
        : Math.min(totalTokens, Math.ceil((segments[i]?.prefixChars ?? 0) / CHARS_PER_TOKEN));

    const read = this.#longestHit(scope, segments, breakpoints, now);
    const min = this.#minTokens ?? minCacheableTokens(model);
    let written = read;
    let write5m = 0;
    let write1h = 0;
    for (const b of breakpoints) {
      if (b <= read || tokensAt(b) < min) continue;
      const ttl = segments[b]?.breakpoint ?? '5m';
      this.#set(scope + (segments[b]?.prefixHash ?? ''), {
        expiresAt: now + this.#ttlMs[ttl],
        ttlMs: this.#ttlMs[ttl],
      });
      const tokens = tokensAt(b) - tokensAt(written);
      if (ttl === '1h') write1h += tokens;
      else write5m += tokens;
      written = b;
    }
    return { readTokens: tokensAt(read), write5mTokens: write5m, write1hTokens: write1h };
  }

  /** The last block of the longest live cached prefix (renewed), or -1. */
  #longestHit(
    scope: string,
    segments: readonly PromptSegment[],
    breakpoints: readonly number[],
    now: number,
  ): number {
    for (let k = breakpoints.length - 1; k >= 0; k--) {
      const b = breakpoints[k] as number;
      for (let j = b; j >= 0 && j >= b - LOOKBACK_BLOCKS; j--) {
        const key = scope + (segments[j]?.prefixHash ?? '');
        const entry = this.#entries.get(key);
        if (entry === undefined) continue;
        if (entry.expiresAt <= now) {
          this.#entries.delete(key);
          continue;
        }
        entry.expiresAt = now + entry.ttlMs;
        this.#set(key, entry);
        return j;
      }
    }
    return -1;
  }

  #set(key: string, entry: Entry): void {
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) return;
      this.#entries.delete(oldest.value);
    }
  }
}
