/**
 * Binds the runtime's ProviderGuard to the resilience guard in `runtime/src/guard/`:
 *
 * - one CircuitBreaker per backend × model (`<backend>/<model>`) and per tool (`tool:<name>`);
 * - one guard.Guard per breaker, all sharing the agent's RateLimiter and model Bulkhead
 *   (tools share their own bulkhead), with the policy's timeout and retry;
 * - fallback across models is the router's loop, backend choice the load balancer's.
 *
 * On a policy reload the same objects are reconfigured in place, so breaker state, token
 * buckets and retry budgets that are still meaningful survive the swap.
 */
import { Gauge, Registry } from 'prom-client';
import type { BreakerOptionsInput } from '../guard/breakerOptions.ts';
import { Bulkhead, type BulkheadOptionsInput } from '../guard/bulkhead.ts';
import { CircuitBreaker } from '../guard/circuitBreaker.ts';
import { CircuitOpenError } from '../guard/errors.ts';
import { Guard } from '../guard/guard.ts';
import { RateLimiter, type RateLimiterOptionsInput } from '../guard/rateLimiter.ts';
import type {
  BreakerSettings,
  PolicyDocument,
  RateLimitSettings,
} from '../policy/policyDocument.ts';
import {
  providerBreakerName,
  toolBreakerName,
  type BreakerReport,
  type ReportedBreakerState,
} from '../reporting/breakerAnnotation.ts';
import type { Clock } from '../time/clock.ts';
import type { Backend } from './backendPool.ts';
import type { AttemptInfo, ProviderGuard, TokenEstimate } from './providerGuard.ts';
import type { Usage } from './sseUsage.ts';

/** Distinct breakers one process keeps: callers choose model names, memory must not follow. */
const MAX_BREAKERS = 512;
const TOOL_BULKHEAD: BulkheadOptionsInput = {
  maxConcurrent: 32,
  maxQueue: 64,
  queueTimeoutMs: 10_000,
};
const UNLIMITED_BULKHEAD: BulkheadOptionsInput = {
  maxConcurrent: 10_000,
  maxQueue: 0,
  // Nothing ever queues (maxQueue 0), but the bulkhead refuses a timeout that is not positive.
  queueTimeoutMs: 1,
};

export function breakerOptions(s: BreakerSettings): BreakerOptionsInput {
  return {
    failureThreshold: s.failureThreshold,
    successThreshold: s.successThreshold,
    openDurationMs: s.openDurationMs,
    ...(s.maxOpenDurationMs === undefined ? {} : { maxOpenDurationMs: s.maxOpenDurationMs }),
    halfOpenMaxCalls: s.halfOpenMaxCalls,
    ...(s.failureRate === undefined
      ? {}
      : {
          failureRate: {
            thresholdPercent: s.failureRate.thresholdPercent,
            minimumCalls: s.failureRate.minimumCalls,
            window: s.failureRate.window,
          },
        }),
    ...(s.slowCall === undefined
      ? {}
      : {
          slowCall: {
            durationMs: s.slowCall.durationMs,
            thresholdPercent: s.slowCall.thresholdPercent,
          },
        }),
    failOn: s.failOn,
    override: {
      state: s.override.state,
      reason: s.override.reason ?? '',
      ...(s.override.untilMs === undefined ? {} : { untilMs: s.override.untilMs }),
    },
    mode: s.mode,
  };
}

export function rateLimiterOptions(s: RateLimitSettings): RateLimiterOptionsInput {
  return {
    ...(s.requests === undefined ? {} : { requests: s.requests }),
    ...(s.tokens === undefined ? {} : { tokens: s.tokens }),
    adaptive: s.adaptive,
    onLimit: s.onLimit,
    maxWaitMs: s.maxWaitMs,
    mode: s.mode,
  };
}

function bulkheadOptions(s: RateLimitSettings): BulkheadOptionsInput {
  return s.concurrency ?? UNLIMITED_BULKHEAD;
}

export class GuardSet implements ProviderGuard {
  readonly #clock: Clock;
  #doc: PolicyDocument;
  readonly #limiter: RateLimiter;
  readonly #modelBulkhead: Bulkhead;
  readonly #toolBulkhead: Bulkhead;
  readonly #breakers = new Map<string, CircuitBreaker>();
  readonly #guards = new Map<string, Guard>();
  readonly #listeners = new Set<() => void>();

