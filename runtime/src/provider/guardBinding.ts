/**
 * Binds the runtime's ProviderGuard to the resilience guard in `runtime/src/guard/`:
 *
 * - one CircuitBreaker per backend × model (`<backend>/<model>`) and per tool (`tool:<name>`);
 * - one guard.Guard per breaker, all sharing the agent's RateLimiter and model Bulkhead
 *   (tools share their own bulkhead), with the policy's timeout and retry;
 * - fallback across models is the router's loop, backend choice the load balancer's.
 *
 * On a policy reload the same objects are reconfigured in place, so breaker state, token
 * buckets and retry budgets that are still meaningful survive the swap; breakers for a
 * backend, model or tool the new policy dropped are retired with their metric series.
 * Every breaker, limiter, bulkhead and guard is bound to GuardMetrics once, when created.
 */
import type { BreakerOptionsInput } from '../guard/breakerOptions.ts';
import { Bulkhead, type BulkheadOptionsInput } from '../guard/bulkhead.ts';
import { CircuitBreaker } from '../guard/circuitBreaker.ts';
import { CircuitOpenError } from '../guard/errors.ts';
import { Guard } from '../guard/guard.ts';
import type { GuardAttempt, SdkRequestOptions } from '../guard/guardAttempt.ts';
import type { HeaderSource } from '../guard/headers.ts';
import type { GuardMetrics } from '../guard/metrics.ts';
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
  return s.concurrency === undefined ? UNLIMITED_BULKHEAD : { ...s.concurrency, mode: s.mode };
}

/** What a breaker guards: one backend's model, or one tool. */
export type BreakerTarget =
  | { readonly kind: 'model'; readonly backend: string; readonly model: string }
  | { readonly kind: 'tool'; readonly tool: string };

/**
 * Breakers a reload retires: those of a backend or tool the new policy no longer lists, and
 * of a model the old policy named (as primary or fallback) and the new one does not. A model
 * only callers ever named keeps its breaker: callers may go on asking for it.
 */
export function retiredBreakers(
  targets: Iterable<readonly [string, BreakerTarget]>,
  previous: PolicyDocument,
  next: PolicyDocument,
): string[] {
  const backends = new Set(next.backends.map((b) => b.name));
  const tools = new Set(next.tools.map((t) => t.name));
  const models = (d: PolicyDocument) => new Set([d.model.name, ...d.model.fallbacks]);
  const named = models(previous);
  const still = models(next);
  const retired: string[] = [];
  for (const [name, target] of targets) {
    const gone =
      target.kind === 'tool'
        ? !tools.has(target.tool)
        : !backends.has(target.backend) || (named.has(target.model) && !still.has(target.model));
    if (gone) retired.push(name);
  }
  return retired;
}

export interface GuardSetOptions {
  readonly doc: PolicyDocument;
  readonly clock: Clock;
  /** Where breakers, limiter, bulkheads and guards are exported; none for a throwaway check. */
  readonly metrics?: GuardMetrics;
}

export class GuardSet implements ProviderGuard {
  readonly #clock: Clock;
  #doc: PolicyDocument;
  readonly #metrics: GuardMetrics | undefined;
  readonly #limiter: RateLimiter;
  readonly #modelBulkhead: Bulkhead;
  readonly #toolBulkhead: Bulkhead;
  readonly #breakers = new Map<string, CircuitBreaker>();
  readonly #targets = new Map<string, BreakerTarget>();
  readonly #guards = new Map<string, Guard>();
  /** Per breaker name: removes its breaker's and guard's series from the metrics. */
  readonly #unbind = new Map<string, (() => void)[]>();
  readonly #listeners = new Set<() => void>();

