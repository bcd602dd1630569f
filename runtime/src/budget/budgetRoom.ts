/**
 * Whether a worst case fits: a call's before it goes (BudgetLedger.reserve), and the room a
 * retry holds beside the attempts made (BudgetTicket.beforeRetry → BudgetLedger.roomFor).
 * Every budget that applies must fit (all or nothing); a Shadow budget only counts what it
 * would have refused.
 */
import type { BudgetSettings } from '../../../contract/src/policy/policyDocument.ts';
import type { BudgetExhaustedError } from '../guard/errors.ts';
import { exhaustedError } from './budgetRefusal.ts';
import type { BudgetTallies } from './budgetTallies.ts';
import type { Account, SettledCost } from './budgetTicket.ts';

/**
 * The first refusal of a budget that is not Shadow when `worst` does not fit its account (a
 * Fallback budget's, marked so only when every refusing budget falls back); counts Shadow's
 * would-have-refused. Undefined when it fits.
 */
export function refusalUnlessFits(
  input: {
    readonly agent: string;
    readonly tallies: BudgetTallies;
  },
  budgets: readonly BudgetSettings[],
  accounts: readonly Account[],
  worst: SettledCost,
  now: number,
): BudgetExhaustedError | undefined {
  let refusal: BudgetExhaustedError | undefined;
  let fallback = true;
  budgets.forEach((budget, i) => {
    const account = accounts[i] as Account;
    if (account.fits(worst.pico, worst.tokens)) return;
    if (budget.onExhausted === 'Shadow') {
      input.tallies.refused(budget.name).shadow++;
      return;
    }
    fallback &&= budget.onExhausted === 'Fallback';
    refusal ??= exhaustedError({
      agent: input.agent,
      budget,
      account,
      pico: worst.pico,
      tokens: worst.tokens,
      now,
      // The replicas this account's limits are divided among: the most this period (B2).
      shareOf: account.sharedBy,
    });
  });
  return refusal?.withFallback(fallback);
}

/** Throws the first refusal when `worst` does not fit (`refusalUnlessFits`), counted unless quiet. */
export function refuseUnlessFits(
  quiet: boolean,
  ...fit: Parameters<typeof refusalUnlessFits>
): void {
  const error = refusalUnlessFits(...fit);
  if (error === undefined) return;
  if (!quiet) fit[0].tallies.counted(error);
  throw error;
}

/**
 * The budgets a retry's room must fit, and their accounts among `accounts` (a ticket's): a
 * budget the policy no longer has, or whose `per` changed, limits nothing, though its account
 * still holds the room.
 */
export function limitingAccounts(
  inForce: readonly BudgetSettings[],
  accounts: readonly Account[],
): { budgets: BudgetSettings[]; limited: Account[] } {
  const byName = new Map(inForce.map((b) => [b.name, b]));
  const budgets: BudgetSettings[] = [];
  const limited: Account[] = [];
  for (const account of accounts) {
    const budget = byName.get(account.budget);
    // A budget the policy no longer has limits nothing; its account still holds the room.
    if (budget === undefined || budget.per !== account.per) continue;
    budgets.push(budget);
    limited.push(account);
  }
  return { budgets, limited };
}
