/**
 * Durable spend, as tripLedger.ts keeps trips. Each runtime process counts its spend from what
 * it was seeded with, and reports only its own (`breakwater.dev/budgets`), so a sum over the
 * pods running now would fall whenever a pod restarts, is replaced or is scaled away. The
 * agent's status keeps a ledger instead: per budget a baseline holding the spend of processes
 * that are gone, and one entry per pod with the most its current process has reported. Folding
 * the pods the API server holds now into the last written ledger is pure and level-triggered.
 *
 * The invariant (docs/design.md, "Spend is a ledger"): a process's spend is in exactly one
 * place — its pod's entry while the pod runs that process, the baseline once it does not —
 * and it moves inside one status write. Within a period the total never decreases: an entry
 * keeps its high-water mark, and a process that goes with calls in flight leaves their worst
 * case in the baseline as spent (they may have been charged; nobody can say). Entries of a
 * period that has ended, and of budgets the policy no longer has, are dropped: a new period
 * starts from zero.
 *
 * Reports whose `source` is `store` carry the agent-wide figure the rate-limit store holds:
 * they are not entries (summing them would count the agent once per pod); spendStatus.ts
 * takes the largest of them beside the ledger's total.
 */
import type {
  LedgerKeySpend,
  SpendLedger,
  SpendLedgerBudget,
  SpendLedgerProcess,
  SpendSample,
} from '../../../contract/src/api/v1alpha1/agentdeployment.ts';
import type { BudgetSettings } from '../../../contract/src/policy/policyDocument.ts';
import {
  BUDGETS_ANNOTATION,
  MAX_REPORTED_KEYS,
  decodeBudgetReport,
  type BudgetReport,
  type BudgetReportEntry,
} from '../../../contract/src/reporting/budgetReport.ts';
import {
  RUNTIME_ANNOTATION,
  decodeRuntimeReport,
} from '../../../contract/src/reporting/runtimeReport.ts';
import { calendarPeriod } from '../../../contract/src/spend/calendarPeriod.ts';
import {
  heldOf,
  keyAmount,
  ledgerTotals,
  othersOf,
  plus,
  settledOf,
  type PicoAmount,
} from '../../../contract/src/spend/spendLedgerTotals.ts';
import type { PodView } from '../status/views.ts';
import { liveProcesses } from '../status/ledgerProcesses.ts';
import { moneyText } from '../../../contract/src/spend/money.ts';

/** A pod the API server holds for the agent, terminating ones included. */
export interface SpendPod {
  readonly uid: string;
  /** What its runtime reports now; undefined while it reports nothing (keeps its entry). */
  readonly process?: { readonly started: string; readonly report: BudgetReport };
}

export interface SpendPolicy {
  readonly budgets: readonly BudgetSettings[];
  readonly timeZone: string;
}

/** A sample of each budget's total every few minutes, kept for an hour: the projection's rate. */
export const SAMPLE_EVERY_MS = 5 * 60_000;
export const RATE_WINDOW_MS = 60 * 60_000;

/** Each budget's current period start (RFC 3339), by name. */
export function currentPeriods(policy: SpendPolicy, nowMs: number): Map<string, string> {
  return new Map(
    policy.budgets.map((b) => [
      b.name,
      new Date(calendarPeriod(nowMs, b.period, policy.timeZone).startMs).toISOString(),
    ]),
  );
}

