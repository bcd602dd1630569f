/**
 * A budget's refusal as the caller gets it (BudgetExhaustedError → 429): the budget, its
 * period, what is spent of what limit, what calls in flight hold, the call's worst case, and
 * when the period resets. The same words whether the replica's share or the store decided.
 *
 * Two refusals, told apart: `busy` when spent + this call's worst case fits and only what calls
 * in flight hold blocks it (a short `retry-after`; GuardSet waits for them first, `waitForHeld`),
 * and `exhausted` when spent + this call's worst case is over the limit (`retry-after` to the
 * reset, `x-should-retry: false` unless the reset is a minute away).
 */
import type { BudgetSettings } from '../../../contract/src/policy/policyDocument.ts';
import type { CalendarPeriod } from '../../../contract/src/spend/calendarPeriod.ts';
import { formatMoney } from '../../../contract/src/spend/money.ts';
import { BudgetExhaustedError, type BudgetRefusalReason } from '../guard/errors.ts';

/** What an account held when it refused. */
export interface RefusingAccount {
  /** `''` for the whole agent; the client key's fingerprint for `per: ClientKey`. */
  readonly who: string;
  readonly period: CalendarPeriod;
  readonly limitPico: bigint | undefined;
  readonly limitTokens: bigint | undefined;
  readonly spentPico: bigint;
  readonly reservedPico: bigint;
  readonly spentTokens: bigint;
  readonly reservedTokens: bigint;
}

export interface Refusal {
  readonly agent: string;
  readonly budget: BudgetSettings;
  readonly account: RefusingAccount;
  /** The call's worst case in picodollars and in tokens. */
  readonly pico: bigint;
  readonly tokens: bigint;
  readonly now: number;
  /**
   * Replicas the budget is divided among (1: the whole budget, as the store holds it; 0: a
   * team's budget, `per: Policy`, decided on this replica's share: it has none).
   */
  readonly shareOf: number;
}

/** How far off a reset may be for a retry to be worth it: SDKs wait at most this long. */
const RETRY_WINDOW_MS = 60_000;
/** A busy budget's `retry-after`: calls in flight settle within their answers. */
export const BUSY_RETRY_AFTER_MS = 1_000;

const usd = formatMoney;

/** One unit's standing: spent of the limit, what calls in flight hold, what this call may take. */
function standing(
  amounts: { readonly spent: bigint; readonly limit: bigint; readonly held: bigint },
  unit: { readonly name: string; readonly format: (amount: bigint) => string },
  thisCall: string,
): string {
  const { format, name } = unit;
  const held = amounts.held > 0n ? `, ${format(amounts.held)} ${name} held by calls in flight` : '';
  return `spent ${format(amounts.spent)} of ${format(amounts.limit)} ${name}${held}, this call ${thisCall}`;
}

/** Whose spend `r`'s budget limits, as its refusal says it. */
function whoseSpend(r: Refusal): string {
  switch (r.budget.per) {
    case 'Agent':
      return `agent ${r.agent}`;
    case 'ClientKey':
      return `client key ${r.account.who} of agent ${r.agent}`;
    case 'Policy':
      return `every agent on the RateLimitPolicy together (this call's: agent ${r.agent})`;
  }
}

/**
 * A team's budget (`per: Policy`) while the store cannot decide: no replica holds a share of it
 * (each agent would spend all of it), so its calls are refused until the store answers.
 */
function teamWithoutStore(r: Refusal): BudgetExhaustedError {
  const { budget } = r;
  return new BudgetExhaustedError(
    budget.name,
    `budget "${budget.name}" (${budget.period}, per Policy) of ${whoseSpend(r)} is counted only in the store, which did not decide this call: calls under it are refused until the store answers, retry shortly`,
    BUSY_RETRY_AFTER_MS,
    budget.onExhausted === 'Fallback',
    true,
    'busy',
  );
}

export function exhaustedError(r: Refusal): BudgetExhaustedError {
  if (r.budget.per === 'Policy' && r.shareOf === 0) return teamWithoutStore(r);
  const { budget, account, pico, tokens } = r;
  const whose = whoseSpend(r);
  const share =
    r.shareOf > 1
      ? ` (this replica's share: the budget divided among ${String(r.shareOf)} replicas)`
      : '';
  const limits: string[] = [];
  if (account.limitPico !== undefined)
    limits.push(
      standing(
        { spent: account.spentPico, limit: account.limitPico, held: account.reservedPico },
        { name: 'USD', format: usd },
        `may cost up to ${usd(pico)} USD`,
      ),
    );
  if (account.limitTokens !== undefined)
    limits.push(
      standing(
        { spent: account.spentTokens, limit: account.limitTokens, held: account.reservedTokens },
        { name: 'tokens', format: String },
        `may use up to ${String(tokens)} tokens`,
      ),
    );
  // A worst case above the whole limit fits in no period: waiting for the reset will not help.
  const never =
    (account.limitPico !== undefined && pico > account.limitPico) ||
    (account.limitTokens !== undefined && tokens > account.limitTokens);
  const untilReset = account.period.endMs - r.now;
  const resets = new Date(account.period.endMs).toISOString();
  const reason: BudgetRefusalReason =
    !never && fitsOnceSettled(account, pico, tokens) ? 'busy' : 'exhausted';
  if (reason === 'busy') {
    // Only what calls in flight hold blocks it: their settlements make room, soon.
    return new BudgetExhaustedError(
      budget.name,
      `budget "${budget.name}" (${budget.period}, per ${budget.per}) of ${whose} is busy${share}: ${limits.join('; ')}; it fits once calls in flight settle, retry shortly`,
      BUSY_RETRY_AFTER_MS,
      budget.onExhausted === 'Fallback',
      true,
      'busy',
    );
  }
  const after = never
    ? `; this call's worst case is more than the whole ${share === '' ? 'budget' : 'share'}, so it will not fit after the reset (${resets}) either: lower max_tokens or the input, or raise the budget`
    : `; it resets at ${resets}`;
  return new BudgetExhaustedError(
    budget.name,
    `budget "${budget.name}" (${budget.period}, per ${budget.per}) of ${whose} is exhausted${share}: ${limits.join('; ')}${after}`,
    untilReset,
    budget.onExhausted === 'Fallback',
    // Spent + this call is over the limit: only the reset makes room, and only a near one helps.
    !never && untilReset <= RETRY_WINDOW_MS,
    'exhausted',
  );
}

/** Whether the call fits what is spent alone: what blocks it is only what calls in flight hold. */
export function fitsOnceSettled(account: RefusingAccount, pico: bigint, tokens: bigint): boolean {
  return (
    (account.limitPico === undefined || account.spentPico + pico <= account.limitPico) &&
    (account.limitTokens === undefined || account.spentTokens + tokens <= account.limitTokens)
  );
}
