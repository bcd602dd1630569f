import { describe, expect, it } from '@jest/globals';
import type { SpendLedger } from '../../../contract/src/api/v1alpha1/agentdeployment.ts';
import type { BudgetSettings } from '../../../contract/src/policy/policyDocument.ts';
import type {
  BudgetReport,
  BudgetReportEntry,
} from '../../../contract/src/reporting/budgetReport.ts';
import { ledgerTotals } from '../../../contract/src/spend/spendLedgerTotals.ts';
import { foldSpend, SAMPLE_EVERY_MS, type SpendPod, type SpendPolicy } from './spendLedger.ts';

const NOW = Date.parse('2026-11-24T10:00:00.000Z');
const DAY = '2026-11-24T00:00:00.000Z';
const budget = (over: Partial<BudgetSettings> = {}): BudgetSettings => ({
  name: 'daily',
  period: 'Day',
  limitMicroUsd: 2_000,
  per: 'Agent',
  onExhausted: 'Refuse',
  warnAtPercent: 80,
  waitForHeldMs: 0,
  ...over,
});
const policy = (b: BudgetSettings = budget()): SpendPolicy => ({ budgets: [b], timeZone: 'UTC' });

const entry = (
  spent: bigint,
  held = 0n,
  over: Partial<BudgetReportEntry> = {},
): BudgetReportEntry => ({
  periodStart: DAY,
  spent: { picoUsd: spent, tokens: Number(spent / 1000n) },
  held: { picoUsd: held, tokens: 0 },
  ...over,
});
const report = (
  e: BudgetReportEntry,
  source: BudgetReport['source'] = 'replica',
): BudgetReport => ({
  source,
  budgets: { daily: e },
});
const pod = (
  uid: string,
  started: string,
  e?: BudgetReportEntry,
  source?: BudgetReport['source'],
): SpendPod =>
  e === undefined ? { uid } : { uid, process: { started, report: report(e, source) } };

const total = (ledger: SpendLedger): bigint =>
  ledgerTotals(ledger).get('daily')?.total.picoUsd ?? 0n;

/** Folds each step's pods in turn, as reconciles do, and returns every ledger. */
function steps(list: readonly (readonly SpendPod[])[], p = policy(), at = NOW): SpendLedger[] {
  const out: SpendLedger[] = [];
  let ledger: SpendLedger | undefined;
  list.forEach((pods, i) => {
    ledger = foldSpend(ledger, pods, p, at + i * 1000);
    out.push(ledger);
  });
  return out;
}

