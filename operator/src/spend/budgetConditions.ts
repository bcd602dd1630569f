/**
 * The budget conditions, on the AgentDeployment (its own budgets: it is the agent that refuses
 * calls, and the one Argo CD shows for the team's application) and on the RateLimitPolicy
 * (every agent that uses it: where the budgets are declared and `kubectl get rlp` looks):
 *
 * - BudgetWarning: True once a budget has passed its warnAtPercent;
 * - BudgetExhausted: True once a budget is spent (100 %), reason Refusing, FallingBack or
 *   Shadow after its onExhausted — only Refusing stops the agent's calls;
 * - ModelsPriced: False when a model an agent may call (its model or a fallback) has no price
 *   under a dollar budget that is not Shadow: the runtime refuses those calls with 400.
 *
 * Messages name the budget, the agent, spent and limit, and when it resets. Pure.
 */
import type { AgentDeployment } from '../../../contract/src/api/resources.ts';
import type { BudgetSettings } from '../../../contract/src/policy/policyDocument.ts';
import { MODEL_LIST_PRICES } from '../../../contract/src/api/modelPrices.ts';
import type { ConditionUpdate } from '../status/conditions.ts';
import type { BudgetRow } from './spendStatus.ts';
import { formatMoneyShort, parseFormattedMoney } from '../../../contract/src/spend/money.ts';

export const BUDGET_WARNING = 'BudgetWarning';
export const BUDGET_EXHAUSTED = 'BudgetExhausted';
export const MODELS_PRICED = 'ModelsPriced';
export const BUDGET_CONDITIONS: readonly string[] = [
  BUDGET_WARNING,
  BUDGET_EXHAUSTED,
  MODELS_PRICED,
];

const REASON: Readonly<Record<BudgetSettings['onExhausted'], string>> = {
  Refuse: 'Refusing',
  Fallback: 'FallingBack',
  Shadow: 'Shadow',
};

const CONSEQUENCE: Readonly<Record<BudgetSettings['onExhausted'], string>> = {
  Refuse: 'calls are refused until then',
  Fallback: 'calls go to fallback models that fit, else are refused, until then',
  Shadow: 'Shadow: nothing is refused',
};

function figures(row: BudgetRow): string {
  const s = row.status;
  // Per ClientKey the limit is each key's: the figures are the key nearest it.
  const spent = s.byOneKey ?? s.spent;
  const money =
    s.limit?.usd === undefined
      ? undefined
      : `spent $${formatMoneyShort(parseFormattedMoney(spent?.usd))} of $${s.limit.usd}`;
  const tokens =
    s.limit?.tokens === undefined
      ? undefined
      : `${String(spent?.tokens ?? 0)} of ${String(s.limit.tokens)} tokens`;
  const whose = row.settings.per === 'ClientKey' ? ', per client key (the key nearest)' : '';
  // A team's row (per Policy) is every agent's spend together, as the runtime's refusal says.
  const whom =
    row.team === undefined
      ? `(${row.settings.period}${whose}) of agent ${row.agent}`
      : `(${row.settings.period}, per Policy) of every agent on RateLimitPolicy ${row.team} together`;
  return (
    `budget "${s.name}" ${whom}: ` +
    `${[money, tokens].filter((x) => x !== undefined).join(', ')} (${String(s.percent ?? 0)}%), ` +
    `resets at ${s.resetsAt ?? ''}`
  );
}

const byPercent = (a: BudgetRow, b: BudgetRow): number =>
  (b.status.percent ?? 0) - (a.status.percent ?? 0) ||
  a.agent.localeCompare(b.agent) ||
  a.status.name.localeCompare(b.status.name);

/** BudgetWarning and BudgetExhausted over the rows (one agent's, or every agent's). */
export function budgetConditions(rows: readonly BudgetRow[]): ConditionUpdate[] {
  const exhausted = rows.filter((r) => (r.status.percent ?? 0) >= 100).sort(byPercent);
  const warned = rows
    .filter((r) => (r.status.percent ?? 0) >= r.settings.warnAtPercent)
    .sort(byPercent);
  const more = (list: readonly BudgetRow[]): string =>
    list.length > 1 ? `; and ${String(list.length - 1)} more` : '';
  const first = exhausted[0];
  // A refusing budget is what on-call needs first.
  const refusing = exhausted.find((r) => r.settings.onExhausted === 'Refuse') ?? first;
  const warning = warned[0];
  return [
    warning === undefined
      ? { type: BUDGET_WARNING, status: 'False', reason: 'BelowWarnPercent', message: '' }
      : {
          type: BUDGET_WARNING,
          status: 'True',
          reason: 'AboveWarnPercent',
          message: `${figures(warning)}; warns at ${String(warning.settings.warnAtPercent)}%${more(warned)}`,
        },
    refusing === undefined
      ? { type: BUDGET_EXHAUSTED, status: 'False', reason: 'WithinBudget', message: '' }
      : {
          type: BUDGET_EXHAUSTED,
          status: 'True',
          reason: REASON[refusing.settings.onExhausted],
          message: `${figures(refusing)}; ${CONSEQUENCE[refusing.settings.onExhausted]}${more(exhausted)}`,
        },
  ];
}

/** The models an agent may call that have no price: neither listed nor in its spec.pricing. */
export function unpricedModels(agent: AgentDeployment): string[] {
  const own = new Set((agent.spec.pricing ?? []).map((p) => p.model));
  const models = [agent.spec.model.name, ...(agent.spec.model.fallbacks ?? [])];
  return [...new Set(models)].filter((m) => !MODEL_LIST_PRICES.has(m) && !own.has(m));
}

/** ModelsPriced for agents under the budgets; undefined when no dollar budget refuses. */
export function pricingCondition(
  budgets: readonly BudgetSettings[],
  agents: readonly AgentDeployment[],
): ConditionUpdate | undefined {
  const dollar = budgets.find((b) => b.limitMicroUsd !== undefined && b.onExhausted !== 'Shadow');
  if (dollar === undefined) return undefined;
  const missing = agents
    .map((a) => ({ agent: a.metadata.name ?? '', models: unpricedModels(a) }))
    .filter((m) => m.models.length > 0)
    .sort((a, b) => a.agent.localeCompare(b.agent));
  if (missing.length === 0)
    return {
      type: MODELS_PRICED,
      status: 'True',
      reason: 'Priced',
      message: `every model has a price under dollar budget "${dollar.name}"`,
    };
  const named = missing.map((m) => `${m.models.join(', ')} of agent ${m.agent}`).join('; ');
  return {
    type: MODELS_PRICED,
    status: 'False',
    reason: 'UnpricedModel',
    message:
      `no price for ${named} under dollar budget "${dollar.name}": calls to it are refused ` +
      `with 400; add it to AgentDeployment spec.pricing[] with model and all five prices ` +
      `(inputPerMTok, outputPerMTok, cacheWrite5mPerMTok, cacheWrite1hPerMTok, cacheReadPerMTok)`,
  };
}
