/**
 * The ledger's side of budgets kept in the store: the account a budget has there (its key,
 * the whole agent's limits, how long it is kept), and what the store last said of each
 * account, which is what is left of a budget for the agent when a store decides.
 */
import type { BudgetSettings } from '../../../contract/src/policy/policyDocument.ts';
import type { CalendarPeriod } from '../../../contract/src/spend/calendarPeriod.ts';
import { moneyFromMicros } from '../../../contract/src/spend/money.ts';
import type { BudgetClaim } from './budgetClaim.ts';
import { exhaustedError } from './budgetRefusal.ts';
import type { Account, BudgetCall } from './budgetTicket.ts';
import { BudgetExhaustedError } from '../guard/errors.ts';
import type {
  StoreAccountState,
  StoreBudgetAccount,
  StoreBudgetVerdict,
} from '../guard/rateLimitStore.ts';

/** What is left of a budget and the limits it is measured against (budgetLedger's BudgetRemaining). */
interface SeenRemaining {
  readonly picoUsd: bigint | undefined;
  readonly tokens: bigint | undefined;
  readonly limitPico: bigint | undefined;
  readonly limitTokens: bigint | undefined;
}

/** What the ledger keeps with a claim: the call, and its budgets' accounts on this replica. */
export interface ClaimContext {
  readonly call: BudgetCall;
  /** Epoch ms (this replica's clock) the call's own bound ends: no renewal goes past it. */
  readonly boundAt: number;
  /** A refusal is counted by the caller once final (a busy budget's call may wait and retry). */
  readonly quiet: boolean;
  readonly budgets: readonly BudgetSettings[];
  readonly accounts: readonly Account[];
}

/** An account outlives its period by a week: late settlements land, and status can read it. */
export const KEPT_AFTER_PERIOD_MS = 7 * 86_400_000;

/**
 * `account`'s budget in the store: `<agent>:<budget>:<periodStartMs>[:<key fingerprint>]`,
 * with the budget's whole limits (the store holds the agent's total, never a share). A team's
 * budget (`per: Policy`) is `<budget>:<periodStartMs>` under `teamKeyPrefix`, the policy's
 * (`breakwater:{<namespace>/<policy>}`), never an agent's: every agent on the policy charges
 * it. Made at the account's first claim and kept with it (`Account.inStore`) until its limits
 * change: every call of the period claims the same.
 */
export function storeAccount(
  agent: string,
  budget: BudgetSettings,
  account: Account,
  teamKeyPrefix?: string,
): StoreBudgetAccount {
  if (account.inStore !== undefined) return account.inStore;
  const who = account.who === '' ? '' : `:${account.who}`;
  const start = String(account.period.startMs);
  if (budget.per === 'Policy' && teamKeyPrefix === undefined)
    throw new Error(`budget ${budget.name} is per Policy, and the store has no teamKeyPrefix`);
  const place =
    budget.per === 'Policy'
      ? { key: `${budget.name}:${start}`, keyPrefix: teamKeyPrefix }
      : { key: `${agent}:${budget.name}:${start}${who}` };
  return (account.inStore = {
    ...place,
    limitPico:
      budget.limitMicroUsd === undefined ? undefined : moneyFromMicros(budget.limitMicroUsd),
    limitTokens: budget.limitTokens === undefined ? undefined : BigInt(budget.limitTokens),
    keepUntilMs: account.period.endMs + KEPT_AFTER_PERIOD_MS,
    refuses: budget.onExhausted !== 'Shadow',
  });
}

interface Seen {
  readonly budget: string;
  readonly period: CalendarPeriod;
  readonly limitPico: bigint | undefined;
  readonly limitTokens: bigint | undefined;
  /** The store's last answer for the account: its amounts are read only when asked for. */
  state: StoreAccountState;
}

/** What the store last answered for each account this replica used. */
export class StoreView {
  readonly #seen = new Map<string, Seen>();

  /** The store's answer for `claim`'s accounts. */
  saw(claim: BudgetClaim<ClaimContext>, verdict: StoreBudgetVerdict): void {
    const { budgets, accounts } = claim.context;
    for (let i = 0; i < verdict.accounts.length; i++) {
      const state = verdict.accounts[i] as StoreAccountState;
      const budget = budgets[i];
      const account = accounts[i];
      const limits = claim.request.accounts[i];
      if (budget === undefined || account === undefined || limits === undefined) continue;
      // The same account under the same limits as last time: only the amounts are new.
      const seen = this.#seen.get(limits.key);
      if (
        seen?.period === account.period &&
        seen.limitPico === limits.limitPico &&
        seen.limitTokens === limits.limitTokens
      ) {
        seen.state = state;
        continue;
      }
      this.#seen.set(limits.key, {
        budget: budget.name,
        period: account.period,
        limitPico: limits.limitPico,
        limitTokens: limits.limitTokens,
        state,
      });
    }
  }

  /**
   * What is left of `budget` at `now` as the store last said (per ClientKey, of the key with
   * least left); undefined when the store has said nothing of this period.
   */
  remaining(budget: string, now: number): SeenRemaining | undefined {
    let found: SeenRemaining | undefined;
    for (const [key, s] of this.#seen) {
      if (now >= s.period.endMs) {
        this.#seen.delete(key);
        continue;
      }
      if (s.budget !== budget || now < s.period.startMs) continue;
      const picoUsd = s.limitPico === undefined ? undefined : s.limitPico - s.state.spentPico;
      const tokens = s.limitTokens === undefined ? undefined : s.limitTokens - s.state.spentTokens;
      found = {
        picoUsd: least(found?.picoUsd, picoUsd),
        tokens: least(found?.tokens, tokens),
        limitPico: s.limitPico,
        limitTokens: s.limitTokens,
      };
    }
    return found;
  }

  /** Forgets budgets the policy no longer has. */
  retain(budgets: ReadonlySet<string>): void {
    for (const [key, s] of this.#seen) if (!budgets.has(s.budget)) this.#seen.delete(key);
  }
}

function least(a: bigint | undefined, b: bigint | undefined): bigint | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a < b ? a : b;
}

/**
 * The store's refusal of `claim`, in the words of the share's, with the store's numbers for
 * the whole agent; Fallback only when every budget that refused says so.
 */
export function refusedByStore(
  agent: string,
  claim: BudgetClaim<ClaimContext>,
  verdict: StoreBudgetVerdict,
  now: number,
): BudgetExhaustedError {
  const { budgets, accounts } = claim.context;
  const i = verdict.refusedBy ?? 0;
  const budget = budgets[i];
  const account = accounts[i];
  const state = verdict.accounts[i];
  const limits = claim.request.accounts[i];
  if (budget === undefined || account === undefined || state === undefined || !limits)
    throw new Error(`the store refused budget account ${String(i)} of ${String(budgets.length)}`);
  const fallback = verdict.accounts.every(
    (a, j) => a.state !== 'refuses' || budgets[j]?.onExhausted === 'Fallback',
  );
  const error = exhaustedError({
    agent,
    budget,
    account: {
      who: account.who,
      period: account.period,
      limitPico: limits.limitPico,
      limitTokens: limits.limitTokens,
      spentPico: state.spentPico,
      reservedPico: state.reservedPico,
      spentTokens: state.spentTokens,
      reservedTokens: state.reservedTokens,
    },
    pico: claim.request.worstPico,
    tokens: claim.request.worstTokens,
    now,
    shareOf: 1,
  });
  return error.withFallback(fallback);
}
