/**
 * The breakers and guards of one agent, by name (`<backend>/<model>`, `tool:<name>`): created
 * on first use — at most MAX_BREAKERS, since callers choose model names and memory must not
 * follow — bound to the metrics once, and retired with their series when a policy drops them.
 * A breaker created while the agent's other replicas hold it open starts Open (see
 * rememberedOpen.ts).
 */
import { DEFAULT_BREAKER_SETTINGS, type BreakerSettings } from '../breakerOptions.ts';
import { CircuitBreaker } from '../circuitBreaker.ts';
import { BreakerLimitError, CircuitOpenError } from '../errors.ts';
import type { Guard } from '../guard.ts';
import type { GuardMetrics } from '../metrics.ts';
import type { Clock } from '../../../../platform/src/time/clock.ts';
import type { BreakerTarget } from './breakerRetirement.ts';
import type { RememberedOpenPeriods } from './rememberedOpen.ts';

/** Distinct breakers one process keeps: callers choose model names, memory must not follow. */
export const MAX_BREAKERS = 512;
/** Check back within a minute: a policy reload may have retired breakers by then. */
const BREAKER_LIMIT_RETRY_AFTER_MS = 60_000;

export interface BreakerRegistryOptions {
  readonly clock: Clock;
  readonly metrics: GuardMetrics | undefined;
  readonly remembered: RememberedOpenPeriods;
  /** A breaker was created or changed state. */
  readonly onChange: () => void;
}

export class BreakerRegistry {
  readonly breakers = new Map<string, CircuitBreaker>();
  readonly targets = new Map<string, BreakerTarget>();
  readonly guards = new Map<string, Guard>();
  readonly #options: BreakerRegistryOptions;
  /** Per breaker name: removes its breaker's and guard's series from the metrics. */
  readonly #unbind = new Map<string, (() => void)[]>();

  constructor(options: BreakerRegistryOptions) {
    this.#options = options;
  }

  /** The breaker named so, created with `settings` if it does not exist yet. */
  breaker(name: string, target: BreakerTarget, settings: BreakerSettings): CircuitBreaker {
    let breaker = this.breakers.get(name);
    if (breaker !== undefined) return breaker;
    if (this.breakers.size >= MAX_BREAKERS) {
      throw new BreakerLimitError(name, MAX_BREAKERS, BREAKER_LIMIT_RETRY_AFTER_MS);
    }
    const { clock, metrics, remembered, onChange } = this.#options;
    breaker = new CircuitBreaker({ name, clock, options: settings });
    breaker.onStateChange(onChange);
    const taken = remembered.take(name, clock.now());
    if (taken !== undefined) breaker.restore(taken);
    this.breakers.set(name, breaker);
    this.targets.set(name, target);
    if (metrics !== undefined) this.#unbinders(name).push(metrics.bindBreaker(breaker));
    onChange();
    return breaker;
  }

  addGuard(name: string, guard: Guard): void {
    this.guards.set(name, guard);
    const metrics = this.#options.metrics;
    if (metrics !== undefined) this.#unbinders(name).push(metrics.bindGuard(guard));
  }

  /** Forgets a breaker and its guard; calls in flight finish on the objects they hold. */
  retire(name: string): void {
    this.breakers.delete(name);
    this.targets.delete(name);
    this.guards.delete(name);
    for (const unbind of this.#unbind.get(name) ?? []) unbind();
    this.#unbind.delete(name);
  }

  /** Every backend's breaker for `model` refuses: the soonest reopening decides Retry-After. */
  allOpen(model: string): CircuitOpenError {
    const now = this.#options.clock.now();
    let soonest: CircuitOpenError | undefined;
    for (const [name, breaker] of this.breakers) {
      if (!name.endsWith(`/${model}`)) continue;
      const rejection = breaker.rejection(now);
      breaker.tryAcquire(now); // counted as a refusal
      if (soonest === undefined || rejection.retryAfterMs < soonest.retryAfterMs)
        soonest = rejection;
    }
    // No breaker for the model: the schema's default answer (fail fast).
    return soonest ?? new CircuitOpenError(model, 'Open', 1000, DEFAULT_BREAKER_SETTINGS);
  }

  #unbinders(name: string): (() => void)[] {
    let list = this.#unbind.get(name);
    if (list === undefined) this.#unbind.set(name, (list = []));
    return list;
  }
}
