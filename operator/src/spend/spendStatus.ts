/**
 * What an agent has spent of each budget, from its spend ledger (spendLedger.ts): the figures
 * AgentDeployment `status.spend.budgets` shows, and the RateLimitPolicy's `status.budgets`
 * takes the agent nearest its limit from. Pure; amounts stay bigint picodollars until they are
 * written as decimal strings.
 *
 * The projection is the last hour's rate (the ledger's samples: the oldest within the hour,
 * or the newest before it) carried forward from the total now.
 */
import type {
  AgentSpendStatus,
  SpendLedger,
} from '../../../contract/src/api/v1alpha1/agentdeployment.ts';
import type { BudgetSpendStatus, KeySpend } from '../../../contract/src/api/v1alpha1/common.ts';
import type { AgentDeployment } from '../../../contract/src/api/resources.ts';
import type { BudgetSettings } from '../../../contract/src/policy/policyDocument.ts';
import { calendarPeriod } from '../../../contract/src/spend/calendarPeriod.ts';
import {
  ZERO,
  ledgerTotals,
  type PicoAmount,
} from '../../../contract/src/spend/spendLedgerTotals.ts';
import {
  formatMoney,
  formatMoneyShort,
  moneyFromMicros,
  moneyFromText,
  parseFormattedMoney,
  type Money,
} from '../../../contract/src/spend/money.ts';
import type { BudgetReport } from '../../../contract/src/reporting/budgetReport.ts';
import { foldSpend, spendPod, type SpendPolicy } from './spendLedger.ts';
import type { PodView } from '../status/views.ts';

const HOUR_MS = 3_600_000;
/** A rate needs samples this far apart at least. */
const MIN_RATE_SPAN_MS = 60_000;

const usdText = formatMoney;

function limitPico(budget: BudgetSettings): Money | undefined {
  return budget.limitMicroUsd === undefined ? undefined : moneyFromMicros(budget.limitMicroUsd);
}

/** Percent of the tighter limit, rounded down. */
export function percentOf(amount: PicoAmount, budget: BudgetSettings): number {
  const usd = limitPico(budget);
  let percent = 0n;
  if (usd !== undefined && usd > 0n) percent = (amount.picoUsd * 100n) / usd;
  if (budget.limitTokens !== undefined && budget.limitTokens > 0) {
    const tokens = (amount.tokens * 100n) / BigInt(budget.limitTokens);
    if (tokens > percent) percent = tokens;
  }
  return Number(percent);
}

const larger = (a: PicoAmount, b: PicoAmount): PicoAmount => ({
  picoUsd: a.picoUsd > b.picoUsd ? a.picoUsd : b.picoUsd,
  tokens: a.tokens > b.tokens ? a.tokens : b.tokens,
});

/** Each budget's figures for one agent. `stores`: reports of `source: store` (agent-wide). */
export function agentBudgetStatuses(
  policy: SpendPolicy,
  ledger: SpendLedger,
  stores: readonly BudgetReport[],
  nowMs: number,
): BudgetSpendStatus[] {
  const totals = ledgerTotals(ledger);
  return policy.budgets.map((budget) => {
    const period = calendarPeriod(nowMs, budget.period, policy.timeZone);
    const periodStart = new Date(period.startMs).toISOString();
    const t = totals.get(budget.name);
    const inPeriod = t?.periodStart === periodStart ? t : undefined;
    let total = inPeriod?.total ?? ZERO;
    for (const store of stores) {
      const e = store.budgets[budget.name];
      if (e?.periodStart !== periodStart) continue;
      total = larger(total, {
        picoUsd: e.spent.picoUsd + e.held.picoUsd,
        tokens: BigInt(e.spent.tokens + e.held.tokens),
      });
    }
    const keys = [...(inPeriod?.keys ?? new Map<string, PicoAmount>())]
      .sort(
        ([ka, a], [kb, b]) =>
          Number(b.picoUsd - a.picoUsd) || Number(b.tokens - a.tokens) || ka.localeCompare(kb),
      )
      .slice(0, 5);
    const nearest =
      budget.per === 'Agent'
        ? total
        : keys.reduce<PicoAmount>((m, [, a]) => larger(m, a), inPeriod?.others ?? ZERO);
    const usd = limitPico(budget);
    const projection = project(ledger, budget, total, nowMs, period.endMs);
    return {
      name: budget.name,
      per: budget.per,
      onExhausted: budget.onExhausted,
      spent: {
        ...(usd === undefined ? {} : { usd: usdText(total.picoUsd) }),
        tokens: Number(total.tokens),
      },
      ...(budget.per === 'ClientKey'
        ? {
            byOneKey: {
              ...(usd === undefined ? {} : { usd: usdText(nearest.picoUsd) }),
              tokens: Number(nearest.tokens),
            },
          }
        : {}),
      limit: {
        ...(usd === undefined ? {} : { usd: usdText(usd) }),
        ...(budget.limitTokens === undefined ? {} : { tokens: budget.limitTokens }),
      },
      percent: percentOf(nearest, budget),
      periodStart,
      resetsAt: new Date(period.endMs).toISOString(),
      ...(projection === undefined ? {} : { projection }),
      ...(budget.per === 'ClientKey'
        ? {
            topKeys: keys.map(([key, a]): KeySpend => ({
              key,
              ...(usd === undefined ? {} : { usd: usdText(a.picoUsd) }),
              tokens: Number(a.tokens),
            })),
          }
        : {}),
    };
  });
}

