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
  if (value === undefined || value === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return {};
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return {};
  const report: Record<string, E> = {};
  for (const [name, raw] of Object.entries(parsed as Record<string, unknown>)) {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) continue;
    const entry = readEntry(raw as Record<string, unknown>);
    if (entry !== undefined) report[name] = entry;
  }
  return report;
}
