import type { GuardAttempt, SdkRequestOptions } from '../guard/guardAttempt.ts';
import type { HeaderSource } from '../guard/headers.ts';
import type { Backend } from './backendPool.ts';
import type { AttemptInfo } from './providerGuard.ts';
import type { Usage } from './sseUsage.ts';

/**
 * An attempt as the router sees it: one object per attempt, its methods on the prototype,
 * rather than a literal with a closure per method (the closed path runs this per call).
 */
export class GuardedAttempt implements AttemptInfo {
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