  constructor({ doc, clock, metrics }: GuardSetOptions) {
    this.#clock = clock;
    this.#doc = doc;
    this.#metrics = metrics;
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
    metrics?.bindLimiter(this.#limiter);
    metrics?.bindBulkhead(this.#modelBulkhead);
    metrics?.bindBulkhead(this.#toolBulkhead);
  }

  /** Applies a new policy to the live objects. */
  reconfigure(doc: PolicyDocument): void {
    const retired = retiredBreakers(this.#targets, this.#doc, doc);
    this.#doc = doc;
    for (const name of retired) this.#retire(name);
    if (retired.length > 0) this.#notify();
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
      (a) => attempt(new GuardedAttempt(a, model, backend)),
      estimate === undefined ? { signal } : { signal, estimate },
    );
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
        targets: [{ name, breaker: this.#breaker(name, { kind: 'tool', tool }) }],
        bulkhead: this.#toolBulkhead,
        timeout: { timeoutMs },
      });
      this.#addGuard(name, guard);
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
        targets: [{ name, breaker: this.#breaker(name, { kind: 'model', backend, model }) }],
        limiter: this.#limiter,
        bulkhead: this.#modelBulkhead,
        timeout: { timeoutMs: this.#doc.timeoutMs },
        retry: this.#retry(),
      });
      this.#addGuard(name, guard);
    }
    return guard;
  }

  #addGuard(name: string, guard: Guard): void {
    this.#guards.set(name, guard);
    if (this.#metrics !== undefined) this.#unbinders(name).push(this.#metrics.bindGuard(guard));
  }

  #breaker(name: string, target: BreakerTarget): CircuitBreaker {
    let breaker = this.#breakers.get(name);
    if (breaker !== undefined) return breaker;
    if (this.#breakers.size >= MAX_BREAKERS) throw new CircuitOpenError(name, 'Open', 60_000);
    breaker = new CircuitBreaker({
      name,
      clock: this.#clock,
      options: breakerOptions(this.#doc.circuitBreaker),
    });
    breaker.onStateChange(() => {
      this.#notify();
    });
    this.#breakers.set(name, breaker);
    this.#targets.set(name, target);
    if (this.#metrics !== undefined) this.#unbinders(name).push(this.#metrics.bindBreaker(breaker));
    this.#notify();
    return breaker;
  }

  #unbinders(name: string): (() => void)[] {
    let list = this.#unbind.get(name);
    if (list === undefined) this.#unbind.set(name, (list = []));
    return list;
  }

  /** Forgets a breaker and its guard; calls in flight finish on the objects they hold. */
  #retire(name: string): void {
    this.#breakers.delete(name);
    this.#targets.delete(name);
    this.#guards.delete(name);
    for (const unbind of this.#unbind.get(name) ?? []) unbind();
    this.#unbind.delete(name);
  }

  #notify(): void {
    for (const listener of this.#listeners) listener();
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

/**
 * Whether the guard accepts a policy's settings: built once, thrown away. The policy
 * validator and the guard check ranges separately; a document only goes live if both agree.
 */
export function guardRefusal(doc: PolicyDocument, clock: Clock): string | undefined {
  try {
    new GuardSet({ doc, clock });
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

/** Builds the guard for a policy, or reconfigures the one in force so its state carries over. */
export function bindGuard(
  doc: PolicyDocument,
  deps: { readonly clock: Clock; readonly metrics: GuardMetrics },
  previous?: ProviderGuard,
): ProviderGuard {
  if (previous instanceof GuardSet) {
    previous.reconfigure(doc);
    return previous;
  }
  return new GuardSet({ doc, ...deps });
}

/**
 * An attempt as the router sees it: one object per attempt, its methods on the prototype,
 * rather than a literal with a closure per method (the closed path runs this per call).
 */
class GuardedAttempt implements AttemptInfo {
  readonly model: string;
  readonly backend: Backend;
  readonly attempt: number;
  /** Not the attempt's signal: reading it builds an AbortController; the SDK's own timer enforces the deadline handed over here. */
  readonly request: SdkRequestOptions;
  readonly #a: GuardAttempt;

  constructor(a: GuardAttempt, model: string, backend: Backend) {
    this.#a = a;
    this.model = model;
    this.backend = backend;
    this.attempt = a.attempt;
    this.request = a.sdkOptions();
  }

  reportUsage(usage: Usage): void {
    this.#a.reportUsage({ inputTokens: usage.input_tokens, outputTokens: usage.output_tokens });
  }

  observeHeaders(headers: HeaderSource): void {
    this.#a.observeHeaders(headers);
  }

  whenExpired(fn: (err: Error) => void): void {
    this.#a.whenExpired(fn);
  }

  firstEvent(): void {
    this.#a.firstEvent();
  }

  commit(): void {
    this.#a.commit();
  }
}
