/**
 * Budgets without a store, across restarts: a replica reports its own spend on its pod
 * (`breakwater.dev/budgets`), the operator keeps every process's in the agent's spend ledger
 * (status.spend.ledger), and a replica that starts counts everything the ledger holds for the
 * current period as spent already — gone processes, the other replicas' spend and the worst
 * case of their calls in flight — before its first call.
 *
 * That never under-counts: each replica refuses once its share is spent, and a replica that
 * took the place of one that is gone starts at or above everything its predecessors spent, so
 * the agent's total still stays within the budget. It can over-count (the other replicas'
 * spend is counted twice, theirs and this one's), so a restarted replica may refuse before its
 * share is spent: the price of not knowing, without a store, which processes still run.
 */
import type { AgentStatusRuntimeReads } from '../../../contract/src/api/runtimeReads.ts';
import {
  MAX_REPORTED_KEYS,
  type BudgetReport,
  type BudgetReportEntry,
  type TeamAccountRead,
} from '../../../contract/src/reporting/budgetReport.ts';
import { ledgerTotals } from '../../../contract/src/spend/spendLedgerTotals.ts';
import type { BudgetSeed, BudgetSpendReport } from './budgetSpendRecord.ts';

/** What the agent has spent per budget this period, by its status, as ledger seeds. */
export function rememberedSpend(agent: AgentStatusRuntimeReads | undefined): BudgetSeed[] {
  const seeds: BudgetSeed[] = [];
  for (const t of ledgerTotals(agent?.status?.spend?.ledger).values()) {
    const periodStartMs = Date.parse(t.periodStart);
    if (!Number.isFinite(periodStartMs)) continue;
    seeds.push({
      budget: t.budget,
      periodStartMs,
      whole: t.total,
      keys: [...t.keys].map(([key, a]) => ({ key, ...a })),
      others: t.others,
    });
  }
  return seeds;
}

/**
 * The pod annotation's report from the ledger's own spend (source: this replica's), with each
 * team budget's account as this process last read it from the store (`teams`).
 */
export function budgetReportOf(
  spend: readonly BudgetSpendReport[],
  teams?: { read(budget: string): TeamAccountRead | undefined },
): BudgetReport | undefined {
  if (spend.length === 0) return undefined;
  const budgets: Record<string, BudgetReportEntry> = {};
  for (const s of spend) {
    const team = teams?.read(s.budget);
    budgets[s.budget] = {
      periodStart: new Date(s.period.startMs).toISOString(),
      spent: { picoUsd: s.spent.picoUsd, tokens: Number(s.spent.tokens) },
      held: { picoUsd: s.held.picoUsd, tokens: Number(s.held.tokens) },
      ...(s.keys === undefined
        ? {}
        : {
            keys: s.keys
              .slice(0, MAX_REPORTED_KEYS)
              .map((k) => ({ key: k.key, picoUsd: k.picoUsd, tokens: Number(k.tokens) })),
          }),
      ...(s.others === undefined
        ? {}
        : { others: { picoUsd: s.others.picoUsd, tokens: Number(s.others.tokens) } }),
      ...(team === undefined ? {} : { team }),
    };
  }
  return { source: 'replica', budgets };
}
