/**
 * Tables as kubectl prints them: upper-case headers, left-aligned columns three spaces apart,
 * no trailing spaces. Pure text, so every command's table is a unit test.
 */

export type Cell = string | number | null | undefined;

/** What an empty cell shows. */
export const NONE = '-';

export function renderTable(
  headers: readonly string[],
  rows: readonly (readonly Cell[])[],
): string {
  const text = [
    headers.map((h) => h.toUpperCase()),
    ...rows.map((row) => headers.map((_, i) => cellText(row[i]))),
  ];
  const widths = headers.map((_, i) => Math.max(...text.map((row) => (row[i] ?? '').length)));
  return text
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join('   ')
        .trimEnd(),
    )
    .join('\n')
    .concat('\n');
}

function cellText(cell: Cell): string {
  if (cell === null || cell === undefined || cell === '') return NONE;
  return String(cell);
}

/** `0.973` → `97.3%`; one decimal, and none needed for whole numbers. */
export function percent(ratio: number | null | undefined): string {
  if (ratio === null || ratio === undefined) return NONE;
  const value = Math.round(ratio * 1000) / 10;
  return `${String(value)}%`;
}

/** Milliseconds as a person reads them: `850ms`, `1.2s`, `2m05s`. */
export function millis(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return NONE;
  if (ms < 1) return `${(Math.round(ms * 100) / 100).toString()}ms`;
  if (ms < 1000) return `${Math.round(ms).toString()}ms`;
  if (ms < 60_000) return `${(Math.round(ms / 100) / 10).toString()}s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  return `${minutes.toString()}m${seconds.toString().padStart(2, '0')}s`;
}

/** How long ago, as kubectl's AGE column says it: `45s`, `12m`, `3h`, `5d`. */
export function age(fromMs: number, nowMs: number): string {
  const s = Math.max(0, Math.floor((nowMs - fromMs) / 1000));
  if (s < 120) return `${s.toString()}s`;
  if (s < 7200) return `${Math.floor(s / 60).toString()}m`;
  if (s < 172_800) return `${Math.floor(s / 3600).toString()}h`;
  return `${Math.floor(s / 86_400).toString()}d`;
}
