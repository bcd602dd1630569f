/**
 * A team's budget (RateLimitPolicy `budgets[].per: Policy`) in the policy's `status.budgets[]`:
 * one account for every agent on the policy, so its entry is the team's, not the agent nearest
 * its limit. Each agent's part is what its replicas report (`breakwater.dev/budgets`, folded in
 * its spend ledger: the agent's row of the budget). The team's spent is, with a store, the
 * team's account as a pod last read it there (`source: Store`, teamFigure below); without one,
 * or before any pod read it this period, the sum of the parts (`source: Parts`). Pure.
 */
import type { AgentPart, BudgetStatus } from '../../../contract/src/api/resources.ts';
import type { BudgetSettings } from '../../../contract/src/policy/policyDocument.ts';
import type { PicoAmount } from '../../../contract/src/spend/spendLedgerTotals.ts';
import type { TeamAccountRead } from '../../../contract/src/reporting/budgetReport.ts';
import { ZERO, plus } from '../../../contract/src/spend/spendLedgerTotals.ts';
import { formatMoney, parseFormattedMoney } from '../../../contract/src/spend/money.ts';
import { percentOf, type BudgetRow } from './spendStatus.ts';

/** Agents a team's entry names in `parts`; the rest are summed in `otherParts`. */
export const MAX_TEAM_PARTS = 50;

const HOUR_MS = 3_600_000;

const amountOf = (a: { usd?: string; tokens?: number } | undefined): PicoAmount => ({
  picoUsd: parseFormattedMoney(a?.usd),
  tokens: BigInt(a?.tokens ?? 0),
});

const byLargest = (a: { amount: PicoAmount; agent: string }, b: typeof a): number =>
  Number(b.amount.picoUsd - a.amount.picoUsd) ||
  Number(b.amount.tokens - a.amount.tokens) ||
  a.agent.localeCompare(b.agent);

/**
 * What the team's entry shows: the store's account, or the sum of the parts.
 *
 * Of the reads the pods report (every pod of every agent on the policy reads the same
 * account), the freshest of the current period, never the largest: the account's figure
 * (spent and held) falls as well as rises, as calls settle below their worst case and a lapsed
 * lease's late settlement puts the call's cost in place of the worst case charged, so an older,
 * larger read is a figure the store no longer holds. The pods' clocks say when they read; a
 * skew of some seconds between them picks a read those seconds older, as the next read mends.
 * A read of a past period is never shown: the store's new period starts from zero.
 *
 * Never less than the parts: every call's cost reaches the store (its settlement is kept and
 * sent again), so the account is at least the parts but for settlements it has not taken yet
 * (while it is down, or a read older than the parts the pods report), and a store that lost
 * its data. The parts are then the larger figure and the truer one, and the entry says Parts.
 */
export function teamFigure(
  parts: PicoAmount,
  reads: readonly TeamAccountRead[],
  periodStart: string | undefined,
): { amount: PicoAmount; source: 'Store' | 'Parts' } {
  let freshest: TeamAccountRead | undefined;
  for (const r of reads) {
    if (r.periodStart !== periodStart) continue;
    if (freshest === undefined || Date.parse(r.readAt) > Date.parse(freshest.readAt)) freshest = r;
  }
  if (freshest === undefined) return { amount: parts, source: 'Parts' };
  const store: PicoAmount = {
    picoUsd: freshest.spent.picoUsd + freshest.held.picoUsd,
    tokens: BigInt(freshest.spent.tokens + freshest.held.tokens),
  };
  return store.picoUsd >= parts.picoUsd && store.tokens >= parts.tokens
    ? { amount: store, source: 'Store' }
    : { amount: parts, source: 'Parts' };
}

/**
 * The team's entry of `budget` from every agent's row of it (one row per agent), and the row
 * the policy's conditions judge (its `agent` is empty: the figures are the team's). `reads`:
 * the team's account as the pods on the policy last read it from the store.
 */
