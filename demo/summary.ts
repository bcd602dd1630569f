/** The demo's closing table and its one-line result (pure: numbers in, text out). */
import type { Tally } from './traffic.ts';
import { median as sampleMedian } from '../tools/stats/samples.ts';

export interface PhaseRow {
  readonly name: string;
  readonly tally: Tally;
}

export interface DemoResult {
  readonly requests: number;
  readonly ok: number;
  readonly failedFast: number;
  readonly rejected: number;
  readonly lost: number;
  readonly trips: number;
  readonly reloadMs: number;
}

/** The last line of every complete run; tests and scripts read it. */
export function resultLine(result: DemoResult): string {
  return (
    `demo: requests=${result.requests} ok=${result.ok} failed_fast=${result.failedFast} ` +
    `rejected=${result.rejected} lost=${result.lost} trips=${result.trips} reload_ms=${result.reloadMs}`
  );
}

/** Parses a result line back (for the test); undefined when the line is not one. */
export function parseResultLine(line: string): DemoResult | undefined {
  const match =
    /^demo: requests=(\d+) ok=(\d+) failed_fast=(\d+) rejected=(\d+) lost=(\d+) trips=(\d+) reload_ms=(\d+)$/.exec(
      line.trim(),
    );
  if (match === null) return undefined;
  const [requests, ok, failedFast, rejected, lost, trips, reloadMs] = match.slice(1).map(Number);
  return {
    requests: requests ?? 0,
    ok: ok ?? 0,
    failedFast: failedFast ?? 0,
    rejected: rejected ?? 0,
    lost: lost ?? 0,
    trips: trips ?? 0,
    reloadMs: reloadMs ?? 0,
  };
}

const COLUMNS = [
  'phase',
  'requests',
  'ok',
  'via fallback',
  'failed fast',
  'rejected 429',
  'failed',
  'lost',
  'p50 ok',
  'p50 fast',
] as const;

/** One row per phase and a total, aligned; latencies as medians in milliseconds. */
export function summaryTable(rows: readonly PhaseRow[], total: Tally): string {
  const cells = [...rows, { name: 'total', tally: total }].map(({ name, tally }) => [
    name,
    String(tally.requests),
    String(tally.ok),
    String(tally.fallback),
    String(tally.failedFast),
    String(tally.rejected),
    String(tally.failed),
    String(tally.lost),
    milliseconds(median(tally.latencies.ok)),
    milliseconds(median(tally.latencies.failedFast)),
  ]);
  const table = [[...COLUMNS], ...cells];
  const widths = COLUMNS.map((_, i) => Math.max(...table.map((row) => (row[i] ?? '').length)));
  const format = (row: readonly string[]): string =>
    row
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '─'.repeat(w)).join('  ');
  const [header, ...body] = table;
  const lines = [format(header ?? []), rule, ...body.map(format)];
  // A rule above the total.
  lines.splice(lines.length - 1, 0, rule);
  return lines.join('\n');
}

export function median(values: readonly number[]): number | undefined {
  return values.length === 0 ? undefined : sampleMedian(values);
}

export function milliseconds(ms: number | undefined): string {
  if (ms === undefined) return '-';
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}
