/**
 * The runs attack.ts appended to runs.jsonl, as the Markdown table REPORT.md carries:
 *
 *   node attacks/store-failover/summarize.ts
 */
import { readFileSync } from 'node:fs';

interface Run {
  readonly label: string;
  readonly when: string;
  readonly options: Readonly<Record<string, string>>;
  readonly calls: number;
  readonly served: number;
  readonly failed: number;
  readonly promotedAfterMs: number;
  readonly backOnStoreAfterMs: number;
  readonly budgetUsd: number;
  readonly billedUsd: number;
  readonly pastBudgetUsd: number;
  readonly lostAtFaultUsd: number;
  readonly onSharesUsd: number;
  readonly onSharesCalls: number;
  readonly heldAtFaultUsd: number;
  readonly boundUsd: number;
  readonly withinBound: boolean;
  readonly forgottenUsd?: number;
  readonly leasesOnCurrent?: number;
  readonly reservedOnCurrentUsd?: number | null;
  readonly unacknowledged: number;
  readonly auditSettlements: number;
  readonly load: readonly number[];
}

const runs = readFileSync(new URL('./runs.jsonl', import.meta.url), 'utf8')
  .split('\n')
  .filter((line) => line.trim() !== '')
  .map((line) => JSON.parse(line) as Run);

const header = [
  'when (UTC)',
  'label',
  'runtimes×callers',
  'ack',
  'calls',
  'failed',
  'promoted s',
  'back s',
  'limit $',
  'billed $',
  'past $',
  'on shares $ (calls)',
  'held at fault $',
  'lost at fault $',
  'bound $',
  'within',
  'forgotten $',
  'holds left',
  'unack',
  'load',
];
const rows = runs.map((r) => [
  r.when.slice(11, 19),
  r.label,
  `${r.options['runtimes'] ?? '3'}×${r.options['callers'] ?? '1'}`,
  r.options['acknowledge'] ?? 'Primary',
  String(r.calls),
  String(r.failed),
  (r.promotedAfterMs / 1000).toFixed(1),
  (r.backOnStoreAfterMs / 1000).toFixed(1),
  String(r.budgetUsd),
  r.billedUsd.toFixed(6),
  r.pastBudgetUsd.toFixed(6),
  `${r.onSharesUsd.toFixed(6)} (${String(r.onSharesCalls)})`,
  r.heldAtFaultUsd.toFixed(6),
  r.lostAtFaultUsd.toFixed(6),
  r.boundUsd.toFixed(6),
  r.withinBound ? 'yes' : '**no**',
  r.forgottenUsd === undefined ? '–' : r.forgottenUsd.toFixed(6),
  r.leasesOnCurrent === undefined
    ? '–'
    : `${String(r.leasesOnCurrent)} ($${(r.reservedOnCurrentUsd ?? 0).toFixed(6)})`,
  String(r.unacknowledged),
  r.load.map((x) => x.toFixed(1)).join('/'),
]);
console.log(`| ${header.join(' | ')} |`);
console.log(`| ${header.map(() => '---').join(' | ')} |`);
for (const row of rows) console.log(`| ${row.join(' | ')} |`);
