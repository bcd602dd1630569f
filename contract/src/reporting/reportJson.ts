/**
 * The first step of reading any pod report: the annotation's value as a JSON object, or
 * nothing. Reports come from processes the operator does not trust to be current or whole
 * (an older runtime, a hand edit, a truncated patch), so a value that is absent, not JSON or
 * not an object reads as no report, and each codec then checks its own fields.
 */
export type ReportObject = Readonly<Record<string, unknown>>;

export function isReportObject(value: unknown): value is ReportObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function readReportObject(value: string | undefined): ReportObject | undefined {
  if (value === undefined || value === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return undefined;
  }
  return isReportObject(parsed) ? parsed : undefined;
}
