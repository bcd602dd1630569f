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
  /** Replicas the budget is divided among (1: the whole budget, as the store holds it). */
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

export function exhaustedError(r: Refusal): BudgetExhaustedError {
  const { budget, account, pico, tokens } = r;
  const whose =
    budget.per === 'Agent' ? `agent ${r.agent}` : `client key ${account.who} of agent ${r.agent}`;
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