export function teamBudget(
  budget: BudgetSettings,
  policyName: string,
  rows: readonly BudgetRow[],
  nowMs: number,
  reads: readonly TeamAccountRead[] = [],
): { status: BudgetStatus; row: BudgetRow } | undefined {
  const first = rows[0];
  if (first === undefined) return undefined;
  const dollars = budget.limitMicroUsd !== undefined;
  const parts = rows
    .map((r) => ({ agent: r.agent, amount: amountOf(r.status.spent) }))
    .sort(byLargest);
  const sum = parts.reduce((s, p) => plus(s, p.amount), ZERO);
  const { amount: total, source } = teamFigure(sum, reads, first.status.periodStart);
  const shown = (agent: string | undefined, a: PicoAmount) => ({
    ...(agent === undefined ? {} : { agent }),
    ...(dollars ? { usd: formatMoney(a.picoUsd) } : {}),
    tokens: Number(a.tokens),
  });
  const listed = parts.slice(0, MAX_TEAM_PARTS);
  const rest = parts.slice(MAX_TEAM_PARTS);
  const percent = percentOf(total, budget);
  const projection = teamProjection(budget, rows, total, nowMs);
  const status: BudgetStatus = {
    name: budget.name,
    per: 'Policy',
    onExhausted: budget.onExhausted,
    spent: shown(undefined, total),
    ...(first.status.limit === undefined ? {} : { limit: first.status.limit }),
    percent,
    ...(first.status.periodStart === undefined ? {} : { periodStart: first.status.periodStart }),
    ...(first.status.resetsAt === undefined ? {} : { resetsAt: first.status.resetsAt }),
    ...(projection === undefined ? {} : { projection }),
    agents: rows.length,
    source,
    parts: listed.map((p): AgentPart => ({ ...shown(p.agent, p.amount), agent: p.agent })),
    ...(rest.length === 0
      ? {}
      : {
          otherParts: {
            agents: rest.length,
            ...shown(
              undefined,
              rest.reduce((s, p) => plus(s, p.amount), ZERO),
            ),
          },
        }),
  };
  return { status, row: { agent: '', team: policyName, status, settings: budget } };
}

/** The agents' rates of the last hour added up, and when the team's limit runs out at it. */
function teamProjection(
  budget: BudgetSettings,
  rows: readonly BudgetRow[],
  total: PicoAmount,
  nowMs: number,
): BudgetStatus['projection'] {
  const rated = rows.flatMap((r) => (r.status.projection === undefined ? [] : [r.status]));
  if (rated.length === 0) return undefined;
  const picoPerHour = rated.reduce(
    (sum, s) => sum + parseFormattedMoney(s.projection?.usdPerHour),
    0n,
  );
  const tokensPerHour = rated.reduce((sum, s) => sum + (s.projection?.tokensPerHour ?? 0), 0);
  const endMs = Date.parse(rows[0]?.status.resetsAt ?? '');
  let exhaustsAtMs = Infinity;
  const limitPico = parseFormattedMoney(rows[0]?.status.limit?.usd);
  if (budget.limitMicroUsd !== undefined && picoPerHour > 0n)
    exhaustsAtMs = nowMs + Number(((limitPico - total.picoUsd) * BigInt(HOUR_MS)) / picoPerHour);
  if (budget.limitTokens !== undefined && tokensPerHour > 0)
    exhaustsAtMs = Math.min(
      exhaustsAtMs,
      nowMs + ((budget.limitTokens - Number(total.tokens)) * HOUR_MS) / tokensPerHour,
    );
  return {
    ...(exhaustsAtMs < endMs
      ? { exhaustsAt: new Date(Math.max(nowMs, Math.floor(exhaustsAtMs))).toISOString() }
      : {}),
    ...(budget.limitMicroUsd === undefined ? {} : { usdPerHour: formatMoney(picoPerHour) }),
    tokensPerHour,
  };
}