/** The ledger after the pods now present: gone or replaced processes move to the baseline. */
export function foldSpend(
  previous: SpendLedger | undefined,
  pods: readonly SpendPod[],
  policy: SpendPolicy,
  nowMs: number,
): SpendLedger {
  const periods = currentPeriods(policy, nowMs);
  const current = (e: SpendLedgerBudget): boolean => periods.get(e.budget) === e.periodStart;
  const baseline = new Map<string, SpendLedgerBudget>();
  for (const e of previous?.baseline ?? []) if (current(e)) baseline.set(e.budget, e);
  const retire = (entry: SpendLedgerProcess): void => {
    for (const e of entry.budgets ?? []) {
      if (!current(e)) continue;
      baseline.set(e.budget, retired(baseline.get(e.budget), e));
    }
  };
  const entries = liveProcesses(previous?.processes, pods, retire);
  for (const pod of pods) {
    const now = pod.process;
    if (now === undefined || now.report.source !== 'replica') continue;
    const recorded = entries.get(pod.uid);
    const budgets: SpendLedgerBudget[] = [];
    for (const [budget, periodStart] of periods) {
      const before = recorded?.budgets?.find((e) => e.budget === budget && current(e));
      const reported = now.report.budgets[budget];
      const fresh = reported?.periodStart === periodStart ? reported : undefined;
      const merged = highWater(budget, periodStart, before, fresh);
      if (merged !== undefined) budgets.push(merged);
    }
    entries.set(pod.uid, { pod: pod.uid, started: now.started, budgets });
  }
  const ledger: SpendLedger = {
    baseline: [...baseline.values()].sort((a, b) => a.budget.localeCompare(b.budget)),
    processes: [...entries.values()]
      .map((p) => ({ ...p, budgets: (p.budgets ?? []).filter(current) }))
      .sort((a, b) => a.pod.localeCompare(b.pod)),
  };
  return { ...ledger, samples: sampled(previous?.samples, ledger, periods, nowMs) };
}

/** A process's entry folded into the baseline: its calls in flight count as spent. */
function retired(base: SpendLedgerBudget | undefined, gone: SpendLedgerBudget): SpendLedgerBudget {
  const held = heldOf(gone);
  const spent = plus(settledOf(gone), held);
  const total = plus(base === undefined ? ZERO_AMOUNT : settledOf(base), spent);
  if (gone.keys === undefined && base?.keys === undefined)
    return amountEntry(gone.budget, gone.periodStart, total);
  // Per key: the same bound ledgerTotals reads, every key also charged the calls in flight.
  const baseOthers = base === undefined ? ZERO_AMOUNT : othersOf(base);
  const goneOthers = plus(othersOf(gone), held);
  const named = new Set([...(base?.keys ?? []), ...(gone.keys ?? [])].map((k) => k.key));
  const keys = [...named].map((key) => {
    const inBase = base?.keys?.find((k) => k.key === key);
    const inGone = gone.keys?.find((k) => k.key === key);
    return {
      key,
      amount: plus(
        inBase === undefined ? baseOthers : keyAmount(inBase),
        inGone === undefined ? goneOthers : plus(keyAmount(inGone), held),
      ),
    };
  });
  return {
    ...amountEntry(gone.budget, gone.periodStart, total),
    ...topKeys(keys, plus(baseOthers, goneOthers)),
  };
}

const ZERO_AMOUNT: PicoAmount = { picoUsd: 0n, tokens: 0n };

function amountEntry(budget: string, periodStart: string, a: PicoAmount): SpendLedgerBudget {
  return { budget, periodStart, picoUsd: moneyText(a.picoUsd), tokens: Number(a.tokens) };
}

/** The largest MAX_REPORTED_KEYS keys; the others' bound covers every key left out. */
function topKeys(
  keys: readonly { key: string; amount: PicoAmount }[],
  others: PicoAmount,
): Pick<SpendLedgerBudget, 'keys' | 'othersPicoUsd' | 'othersTokens'> {
  const sorted = [...keys].sort(
    (a, b) =>
      Number(b.amount.picoUsd - a.amount.picoUsd) ||
      Number(b.amount.tokens - a.amount.tokens) ||
      a.key.localeCompare(b.key),
  );
  let bound = others;
  for (const dropped of sorted.slice(MAX_REPORTED_KEYS))
    bound = {
      picoUsd: bound.picoUsd > dropped.amount.picoUsd ? bound.picoUsd : dropped.amount.picoUsd,
      tokens: bound.tokens > dropped.amount.tokens ? bound.tokens : dropped.amount.tokens,
    };
  return {
    keys: sorted.slice(0, MAX_REPORTED_KEYS).map((k): LedgerKeySpend => ({
      key: k.key,
      picoUsd: moneyText(k.amount.picoUsd),
      tokens: Number(k.amount.tokens),
    })),
    othersPicoUsd: moneyText(bound.picoUsd),
    othersTokens: Number(bound.tokens),
  };
}

