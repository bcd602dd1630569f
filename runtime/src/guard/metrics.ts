/**
 * Prometheus metrics for the guard (breakers, limiters, bulkheads, guards; budgets in
 * budgetMetrics.ts), under the names design.md §12 gives, read from the components' own
 * counters at scrape time (scrapedMetrics.ts), so the hot path never touches prom-client.
 */
import type { Counter, Gauge, Registry } from 'prom-client';
import { BudgetMetrics, type BudgetLedger } from '../budget/budgets.ts';
import { Delta, ScrapedMetrics } from './scrapedMetrics.ts';
import type { BreakerStateName } from './breakerState.ts';
import type { Bulkhead } from './bulkhead.ts';
import type { CircuitBreaker } from './circuitBreaker.ts';
import { FAILURE_CLASSES } from '../../../contract/src/api/vocabulary.ts';
import type { Guard } from './guard.ts';
import type { RateLimiter } from './rateLimiter.ts';

const STATE_LABELS: readonly [BreakerStateName, string][] = [
  ['Closed', 'closed'],
  ['Open', 'open'],
  ['HalfOpen', 'half_open'],
  ['ForcedOpen', 'forced_open'],
  ['ForcedClosed', 'forced_closed'],
];

export class GuardMetrics {
  readonly #scraped: ScrapedMetrics;
  readonly #budgets: BudgetMetrics;

  readonly breakerState: Gauge<'name' | 'state'>;
  readonly breakerShadow: Gauge<'name'>;
  readonly breakerRequests: Counter<'name' | 'outcome'>;
  readonly breakerFailures: Counter<'name' | 'class'>;
  readonly breakerTrips: Counter<'name'>;
  readonly limiterRequests: Counter<'name'>;
  readonly limiterRejected: Counter<'name' | 'reason'>;
  readonly limiterWaited: Counter<'name'>;
  readonly limiterStoreDecisions: Counter<'name' | 'decided_by'>;
  readonly limiterStoreFallback: Gauge<'name'>;
  readonly limiterStoreEvicting: Gauge<'name'>;
  readonly limiterStoreEvictedKeys: Counter<'name'>;
  readonly bulkheadActive: Gauge<'name'>;
  readonly bulkheadQueue: Gauge<'name'>;
  readonly bulkheadRejected: Counter<'name' | 'reason'>;
  readonly guardRetries: Counter<'name'>;
  readonly guardRetryBudgetExhausted: Counter<'name'>;
  readonly guardTimeouts: Counter<'name'>;

  constructor(registry: Registry) {
    const scraped = new ScrapedMetrics(registry);
    this.#scraped = scraped;
    this.#budgets = new BudgetMetrics(scraped);
    this.breakerState = scraped.gauge(
      'circuit_breaker_state',
      'Circuit breaker state: 1 for the state the breaker is in, 0 for the others.',
      ['name', 'state'],
    );
    this.breakerShadow = scraped.gauge(
      'circuit_breaker_shadow',
      "1 while the breaker's policy is in Shadow mode (its state is what it would be; it never refuses a call), 0 while it enforces.",
      ['name'],
    );
    this.breakerRequests = scraped.counter(
      'circuit_breaker_requests_total',
      'Calls seen by a circuit breaker, by outcome (success, failure, ignored, rejected, shadow_rejected).',
      ['name', 'outcome'],
    );
    this.breakerFailures = scraped.counter(
      'circuit_breaker_failures_total',
      'Failures a circuit breaker counted, by failure class.',
      ['name', 'class'],
    );
    this.breakerTrips = scraped.counter(
      'circuit_breaker_trips_total',
      'Times a circuit breaker opened.',
      ['name'],
    );
    this.limiterRequests = scraped.counter(
      'rate_limiter_requests_total',
      'Calls a rate limiter decided on (admitted, waited or rejected).',
      ['name'],
    );
    this.limiterRejected = scraped.counter(
      'rate_limiter_rejected_total',
      'Calls a rate limiter refused, by the limit that refused them (shadow: would have refused).',
      ['name', 'reason'],
    );
    this.limiterWaited = scraped.counter(
      'rate_limiter_waited_total',
      'Calls a rate limiter admitted after making them wait (onLimit: Wait).',
      ['name'],
    );
    this.limiterStoreDecisions = scraped.counter(
      'rate_limiter_store_decisions_total',
      "Admissions of a rate limiter with a store (RateLimitPolicy spec.store), by who decided: store (its exact counters) or fallback (this replica's share, the store being down or slower than its wait budget).",
      ['name', 'decided_by'],
    );
    this.limiterStoreFallback = scraped.gauge(
      'rate_limiter_store_fallback',
      "1 while a rate limiter with a store decides on this replica's share because the store is down, slow or refuses the password; 0 while the store decides.",
      ['name'],
    );
    this.limiterStoreEvicting = scraped.gauge(
      'rate_limiter_store_evicting',
      "1 while a rate limiter's store is a Redis whose maxmemory-policy may evict its keys (anything but noeviction, with maxmemory set): a budget account evicted mid-period is spent again; also 1 while the server refuses INFO, since then it cannot be told; 0 otherwise.",
      ['name'],
    );
    this.limiterStoreEvictedKeys = scraped.counter(
      'rate_limiter_store_evicted_keys_total',
      "Keys a rate limiter's Redis store evicted (the growth of each server's INFO evicted_keys, read on connecting and every minute), whatever its maxmemory-policy reads now: a budget account among them is spent again from zero. A server's first reading is a baseline.",
      ['name'],
    );
    this.bulkheadActive = scraped.gauge(
      'bulkhead_active_requests',
      'Calls running inside a bulkhead.',
      ['name'],
    );
    this.bulkheadQueue = scraped.gauge(
      'bulkhead_queue_size',
      'Calls waiting for a bulkhead slot.',
      ['name'],
    );
    this.bulkheadRejected = scraped.counter(
      'bulkhead_rejected_total',
      'Calls a bulkhead turned away (queue_full, queue_timeout; shadow: would have turned away).',
      ['name', 'reason'],
    );
    this.guardRetries = scraped.counter('guard_retries_total', 'Retries a guard made.', ['name']);
    this.guardRetryBudgetExhausted = scraped.counter(
      'guard_retry_budget_exhausted_total',
      'Retries a guard skipped because its retry budget was spent.',
      ['name'],
    );
    this.guardTimeouts = scraped.counter('guard_timeouts_total', 'Attempts a guard timed out.', [
      'name',
    ]);
  }

