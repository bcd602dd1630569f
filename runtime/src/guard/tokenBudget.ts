/**
 * LLM token budgets per minute (input and output), as the provider counts them: a call
 * reserves its estimate before it goes out (input size, and `max_tokens` for output, which
 * is also what the provider holds back at the start of a request) and is settled from the
 * real usage afterwards, giving back what it did not use or charging what it overran.
 */
import { TokenBucket } from './tokenBucket.ts';

export interface TokenEstimate {
  readonly inputTokens: number;
  /** Usually the request's `max_tokens`. */
  readonly outputTokens: number;
}

export interface TokenUsage {
  /** Input not read from or written to the prompt cache (the API's `input_tokens`). */
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** Prompt-cache writes (`cache_creation_input_tokens`), for budgets; absent: none. */
  readonly cacheWriteTokens?: number;
  /** Of those, the one-hour writes. */
  readonly cacheWrite1hTokens?: number;
  /** Prompt-cache reads (`cache_read_input_tokens`). */
  readonly cacheReadTokens?: number;
  /** Web searches the provider ran and bills a fee for each (`server_tool_use`). */
  readonly webSearchRequests?: number;
  /**
   * What of the attempt's cost is not known, for budgets to settle at its worst case: `fees`,
   * its server tools' uses (a stream cut before its final usage); `all`, everything.
   */
  readonly unknown?: 'fees' | 'output' | 'all';
}

export type BudgetLimit = 'inputTokens' | 'outputTokens';

export class TokenBudget {
  #input: TokenBucket | undefined;
  #output: TokenBucket | undefined;
  #enabled: boolean;
  /** Which budget made the last `waitFor` wait. */
  limitedBy: BudgetLimit = 'inputTokens';

  constructor(
    inputPerMinute: number | undefined,
    outputPerMinute: number | undefined,
    now: number,
  ) {
    this.#input = bucket(inputPerMinute, now);
    this.#output = bucket(outputPerMinute, now);
    this.#enabled = this.#input !== undefined || this.#output !== undefined;
  }

  /** Whether any budget is set. */
  get enabled(): boolean {
    return this.#enabled;
  }

  /** Milliseconds until both budgets hold the estimate (0: now). */
  waitFor(estimate: TokenEstimate, now: number): number {
    const inputWait = this.#input?.waitFor(estimate.inputTokens, now) ?? 0;
    const outputWait = this.#output?.waitFor(estimate.outputTokens, now) ?? 0;
    this.limitedBy = outputWait > inputWait ? 'outputTokens' : 'inputTokens';
    return inputWait > outputWait ? inputWait : outputWait;
  }

  reserve(estimate: TokenEstimate): void {
    this.#input?.take(estimate.inputTokens);
    this.#output?.take(estimate.outputTokens);
  }

  /** Gives a reservation back whole (the call never reached the provider). */
  refund(estimate: TokenEstimate): void {
    this.#input?.refund(estimate.inputTokens);
    this.#output?.refund(estimate.outputTokens);
  }

  /** Replaces a reservation with what the call really used. */
  settle(estimate: TokenEstimate, usage: TokenUsage): void {
    adjust(this.#input, estimate.inputTokens - usage.inputTokens);
    adjust(this.#output, estimate.outputTokens - usage.outputTokens);
  }

  available(now: number): { inputTokens: number | undefined; outputTokens: number | undefined } {
    return { inputTokens: this.#input?.available(now), outputTokens: this.#output?.available(now) };
  }

  /** New budgets; what is left in each carries over, capped at the new size. */
  reconfigure(
    inputPerMinute: number | undefined,
    outputPerMinute: number | undefined,
    now: number,
  ): void {
    this.#input = rebucket(this.#input, inputPerMinute, now);
    this.#output = rebucket(this.#output, outputPerMinute, now);
    this.#enabled = this.#input !== undefined || this.#output !== undefined;
  }
}

function bucket(perMinute: number | undefined, now: number): TokenBucket | undefined {
  return perMinute === undefined ? undefined : new TokenBucket(perMinute / 60, perMinute, now);
}

function rebucket(
  current: TokenBucket | undefined,
  perMinute: number | undefined,
  now: number,
): TokenBucket | undefined {
  if (perMinute === undefined) return undefined;
  if (current === undefined) return bucket(perMinute, now);
  current.reconfigure(perMinute / 60, perMinute, now);
  return current;
}

function adjust(bucket: TokenBucket | undefined, unused: number): void {
  if (bucket === undefined || unused === 0) return;
  if (unused > 0) bucket.refund(unused);
  else bucket.take(-unused);
}