/** The recorded entry and the process's report, each figure at its high-water mark. */
function highWater(
  budget: string,
  periodStart: string,
  before: SpendLedgerBudget | undefined,
  reported: BudgetReportEntry | undefined,
): SpendLedgerBudget | undefined {
  if (reported === undefined) return before;
  const was = before === undefined ? ZERO_AMOUNT : settledOf(before);
  const spent = {
    picoUsd: max(was.picoUsd, reported.spent.picoUsd),
    tokens: max(was.tokens, BigInt(reported.spent.tokens)),
  };
  const entry: SpendLedgerBudget = {
    ...amountEntry(budget, periodStart, spent),
    heldPicoUsd: moneyText(reported.held.picoUsd),
    heldTokens: reported.held.tokens,
  };
  if (reported.keys === undefined) return entry;
  const keys = new Map<string, PicoAmount>();
  for (const k of before?.keys ?? []) keys.set(k.key, keyAmount(k));
  for (const k of reported.keys) {
    const had = keys.get(k.key) ?? ZERO_AMOUNT;
    keys.set(k.key, {
      picoUsd: max(had.picoUsd, k.picoUsd),
      tokens: max(had.tokens, BigInt(k.tokens)),
    });
  }
  const beforeOthers = before === undefined ? ZERO_AMOUNT : othersOf(before);
  const others = {
    picoUsd: max(beforeOthers.picoUsd, reported.others?.picoUsd ?? 0n),
    tokens: max(beforeOthers.tokens, BigInt(reported.others?.tokens ?? 0)),
  };
  return {
    ...entry,
    ...topKeys(
      [...keys].map(([key, amount]) => ({ key, amount })),
      others,
    ),
  };
}

/**
 * The samples after this fold: the newest total of each budget is added when its last sample
 * is SAMPLE_EVERY_MS old; samples older than the rate window go, but for the newest of them,
 * which anchors an hour's rate; samples of an earlier period go.
 */
function sampled(
  previous: readonly SpendSample[] | undefined,
  ledger: SpendLedger,
  periods: ReadonlyMap<string, string>,
  nowMs: number,
): SpendSample[] {
  const totals = ledgerTotals(ledger);
  const out: SpendSample[] = [];
  for (const [budget, periodStart] of periods) {
    const kept = (previous ?? [])
      .filter((s) => s.budget === budget && Date.parse(s.at) >= Date.parse(periodStart))
      .sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
    const old = kept.filter((s) => Date.parse(s.at) < nowMs - RATE_WINDOW_MS);
    const recent = kept.filter((s) => Date.parse(s.at) >= nowMs - RATE_WINDOW_MS);
    const anchor = old.at(-1);
    const series = anchor === undefined ? recent : [anchor, ...recent];
    const last = series.at(-1);
    if (last === undefined || nowMs - Date.parse(last.at) >= SAMPLE_EVERY_MS) {
      const settled = totals.get(budget)?.settled ?? ZERO_AMOUNT;
      series.push({
        budget,
        at: new Date(nowMs).toISOString(),
        picoUsd: moneyText(settled.picoUsd),
        tokens: Number(settled.tokens),
      });
    }
    out.push(...series);
  }
  return out;
}

function max(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

/** What the ledger needs of a pod: its UID and, once its runtime reports budgets, its report. */
export function spendPod(pod: PodView): SpendPod {
  const uid = pod.metadata?.uid ?? '';
  const annotations = pod.metadata?.annotations;
  const report = decodeBudgetReport(annotations?.[BUDGETS_ANNOTATION]);
  if (report === undefined) return { uid };
  const started = decodeRuntimeReport(annotations?.[RUNTIME_ANNOTATION])?.started ?? '';
  return { uid, process: { started, report } };
}
