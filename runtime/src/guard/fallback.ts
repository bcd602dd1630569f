/**
 * When to move on to the next target (next model, next backend) of the chain: when the
 * current one's breaker is open, or when its last failure is of a class listed in `on`.
 * Local refusals that every target shares (the agent's rate limit, its bulkhead) and the
 * caller's own mistakes never move on: another target would refuse or fail the same way.
 */
import { FAILURE_CLASSES, type FailureClass } from './errorClassification.ts';
import { OptionChecker } from './optionValidation.ts';

export type FallbackTrigger = FailureClass | 'CircuitOpen';

export interface FallbackOptions {
  /** @default CircuitOpen and every failure class */
  readonly on: readonly FallbackTrigger[];
}

export type FallbackOptionsInput = Partial<FallbackOptions>;

const TRIGGERS: readonly FallbackTrigger[] = ['CircuitOpen', ...FAILURE_CLASSES];

export function resolveFallbackOptions(
  input: FallbackOptionsInput = {},
  owner = 'fallback',
): FallbackOptions {
  const check = new OptionChecker(owner);
  const on = input.on ?? TRIGGERS;
  on.forEach((t, i) => check.oneOf(`on[${i}]`, t, TRIGGERS));
  return Object.freeze({ on: Object.freeze([...new Set(on)]) });
}

export class Fallback {
  #on: ReadonlySet<FallbackTrigger>;

  constructor(options: FallbackOptions) {
    this.#on = new Set(options.on);
  }

  shouldFallBack(trigger: FallbackTrigger | undefined): boolean {
    return trigger !== undefined && this.#on.has(trigger);
  }

  reconfigure(options: FallbackOptions): void {
    this.#on = new Set(options.on);
  }
}
