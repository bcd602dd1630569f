/**
 * Response headers as they arrive from the SDK (a fetch `Headers`) or from a raw HTTP
 * outcome (a plain record, as node:http gives them). Names are matched case-insensitively.
 */

export type HeaderSource =
  | { get(name: string): string | null }
  | Readonly<Record<string, string | readonly string[] | number | undefined>>;

export function readHeader(
  headers: HeaderSource | undefined | null,
  name: string,
): string | undefined {
  if (headers === undefined || headers === null) return undefined;
  if (typeof headers.get === 'function') {
    const value = (headers as { get(name: string): string | null }).get(name);
    return value ?? undefined;
  }
  const record = headers as Readonly<
    Record<string, string | readonly string[] | number | undefined>
  >;
  let value = record[name];
  if (value === undefined) {
    for (const key of Object.keys(record)) {
      if (key.toLowerCase() === name) {
        value = record[key];
        break;
      }
    }
  }
  if (value === undefined) return undefined;
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return value;
  return value[0];
}

/** A header's value as a finite number; undefined when absent or not a number. */
export function readNumberHeader(
  headers: HeaderSource | undefined | null,
  name: string,
): number | undefined {
  const raw = readHeader(headers, name);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  return Number.isFinite(value) ? value : undefined;
}

/**
 * `retry-after-ms` (milliseconds, non-standard but sent by some gateways) wins over
 * `retry-after` (seconds, or an HTTP date measured against `now`). Undefined when absent or
 * unreadable; never negative.
 */
export function parseRetryAfterMs(
  headers: HeaderSource | undefined | null,
  now: number,
): number | undefined {
  const ms = readHeader(headers, 'retry-after-ms');
  if (ms !== undefined) {
    const value = Number.parseFloat(ms);
    if (Number.isFinite(value) && value >= 0) return Math.ceil(value);
  }
  const after = readHeader(headers, 'retry-after');
  if (after === undefined) return undefined;
  const trimmed = after.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.ceil(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}
