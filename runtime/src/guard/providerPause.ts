/**
 * The pause a response's `anthropic-ratelimit-*` headers call for, to share with every
 * replica: a limit the provider reports as spent (`remaining` 0) until its `reset`. The
 * local AdaptivePacer does the finer pacing from the same headers; only this much is worth a
 * round trip to the store, because only this makes every other replica's next call a
 * certain 429.
 */
import { readHeader, type HeaderSource } from './headers.ts';

/** Each limit's header names, made once (providerHeadroom.ts says why). */
const LIMIT_HEADERS = ['requests', 'tokens', 'input-tokens', 'output-tokens'].map((limit) => ({
  remaining: `anthropic-ratelimit-${limit}-remaining`,
  reset: `anthropic-ratelimit-${limit}-reset`,
}));

/** Milliseconds until the latest reset of a spent limit; 0 when nothing is spent. */
export function spentLimitPauseMs(headers: HeaderSource, now: number): number {
  let pause = 0;
  for (const names of LIMIT_HEADERS) {
    const remaining = readHeader(headers, names.remaining);
    if (remaining === undefined || Number(remaining) > 0) continue;
    const reset = readHeader(headers, names.reset);
    const at = reset === undefined ? Number.NaN : Date.parse(reset);
    if (at - now > pause) pause = at - now;
  }
  return pause;
}
