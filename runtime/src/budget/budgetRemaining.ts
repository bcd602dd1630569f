/**
 * What is left of each budget this period, after settled spend: what the store last said
 * when a store decides (the whole agent's), otherwise this replica's share less what its
 * accounts spent (per ClientKey, the key with least left).
 */
import type { BudgetSettings } from '../../../contract/src/policy/policyDocument.ts';
import { calendarPeriod } from '../../../contract/src/spend/calendarPeriod.ts';
import { Account } from './budgetTicket.ts';
import type { StoreView } from './budgetStoreAccounts.ts';

/** What is left of one budget this period (for `per: ClientKey`, of the key with least left). */
export interface BudgetRemaining {
  readonly budget: string;
  /** Picodollars; undefined when the budget limits no dollars. */
  readonly picoUsd: bigint | undefined;
  readonly tokens: bigint | undefined;
  /**
   * The dollar limit what is left is measured against: the whole agent's when the store
   * decides, this replica's share otherwise.
   */
  readonly limitPico: bigint | undefined;
  /** The token limit `tokens` is measured against, as `limitPico` is for dollars. */
  readonly limitTokens: bigint | undefined;
}

export interface RemainingInput {
  readonly budgets: readonly BudgetSettings[];
  readonly timeZone: string;
  /** The replicas a budget is divided among (a team's: every agent's), as its accounts are. */
  readonly sharedBy: (budget: BudgetSettings) => number;
  readonly now: number;
  /** Every account, by key: read once per budget. */
  readonly accounts: ReadonlyMap<string, Account>;
  readonly seen: StoreView;
}

export function remainingOf(input: RemainingInput): BudgetRemaining[] {
  const { now } = input;
  return input.budgets.map((budget) => {
    const seen = input.seen.remaining(budget.name, now);
    if (seen !== undefined) return { budget: budget.name, ...seen };
    const probe = new Account(
      budget,
      '',
      calendarPeriod(now, budget.period, input.timeZone),
      input.sharedBy(budget),
    );
    let picoUsd = probe.limitPico;
    let tokens = probe.limitTokens;
    for (const a of input.accounts.values()) {
      if (a.budget !== budget.name || a.per !== budget.per) continue;
      if (now >= a.period.endMs || now < a.period.startMs) continue;
      if (a.limitPico !== undefined && picoUsd !== undefined)
        picoUsd = min(picoUsd, a.limitPico - a.spentPico);
      if (a.limitTokens !== undefined && tokens !== undefined)
        tokens = min(tokens, a.limitTokens - a.spentTokens);
    }
    return {
      budget: budget.name,
      picoUsd,
      tokens,
      limitPico: probe.limitPico,
      limitTokens: probe.limitTokens,
    };
  });
}

function min(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}
