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
 *
 * Time-driven edges (an open period ending, an override lapsing) are taken by one EdgeTimer
 * for the whole set, so the pod report changes on time on an idle agent too. A replica that
 * starts while its agent's breakers are open is told so (`rememberOpen`) and starts them Open
 * for the rest of the open time instead of sending full traffic into the outage.
 */
import { Bulkhead } from '../bulkhead.ts';
import type { ErrorClassifier } from '../classification.ts';
import { CircuitBreaker, type BreakerSnapshot } from '../circuitBreaker.ts';
import { EdgeTimer } from '../edgeTimer.ts';
import { BreakerLimitError, CircuitOpenError } from '../errors.ts';
import { Guard } from '../guard.ts';
import type { GuardMetrics } from '../metrics.ts';
import { RateLimiter } from '../rateLimiter.ts';
import type {
  CounterStoreSettings,
  PolicyDocument,
} from '../../../../contract/src/policy/policyDocument.ts';
import type { StoreReport } from '../../../../contract/src/reporting/storeAnnotation.ts';
import type { SharedCounters } from '../sharedCounters.ts';
import type { StoreCounters } from '../../sharedLimits/redisCounterStore.ts';
import {
  providerBreakerName,
  toolBreakerName,
  type BreakerReport,
} from '../../../../contract/src/reporting/breakerAnnotation.ts';
import type { Clock } from '../../../../platform/src/time/clock.ts';
import { retiredBreakers, type BreakerTarget } from './breakerRetirement.ts';
import { breakerReport } from './breakerReport.ts';
import { ModelAttempt } from './modelAttempt.ts';
import { TOOL_BULKHEAD, bulkheadOptions } from './guardOptions.ts';
import {
  breakerViews,
  rateLimiterView,
  type BreakerView,
  type RateLimiterView,
} from './guardViews.ts';
import type { AttemptInfo, NamedBackend, ProviderGuard, TokenEstimate } from './providerGuard.ts';

/** Distinct breakers one process keeps: callers choose model names, memory must not follow. */
export const MAX_BREAKERS = 512;
/** Check back within a minute: a policy reload may have retired breakers by then. */
const BREAKER_LIMIT_RETRY_AFTER_MS = 60_000;

/** A provider breaker the agent's other replicas hold open, and until when. */
export interface RememberedOpen {
  /** `<backend>/<model>`. */
  readonly name: string;
  readonly untilMs: number;
}
export interface GuardSetOptions {
  readonly doc: PolicyDocument;
  readonly clock: Clock;
  /** What the provider's and the HTTP tools' errors mean (the guard knows no provider). */
  readonly classifier: ErrorClassifier;
  /** Where breakers, limiter, bulkheads and guards are exported; none for a throwaway check. */
  readonly metrics?: GuardMetrics;
  /**
   * Opens the shared rate-limit store a policy names (spec.store); without it such a policy
   * runs on the per-replica share alone. `onStateChange` fires when it falls back or returns.
   */
  readonly openStore?: (settings: CounterStoreSettings, onStateChange: () => void) => OpenStore;
}

/** A shared store as the GuardSet keeps it (RedisCounterStore is the one there is). */
export interface OpenStore extends SharedCounters {
  /** Whether `settings` reach the same server the same way (then `update` applies them). */
  servesConnection(settings: CounterStoreSettings): boolean;
  update(settings: CounterStoreSettings): void;
  report(): StoreReport;
  counters(): StoreCounters;
  close(): void;
}

export class GuardSet<B extends NamedBackend> implements ProviderGuard<B> {
  readonly #clock: Clock;
  readonly #classifier: ErrorClassifier;
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
  readonly #openStore: GuardSetOptions['openStore'];
  #store: OpenStore | undefined;
  readonly #edges: EdgeTimer;
  /** Open periods learned from the agent's other replicas, by breaker name, until taken over. */
  readonly #remembered = new Map<string, number>();

