/**
 * A RateLimitPolicy's budget status from the agents that use it (decision 0037): a per Agent or
 * per ClientKey budget is each agent's own, so `status.budgets[]` shows, per budget, the agent
 * nearest its limit (its name in `agent`, how many agents share the budget in `agents`); each
 * agent's own figures are in its AgentDeployment `status.spend`. A per Policy budget is the
 * team's: its entry is every agent together, with each agent's part (teamBudgets.ts). `spent` and `resetsAt`, the columns of
 * `kubectl get rlp`, are the budget nearest its limit. Each agent's ledger is folded with its
 * pods as they are now — the same pure fold its own next status write stores — so the policy
 * is current even before that write. Pure.
 */
import type {
  BudgetStatus,
  RateLimitPolicy,
  RateLimitPolicyStatus,
} from '../../../contract/src/api/resources.ts';
import { resolveRateLimit } from '../../../contract/src/policy/policyResolution.ts';
import type { ConditionUpdate } from '../status/conditions.ts';
import {
  BUDGET_CONDITIONS,
  MODELS_PRICED,
  budgetConditions,
  pricingCondition,
} from './budgetConditions.ts';
import {
  agentSpend,
  nearestLimit,
  nextPeriodEndMs,
  spentSummary,
  type BudgetRow,
} from './spendStatus.ts';
import { teamBudget } from './teamBudgets.ts';
import { spendPod } from './spendLedger.ts';
import type { TeamAccountRead } from '../../../contract/src/reporting/budgetReport.ts';
import type { PodView } from '../status/views.ts';
import type { AgentDeployment } from '../../../contract/src/api/resources.ts';
import { isTimeZone } from '../../../contract/src/spend/calendarPeriod.ts';

export interface BudgetUser {
  readonly agent: AgentDeployment;
  readonly pods: readonly PodView[];
  readonly presentPods?: readonly PodView[];
}

export interface PolicyBudgets {
  readonly fields: Pick<RateLimitPolicyStatus, 'budgets' | 'spent' | 'resetsAt'>;
  readonly conditions: ConditionUpdate[];
  /** Condition types that no longer apply and go. */
  readonly dropConditions: readonly string[];
  readonly changesAtMs: number | undefined;
  /** Why the budgets cannot be counted (and every replica refuses the policy); else undefined. */
  readonly invalid?: string;
  /** Each team budget's (per Policy) row: what an agent on the policy judges it by too. */
  readonly teamRows: readonly BudgetRow[];
}

export function policyBudgets(
  policy: RateLimitPolicy,
  users: readonly BudgetUser[],
  nowMs: number,
): PolicyBudgets {
  const spend = resolveRateLimit(policy, 1).spend;
  if (spend === undefined)
    return {
      fields: {},
      conditions: [],
      dropConditions: BUDGET_CONDITIONS,
      changesAtMs: undefined,
      teamRows: [],
    };
  // Admission takes any name shaped like a zone; the zone database decides. Every replica
  // refuses such a policy and keeps its last good one; nothing is counted in an unknown zone.
  if (!isTimeZone(spend.timeZone))
    return {
      fields: {},
      conditions: [],
      dropConditions: [],
      changesAtMs: undefined,
      teamRows: [],
      invalid: `spec.timeZone ${JSON.stringify(spend.timeZone)} is not a time zone the IANA database knows (use a name such as Europe/Berlin, or UTC); every replica refuses this policy and keeps its last good one`,
    };
  const settings = { budgets: spend.budgets, timeZone: spend.timeZone };
  const spends = users.map((u) => agentSpend(u.agent, u.presentPods ?? u.pods, settings, nowMs));
  const agentRows = spends.flatMap((s) => s.rows);
  // What the pods of every agent on the policy last read of each team account in the store.
  const reports = users.flatMap((u) =>
    (u.presentPods ?? u.pods).flatMap((p) => spendPod(p).process?.report ?? []),
  );
  const reads = (name: string): TeamAccountRead[] =>
    reports.flatMap((r) => r.budgets[name]?.team ?? []);
  // The conditions judge each agent's own budgets by agent, a team's by the team's row.
  const rows: BudgetRow[] = [];
  const teamRows: BudgetRow[] = [];
  const budgets: BudgetStatus[] = [];
  for (const budget of spend.budgets) {
    const mine = agentRows.filter((r) => r.status.name === budget.name);
    if (budget.per === 'Policy') {
      const team = teamBudget(budget, policy.metadata.name ?? '', mine, nowMs, reads(budget.name));
      if (team === undefined) continue;
      rows.push(team.row);
      teamRows.push(team.row);
      budgets.push(team.status);
      continue;
    }
    rows.push(...mine);
    const nearest = nearestLimit(mine.map((r) => ({ ...r.status, agent: r.agent })));
    if (nearest === undefined) continue;
    budgets.push({ ...nearest, agents: mine.length });
  }
  const top = nearestLimit(budgets);
  const priced = pricingCondition(
    spend.budgets,
    users.map((u) => u.agent),
  );
  const ends = spends
    .map((s) => nextPeriodEndMs(s.status))
    .filter((e): e is number => e !== undefined);
  return {
    fields: {
      budgets,
      ...(top === undefined
        ? {}
        : {
            spent: spentSummary(top),
            ...(top.resetsAt === undefined ? {} : { resetsAt: top.resetsAt }),
          }),
    },
    conditions: [...budgetConditions(rows), ...(priced === undefined ? [] : [priced])],
    dropConditions: priced === undefined ? [MODELS_PRICED] : [],
    changesAtMs: ends.length === 0 ? undefined : Math.min(...ends),
    teamRows,
  };
}