function project(
  ledger: SpendLedger,
  budget: BudgetSettings,
  total: PicoAmount,
  nowMs: number,
  endMs: number,
): BudgetSpendStatus['projection'] {
  const samples = (ledger.samples ?? []).filter((s) => s.budget === budget.name);
  const first = samples[0];
  if (first === undefined) return undefined;
  const spanMs = nowMs - Date.parse(first.at);
  if (!(spanMs >= MIN_RATE_SPAN_MS)) return undefined;
  const last = samples.at(-1) ?? first;
  // The newest settled figure the ledger sampled, or the total now if that is later.
  const settledNow = larger(
    { picoUsd: moneyFromText(last.picoUsd), tokens: BigInt(last.tokens ?? 0) },
    { picoUsd: total.picoUsd, tokens: total.tokens },
  );
  const picoPerHour =
    ((settledNow.picoUsd - moneyFromText(first.picoUsd)) * BigInt(HOUR_MS)) / BigInt(spanMs);
  const tokensPerHour =
    ((settledNow.tokens - BigInt(first.tokens ?? 0)) * BigInt(HOUR_MS)) / BigInt(spanMs);
  let exhaustsAtMs = Infinity;
  const usd = limitPico(budget);
  if (budget.per === 'Agent' && usd !== undefined && picoPerHour > 0n)
    exhaustsAtMs = Math.min(
      exhaustsAtMs,
      nowMs + Number(((usd - total.picoUsd) * BigInt(HOUR_MS)) / picoPerHour),
    );
  if (budget.per === 'Agent' && budget.limitTokens !== undefined && tokensPerHour > 0n)
    exhaustsAtMs = Math.min(
      exhaustsAtMs,
      nowMs +
        Number(((BigInt(budget.limitTokens) - total.tokens) * BigInt(HOUR_MS)) / tokensPerHour),
    );
  return {
    ...(exhaustsAtMs < endMs
      ? { exhaustsAt: new Date(Math.max(nowMs, exhaustsAtMs)).toISOString() }
      : {}),
    ...(usd === undefined ? {} : { usdPerHour: usdText(picoPerHour) }),
    tokensPerHour: Number(tokensPerHour),
  };
}

/** `62% of monthly ($310 of $500)`: the budget nearest its limit, for `kubectl get rlp`. */
export function spentSummary(row: BudgetSpendStatus): string {
  // Per ClientKey the limit is each key's: the figure beside it is one key's, as the percent.
  const spent = row.byOneKey ?? row.spent;
  const figures =
    row.limit?.usd !== undefined
      ? `$${formatMoneyShort(parseFormattedMoney(spent?.usd))} of $${row.limit.usd}`
      : `${String(spent?.tokens ?? 0)} of ${String(row.limit?.tokens ?? 0)} tokens`;
  const byKey = row.byOneKey === undefined ? '' : ' by one key';
  return `${String(row.percent ?? 0)}% of ${row.name} (${figures}${byKey})`;
}

/** The row nearest its limit (highest percent; ties by name). */
export function nearestLimit<T extends BudgetSpendStatus>(rows: readonly T[]): T | undefined {
  return rows.reduce<T | undefined>(
    (m, r) =>
      m === undefined ||
      (r.percent ?? 0) > (m.percent ?? 0) ||
      ((r.percent ?? 0) === (m.percent ?? 0) && r.name < m.name)
        ? r
        : m,
    undefined,
  );
}

/** One budget's figures for one agent, with the settings that judge them. */
export interface BudgetRow {
  /** The agent's name; empty in a team's row (`team`). */
  readonly agent: string;
  /** A team's row (per Policy, every agent together): the RateLimitPolicy's name. */
  readonly team?: string;
  readonly status: BudgetSpendStatus;
  readonly settings: BudgetSettings;
}

/** An agent's spend: the ledger folded with its pods now, its figures and its budget rows. */
export interface AgentSpend {
  readonly status: AgentSpendStatus;
  readonly rows: BudgetRow[];
}

export function agentSpend(
  agent: AgentDeployment,
  presentPods: readonly PodView[],
  policy: SpendPolicy,
  nowMs: number,
): AgentSpend {
  const pods = presentPods.map(spendPod);
  const ledger = foldSpend(agent.status?.spend?.ledger, pods, policy, nowMs);
  const stores = pods.flatMap((p) =>
    p.process?.report.source === 'store' ? [p.process.report] : [],
  );
  const budgets = agentBudgetStatuses(policy, ledger, stores, nowMs);
  const name = agent.metadata.name ?? '';
  const rows = budgets.flatMap((status) => {
    const settings = policy.budgets.find((b) => b.name === status.name);
    return settings === undefined ? [] : [{ agent: name, status, settings }];
  });
  return { status: { budgets, ledger }, rows };
}

/** When an agent's spend status changes by the clock alone: the soonest period end. */
export function nextPeriodEndMs(status: AgentSpendStatus | undefined): number | undefined {
  const ends = (status?.budgets ?? []).map((b) => Date.parse(b.resetsAt ?? ''));
  const finite = ends.filter((e) => Number.isFinite(e));
  return finite.length === 0 ? undefined : Math.min(...finite);
}
