/**
 * A team's budget (RateLimitPolicy `budgets[].per: Policy`) in the policy's `status.budgets[]`:
 * one account for every agent on the policy, so its entry is the team's, not the agent nearest
 * its limit. Each agent's part is what its replicas report (`breakwater.dev/budgets`, folded in
 * its spend ledger: the agent's row of the budget); the team's spent is the sum of the parts.
 * The pods report their own spend, never the store's account, so with a store the sum is what
 * the agents settled and held as the operator last read their pods: the store, which decides
 * each call, can be ahead of it by what was spent since. Pure.
 */
import type { AgentPart, BudgetStatus } from '../../../contract/src/api/resources.ts';
import type { BudgetSettings } from '../../../contract/src/policy/policyDocument.ts';
import type { PicoAmount } from '../../../contract/src/spend/spendLedgerTotals.ts';
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
 * The team's entry of `budget` from every agent's row of it (one row per agent), and the row
 * the policy's conditions judge (its `agent` is empty: the figures are the team's).
 */
export function teamBudget(
  budget: BudgetSettings,
  policyName: string,
  rows: readonly BudgetRow[],
  nowMs: number,
): { status: BudgetStatus; row: BudgetRow } | undefined {
  const first = rows[0];
  if (first === undefined) return undefined;
  const dollars = budget.limitMicroUsd !== undefined;
  const parts = rows
    .map((r) => ({ agent: r.agent, amount: amountOf(r.status.spent) }))
    .sort(byLargest);
  const total = parts.reduce((sum, p) => plus(sum, p.amount), ZERO);
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
    parts: listed.map((p): AgentPart => ({ ...shown(p.agent, p.amount), agent: p.agent })),
    ...(rest.length === 0
      ? {}
      : {
          otherParts: {
            agents: rest.length,
            ...shown(
              undefined,
              rest.reduce((sum, p) => plus(sum, p.amount), ZERO),
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
