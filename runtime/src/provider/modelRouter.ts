/**
 * Sends one Messages request to the provider: the requested model first, then the fallback
 * models, each through the guard (backend choice, breaker, timeout, retry). A fallback is
 * tried only when the failure is the provider's (or its breaker is open), never for a request
 * the provider rejected as wrong.
 */
import { APIError } from '@anthropic-ai/sdk/core/error';
import type { Clock } from '../../../platform/src/time/clock.ts';
import { isFailureClass } from '../guard/classification.ts';
import { failureOf } from './anthropic/errorClassification.ts';
import {
  isBudgetExhaustedError,
  isCircuitOpenError,
  isUnpricedModelError,
  type BudgetExhaustedError,
} from '../guard/errors.ts';
import type { LoadBalancing } from '../../../contract/src/policy/policyDocument.ts';
import { modelIdAt, type Backend, type BackendPool } from './backendPool.ts';
import { chooseBackend, type BalancerState } from './loadBalancer.ts';
import type { BudgetRequest, TokenEstimate } from '../guard/guardSet/providerGuard.ts';
import type { BackendAttempt, RuntimeGuard } from './backendPool.ts';
import {
  ProviderAttempts,
  type AttemptObserver,
  type AttemptRequest,
  type RoutedResponse,
  type StreamLimits,
} from './providerAttempt.ts';
import {
  pinnedBackend,
  type CacheAffinity,
  type PinLookup,
} from './cacheAffinity/cacheAffinity.ts';

export interface RouteOptions extends AttemptRequest {
  /** The requested model, then fallbacks, without repeats. */
  readonly models: readonly string[];
  readonly signal: AbortSignal;
  /** Charged to the rate limiter's token budgets for each attempt, and reserved against the budgets. */
  readonly estimate?: TokenEstimate;
  /** What budgets need beyond the estimate: the caller's key, the request's size, its caching. */
  readonly budget?: BudgetRequest;
  /**
   * The conversation the caller names (`x-breakwater-session`, `sessionId`): its prompt-cache
   * affinity is keyed on it instead of on the prompt's prefix.
   */
  readonly session?: string;
  /** Wraps each attempt (for tracing). */
  readonly wrapAttempt?: <T>(info: BackendAttempt, run: () => Promise<T>) => Promise<T>;
  /**
   * The requested model already failed on the lean path (server/leanMessages.ts) with this
   * error: `models` are its fallbacks, each one served as a fallback, and this error is the
   * call's if none serves.
   */
  readonly fallbackAfter?: unknown;
}

export class ModelRouter {
  readonly #pool: BackendPool;
  readonly #guard: () => RuntimeGuard;
  readonly #clock: Clock;
  readonly #strategy: () => LoadBalancing;
  readonly #attempts: ProviderAttempts;
  readonly #balancer: BalancerState = { cursor: 0 };
  readonly #affinity: CacheAffinity | undefined;
  readonly #affinityOn: () => boolean;
  readonly #observeUsage: ((served: RoutedResponse) => void) | undefined;

  constructor(options: {
    pool: BackendPool;
    guard: () => RuntimeGuard;
    clock: Clock;
    strategy: () => LoadBalancing;
    streamLimits: () => StreamLimits;
    observe: AttemptObserver;
    /** Keeps conversations on the backend that holds their prompt cache, while `affinityOn`. */
    affinity?: CacheAffinity;
    affinityOn?: () => boolean;
    /**
     * Each served model call (not count_tokens), whichever route or agent turn made it: its
     * usage, model and backend, for the token metrics.
     */
    observeUsage?: (served: RoutedResponse) => void;
  }) {
    this.#observeUsage = options.observeUsage;
    this.#affinity = options.affinity;
    this.#affinityOn = options.affinityOn ?? (() => true);
    this.#pool = options.pool;
    this.#guard = options.guard;
    this.#clock = options.clock;
    this.#strategy = options.strategy;
    this.#attempts = new ProviderAttempts(options);
  }

  async send(options: RouteOptions): Promise<RoutedResponse> {
    const pending = this.#lookupPin(options);
    const pin = pending instanceof Promise ? await pending : pending;
    const routed = await this.#route(options, pin);
    if (pin !== undefined) this.#affinity?.record(pin, routed.backend);
    // count_tokens answers with a count, not with tokens spent.
    if (options.endpoint !== 'count_tokens') this.#observeUsage?.(routed);
    return routed;
  }

