import type { BudgetHold } from '../budgetGate.ts';
import type { Classification } from '../classification.ts';
import type { GivenUpListener, GuardAttempt, SdkRequestOptions } from '../guardAttempt.ts';
import type { HeaderSource } from '../headers.ts';
import type { TokenUsage } from '../tokenBudget.ts';
import type { AttemptInfo, NamedBackend } from './providerGuard.ts';

/**
 * An attempt as the router sees it: one object per attempt, its methods on the prototype,
 * rather than a literal with a closure per method (the closed path runs this per call).
 */
export class ModelAttempt<B extends NamedBackend> implements AttemptInfo<B>, GivenUpListener {
  readonly model: string;
  readonly backend: B;
  readonly attempt: number;
  /** Not the attempt's signal: reading it builds an AbortController; the SDK's own timer enforces the deadline handed over here. */
  readonly request: SdkRequestOptions;
  readonly budgeted: boolean;
  readonly #a: GuardAttempt;
  /** The call's budget reservation, which each attempt's usage settles. */
  readonly #ticket: BudgetHold | undefined;

  constructor(a: GuardAttempt, model: string, backend: B, ticket?: BudgetHold) {
    this.#a = a;
    this.#ticket = ticket;
    this.model = model;
    this.backend = backend;
    this.attempt = a.attempt;
    this.request = a.sdkOptions();
    this.budgeted = ticket !== undefined;
    if (ticket !== undefined) a.whenGivenUp(this);
  }

  /**
   * The guard's deadline passed while the attempt ran: it may have been billed in full, and a
   * retry may start before the provider layer hears of it, so the hold counts it so now.
   */
  givenUp(): void {
    this.#ticket?.unheard(this.attempt, this.backend.name);
  }

  reportUsage(usage: TokenUsage): void {
    this.#a.reportUsage(usage);
    this.#ticket?.note(this.attempt, this.backend.name, usage);
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

  classify(err: unknown): Classification {
    return this.#a.classify(err);
  }
}
