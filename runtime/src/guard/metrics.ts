/**
 * Prometheus metrics for the guard, under the names DESIGN §4 gives, on a Registry passed
 * in (never the global one).
 *
 * The hot path never touches prom-client: breakers, limiters, bulkheads and guards keep
 * plain counters, and this module reads them at scrape time (`collect`), pushing each delta
 * into label children bound once per component when it is bound. Even a bound prom-client
 * child hashes its labels on every `inc()`, which would cost more per call than the breaker
 * itself.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { BreakerStateName } from './breakerState.ts';
import type { BudgetLedger } from './budgetLedger.ts';
import type { Bulkhead } from './bulkhead.ts';
import type { CircuitBreaker } from './circuitBreaker.ts';
import { FAILURE_CLASSES } from '../../../contract/src/api/vocabulary.ts';
import type { Guard } from './guard.ts';
import type { RateLimiter } from './rateLimiter.ts';

interface CounterChild {
  inc(value: number): void;
}

/** A counter child and the source value it last reported. */
class Delta {
  readonly #child: CounterChild;
  #last = 0;

  constructor(child: CounterChild) {
    this.#child = child;
    // Exported as 0 from the start: rate() needs the series to exist before the first event.
    child.inc(0);
  }

  push(current: number): void {
    const delta = current - this.#last;
    if (delta > 0) this.#child.inc(delta);
    this.#last = current;
  }
}

const STATE_LABELS: readonly [BreakerStateName, string][] = [
  ['Closed', 'closed'],
  ['Open', 'open'],
  ['HalfOpen', 'half_open'],
  ['ForcedOpen', 'forced_open'],
  ['ForcedClosed', 'forced_closed'],
];

/** Collect functions per metric, keyed by the component they read. */
type Collectors = Map<object, () => void>;

export class GuardMetrics {
  readonly #collectors = new Map<object, Collectors>();
  readonly #registry: Registry;

  readonly breakerState: Gauge<'name' | 'state'>;
  readonly breakerRequests: Counter<'name' | 'outcome'>;
  readonly breakerFailures: Counter<'name' | 'class'>;
  readonly breakerTrips: Counter<'name'>;
  readonly limiterRequests: Counter<'name'>;
  readonly limiterRejected: Counter<'name' | 'reason'>;
  readonly limiterWaited: Counter<'name'>;
  readonly limiterStoreDecisions: Counter<'name' | 'decided_by'>;
  readonly limiterStoreFallback: Gauge<'name'>;
  readonly bulkheadActive: Gauge<'name'>;
  readonly bulkheadQueue: Gauge<'name'>;
  readonly bulkheadRejected: Counter<'name' | 'reason'>;
  readonly guardRetries: Counter<'name'>;
  readonly guardRetryBudgetExhausted: Counter<'name'>;
  readonly guardTimeouts: Counter<'name'>;
  readonly budgetSpend: Counter<'name' | 'model' | 'backend'>;
  readonly budgetRemainingUsd: Gauge<'name' | 'budget'>;
  readonly budgetRemainingTokens: Gauge<'name' | 'budget'>;
  readonly budgetRejected: Counter<'name' | 'budget' | 'reason'>;
  readonly budgetLimitUsd: Gauge<'name' | 'budget'>;
  readonly budgetLimitTokens: Gauge<'name' | 'budget'>;
  readonly budgetWarnRatio: Gauge<'name' | 'budget'>;
  readonly budgetResetsAt: Gauge<'name' | 'budget'>;