  /**
   * The call's prompt-cache pin, when affinity is on and more than one backend could serve it
   * (with one, there is nothing to choose and nothing is hashed).
   */
  #lookupPin(options: RouteOptions): PinLookup | Promise<PinLookup> | undefined {
    const affinity = this.#affinity;
    if (
      affinity === undefined ||
      this.#pool.backends.length < 2 ||
      options.endpoint === 'count_tokens'
    )
      return undefined;
    return this.#affinityOn() ? affinity.lookupRequest(options.body, options.session) : undefined;
  }

  /**
   * The lean path's backend (server/leanMessages.ts): the pool's only one, when it serves
   * `model`; undefined when there is a choice to make (or none), and the call goes the long way.
   */
  soleBackend(model: string): Backend | undefined {
    const backends = this.#pool.backends;
    if (backends.length !== 1) return undefined;
    const backend = backends[0];
    return backend !== undefined && modelIdAt(backend, model) !== undefined ? backend : undefined;
  }

  /** One attempt of the lean path, run and observed as the router runs its own. */
  attempt(info: BackendAttempt, options: AttemptRequest): Promise<RoutedResponse> {
    return this.#attempts.run(info, options, false);
  }

  /** A call the lean path served: its tokens tallied, as `send` tallies its own. */
  served(routed: RoutedResponse): void {
    this.#observeUsage?.(routed);
  }

  async #route(options: RouteOptions, pin: PinLookup | undefined): Promise<RoutedResponse> {
    let lastError: unknown = options.fallbackAfter;
    const fallbacksOnly = options.fallbackAfter !== undefined;
    const guard = this.#guard();
    for (const [index, model] of options.models.entries()) {
      if (!this.#pool.backends.some((b) => modelIdAt(b, model) !== undefined)) {
        // No backend serves this model: the next one may be served; say which, if none is.
        lastError ??= unmappedModel(model, this.#pool.backends);
        continue;
      }
      try {
        return await this.#callModel(guard, model, options, fallbacksOnly || index > 0, pin);
      } catch (err) {
        lastError = err;
        if (isBudgetExhaustedError(err) && err.fallback)
          return this.#budgetFallback(guard, model, options, err, pin);
        if (
          options.signal.aborted ||
          options.sink?.committed === true ||
          !fallbackMayHelp(err, this.#clock.now())
        )
          throw err;
      }
    }
    throw lastError;
  }

  #callModel(
    guard: RuntimeGuard,
    model: string,
    options: RouteOptions,
    fallback: boolean,
    pin: PinLookup | undefined,
  ): Promise<RoutedResponse> {
    return guard.callModel(
      model,
      (tried) => this.#pick(guard, model, tried, pin),
      (info) =>
        options.wrapAttempt === undefined
          ? this.#attempts.run(info, options, fallback)
          : options.wrapAttempt(info, () => this.#attempts.run(info, options, fallback)),
      options.signal,
      options.estimate,
      // A stream's reservation is bound by the longest stream; a plain call's by its attempts.
      options.stream ? { ...options.budget, stream: true } : options.budget,
    );
  }

  /**
   * A budget with `onExhausted: Fallback` refused `refused`: the agent's fallback models, the
   * cheapest worst case first, each while its worst case fits every budget. When none does, the
   * cheapest one's refusal (its worst case is the least the call could have cost), else the
   * first. A model's provider failing moves on as the chain does.
   */
  async #budgetFallback(
    guard: RuntimeGuard,
    refused: string,
    options: RouteOptions,
    refusal: BudgetExhaustedError,
    pin: PinLookup | undefined,
  ): Promise<RoutedResponse> {
    const models =
      guard.cheapestFirst?.(
        options.models.slice(1).filter((m) => m !== refused),
        options.estimate,
        options.budget,
      ) ?? [];
    const sink = options.sink;
    let cheapest: BudgetExhaustedError | undefined;
    for (const model of models) {
      if (!this.#pool.backends.some((b) => modelIdAt(b, model) !== undefined)) continue;
      if (sink !== undefined) sink.budgetFallback = true;
      try {
        const routed = await this.#callModel(guard, model, options, true, pin);
        guard.budgetFellBack?.(refusal.budget, true);
        return { ...routed, budgetFallback: true };
      } catch (err) {
        if (sink !== undefined && !sink.committed) sink.budgetFallback = false;
        if (isBudgetExhaustedError(err)) {
          cheapest ??= err;
          continue;
        }
        if (isUnpricedModelError(err)) continue;
        if (
          options.signal.aborted ||
          sink?.committed === true ||
          !fallbackMayHelp(err, this.#clock.now())
        )
          throw err;
      }
    }
    const final = cheapest ?? refusal;
    guard.budgetFellBack?.(final.budget, false);
    throw final;
  }

  #pick(
    guard: RuntimeGuard,
    model: string,
    tried: ReadonlySet<string> | undefined,
    pin: PinLookup | undefined,
  ): Backend | undefined {
    const usable = (b: Backend) =>
      (tried === undefined || !tried.has(b.name)) &&
      modelIdAt(b, model) !== undefined &&
      guard.permits(b.name, model);
    const pinned = pinnedBackend(pin, this.#clock.now(), this.#pool.backends, usable);
    return pinned ?? chooseBackend(this.#strategy(), this.#pool.backends, usable, this.#balancer);
  }
}

/**
 * Another model may help when this one's provider failed or its breakers are open. Not when
 * the agent's own rate limiter or model bulkhead refused: every model shares them, so the
 * next model would be refused as well, and each refusal counted again for one caller request.
 */
export function fallbackMayHelp(err: unknown, now: number): boolean {
  if (isCircuitOpenError(err)) return true;
  return isFailureClass(failureOf(err, now).outcome);
}

/** A model no backend serves: the request names it, or the policy has no mapping for it. */
function unmappedModel(model: string, backends: readonly Backend[]): APIError {
  const names = backends.map((b) => `${b.name} (${b.type})`).join(', ');
  return APIError.generate(
    400,
    {
      type: 'error',
      error: {
        type: 'invalid_request_error',
        message: `model ${model} is not served by any backend of this agent: ${names} map no model of that name in spec.backends[].models`,
      },
    },
    undefined,
    new Headers(),
  );
}
