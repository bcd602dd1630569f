/**
 * What the rest of the runtime may know of budgets: the guard reserves, settles and releases
 * through these, the routes read a request's worst case, the cluster side seeds and reports
 * spend. Every other file in this folder is the budgets' own; `make imports` fails when a
 * shipped file outside `runtime/src/budget/` imports one of them directly (scripts/importGraph.ts).
 */
export {
  auditedHold,
  type BudgetAccountName,
  type BudgetAuditEvent,
  type BudgetAuditSink,
} from './budgetAudit.ts';
export { BudgetCalls } from './budgetCalls.ts';
export type { BudgetClaim, BudgetHold } from './budgetClaim.ts';
export { BudgetLedger, type BudgetLedgerOptions } from './budgetLedger.ts';
export { BudgetMetrics } from './budgetMetrics.ts';
export { budgetRequest, type BudgetRequest } from './budgetRequest.ts';
export type { BudgetSeed } from './budgetSpendRecord.ts';
export type { ClaimContext } from './budgetStoreAccounts.ts';
export { budgetReportOf, rememberedSpend } from './spendAtStart.ts';
