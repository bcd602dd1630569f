import { isReportObject, readReportObject } from './reportJson.ts';

/**
 * The shape the per-name pod annotations share (breakers by breaker name, headroom by backend):
 * a JSON object of entries, written with sorted keys so that an unchanged report is an unchanged
 * string (no patch), and read entry by entry, a malformed entry skipped rather than trusted.
 */
export function encodeKeyedReport<E>(report: Readonly<Record<string, E>>): string {
  const sorted: Record<string, E> = {};
  for (const name of Object.keys(report).sort()) {
    const entry = report[name];
    if (entry !== undefined) sorted[name] = entry;
  }
  return JSON.stringify(sorted);
}

/** `readEntry` returns undefined for an entry it does not trust. */
export function decodeKeyedReport<E>(
  value: string | undefined,
  readEntry: (raw: Readonly<Record<string, unknown>>) => E | undefined,
): Record<string, E> {
  const parsed = readReportObject(value);
  const report: Record<string, E> = {};
  if (parsed === undefined) return report;
  for (const [name, raw] of Object.entries(parsed)) {
    if (!isReportObject(raw)) continue;
    const entry = readEntry(raw);
    if (entry !== undefined) report[name] = entry;
  }
  return report;
}
