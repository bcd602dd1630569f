/**
 * How much of each backend's provider quota is left, as the provider says it: the
 * `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset}`
 * headers of every answer, and 429s (none left until their retry-after). Read by the
 * `breakwater_provider_headroom_ratio` gauge and by the pod report, from which the operator
 * holds scale-out while the quota is short (more replicas would only multiply 429s).
 *
 * The pod report changes only when the ratio crosses a 5 % step, or while it is short and the
 * provider moves its reset time well ahead: an annotation patch per answer would cost the API
 * server more than the quota it describes.
 */
import type { Clock } from '../../../platform/src/time/clock.ts';
import { rfc3339Seconds } from '../../../platform/src/time/rfc3339.ts';
import type {
  HeadroomLimit,
  HeadroomReport,
  HeadroomReportEntry,
} from '../../../contract/src/reporting/headroomReport.ts';
import { errorHeaders, failureOf, HttpStatusError } from './anthropic/errorClassification.ts';
import { readHeader, readNumberHeader, type HeaderSource } from '../guard/headers.ts';

const LIMITS = ['requests', 'tokens', 'input-tokens', 'output-tokens'] as const;
/**
 * Each limit's header names, made once: a name built per lookup is a new string that each
 * header lookup hashes again (ten lookups, most of them misses, took about 0.9 µs a call
 * against 0.1 with the names made once).
 */
const LIMIT_HEADERS = LIMITS.map((limit) => ({
  limit,
  remaining: `anthropic-ratelimit-${limit}-remaining`,
  max: `anthropic-ratelimit-${limit}-limit`,
  reset: `anthropic-ratelimit-${limit}-reset`,
}));
/** The report moves in steps of this much of the quota. */
const STEP = 0.05;
/** A short quota's report follows a reset time that moved further than this. */
const RESET_MOVE_MS = 5_000;
/** A reset header the provider did not send: assume its quotas' one-minute window. */
const DEFAULT_WINDOW_MS = 60_000;
/** A 429 that says nothing of when to come back still means no room for a moment. */
const MIN_429_HOLD_MS = 1_000;

interface Reading {
  readonly ratio: number;
  readonly limitedBy: HeadroomLimit;
  readonly resetAtMs: number;
  readonly observedAtMs: number;
}

export class ProviderHeadroom {
  readonly #clock: Clock;
  /** The latest reading per backend (what the gauge shows). */
  readonly #latest = new Map<string, Reading>();
  /** What the pod report carries per backend (see the module comment). */
  readonly #published = new Map<string, Reading>();
  readonly #listeners = new Set<() => void>();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** One provider attempt as the router reports it (AttemptObserver). */
  observeAttempt(attempt: {
    readonly backend: string;
    readonly outcome: string;
    readonly headers?: HeaderSource | undefined;
    readonly error?: unknown;
  }): void {
    const { backend, outcome, error } = attempt;
    const headers = attempt.headers ?? errorHeaders(error) ?? httpErrorHeaders(error);
    if (outcome !== 'RateLimited') {
      this.observe(backend, headers);
      return;
    }
    const retryAfterMs = failureOf(error, this.#clock.now()).retryAfterMs;
    this.observe(backend, headers, Math.max(MIN_429_HOLD_MS, retryAfterMs ?? 0));
  }

  /** A provider answer, successful or not, with its headers; `retryAfterMs` for a 429. */
  observe(backend: string, headers: HeaderSource | undefined, retryAfterMs?: number): void {
    const now = this.#clock.now();
    let reading = fromHeaders(headers, now);
    if (retryAfterMs !== undefined) {
      const resetAtMs = Math.max(now + retryAfterMs, reading?.resetAtMs ?? 0);
      reading = {
        ratio: 0,
        limitedBy: reading?.limitedBy ?? 'retry-after',
        resetAtMs,
        observedAtMs: now,
      };
    }
    if (reading === undefined) return;
    this.#latest.set(backend, reading);
    const published = this.#published.get(backend);
    if (published === undefined || this.#shouldPublish(published, reading, now)) {
      this.#published.set(backend, reading);
      for (const listener of this.#listeners) listener();
    }
  }

  /** Called when the pod report would change. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Headroom per backend now, 0..1: a reading whose reset time has passed is whole again. */
  ratios(): ReadonlyMap<string, number> {
    const now = this.#clock.now();
    const out = new Map<string, number>();
    for (const [backend, r] of this.#latest) out.set(backend, r.resetAtMs > now ? r.ratio : 1);
    return out;
  }

  /** The pod report's headroom part. */
  report(): HeadroomReport {
    const report: Record<string, HeadroomReportEntry> = {};
    for (const [backend, r] of this.#published) {
      report[backend] = {
        ratio: stepOf(r.ratio) * STEP,
        limitedBy: r.limitedBy,
        resetAt: rfc3339Seconds(r.resetAtMs),
        observedAt: new Date(r.observedAtMs).toISOString(),
      };
    }
    return report;
  }

  #shouldPublish(published: Reading, reading: Reading, now: number): boolean {
    if (published.resetAtMs <= now) return true;
    if (stepOf(published.ratio) !== stepOf(reading.ratio)) return true;
    return reading.ratio < 1 && reading.resetAtMs - published.resetAtMs > RESET_MOVE_MS;
  }
}

/** Rounded down: a report never claims more room than there is. */
function stepOf(ratio: number): number {
  return Math.floor(Math.round((ratio / STEP) * 1e6) / 1e6);
}

/** The tightest limit the headers report, or undefined when they report none. */
function fromHeaders(headers: HeaderSource | undefined, now: number): Reading | undefined {
  let tightest: Reading | undefined;
  for (const names of LIMIT_HEADERS) {
    const remaining = readNumberHeader(headers, names.remaining);
    const max = readNumberHeader(headers, names.max);
    if (remaining === undefined || max === undefined || !(max > 0)) continue;
    const ratio = Math.min(1, Math.max(0, remaining / max));
    const limit = names.limit;
    const reset = Date.parse(readHeader(headers, names.reset) ?? '');
    const resetAtMs = Number.isNaN(reset) ? now + DEFAULT_WINDOW_MS : reset;
    if (tightest === undefined || ratio < tightest.ratio)
      tightest = { ratio, limitedBy: limit, resetAtMs, observedAtMs: now };
  }
  return tightest;
}

function httpErrorHeaders(err: unknown): HeaderSource | undefined {
  return err instanceof HttpStatusError ? err.headers : undefined;
}
