/** What `/debug/breakers` and `/debug/ratelimiter` show of the live guard objects. */
import type { Bulkhead } from '../bulkhead.ts';
import type { CircuitBreaker } from '../circuitBreaker.ts';
import type { RateLimiter } from '../rateLimiter.ts';
import type { StoreReport } from '../../../../contract/src/reporting/storeReport.ts';
import type { StoreCounters } from '../../rateLimitStore/storeCounters.ts';

export interface BreakerView {
  readonly state: CircuitBreaker['state'];
  readonly since: string;
  readonly rejecting: boolean;
  readonly counters: ReturnType<CircuitBreaker['counters']>;
  readonly snapshot: ReturnType<CircuitBreaker['snapshot']>;
}

export function breakerViews(
  breakers: ReadonlyMap<string, CircuitBreaker>,
  now: number,
): Record<string, BreakerView> {
  const out: Record<string, BreakerView> = {};
  for (const [name, b] of breakers) {
    out[name] = {
      state: b.state,
      since: new Date(b.since).toISOString(),
      rejecting: b.isRejecting(now),
      counters: b.counters(),
      snapshot: b.snapshot(),
    };
  }
  return out;
}

export interface BulkheadView extends ReturnType<Bulkhead['counters']> {
  readonly active: number;
  readonly queued: number;
}

export interface RateLimiterView {
  readonly limiter: ReturnType<RateLimiter['describe']>;
  readonly counters: ReturnType<RateLimiter['counters']>;
  readonly modelBulkhead: BulkheadView;
  readonly toolBulkhead: BulkheadView;
  /** The rate-limit store's state and counters, when the policy names one. */
  readonly store?: { readonly report: StoreReport; readonly counters: StoreCounters };
}

export function rateLimiterView(
  limiter: RateLimiter,
  modelBulkhead: Bulkhead,
  toolBulkhead: Bulkhead,
  store?: RateLimiterView['store'],
): RateLimiterView {
  return {
    limiter: limiter.describe(),
    counters: limiter.counters(),
    modelBulkhead: bulkheadView(modelBulkhead),
    toolBulkhead: bulkheadView(toolBulkhead),
    ...(store === undefined ? {} : { store }),
  };
}

function bulkheadView(bulkhead: Bulkhead): BulkheadView {
  return { active: bulkhead.active, queued: bulkhead.queued, ...bulkhead.counters() };
}
