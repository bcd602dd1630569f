/**
 * A model call the policy's budgets apply to: its worst case is held before the guard and its
 * retries (a retry holds room for the attempts made too: beforeRetry), each attempt's usage is
 * noted on the hold, and the hold settles on the turn after the answer (answerSettlements.ts).
 * It stands apart from guardSet.ts because a call without budgets, the common one, never comes
 * here: GuardSet.callModel hands that one straight to the guard.
 */
import type { BudgetGate, BudgetedCall } from '../budgetGate.ts';
import type { Guard, GuardCallOptions } from '../guard.ts';
import type { TokenEstimate } from '../tokenBudget.ts';
import type { AnswerSettlements } from './answerSettlements.ts';
import type { BackendFailover } from './backendFailover.ts';
import { ModelAttempt } from './modelAttempt.ts';
import type { AttemptInfo, NamedBackend } from './providerGuard.ts';

/**
 * Runs `call` through `guard` (moving on through `failover`) under the budgets `gate` holds; a
 * call that may not go is refused before any provider call (counting tokens spends none).
 */
export function budgetedModelCall<T, B extends NamedBackend>(
  gate: BudgetGate,
  settlements: AnswerSettlements,
  call: BudgetedCall,
  requestId: string | undefined,
  guard: Guard,
  failover: BackendFailover<B>,
  attempt: (info: AttemptInfo<B>) => Promise<T>,
  estimate: TokenEstimate | undefined,
  signal: AbortSignal,
): Promise<T> {
  const model = call.model;
  return gate.run(
    call,
    requestId,
    async (held) => {
      const claim = held?.claim;
      const options: GuardCallOptions = {
        signal,
        failover,
        ...(estimate === undefined ? {} : { estimate }),
        ...(claim === undefined ? {} : { budget: claim }),
        // A retry's room goes through the audit too (budget_room_reserved).
        ...(held === undefined ? {} : { held: held.settles }),
      };
      if (held === undefined)
        return guard.execute((a) => attempt(new ModelAttempt(a, model, failover.backend)), options);
      try {
        return await guard.execute(
          (a) => attempt(new ModelAttempt(a, model, failover.backend, held.hold)),
          options,
        );
      } finally {
        settlements.later(held.settles);
      }
    },
    signal,
  );
}