  constructor(doc: PolicyDocument, clock: Clock) {
    this.#clock = clock;
    this.#doc = doc;
    this.#limiter = new RateLimiter({
      name: doc.agent.name,
      clock,
      options: rateLimiterOptions(doc.rateLimit),
    });
    this.#modelBulkhead = new Bulkhead({
      name: `${doc.agent.name}/models`,
      clock,
      options: bulkheadOptions(doc.rateLimit),
    });
    this.#toolBulkhead = new Bulkhead({
      name: `${doc.agent.name}/tools`,
      clock,
      options: TOOL_BULKHEAD,
    });
  }

  /** Applies a new policy to the live objects. */
  reconfigure(doc: PolicyDocument): void {
    this.#doc = doc;
    this.#limiter.reconfigure(rateLimiterOptions(doc.rateLimit));
    this.#modelBulkhead.reconfigure(bulkheadOptions(doc.rateLimit));
    const options = breakerOptions(doc.circuitBreaker);
    for (const breaker of this.#breakers.values()) breaker.reconfigure(options);
    for (const [name, guard] of this.#guards) {
      if (name.startsWith('tool:')) continue;
      guard.reconfigure({ timeout: { timeoutMs: doc.timeoutMs }, retry: this.#retry() });
    }
  }

  permits(backend: string, model: string): boolean {
    const breaker = this.#breakers.get(providerBreakerName(backend, model));
    return breaker === undefined || !breaker.isRejecting(this.#clock.now());
  }

  async callModel<T>(
    model: string,
    pickBackend: () => Backend | undefined,
    attempt: (info: AttemptInfo) => Promise<T>,
    signal: AbortSignal,
    estimate?: TokenEstimate,
  ): Promise<T> {
    const backend = pickBackend();
    if (backend === undefined) throw this.#allOpen(model);
    const guard = this.#modelGuard(backend.name, model);
    return guard.execute(
      (a) =>
        attempt({
          model,
          backend,
          attempt: a.attempt,
          signal: a.signal,
          reportUsage: (usage: Usage) => {
            a.reportUsage({ inputTokens: usage.input_tokens, outputTokens: usage.output_tokens });
          },
          observeHeaders: (headers) => {
            a.observeHeaders(headers);
          },
        }),
      estimate === undefined ? { signal } : { signal, estimate },
    );
  }

  settleLate(estimate: TokenEstimate, usage: Usage): void {
    this.#limiter.settle(estimate, {
      inputTokens: usage.input_tokens,
      outputTokens: usage.output_tokens,
    });
  }

  callTool<T>(
    tool: string,
    timeoutMs: number,
    fn: (signal: AbortSignal) => Promise<T>,
    signal: AbortSignal,
  ): Promise<T> {
    const name = toolBreakerName(tool);
    let guard = this.#guards.get(name);
    if (guard === undefined) {
      guard = new Guard({
        name,
        clock: this.#clock,
        targets: [{ name, breaker: this.#breaker(name) }],
        bulkhead: this.#toolBulkhead,
        timeout: { timeoutMs },
      });
      this.#guards.set(name, guard);
    } else {
      guard.reconfigure({ timeout: { timeoutMs } });
    }
    return guard.execute((a) => fn(a.signal), { signal });
  }

  breakers(): unknown {
    const now = this.#clock.now();
    const out: Record<string, unknown> = {};
    for (const [name, b] of this.#breakers) {
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

  rateLimiter(): unknown {
    return {
      limiter: this.#limiter.describe(),
      counters: this.#limiter.counters(),
      modelBulkhead: {
        active: this.#modelBulkhead.active,
        queued: this.#modelBulkhead.queued,
        ...this.#modelBulkhead.counters(),
      },
      toolBulkhead: {
        active: this.#toolBulkhead.active,
        queued: this.#toolBulkhead.queued,
        ...this.#toolBulkhead.counters(),
      },
    };
  }

  breakerSummary(): BreakerReport {
    const report: Record<
      string,
      { state: ReportedBreakerState; since: string; trips: number; lastTrip?: string }
    > = {};
    for (const [name, b] of this.#breakers) {
      const snap = b.snapshot();
      report[name] = {
        state: b.state,
        since: new Date(b.since).toISOString(),
        trips: snap.trips,
        ...(snap.lastTripAt === null ? {} : { lastTrip: new Date(snap.lastTripAt).toISOString() }),
      };
    }
    return report;
  }

  onBreakerChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** prom-client view of breakers, limiter and bulkheads, read at scrape time. */
  collectInto(gauges: GuardGauges): void {
    for (const [name, b] of this.#breakers) {
      const state = b.state;
      for (const s of ['closed', 'open', 'half_open', 'forced_open', 'forced_closed'] as const) {
        gauges.breakerState.set({ name, state: s }, stateLabel(state) === s ? 1 : 0);
      }
      const c = b.counters();
      gauges.breakerCalls.set({ name }, c.successes + c.failures + c.ignored + c.rejected);
      gauges.breakerFailures.set({ name }, c.failures);
      gauges.breakerRejected.set({ name }, c.rejected);
      gauges.breakerTrips.set({ name }, c.trips);
    }
    const l = this.#limiter.counters();
    const rejected = Object.values(l.rejected).reduce((a, b) => a + b, 0);
    gauges.limiterRequests.set({ name: this.#limiter.name }, l.admitted + rejected);
    gauges.limiterRejected.set({ name: this.#limiter.name }, rejected);
    for (const bulkhead of [this.#modelBulkhead, this.#toolBulkhead]) {
      const bc = bulkhead.counters();
      gauges.bulkheadActive.set({ name: bulkhead.name }, bulkhead.active);
      gauges.bulkheadQueue.set({ name: bulkhead.name }, bulkhead.queued);
      gauges.bulkheadRejected.set(
        { name: bulkhead.name },
        bc.rejectedQueueFull + bc.rejectedQueueTimeout,
      );
    }
  }

  #retry() {
    return {
      maxAttempts: this.#doc.retry.maxAttempts,
      initialDelayMs: this.#doc.retry.initialDelayMs,
      maxDelayMs: this.#doc.retry.maxDelayMs,
      honorRetryAfter: this.#doc.rateLimit.adaptive.honorRetryAfter,
    };
  }

  #modelGuard(backend: string, model: string): Guard {
    const name = providerBreakerName(backend, model);
    let guard = this.#guards.get(name);
    if (guard === undefined) {
      guard = new Guard({
        name,
        clock: this.#clock,
        targets: [{ name, breaker: this.#breaker(name) }],
        limiter: this.#limiter,
        bulkhead: this.#modelBulkhead,
        timeout: { timeoutMs: this.#doc.timeoutMs },
        retry: this.#retry(),
      });
      this.#guards.set(name, guard);
    }
    return guard;
  }

  #breaker(name: string): CircuitBreaker {
    let breaker = this.#breakers.get(name);
    if (breaker !== undefined) return breaker;
    if (this.#breakers.size >= MAX_BREAKERS) throw new CircuitOpenError(name, 'Open', 60_000);
    breaker = new CircuitBreaker({
      name,
      clock: this.#clock,
      options: breakerOptions(this.#doc.circuitBreaker),
    });
    breaker.onStateChange(() => {
      for (const listener of this.#listeners) listener();
    });
    this.#breakers.set(name, breaker);
    for (const listener of this.#listeners) listener();
    return breaker;
  }

  /** Every backend's breaker for `model` refuses: the soonest reopening decides Retry-After. */
  #allOpen(model: string): CircuitOpenError {
    const now = this.#clock.now();
    let soonest: CircuitOpenError | undefined;
    for (const [name, breaker] of this.#breakers) {
      if (!name.endsWith(`/${model}`)) continue;
      const rejection = breaker.rejection(now);
      breaker.tryAcquire(now); // counted as a refusal
      if (soonest === undefined || rejection.retryAfterMs < soonest.retryAfterMs)
        soonest = rejection;
    }
    return soonest ?? new CircuitOpenError(model, 'Open', 1000);
  }
}

function stateLabel(state: string): string {
  switch (state) {
    case 'Closed':
      return 'closed';
    case 'Open':
      return 'open';
    case 'HalfOpen':
      return 'half_open';
    case 'ForcedOpen':
      return 'forced_open';
    default:
      return 'forced_closed';
  }
}

export interface GuardGauges {
  readonly breakerState: Gauge<'name' | 'state'>;
  readonly breakerCalls: Gauge<'name'>;
  readonly breakerFailures: Gauge<'name'>;
  readonly breakerRejected: Gauge<'name'>;
  readonly breakerTrips: Gauge<'name'>;
  readonly limiterRequests: Gauge<'name'>;
  readonly limiterRejected: Gauge<'name'>;
  readonly bulkheadActive: Gauge<'name'>;
  readonly bulkheadQueue: Gauge<'name'>;
  readonly bulkheadRejected: Gauge<'name'>;
}

/**
 * Whether the guard accepts a policy's settings: built once, thrown away. The policy
 * validator and the guard check ranges separately; a document only goes live if both agree.
 */
export function guardRefusal(doc: PolicyDocument, clock: Clock): string | undefined {
  try {
    new GuardSet(doc, clock);
    new CircuitBreaker({ name: 'check', clock, options: breakerOptions(doc.circuitBreaker) });
    new Guard({
      name: 'check',
      clock,
      targets: [{ name: 'check', breaker: new CircuitBreaker({ name: 'check', clock }) }],
      timeout: { timeoutMs: doc.timeoutMs },
      retry: {
        maxAttempts: doc.retry.maxAttempts,
        initialDelayMs: doc.retry.initialDelayMs,
        maxDelayMs: doc.retry.maxDelayMs,
      },
    });
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

let current: GuardSet | undefined;
let registry: Registry | undefined;

/** Builds the guard for a policy, or reconfigures the one in force so its state carries over. */
export function bindGuard(
  doc: PolicyDocument,
  clock: Clock,
  previous?: ProviderGuard,
): ProviderGuard {
  if (previous instanceof GuardSet) {
    previous.reconfigure(doc);
    current = previous;
    return previous;
  }
  current = new GuardSet(doc, clock);
  return current;
}

/**
 * The guard's metrics under the names users alert on (DESIGN §4), read from the live
 * objects at scrape time. (Counters that only ever grow are exposed as their current totals.)
 */
export function guardRegistries(): Registry[] {
  if (registry === undefined) {
    const r = new Registry();
    const gauge = <L extends string>(name: string, help: string, labelNames: L[]) =>
      new Gauge<L>({ name, help, labelNames, registers: [r] });
    // Gauges are collected in registration order: the first one refreshes them all.
    const holder: { gauges?: GuardGauges } = {};
    const refresh = () => {
      if (holder.gauges !== undefined) current?.collectInto(holder.gauges);
    };
    const breakerState = new Gauge<'name' | 'state'>({
      name: 'circuit_breaker_state',
      help: 'Breaker state: 1 for the state it is in.',
      labelNames: ['name', 'state'],
      registers: [r],
      collect: refresh,
    });
    holder.gauges = {
      breakerState,
      breakerCalls: gauge('circuit_breaker_requests_total', 'Calls seen by the breaker.', ['name']),
      breakerFailures: gauge('circuit_breaker_failures_total', 'Failures counted by the breaker.', [
        'name',
      ]),
      breakerRejected: gauge('circuit_breaker_rejected_total', 'Calls refused by the breaker.', [
        'name',
      ]),
      breakerTrips: gauge('circuit_breaker_trips_total', 'Times the breaker opened.', ['name']),
      limiterRequests: gauge('rate_limiter_requests_total', 'Calls that asked the rate limiter.', [
        'name',
      ]),
      limiterRejected: gauge('rate_limiter_rejected_total', 'Calls the rate limiter refused.', [
        'name',
      ]),
      bulkheadActive: gauge('bulkhead_active_requests', 'Calls holding a bulkhead slot.', ['name']),
      bulkheadQueue: gauge('bulkhead_queue_size', 'Calls waiting for a bulkhead slot.', ['name']),
      bulkheadRejected: gauge('bulkhead_rejected_total', 'Calls the bulkhead refused.', ['name']),
    };
    registry = r;
  }
  return [registry];
}
