/**
 * An opt-in LRU + TTL cache of plain Messages answers. Only deterministic requests are
 * cacheable: temperature 0, no tools, not streaming. The key is a hash of the canonical
 * request, so the cache holds answers, never the prompts' text as keys.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../../../contract/src/policy/policyDocument.ts';
import type { Clock } from '../../../platform/src/time/clock.ts';

interface Entry {
  readonly value: string;
  readonly model: string;
  readonly expiresAt: number;
}

export class ResponseCache {
  readonly #clock: Clock;
  #maxEntries: number;
  #ttlMs: number;
  // A Map iterates in insertion order: re-inserting on a hit makes the first key the LRU one.
  readonly #entries = new Map<string, Entry>();

  constructor(clock: Clock, maxEntries: number, ttlMs: number) {
    this.#clock = clock;
    this.#maxEntries = maxEntries;
    this.#ttlMs = ttlMs;
  }

  get size(): number {
    return this.#entries.size;
  }

  resize(maxEntries: number, ttlMs: number): void {
    this.#maxEntries = maxEntries;
    this.#ttlMs = ttlMs;
    this.#evict();
  }

  clear(): void {
    this.#entries.clear();
  }

  get(key: string): { value: string; model: string } | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    this.#entries.delete(key);
    if (entry.expiresAt <= this.#clock.now()) return undefined;
    this.#entries.set(key, entry);
    return entry;
  }

  set(key: string, value: string, model: string): void {
    this.#entries.delete(key);
    this.#entries.set(key, { value, model, expiresAt: this.#clock.now() + this.#ttlMs });
    this.#evict();
  }

  #evict(): void {
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) return;
      this.#entries.delete(oldest.value);
    }
  }
}

/** The cache key of a request, or undefined when the request is not deterministic. */
export function cacheKey(body: Readonly<Record<string, unknown>>): string | undefined {
  if (body.stream === true) return undefined;
  if (body.temperature !== 0) return undefined;
  if (Array.isArray(body.tools) && body.tools.length > 0) return undefined;
  if (body.tool_choice !== undefined) return undefined;
  return createHash('sha256').update(canonicalJson(body)).digest('hex');
}
