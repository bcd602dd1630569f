/**
 * Durations as policies spell them ("30s", "1m30s", "500ms", "1.5h") turned into milliseconds.
 * The grammar is Go's time.ParseDuration restricted to the units a resilience policy needs.
 */

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

const PART = /(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h)/y;

export class InvalidDurationError extends Error {
  readonly code = 'INVALID_DURATION';
  readonly input: string;

  constructor(input: string) {
    super(
      `invalid duration ${JSON.stringify(input)}: expected numbers with units ms, s, m or h, e.g. "500ms", "30s", "1m30s"`,
    );
    this.name = 'InvalidDurationError';
    this.input = input;
  }
}

export function isInvalidDurationError(err: unknown): err is InvalidDurationError {
  return err instanceof InvalidDurationError;
}

/** Parses "1m30s" into 90000. "0" alone is accepted (Go does too); anything else needs a unit. */
export function parseDuration(input: string): number {
  const text = input.trim();
  if (text === '0') return 0;
  if (text === '') throw new InvalidDurationError(input);
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < text.length) {
    const start = PART.lastIndex;
    const match = PART.exec(text);
    if (match === null || match.index !== start) throw new InvalidDurationError(input);
    const [, amount, unit] = match;
    total += Number(amount) * (UNIT_MS[unit ?? ''] ?? Number.NaN);
  }
  if (!Number.isFinite(total)) throw new InvalidDurationError(input);
  return Math.round(total);
}

/** A number is taken as milliseconds already; a string is parsed. */
export function toMilliseconds(value: number | string): number {
  return typeof value === 'number' ? value : parseDuration(value);
}