  constructor(registry: Registry) {
    this.#registry = registry;
    this.breakerState = this.#gauge(
      'circuit_breaker_state',
      'Circuit breaker state: 1 for the state the breaker is in, 0 for the others.',
      ['name', 'state'],
    );
    this.breakerRequests = this.#counter(
      'circuit_breaker_requests_total',
      'Calls seen by a circuit breaker, by outcome (success, failure, ignored, rejected, shadow_rejected).',
      ['name', 'outcome'],
    );
    this.breakerFailures = this.#counter(
      'circuit_breaker_failures_total',
      'Failures a circuit breaker counted, by failure class.',
      ['name', 'class'],
    );
    this.breakerTrips = this.#counter(
      'circuit_breaker_trips_total',
      'Times a circuit breaker opened.',
      ['name'],
    );
    this.limiterRequests = this.#counter(
      'rate_limiter_requests_total',
      'Calls a rate limiter decided on (admitted, waited or rejected).',
      ['name'],
    );
    this.limiterRejected = this.#counter(
      'rate_limiter_rejected_total',
      'Calls a rate limiter refused, by the limit that refused them (shadow: would have refused).',
      ['name', 'reason'],
    );
    this.limiterWaited = this.#counter(
      'rate_limiter_waited_total',
      'Calls a rate limiter admitted after making them wait (onLimit: Wait).',
      ['name'],
    );
    this.limiterStoreDecisions = this.#counter(
      'rate_limiter_store_decisions_total',
      "Admissions of a rate limiter with a store (RateLimitPolicy spec.store), by who decided: store (its exact counters) or fallback (this replica's share, the store being down or slower than its wait budget).",
      ['name', 'decided_by'],
    );
    this.limiterStoreFallback = this.#gauge(
      'rate_limiter_store_fallback',
      "1 while a rate limiter with a store decides on this replica's share because the store is down, slow or refuses the password; 0 while the store decides.",
      ['name'],
    );
    this.bulkheadActive = this.#gauge(
      'bulkhead_active_requests',
      'Calls running inside a bulkhead.',
      ['name'],
    );
    this.bulkheadQueue = this.#gauge('bulkhead_queue_size', 'Calls waiting for a bulkhead slot.', [
      'name',
    ]);
    this.bulkheadRejected = this.#counter(
      'bulkhead_rejected_total',
      'Calls a bulkhead turned away (queue_full, queue_timeout; shadow: would have turned away).',
      ['name', 'reason'],
    );
    this.guardRetries = this.#counter('guard_retries_total', 'Retries a guard made.', ['name']);
    this.guardRetryBudgetExhausted = this.#counter(
      'guard_retry_budget_exhausted_total',
      'Retries a guard skipped because its retry budget was spent.',
      ['name'],
    );
    this.guardTimeouts = this.#counter('guard_timeouts_total', 'Attempts a guard timed out.', [
      'name',
    ]);
    this.budgetSpend = this.#counter(
      'budget_spend_usd_total',
      "Dollars the agent's settled model calls cost on this replica, priced from the price table or spec.pricing, by model and backend.",
      ['name', 'model', 'backend'],
    );
    this.budgetRemainingUsd = this.#gauge(
      'budget_remaining_usd',
      'Dollars left of a budget this period on this replica (its share without a store; per ClientKey, the key with least left); negative once Shadow lets spend pass the limit.',
      ['name', 'budget'],
    );
    this.budgetRemainingTokens = this.#gauge(
      'budget_remaining_tokens',
      'Tokens left of a budget this period on this replica (its share without a store; per ClientKey, the key with least left).',
      ['name', 'budget'],
    );
    this.budgetRejected = this.#counter(
      'budget_rejected_total',
      'Model calls a budget refused, by reason (exhausted, unpriced; shadow: would have refused).',
      ['name', 'budget', 'reason'],
    );
    this.budgetLimitUsd = this.#gauge(
      'budget_limit_usd',
      "A dollar budget's limit as budget_remaining_usd counts it: the whole agent's when a store decides, this replica's share without one (per ClientKey, each key's); budget_remaining_usd / budget_limit_usd is the part left.",
      ['name', 'budget'],
    );
    this.budgetLimitTokens = this.#gauge(
      'budget_limit_tokens',
      "A token budget's limit as budget_remaining_tokens counts it: the whole agent's when a store decides, this replica's share without one (per ClientKey, each key's); budget_remaining_tokens / budget_limit_tokens is the part left.",
      ['name', 'budget'],
    );
    this.budgetWarnRatio = this.#gauge(
      'budget_warn_ratio',
      "A budget's warnAtPercent as a ratio (0.8 for 80), for alerts on the share spent.",
      ['name', 'budget'],
    );
    this.budgetResetsAt = this.#gauge(
      'budget_resets_at_seconds',
      "When a budget's current period ends and its spend starts from zero (Unix seconds), for forecasts.",
      ['name', 'budget'],
    );
  }

  /**
   * Exports a budget ledger's spend, what is left of each budget and its refusals; returns the
   * unbind function. Budgets come and go with the policy: their series go with them.
   */
  bindBudgets(ledger: BudgetLedger): () => void {
    const name = ledger.name;
    const spent = new Map<string, { child: CounterChild; last: bigint }>();
    const spendLabels: { name: string; model: string; backend: string }[] = [];
    this.#on(this.budgetSpend, ledger, () => {
      for (const target of ledger.spendByTarget()) {
        const key = `${target.model}\n${target.backend}`;
        let entry = spent.get(key);
        if (entry === undefined) {
          const labels = { name, model: target.model, backend: target.backend };
          spendLabels.push(labels);
          entry = { child: this.budgetSpend.labels(labels), last: 0n };
          spent.set(key, entry);
        }
        const delta = target.picoUsd - entry.last;
        // Whole picodollars to dollars: exact until the float, which is the metric's own.
        if (delta > 0n) entry.child.inc(Number(delta) / 1e12);
        entry.last = target.picoUsd;
      }
    });
    // Each gauge: a budget's value in its unit (undefined: the budget does not limit it).
    type Values = () => { budget: string; value: number | undefined }[];
    const dollars = (pico: bigint | undefined): number | undefined =>
      pico === undefined ? undefined : Number(pico) / 1e12;
    const left: [Gauge<'name' | 'budget'>, Values][] = [
      [
        this.budgetRemainingUsd,
        () => ledger.remaining().map((r) => ({ budget: r.budget, value: dollars(r.picoUsd) })),
      ],
      [
        this.budgetRemainingTokens,
        () =>
          ledger.remaining().map((r) => ({
            budget: r.budget,
            value: r.tokens === undefined ? undefined : Number(r.tokens),
          })),
      ],
      [
        this.budgetLimitUsd,
        () => ledger.remaining().map((r) => ({ budget: r.budget, value: dollars(r.limitPico) })),
      ],
      [
        this.budgetLimitTokens,
        () =>
          ledger.remaining().map((r) => ({
            budget: r.budget,
            value: r.limitTokens === undefined ? undefined : Number(r.limitTokens),
          })),
      ],
      [
        this.budgetWarnRatio,
        () =>
          ledger.spendReport(0).map((r) => ({ budget: r.budget, value: r.warnAtPercent / 100 })),
      ],
      [
        this.budgetResetsAt,
        () =>
          ledger.spendReport(0).map((r) => ({ budget: r.budget, value: r.period.endMs / 1000 })),
      ],
    ];
    const shown = left.map(([gauge, values]) => {
      let current = new Set<string>();
      this.#on(gauge, ledger, () => {
        const next = new Set<string>();
        for (const { budget, value } of values()) {
          if (value === undefined) continue;
          next.add(budget);
          gauge.set({ name, budget }, value);
        }
        for (const budget of current) if (!next.has(budget)) gauge.remove({ name, budget });
        current = next;
      });
      return () => {
        for (const budget of current) gauge.remove({ name, budget });
      };
    });
    const reasons = ['exhausted', 'unpriced', 'shadow'] as const;
    const rejected = new Map<string, Delta[]>();
    this.#on(this.budgetRejected, ledger, () => {
      const budgets = new Set(ledger.budgets);
      for (const budget of budgets) {
        if (!rejected.has(budget))
          rejected.set(
            budget,
            reasons.map(
              (reason) => new Delta(this.budgetRejected.labels({ name, budget, reason })),
            ),
          );
      }
      for (const [budget, deltas] of rejected) {
        if (!budgets.has(budget)) {
          for (const reason of reasons) this.budgetRejected.remove({ name, budget, reason });
          rejected.delete(budget);
          continue;
        }
        const r = ledger.refusals().get(budget);
        deltas.forEach((d, i) => {
          d.push(r === undefined ? 0 : r[reasons[i] ?? 'exhausted']);
        });
      }
    });
    return this.#unbinder(ledger, () => {
      for (const labels of spendLabels) this.budgetSpend.remove(labels);
      for (const removeShown of shown) removeShown();
      for (const budget of rejected.keys())
        for (const reason of reasons) this.budgetRejected.remove({ name, budget, reason });
    });
  }

  /** Exports a breaker's state and counters; returns the unbind function. */
  bindBreaker(breaker: CircuitBreaker): () => void {
    const name = breaker.name;
    const states = STATE_LABELS.map(
      ([state, label]) => [state, this.breakerState.labels({ name, state: label })] as const,
    );
    this.#on(this.breakerState, breaker, () => {
      const current = breaker.state;
      for (const [state, child] of states) child.set(state === current ? 1 : 0);
    });
    const outcomes = ['success', 'failure', 'ignored', 'rejected', 'shadow_rejected'] as const;
    const requests = outcomes.map(
      (outcome) => new Delta(this.breakerRequests.labels({ name, outcome })),
    );
    this.#on(this.breakerRequests, breaker, () => {
      const c = breaker.counters();
      const values = [c.successes, c.failures, c.ignored, c.rejected, c.shadowRejected];
      requests.forEach((d, i) => {
        d.push(values[i] ?? 0);
      });
    });
    const byClass = FAILURE_CLASSES.map(
      (c) => [c, new Delta(this.breakerFailures.labels({ name, class: c }))] as const,
    );
    this.#on(this.breakerFailures, breaker, () => {
      const failures = breaker.counters().failuresByClass;
      for (const [cls, d] of byClass) d.push(failures[cls]);
    });
    const trips = new Delta(this.breakerTrips.labels({ name }));
    this.#on(this.breakerTrips, breaker, () => {
      trips.push(breaker.counters().trips);
    });
    return this.#unbinder(breaker, () => {
      for (const [, label] of STATE_LABELS) this.breakerState.remove({ name, state: label });
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
    this.#on(this.limiterRequests, limiter, () => {
      requests.push(limiter.counters().admitted + refusals().reduce((a, b) => a + b, 0));
    });
    const rejected = reasons.map(
      (reason) => new Delta(this.limiterRejected.labels({ name, reason })),
    );
    this.#on(this.limiterRejected, limiter, () => {
      const values = refusals();
      rejected.forEach((d, i) => {
        d.push(values[i] ?? 0);
      });
    });
    const waited = new Delta(this.limiterWaited.labels({ name }));
    this.#on(this.limiterWaited, limiter, () => {
      waited.push(limiter.counters().waited);
    });
    // Zero without a store; alerts read the fallback gauge, dashboards the split.
    const byStore = new Delta(this.limiterStoreDecisions.labels({ name, decided_by: 'store' }));
    const byFallback = new Delta(
      this.limiterStoreDecisions.labels({ name, decided_by: 'fallback' }),
    );
    this.#on(this.limiterStoreDecisions, limiter, () => {
      const c = limiter.counters();
      byStore.push(c.sharedDecisions);
      byFallback.push(c.fallbackDecisions);
    });
    const fallback = this.limiterStoreFallback.labels({ name });
    this.#on(this.limiterStoreFallback, limiter, () => {
      fallback.set(limiter.storeFallback ? 1 : 0);
    });
    return this.#unbinder(limiter, () => {
      this.limiterRequests.remove({ name });
      this.limiterWaited.remove({ name });
      this.limiterStoreFallback.remove({ name });
      this.limiterStoreDecisions.remove({ name, decided_by: 'store' });
      this.limiterStoreDecisions.remove({ name, decided_by: 'fallback' });
      for (const reason of reasons) this.limiterRejected.remove({ name, reason });
    });
  }

  /** Exports a bulkhead's occupancy and refusals; returns the unbind function. */
  bindBulkhead(bulkhead: Bulkhead): () => void {
    const name = bulkhead.name;
    const active = this.bulkheadActive.labels({ name });
    this.#on(this.bulkheadActive, bulkhead, () => {
      active.set(bulkhead.active);
    });
    const queue = this.bulkheadQueue.labels({ name });
    this.#on(this.bulkheadQueue, bulkhead, () => {
      queue.set(bulkhead.queued);
    });
    const full = new Delta(this.bulkheadRejected.labels({ name, reason: 'queue_full' }));
    const timedOut = new Delta(this.bulkheadRejected.labels({ name, reason: 'queue_timeout' }));
    const shadow = new Delta(this.bulkheadRejected.labels({ name, reason: 'shadow' }));
    this.#on(this.bulkheadRejected, bulkhead, () => {
      const c = bulkhead.counters();
      full.push(c.rejectedQueueFull);
      timedOut.push(c.rejectedQueueTimeout);
      shadow.push(c.shadowRejected);
    });
    return this.#unbinder(bulkhead, () => {
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
      this.#on(metric, guard, () => {
        d.push(read());
      });
    };
    counter(this.guardRetries, () => guard.counters().retries);
    counter(this.guardRetryBudgetExhausted, () => guard.counters().retryBudgetExhausted);
    counter(this.guardTimeouts, () => guard.counters().timeouts);
    return this.#unbinder(guard, () => {
      for (const metric of [
        this.guardRetries,
        this.guardRetryBudgetExhausted,
        this.guardTimeouts,
      ]) {
        metric.remove({ name });
      }
    });
  }

  #counter<T extends string>(name: string, help: string, labelNames: T[]): Counter<T> {
    const collectors: Collectors = new Map();
    const metric = new Counter({
      name,
      help,
      labelNames,
      registers: [this.#registry],
      collect: () => {
        for (const c of collectors.values()) c();
      },
    });
    this.#collectors.set(metric, collectors);
    return metric;
  }

  #gauge<T extends string>(name: string, help: string, labelNames: T[]): Gauge<T> {
    const collectors: Collectors = new Map();
    const metric = new Gauge({
      name,
      help,
      labelNames,
      registers: [this.#registry],
      collect: () => {
        for (const c of collectors.values()) c();
      },
    });
    this.#collectors.set(metric, collectors);
    return metric;
  }

  #on(metric: object, component: object, collect: () => void): void {
    this.#collectors.get(metric)?.set(component, collect);
  }

  #unbinder(component: object, removeChildren: () => void): () => void {
    return () => {
      let bound = false;
      for (const collectors of this.#collectors.values())
        bound = collectors.delete(component) || bound;
      if (bound) removeChildren();
    };
  }
}
