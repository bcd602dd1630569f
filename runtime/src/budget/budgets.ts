/**
 * What the rest of the runtime may know of budgets: the guard holds, settles and releases
 * through the BudgetGate it declares (guard/budgetGate.ts), made here (LedgerGate); the routes
 * read a request's worst case, the cluster side seeds and reports spend. Every other file in this folder is the budgets' own; `make imports` fails when a
 * shipped file outside `runtime/src/budget/` imports one of them directly (scripts/importGraph.ts).
 */
export type { BudgetAccountName, BudgetAuditEvent, BudgetAuditSink } from './budgetAudit.ts';
export { LedgerGate } from './budgetGate.ts';
export type { BudgetLedger } from './budgetLedger.ts';
export { BudgetMetrics } from './budgetMetrics.ts';
export { budgetRequest, type BudgetRequest } from './budgetRequest.ts';
export type { BudgetSeed } from './budgetSpendRecord.ts';
export { budgetReportOf, rememberedSpend } from './spendAtStart.ts';