describe('the spend ledger', () => {
  it('keeps a replaced pod’s spend in the baseline: the total does not fall', () => {
    const ledgers = steps([
      [pod('a', 't1', entry(700n))],
      [],
      [pod('b', 't2', entry(0n))],
      [pod('b', 't2', entry(100n))],
    ]);
    expect(ledgers.map(total)).toEqual([700n, 700n, 700n, 800n]);
    expect(ledgers[3]?.baseline).toEqual([
      { budget: 'daily', periodStart: DAY, picoUsd: '700', tokens: 0 },
    ]);
    expect(ledgers[3]?.processes?.map((p) => p.pod)).toEqual(['b']);
  });

  it('moves a process restarted in the same pod to the baseline when the new one reports', () => {
    const ledgers = steps([
      [pod('a', 't1', entry(500n))],
      [pod('a', 't1')], // between processes: nothing reported, the entry stays
      [pod('a', 't2', entry(50n))],
    ]);
    expect(ledgers.map(total)).toEqual([500n, 500n, 550n]);
    expect(ledgers[2]?.processes).toEqual([expect.objectContaining({ pod: 'a', started: 't2' })]);
  });

  it('keeps every replica’s spend when the agent scales from three to one', () => {
    const ledgers = steps([
      [pod('a', 't', entry(100n)), pod('b', 't', entry(200n)), pod('c', 't', entry(300n))],
      [pod('a', 't', entry(100n))],
    ]);
    expect(ledgers.map(total)).toEqual([600n, 600n]);
  });

  it('keeps a process’s high-water mark when a report comes back smaller', () => {
    const ledgers = steps([[pod('a', 't', entry(400n))], [pod('a', 't', entry(300n))]]);
    expect(ledgers.map(total)).toEqual([400n, 400n]);
  });

  it('counts the calls a gone process had in flight as spent', () => {
    const ledgers = steps([[pod('a', 't', entry(400n, 90n))], []]);
    expect(ledgers.map(total)).toEqual([490n, 490n]);
    expect(ledgers[1]?.baseline?.[0]?.picoUsd).toBe('490');
  });

  it('starts a new period from zero', () => {
    const first = foldSpend(undefined, [pod('a', 't', entry(700n))], policy(), NOW);
    const tomorrow = Date.parse('2026-11-25T00:00:01.000Z');
    const next = foldSpend(first, [pod('a', 't', entry(700n))], policy(), tomorrow);
    expect(total(next)).toBe(0n);
    expect(next.baseline).toEqual([]);
    // the process reports its new period
    const reported = foldSpend(
      next,
      [pod('a', 't', entry(5n, 0n, { periodStart: '2026-11-25T00:00:00.000Z' }))],
      policy(),
      tomorrow + 1000,
    );
    expect(total(reported)).toBe(5n);
  });

  it('drops a budget the policy no longer has', () => {
    const first = foldSpend(undefined, [pod('a', 't', entry(700n))], policy(), NOW);
    const renamed = foldSpend(first, [], policy(budget({ name: 'other' })), NOW + 1000);
    expect(ledgerTotals(renamed).size).toBe(0);
  });

  it('does not add up store reports, which are the agent-wide figure on every pod', () => {
    const ledger = foldSpend(
      undefined,
      [pod('a', 't', entry(700n), 'store'), pod('b', 't', entry(700n), 'store')],
      policy(),
      NOW,
    );
    expect(ledger.processes).toEqual([]);
  });

  it('bounds per-key spend: a key is never counted below what it spent', () => {
    const keyed = (keys: [string, bigint][], others: bigint): BudgetReportEntry =>
      entry(keys.reduce((s, [, p]) => s + p, 0n) + others, 0n, {
        keys: keys.map(([key, picoUsd]) => ({ key, picoUsd, tokens: 0 })),
        others: { picoUsd: others, tokens: 0 },
      });
    const p = policy(budget({ per: 'ClientKey' }));
    const ledgers = steps(
      [
        [
          pod(
            'a',
            't',
            keyed(
              [
                ['key-a', 300n],
                ['key-b', 100n],
              ],
              0n,
            ),
          ),
          pod('b', 't', keyed([['key-c', 50n]], 20n)),
        ],
        [pod('b', 't', keyed([['key-c', 50n]], 20n))],
      ],
      p,
    );
    const totals = ledgerTotals(ledgers[1]);
    // key-a: 300 in the gone process, at most 20 in b, which does not name it.
    expect(totals.get('daily')?.keys.get('key-a')?.picoUsd).toBe(320n);
    expect(totals.get('daily')?.keys.get('key-c')?.picoUsd).toBe(50n);
    expect(totals.get('daily')?.others.picoUsd).toBe(20n);
  });

  it('samples the total every few minutes and keeps an anchor an hour back', () => {
    let ledger: SpendLedger | undefined;
    for (let minute = 0; minute <= 90; minute++)
      ledger = foldSpend(
        ledger,
        [pod('a', 't', entry(BigInt(minute) * 1000n))],
        policy(),
        NOW + minute * 60_000,
      );
    const at = (ledger?.samples ?? []).map((s) => (Date.parse(s.at) - NOW) / 60_000);
    expect(at[0]).toBeLessThanOrEqual(30);
    expect(at.at(-1)).toBe(90);
    expect(at.length).toBeLessThanOrEqual((60 * 60_000) / SAMPLE_EVERY_MS + 2);
  });
});
