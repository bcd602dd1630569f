/**
 * What an agent's spend ledger (AgentDeployment `status.spend.ledger`, kept by the operator,
 * operator/src/spend/spendLedger.ts) adds up to: per budget, the spend of gone processes and
 * of running ones, the worst case of their calls in flight included. Read by the operator for
 * status and by a runtime that starts (it counts this as spent already), so both read one
 * ledger one way.
 *
 * Per ClientKey, each ledger entry names only its largest keys and bounds the rest
 * (`others…`): a key's total is its amount in every entry that names it plus the bound of
 * every entry that does not — never less than it spent.
 */
import type {
  LedgerKeySpend,
  SpendLedger,
  SpendLedgerBudget,
} from '../api/v1alpha1/agentdeployment.ts';
import { moneyFromText } from './money.ts';

export interface PicoAmount {
  readonly picoUsd: bigint;
  readonly tokens: bigint;
}

export interface LedgerBudgetTotal {
  readonly budget: string;
  /** The newest period any entry holds spend of (RFC 3339). */
  readonly periodStart: string;
  /** Settled spend plus the worst case of calls in flight, every process together. */
  readonly total: PicoAmount;
  /** Settled spend alone (the projection's rate reads it). */
  readonly settled: PicoAmount;
  /** per ClientKey: an upper bound of each named key's spend. */
  readonly keys: ReadonlyMap<string, PicoAmount>;
  /** per ClientKey: the most a key named nowhere may have spent. */
  readonly others: PicoAmount;
}

export const ZERO: PicoAmount = { picoUsd: 0n, tokens: 0n };

export const plus = (a: PicoAmount, b: PicoAmount): PicoAmount => ({
  picoUsd: a.picoUsd + b.picoUsd,
  tokens: a.tokens + b.tokens,
});

const picoOf = moneyFromText;

export function settledOf(e: SpendLedgerBudget): PicoAmount {
  return { picoUsd: picoOf(e.picoUsd), tokens: BigInt(e.tokens ?? 0) };
}

export function heldOf(e: SpendLedgerBudget): PicoAmount {
  return { picoUsd: picoOf(e.heldPicoUsd), tokens: BigInt(e.heldTokens ?? 0) };
}

export function othersOf(e: SpendLedgerBudget): PicoAmount {
  return { picoUsd: picoOf(e.othersPicoUsd), tokens: BigInt(e.othersTokens ?? 0) };
}

export function keyAmount(k: LedgerKeySpend): PicoAmount {
  return { picoUsd: picoOf(k.picoUsd), tokens: BigInt(k.tokens ?? 0) };
}

/** Every entry of the ledger, the baseline's and each process's, by budget. */
function entriesByBudget(ledger: SpendLedger | undefined): Map<string, SpendLedgerBudget[]> {
  const by = new Map<string, SpendLedgerBudget[]>();
  const add = (e: SpendLedgerBudget): void => {
    const list = by.get(e.budget);
    if (list === undefined) by.set(e.budget, [e]);
    else list.push(e);
  };
  for (const e of ledger?.baseline ?? []) add(e);
  for (const p of ledger?.processes ?? []) for (const e of p.budgets ?? []) add(e);
  return by;
}

/** The ledger's totals per budget, in each budget's newest period. */
export function ledgerTotals(ledger: SpendLedger | undefined): Map<string, LedgerBudgetTotal> {
  const totals = new Map<string, LedgerBudgetTotal>();
  for (const [budget, all] of entriesByBudget(ledger)) {
    const periodStart = all
      .map((e) => e.periodStart)
      .reduce((a, b) => (Date.parse(b) > Date.parse(a) ? b : a));
    const entries = all.filter((e) => e.periodStart === periodStart);
    let settled = ZERO;
    let total = ZERO;
    let others = ZERO;
    const named = new Set<string>();
    for (const e of entries) {
      settled = plus(settled, settledOf(e));
      total = plus(total, plus(settledOf(e), heldOf(e)));
      others = plus(others, othersOf(e));
      for (const k of e.keys ?? []) named.add(k.key);
    }
    const keys = new Map<string, PicoAmount>();
    for (const key of named) {
      let bound = ZERO;
      for (const e of entries) {
        const listed = e.keys?.find((k) => k.key === key);
        bound = plus(bound, listed === undefined ? othersOf(e) : keyAmount(listed));
      }
      keys.set(key, bound);
    }
    totals.set(budget, { budget, periodStart, total, settled, keys, others });
  }
  return totals;
}