  /** Exports a budget ledger's spend, what is left and its refusals; returns the unbind function. */
  bindBudgets(ledger: BudgetLedger): () => void {
    return this.#budgets.bind(ledger);
  }
  /** Exports a breaker's state and counters; returns the unbind function. */
  bindBreaker(breaker: CircuitBreaker): () => void {
    const name = breaker.name;
    const states = STATE_LABELS.map(
      ([state, label]) => [state, this.breakerState.labels({ name, state: label })] as const,
    );
    this.#scraped.on(this.breakerState, breaker, () => {
      const current = breaker.state;
      for (const [state, child] of states) child.set(state === current ? 1 : 0);
    });
    const shadow = this.breakerShadow.labels({ name });
    this.#scraped.on(this.breakerShadow, breaker, () => {
      shadow.set(breaker.shadow ? 1 : 0);
    });
    const outcomes = ['success', 'failure', 'ignored', 'rejected', 'shadow_rejected'] as const;
    const requests = outcomes.map(
      (outcome) => new Delta(this.breakerRequests.labels({ name, outcome })),
    );
    this.#scraped.on(this.breakerRequests, breaker, () => {
      const c = breaker.counters();
      const values = [c.successes, c.failures, c.ignored, c.rejected, c.shadowRejected];
      requests.forEach((d, i) => {
        d.push(values[i] ?? 0);
      });
    });
    const byClass = FAILURE_CLASSES.map(
      (c) => [c, new Delta(this.breakerFailures.labels({ name, class: c }))] as const,
    );
    this.#scraped.on(this.breakerFailures, breaker, () => {
      const failures = breaker.counters().failuresByClass;
      for (const [cls, d] of byClass) d.push(failures[cls]);
    });
    const trips = new Delta(this.breakerTrips.labels({ name }));
    this.#scraped.on(this.breakerTrips, breaker, () => {
      trips.push(breaker.counters().trips);
    });
    return this.#scraped.unbinder(breaker, () => {
      for (const [, label] of STATE_LABELS) this.breakerState.remove({ name, state: label });
      this.breakerShadow.remove({ name });
      for (const outcome of outcomes) this.breakerRequests.remove({ name, outcome });
      for (const c of FAILURE_CLASSES) this.breakerFailures.remove({ name, class: c });
      this.breakerTrips.remove({ name });
    });
  }

  /** Exports a rate limiter's decisions; returns the unbind function. */
  bindLimiter(limiter: RateLimiter): () => void {
    const name = limiter.name;
    const reasons = ['requests', 'input_tokens', 'output_tokens', 'provider', 'shadow'] as const;
    const refusals = () => {
      const c = limiter.counters();
      const r = c.rejected;
      return [r.requests, r.inputTokens, r.outputTokens, r.provider, c.shadowRejected];
    };
    const requests = new Delta(this.limiterRequests.labels({ name }));
    this.#scraped.on(this.limiterRequests, limiter, () => {
      requests.push(limiter.counters().admitted + refusals().reduce((a, b) => a + b, 0));
    });
    const rejected = reasons.map(
      (reason) => new Delta(this.limiterRejected.labels({ name, reason })),
    );
    this.#scraped.on(this.limiterRejected, limiter, () => {
      const values = refusals();
      rejected.forEach((d, i) => {
        d.push(values[i] ?? 0);
      });
    });
    const waited = new Delta(this.limiterWaited.labels({ name }));
    this.#scraped.on(this.limiterWaited, limiter, () => {
      waited.push(limiter.counters().waited);
    });
    // Zero without a store; alerts read the fallback gauge, dashboards the split.
    const byStore = new Delta(this.limiterStoreDecisions.labels({ name, decided_by: 'store' }));
    const byFallback = new Delta(
      this.limiterStoreDecisions.labels({ name, decided_by: 'fallback' }),
    );
    this.#scraped.on(this.limiterStoreDecisions, limiter, () => {
      const c = limiter.counters();
      byStore.push(c.sharedDecisions);
      byFallback.push(c.fallbackDecisions);
    });
    const fallback = this.limiterStoreFallback.labels({ name });
    this.#scraped.on(this.limiterStoreFallback, limiter, () => {
      fallback.set(limiter.storeFallback ? 1 : 0);
    });
    const evicting = this.limiterStoreEvicting.labels({ name });
    this.#scraped.on(this.limiterStoreEvicting, limiter, () => {
      evicting.set(limiter.storeEvicting ? 1 : 0);
    });
    const evicted = new Delta(this.limiterStoreEvictedKeys.labels({ name }));
    this.#scraped.on(this.limiterStoreEvictedKeys, limiter, () => {
      evicted.push(limiter.storeEvictedKeys);
    });
    return this.#scraped.unbinder(limiter, () => {
      this.limiterRequests.remove({ name });
      this.limiterWaited.remove({ name });
      this.limiterStoreFallback.remove({ name });
      this.limiterStoreEvicting.remove({ name });
      this.limiterStoreEvictedKeys.remove({ name });
      this.limiterStoreDecisions.remove({ name, decided_by: 'store' });
      this.limiterStoreDecisions.remove({ name, decided_by: 'fallback' });
      for (const reason of reasons) this.limiterRejected.remove({ name, reason });
    });
  }

  /** Exports a bulkhead's occupancy and refusals; returns the unbind function. */
  bindBulkhead(bulkhead: Bulkhead): () => void {
    const name = bulkhead.name;
    const active = this.bulkheadActive.labels({ name });
    this.#scraped.on(this.bulkheadActive, bulkhead, () => {
      active.set(bulkhead.active);
    });
    const queue = this.bulkheadQueue.labels({ name });
    this.#scraped.on(this.bulkheadQueue, bulkhead, () => {
      queue.set(bulkhead.queued);
    });
    const full = new Delta(this.bulkheadRejected.labels({ name, reason: 'queue_full' }));
    const timedOut = new Delta(this.bulkheadRejected.labels({ name, reason: 'queue_timeout' }));
    const shadow = new Delta(this.bulkheadRejected.labels({ name, reason: 'shadow' }));
    this.#scraped.on(this.bulkheadRejected, bulkhead, () => {
      const c = bulkhead.counters();
      full.push(c.rejectedQueueFull);
      timedOut.push(c.rejectedQueueTimeout);
      shadow.push(c.shadowRejected);
    });
    return this.#scraped.unbinder(bulkhead, () => {
      this.bulkheadActive.remove({ name });
      this.bulkheadQueue.remove({ name });
      this.bulkheadRejected.remove({ name, reason: 'queue_full' });
      this.bulkheadRejected.remove({ name, reason: 'queue_timeout' });
      this.bulkheadRejected.remove({ name, reason: 'shadow' });
    });
  }

  /** A guard's retry and timeout counters. */
  bindGuard(guard: Guard): () => void {
    const name = guard.name;
    const counter = (metric: Counter<'name'>, read: () => number) => {
      const d = new Delta(metric.labels({ name }));
      this.#scraped.on(metric, guard, () => {
        d.push(read());
      });
    };
    counter(this.guardRetries, () => guard.counters().retries);
    counter(this.guardRetryBudgetExhausted, () => guard.counters().retryBudgetExhausted);
    counter(this.guardTimeouts, () => guard.counters().timeouts);
    return this.#scraped.unbinder(guard, () => {
      for (const metric of [
        this.guardRetries,
        this.guardRetryBudgetExhausted,
        this.guardTimeouts,
      ]) {
        metric.remove({ name });
      }
    });
  }
}
