/**
 * What docs/monitoring.md and docs/runbook.md promise on-call, read back for the tests that
 * hold them to the rule file and to the metrics the runtime registers: the rows of a
 * Markdown table under a heading, and a runbook's Contents list.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './promtool.ts';

export const MONITORING_DOC = join(repoRoot, 'docs/monitoring.md');
export const RUNBOOK_DOC = join(repoRoot, 'docs/runbook.md');

/** A table row: its cells, trimmed, without the outer pipes. */
export type TableRow = readonly string[];

/** The body rows of the first table after the `## <heading>` line, before the next `## `. */
export function tableUnder(markdown: string, heading: string): TableRow[] {
  const lines = markdown.split('\n');
  const start = lines.indexOf(`## ${heading}`);
  if (start === -1) throw new Error(`no "## ${heading}" section`);
  const rows: TableRow[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.startsWith('## ')) break;
    if (!line.startsWith('|')) {
      if (rows.length > 0) break;
      continue;
    }
    // A `\|` inside a cell is text, not a cell boundary.
    const cells = line
      .slice(1, line.trimEnd().endsWith('|') ? line.trimEnd().length - 1 : undefined)
      .split(/(?<!\\)\|/)
      .map((cell) => cell.trim());
    rows.push(cells);
  }
  // Drop the header and its --- separator.
  return rows.slice(2);
}

/** The `code` spans of a cell: `a`, `b` → [a, b]. */
export function codeSpans(cell: string): string[] {
  return [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1] ?? '');
}

/** The Runtime metrics table as metric name → the labels its row lists (wildcards left out). */
export function documentedRuntimeMetrics(markdown: string): Map<string, readonly string[]> {
  const metrics = new Map<string, readonly string[]>();
  for (const [names = '', , labels = ''] of tableUnder(markdown, 'Runtime metrics')) {
    for (const name of codeSpans(names).filter((n) => !n.includes('*'))) {
      metrics.set(name, codeSpans(labels));
    }
  }
  return metrics;
}

/** The Alerts table as alert → severity. */
export function documentedAlerts(markdown: string): Map<string, string> {
  return new Map(
    tableUnder(markdown, 'Alerts').map(([alert = '', severity = '']) => [
      codeSpans(alert)[0] ?? alert,
      severity,
    ]),
  );
}

/** The section titles a runbook's Contents list links to, and the `## ` sections it has. */
export function runbookContents(markdown: string): { listed: string[]; sections: string[] } {
  const contents = markdown.slice(markdown.indexOf('Contents:'), markdown.indexOf('\n## '));
  return {
    listed: [...contents.matchAll(/^- \[([^\]]+)\]\(#[^)]+\)$/gm)].map((m) => m[1] ?? ''),
    sections: [...markdown.matchAll(/^## (.+)$/gm)].map((m) => m[1] ?? ''),
  };
}

export function readDoc(file: string): string {
  return readFileSync(file, 'utf8');
}