  constructor({ doc, clock, classifier, metrics, openStore }: GuardSetOptions) {
    this.#clock = clock;
    this.#classifier = classifier;
    this.#doc = doc;
    this.#metrics = metrics;
    this.#openStore = openStore;
    this.#edges = new EdgeTimer({
      clock,
      nextEdge: () => this.#nextEdge(),
      onDue: (now) => {
        this.#settleDue(now);
      },
    });
    this.#limiter = new RateLimiter({
      name: doc.agent.name,
      clock,
      options: doc.rateLimit,
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
    this.#edges.reschedule(); // the policy's override may lapse before any breaker exists
    this.#syncStore(doc.rateLimit.store);
  }

  /**
   * Opens, updates or closes the shared store as the policy says. Same server: the numbers
   * change in place; another server, credentials or TLS: a new connection, the old one closed.
   */
  #syncStore(settings: CounterStoreSettings | undefined): void {
    const current = this.#store;
    if (settings !== undefined && current?.servesConnection(settings) === true) {
      current.update(settings);
      return;
    }
    current?.close();
    this.#store =
      settings === undefined
        ? undefined
        : this.#openStore?.(settings, () => {
            this.#notify();
          });
    this.#limiter.useShared(this.#store);
    if (current !== undefined || this.#store !== undefined) this.#notify();
  }

  /** The shared store's state for the pod report; undefined without one. */
  storeReport(): StoreReport | undefined {
    return this.#store?.report();
  }

  /** Closes the shared store's connection (shutdown). */
  close(): void {
    const store = this.#store;
    this.#store = undefined;
    this.#limiter.useShared(undefined);
    store?.close();
  }

  /** Applies a new policy to the live objects. */
  reconfigure(doc: PolicyDocument): void {
    const retired = retiredBreakers(this.#targets, this.#doc, doc);
    this.#doc = doc;
    for (const name of retired) this.#retire(name);
    if (retired.length > 0) this.#notify();
    this.#limiter.reconfigure(doc.rateLimit);
    this.#syncStore(doc.rateLimit.store);
    this.#modelBulkhead.reconfigure(bulkheadOptions(doc.rateLimit));
    const options = doc.circuitBreaker;
    for (const breaker of this.#breakers.values()) breaker.reconfigure(options);
    for (const [name, guard] of this.#guards) {
      if (name.startsWith('tool:')) continue;
      guard.reconfigure({ timeout: { timeoutMs: doc.timeoutMs }, retry: this.#retry() });
    }
    this.#edges.reschedule();
  }

  /**
   * The agent's other replicas hold these provider breakers open: start them Open until then
   * (a breaker created later, for a model first called later, takes it over when created).
   * Breakers of a backend this policy does not have are ignored; a breaker that already
   * exists has its own evidence and keeps it.
   */
  rememberOpen(entries: readonly RememberedOpen[]): void {
    const now = this.#clock.now();
    const backends = new Set(this.#doc.backends.map((b) => b.name));
    for (const { name, untilMs } of entries) {
      const slash = name.indexOf('/');
      if (untilMs <= now || slash <= 0 || this.#breakers.has(name)) continue;
      const backend = name.slice(0, slash);
      if (!backends.has(backend)) continue;
      this.#remembered.set(name, untilMs);
      // Created now, so that the pod report says Open before the first call comes.
      this.#modelGuard(backend, name.slice(slash + 1));
    }
  }

  /** When the edge timer fires next, if it is armed (for tests). */
  get nextEdgeTimer(): number | undefined {
    return this.#edges.armedFor;
  }

  permits(backend: string, model: string): boolean {
    const breaker = this.#breakers.get(providerBreakerName(backend, model));
    return breaker === undefined || !breaker.isRejecting(this.#clock.now());
  }

  async callModel<T>(
    model: string,
    pickBackend: () => B | undefined,
    attempt: (info: AttemptInfo<B>) => Promise<T>,
    signal: AbortSignal,
    estimate?: TokenEstimate,
  ): Promise<T> {
    const backend = pickBackend();
    if (backend === undefined) throw this.#allOpen(model);
    const guard = this.#modelGuard(backend.name, model);
    return guard.execute(
      (a) => attempt(new ModelAttempt(a, model, backend)),
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
        classifier: this.#classifier,
        target: { name, breaker: this.#breaker(name, { kind: 'tool', tool }) },
        bulkhead: this.#toolBulkhead,
        timeout: { timeoutMs },
      });
      this.#addGuard(name, guard);
    } else {
      guard.reconfigure({ timeout: { timeoutMs } });
    }
    return guard.execute((a) => fn(a.signal), { signal });
  }

  breakers(): Record<string, BreakerView> {
    return breakerViews(this.#breakers, this.#clock.now());
  }

  rateLimiter(): RateLimiterView {
    return rateLimiterView(
      this.#limiter,
      this.#modelBulkhead,
      this.#toolBulkhead,
      this.#store === undefined
        ? undefined
        : { report: this.#store.report(), counters: this.#store.counters() },
    );
  }

  breakerSummary(): BreakerReport {
    return breakerReport(this.#breakers);
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
        classifier: this.#classifier,
        target: { name, breaker: this.#breaker(name, { kind: 'model', backend, model }) },
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
    if (this.#breakers.size >= MAX_BREAKERS) {
      throw new BreakerLimitError(name, MAX_BREAKERS, BREAKER_LIMIT_RETRY_AFTER_MS);
    }
    breaker = new CircuitBreaker({
      name,
      clock: this.#clock,
      options: this.#doc.circuitBreaker,
    });
    breaker.onStateChange(() => {
      this.#edges.reschedule();
      this.#notify();
    });
    const untilMs = this.#remembered.get(name);
    if (untilMs !== undefined) {
      this.#remembered.delete(name);
      if (untilMs > this.#clock.now()) breaker.restore(openUntil(untilMs, this.#clock.now()));
    }
    this.#breakers.set(name, breaker);
    this.#targets.set(name, target);
    if (this.#metrics !== undefined) this.#unbinders(name).push(this.#metrics.bindBreaker(breaker));
    this.#edges.reschedule();
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

  /**
   * The soonest time-driven edge: of any breaker, or the policy's override lapsing (which
   * changes what this replica reports even while it has no breaker yet).
   */
  #nextEdge(): number | undefined {
    let soonest: number | undefined;
    for (const breaker of this.#breakers.values()) {
      const at = breaker.nextEdgeAt();
      if (at !== undefined && (soonest === undefined || at < soonest)) soonest = at;
    }
    const { override } = this.#doc.circuitBreaker;
    const lapses = override.state === 'Auto' ? undefined : override.untilMs;
    if (
      lapses !== undefined &&
      lapses > this.#clock.now() &&
      (soonest === undefined || lapses < soonest)
    )
      soonest = lapses;
    return soonest;
  }

  /** Takes every breaker's due edges; listeners hear of each change. */
  #settleDue(now: number): void {
    for (const breaker of this.#breakers.values()) breaker.settle(now);
    this.#notify(); // the override's lapse changes the report even when no breaker moved
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

/** A snapshot that starts a fresh breaker Open until `untilMs`, as its siblings are. */
function openUntil(untilMs: number, now: number): BreakerSnapshot {
  return {
    version: 1,
    state: 'Open',
    since: now,
    openUntil: untilMs,
    // A failed probe re-opens it for the next step of the backoff, as it would its siblings.
    consecutiveOpens: 1,
    // Trips are its siblings'; counting them here would count them twice.
    trips: 0,
    lastTripAt: null,
    consecutiveFailures: 0,
  };
}
