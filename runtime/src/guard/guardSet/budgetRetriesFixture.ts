/**
 * Calls whose attempts time out unheard, fail with a status or answer, under one dollar budget:
 * what budgetRetries.test.ts (in process) and test/rateLimitStore/budgetRetries.test.ts (with
 * a real redis-server) run through a GuardSet.
 */
import { APIConnectionTimeoutError, APIError } from '@anthropic-ai/sdk/core/error';
import type {
  PolicyDocument,
  StoreSettings,
} from '../../../../contract/src/policy/policyDocument.ts';
import { samplePolicyDocument } from '../../../../contract/src/policy/policyFixtures.ts';
import { isBudgetExhaustedError } from '../errors.ts';
import type { TokenUsage } from '../tokenBudget.ts';
import { budgetsSettled } from './answerSettlements.ts';
import type { GuardSet } from './guardSet.ts';
import type { AttemptInfo, NamedBackend } from './providerGuard.ts';
import { TEST_MODEL_PRICE, dailyBudget } from '../../budget/budgetFixture.ts';

/** 1,000 tokens in, 1,500 out at most: $0.0085. */
const ESTIMATE = { inputTokens: 1_000, outputTokens: 1_500 };
export const WORST_MICRO = 8_500;
export const WORST_PICO = 8_500_000_000n;
/** What the answer that comes through uses: 1,000 in, 100 out, $0.0015. */
const ANSWERED: TokenUsage = { inputTokens: 1_000, outputTokens: 100 };
export const ANSWERED_PICO = 1_500_000_000n;
/** What the provider layer notes of an attempt it may have been billed for without a usage. */
const UNHEARD: TokenUsage = { inputTokens: 0, outputTokens: 0, unknown: 'all' };

/** Three backends: each retry fails over at once, with no backoff to wait out. */
const backends: NamedBackend[] = [{ name: 'anthropic' }, { name: 'bedrock' }, { name: 'vertex' }];

export const pick = (tried?: ReadonlySet<string>) =>
  backends.find((b) => tried?.has(b.name) !== true);

/** A policy of three attempts over three backends and a daily budget of `limitMicroUsd`. */
export function retryingPolicy(limitMicroUsd: number, store?: StoreSettings): PolicyDocument {
  const sample = samplePolicyDocument();
  const budget = dailyBudget({ limitMicroUsd });
  return {
    ...sample,
    backends: backends.map((b) => ({
      name: b.name,
      baseURL: `http://${b.name}`,
      apiKeyEnv: 'K',
      weight: 1,
    })),
    retry: { maxAttempts: 3, initialDelayMs: 1_000, maxDelayMs: 1_000 },
    rateLimit: {
      ...sample.rateLimit,
      spend: { shareOf: 1, timeZone: 'UTC', budgets: [budget] },
      ...(store === undefined ? {} : { store }),
    },
    pricing: [TEST_MODEL_PRICE],
  };
}

/**
 * Each attempt, in turn: one that times out unheard (the SDK's own timeout, which the provider
 * layer notes as unheard), one that hangs until the guard's deadline gives up on it (nothing
 * noted: the guard retries before the provider layer would hear), one that fails with a
 * status, or one that answers.
 */
export type Outcome = 'timed out unheard' | 'hangs past its deadline' | 'overloaded' | 'answered';

function attempts(outcomes: readonly Outcome[], made: number[], seen: Seen | undefined) {
  return async (info: AttemptInfo<NamedBackend>): Promise<string> => {
    made.push(info.attempt);
    await seen?.(info.attempt);
    const outcome = outcomes[info.attempt - 1] ?? 'answered';
    if (outcome === 'timed out unheard') {
      info.reportUsage(UNHEARD);
      return Promise.reject(new APIConnectionTimeoutError());
    }
    if (outcome === 'hangs past its deadline') return new Promise<string>(() => undefined);
    if (outcome === 'overloaded')
      return Promise.reject(
        APIError.generate(
          529,
          { type: 'error', error: { type: 'overloaded_error', message: 'overloaded' } },
          undefined,
          new Headers(),
        ),
      );
    info.reportUsage(ANSWERED);
    return Promise.resolve('answer');
  };
}

/** Looks at the budget while attempt `attempt` runs. */
export type Seen = (attempt: number) => Promise<void>;

/**
 * One call whose attempts go as `outcomes` say: what it answered and which attempts it made;
 * `seen` looks at the budget as each starts.
 */
export async function retriedCall(
  guard: GuardSet<NamedBackend>,
  outcomes: readonly Outcome[],
  seen?: Seen,
): Promise<{ outcome: string; made: number[] }> {
  const made: number[] = [];
  let outcome: string;
  try {
    outcome = await guard.callModel(
      'test-model',
      pick,
      attempts(outcomes, made, seen),
      new AbortController().signal,
      ESTIMATE,
    );
  } catch (err) {
    outcome = isBudgetExhaustedError(err) ? `refused: ${err.budget}` : String(err);
  } finally {
    await budgetsSettled();
  }
  return { outcome, made };
}
