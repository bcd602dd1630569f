/**
 * Retries under a budget held in process (guarantees M10): an attempt given up on before any
 * usage (a timeout) may have been billed in full and settles at the call's worst case, so the
 * retry goes only once the budget has room for that and the retry's own worst case; otherwise
 * the call ends with the budget's refusal, and the settled spend stays within the limit.
 */
import { describe, expect, it } from '@jest/globals';
import { moneyFromMicros } from '../../../../contract/src/spend/money.ts';
import { ManualClock } from '../../../../test/support/manualClock.ts';
import { anthropicClassifier } from '../../provider/anthropic/errorClassification.ts';
import {
  ANSWERED_PICO,
  WORST_MICRO,
  WORST_PICO,
  retriedCall,
  retryingPolicy,
  type Outcome,
} from './budgetRetriesFixture.ts';
import { GuardSet } from './guardSet.ts';
import type { NamedBackend } from './providerGuard.ts';

async function call(limitMicroUsd: number, outcomes: readonly Outcome[]) {
  const doc = retryingPolicy(limitMicroUsd);
  const clock = new ManualClock(Date.parse('2026-11-27T12:00:00Z'));
  const guard = new GuardSet<NamedBackend>({ classifier: anthropicClassifier, doc, clock });
  const call = { done: false };
  const running = retriedCall(guard, outcomes).finally(() => {
    call.done = true;
  });
  // An attempt that hangs ends at its deadline: one timeout at a time, until the call ends.
  for (;;) {
    await new Promise((resolve) => setImmediate(resolve));
    if (call.done) break;
    clock.advance(doc.timeoutMs);
  }
  const result = await running;
  const account = guard.budgets.account('daily');
  return { ...result, spent: account?.spentPico, held: account?.reservedPico };
}

describe('a retried call under a budget held in process', () => {
  it('ends with the budget refusal, not a retry, when an attempt timed out unheard and two worst cases do not fit', async () => {
    const limitMicroUsd = WORST_MICRO + WORST_MICRO / 2;
    const result = await call(limitMicroUsd, ['timed out unheard', 'answered']);
    expect(result).toEqual({ outcome: 'refused: daily', made: [1], spent: WORST_PICO, held: 0n });
    expect(result.spent).toBeLessThanOrEqual(moneyFromMicros(limitMicroUsd));
  });

  it('retries an attempt that timed out unheard when both worst cases fit, and settles each', async () => {
    const result = await call(2 * WORST_MICRO, ['timed out unheard', 'answered']);
    expect(result).toEqual({
      outcome: 'answer',
      made: [1, 2],
      spent: WORST_PICO + ANSWERED_PICO,
      held: 0n,
    });
  });

  it('never settles past the limit when every attempt times out unheard', async () => {
    const limitMicroUsd = 2 * WORST_MICRO + WORST_MICRO / 2;
    const result = await call(limitMicroUsd, [
      'timed out unheard',
      'timed out unheard',
      'timed out unheard',
    ]);
    expect(result).toEqual({
      outcome: 'refused: daily',
      made: [1, 2],
      spent: 2n * WORST_PICO,
      held: 0n,
    });
    expect(result.spent).toBeLessThanOrEqual(moneyFromMicros(limitMicroUsd));
  });

  it('counts an attempt its deadline gave up on before the provider layer heard of it, and refuses the retry', async () => {
    const limitMicroUsd = WORST_MICRO + WORST_MICRO / 2;
    const result = await call(limitMicroUsd, ['hangs past its deadline', 'answered']);
    expect(result).toEqual({ outcome: 'refused: daily', made: [1], spent: WORST_PICO, held: 0n });
  });

  it('retries an attempt the provider refused with a status, which costs nothing, without more room', async () => {
    const result = await call(WORST_MICRO, ['overloaded', 'answered']);
    expect(result).toEqual({ outcome: 'answer', made: [1, 2], spent: ANSWERED_PICO, held: 0n });
  });
});
