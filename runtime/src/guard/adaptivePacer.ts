/**
 * Slows the limiter down before the provider answers 429, from what the provider says about
 * its own limits: `retry-after` on a 429 pauses every call until then, and the
 * `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset}`
 * headers of each response tell how much is left until when.
 *
 * Rules, per limit the provider reports, while its reset time is ahead:
 * - a call that needs more than what remains waits for the reset;
 * - once what remains drops to the low-water mark (a fifth of the limit, or ten calls' worth
 *   when the limit is not sent), calls are spaced evenly over the time to the reset.
 * Each admitted call is charged locally (headers lag behind calls in flight); the next
 * response's headers overwrite the local count, the provider being the authority.
 */
import { readHeader, readNumberHeader as readNumber, type HeaderSource } from './headers.ts';

const LOW_WATER_FRACTION = 0.2;
const LOW_WATER_CALLS = 10;

/** One limit the provider reports on. NaN = unknown. */
class ProviderLimit {
  readonly #remainingHeader: string;
  readonly #resetHeader: string;
  readonly #limitHeader: string;
  /** The last reset header read, and its time: consecutive answers repeat the same one. */
  #lastReset = '';
  #lastResetAt = Number.NaN;
  limit = Number.NaN;
  remaining = Number.NaN;
  resetAt = Number.NaN;
  /** Earliest time the next call may go when pacing. */
  nextAt = 0;

  constructor(name: string) {
    const prefix = `anthropic-ratelimit-${name}-`;
    this.#remainingHeader = `${prefix}remaining`;
    this.#resetHeader = `${prefix}reset`;
    this.#limitHeader = `${prefix}limit`;
  }

  observe(headers: HeaderSource, now: number): boolean {
    const remaining = readNumber(headers, this.#remainingHeader);
    if (remaining === undefined) return false;
    const resetAt = this.#resetTime(readHeader(headers, this.#resetHeader));
    this.remaining = remaining;
    this.resetAt = Number.isNaN(resetAt) ? now + 60_000 : resetAt;
    this.limit = readNumber(headers, this.#limitHeader) ?? Number.NaN;
    // Fresh numbers replace the spacing worked out from the old ones.
    this.nextAt = 0;
    return true;
  }

  #resetTime(reset: string | undefined): number {
    if (reset === undefined) return Number.NaN;
    if (reset !== this.#lastReset) {
      this.#lastReset = reset;
      this.#lastResetAt = Date.parse(reset);
    }
    return this.#lastResetAt;
  }

  waitFor(need: number, now: number): number {
    if (!(now < this.resetAt) || need <= 0) return 0;
    if (this.remaining < need) return this.resetAt - now;
    return this.nextAt > now ? this.nextAt - now : 0;
  }

  charge(need: number, now: number): void {
    if (!(now < this.resetAt) || need <= 0) return;
    this.remaining -= need;
    const lowWater = Number.isNaN(this.limit)
      ? need * LOW_WATER_CALLS
      : this.limit * LOW_WATER_FRACTION;
    if (this.remaining <= lowWater) {
      const calls = Math.max(1, this.remaining / need);
      this.nextAt = now + (this.resetAt - now) / calls;
    }
  }

  refund(need: number, now: number): void {
    if (now < this.resetAt && need > 0) this.remaining += need;
  }
}

export type PacerLimit = 'requests' | 'tokens' | 'inputTokens' | 'outputTokens' | 'retryAfter';

export class AdaptivePacer {
  #pausedUntil = 0;
  /** Whether any provider limit has been seen (skips the per-call checks until then). */
  #informed = false;
  readonly #requests = new ProviderLimit('requests');
  readonly #tokens = new ProviderLimit('tokens');
  readonly #input = new ProviderLimit('input-tokens');
  readonly #output = new ProviderLimit('output-tokens');
  /** Which limit made the last `waitFor` wait. */
  limitedBy: PacerLimit = 'requests';

  /** Stops every call until `now + ms` (a 429's retry-after). */
  pauseFor(ms: number, now: number): void {
    const until = now + ms;
    if (until > this.#pausedUntil) this.#pausedUntil = until;
  }

  /** Nothing to say: no provider limit seen and no pause running (the limiter skips the pacer). */
  quiet(now: number): boolean {
    return !this.#informed && this.#pausedUntil <= now;
  }

  get pausedUntil(): number {
    return this.#pausedUntil;
  }

  observe(headers: HeaderSource, now: number): void {
    const a = this.#requests.observe(headers, now);
    const b = this.#tokens.observe(headers, now);
    const c = this.#input.observe(headers, now);
    const d = this.#output.observe(headers, now);
    if (a || b || c || d) this.#informed = true;
  }

  waitFor(inputTokens: number, outputTokens: number, now: number): number {
    let wait = this.#pausedUntil > now ? this.#pausedUntil - now : 0;
    this.limitedBy = 'retryAfter';
    if (!this.#informed) return wait;
    wait = this.#max(wait, this.#requests.waitFor(1, now), 'requests');
    wait = this.#max(wait, this.#tokens.waitFor(inputTokens + outputTokens, now), 'tokens');
    wait = this.#max(wait, this.#input.waitFor(inputTokens, now), 'inputTokens');
    return this.#max(wait, this.#output.waitFor(outputTokens, now), 'outputTokens');
  }

  charge(inputTokens: number, outputTokens: number, now: number): void {
    if (!this.#informed) return;
    this.#requests.charge(1, now);
    this.#tokens.charge(inputTokens + outputTokens, now);
    this.#input.charge(inputTokens, now);
    this.#output.charge(outputTokens, now);
  }

  refund(inputTokens: number, outputTokens: number, now: number): void {
    if (!this.#informed) return;
    this.#requests.refund(1, now);
    this.#tokens.refund(inputTokens + outputTokens, now);
    this.#input.refund(inputTokens, now);
    this.#output.refund(outputTokens, now);
  }

  /** What the provider last said, for /debug/ratelimiter. */
  describe(): Record<
    'requests' | 'tokens' | 'inputTokens' | 'outputTokens',
    { remaining: number | null; resetAt: number | null }
  > {
    const view = (l: ProviderLimit) => ({
      remaining: Number.isNaN(l.remaining) ? null : l.remaining,
      resetAt: Number.isNaN(l.resetAt) ? null : l.resetAt,
    });
    return {
      requests: view(this.#requests),
      tokens: view(this.#tokens),
      inputTokens: view(this.#input),
      outputTokens: view(this.#output),
    };
  }

  #max(current: number, candidate: number, limit: PacerLimit): number {
    if (candidate <= current) return current;
    this.limitedBy = limit;
    return candidate;
  }
}
