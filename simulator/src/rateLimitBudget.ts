/**
 * The simulated organisation's rate limits: requests, input tokens and output tokens per
 * minute, each a token bucket. Every answer carries `anthropic-ratelimit-*` headers for the
 * configured limits (limit, remaining, reset as RFC 3339); a request that does not fit is
 * refused with the bucket that refused it and a `retry-after` in whole seconds. Unset
 * limits are unlimited and send no headers. Refused requests are not charged.
 */
import type { Clock } from '../../platform/src/time/clock.ts';
import { ProviderRateBucket } from './providerRateBucket.ts';
import { rfc3339Seconds } from '../../platform/src/time/rfc3339.ts';

export { rfc3339Seconds };

export interface BudgetLimits {
  readonly requestsPerMinute?: number | undefined;
  readonly inputTokensPerMinute?: number | undefined;
  readonly outputTokensPerMinute?: number | undefined;
}

export interface RequestCost {
  readonly inputTokens: number;
  readonly outputTokens: number;
}

/** The header infix of each limit: `anthropic-ratelimit-<dimension>-remaining`. */
export type Dimension = 'requests' | 'input-tokens' | 'output-tokens';

export type RateLimitHeaders = Readonly<Record<string, string>>;

export type Admission =
  | { readonly admitted: true; readonly headers: RateLimitHeaders }
  | {
      readonly admitted: false;
      readonly headers: RateLimitHeaders;
      readonly exceeded: Dimension;
      readonly limit: number;
      readonly retryAfterSeconds: number;
    };

interface Limit {
  readonly dimension: Dimension;
  readonly bucket: ProviderRateBucket;
  readonly costOf: (cost: RequestCost) => number;
}

const NO_HEADERS: RateLimitHeaders = Object.freeze({});

export class RateLimitBudget {
  readonly #clock: Clock;
  readonly #limits: readonly Limit[];

  constructor(limits: BudgetLimits, clock: Clock) {
    this.#clock = clock;
    const all: Limit[] = [];
    const add = (perMinute: number | undefined, dimension: Dimension, costOf: Limit['costOf']) => {
      if (perMinute !== undefined)
        all.push({ dimension, bucket: new ProviderRateBucket(perMinute, clock), costOf });
    };
    add(limits.requestsPerMinute, 'requests', () => 1);
    add(limits.inputTokensPerMinute, 'input-tokens', (cost) => cost.inputTokens);
    add(limits.outputTokensPerMinute, 'output-tokens', (cost) => cost.outputTokens);
    this.#limits = all;
  }

  get unlimited(): boolean {
    return this.#limits.length === 0;
  }

  /** Charges `cost` to every limit when all of them have room; otherwise charges nothing. */
  admit(cost: RequestCost): Admission {
    if (this.#limits.length === 0) return { admitted: true, headers: NO_HEADERS };
    let refusedBy: Limit | undefined;
    let waitMs = 0;
    for (const limit of this.#limits) {
      const ms = limit.bucket.msUntilAvailable(limit.costOf(cost));
      if (ms > waitMs) {
        waitMs = ms;
        refusedBy = limit;
      }
    }
    if (refusedBy !== undefined) {
      return {
        admitted: false,
        headers: this.headers(),
        exceeded: refusedBy.dimension,
        limit: refusedBy.bucket.capacity,
        retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)),
      };
    }
    for (const limit of this.#limits) limit.bucket.take(limit.costOf(cost));
    return { admitted: true, headers: this.headers() };
  }

  /**
   * The `anthropic-ratelimit-*` headers as of now. `tokens-*` repeats whichever token limit
   * (input or output) has fewer tokens remaining, the most restrictive one in effect.
   */
  headers(): RateLimitHeaders {
    if (this.#limits.length === 0) return NO_HEADERS;
    const now = this.#clock.now();
    const headers: Record<string, string> = {};
    let tightest: { remaining: number; limit: Limit } | undefined;
    for (const limit of this.#limits) {
      const remaining = limit.bucket.remaining();
      setLimitHeaders(headers, limit.dimension, limit.bucket, remaining, now);
      if (
        limit.dimension !== 'requests' &&
        (tightest === undefined || remaining < tightest.remaining)
      ) {
        tightest = { remaining, limit };
      }
    }
    if (tightest !== undefined) {
      setLimitHeaders(headers, 'tokens', tightest.limit.bucket, tightest.remaining, now);
    }
    return headers;
  }
}

function setLimitHeaders(
  headers: Record<string, string>,
  infix: string,
  bucket: ProviderRateBucket,
  remaining: number,
  now: number,
): void {
  headers[`anthropic-ratelimit-${infix}-limit`] = String(bucket.capacity);
  headers[`anthropic-ratelimit-${infix}-remaining`] = String(remaining);
  headers[`anthropic-ratelimit-${infix}-reset`] = rfc3339Seconds(now + bucket.msUntilFull());
}
