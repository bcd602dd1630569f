/**
 * Validation at construction: every resolved option is checked once, and a bad value is
 * reported with the field's path and the range it must fall in, so a broken policy is
 * refused with a message an operator can act on.
 */

export class InvalidOptionError extends Error {
  readonly code = 'INVALID_OPTION';
  /** Dotted path of the offending field, e.g. "failureRate.window.size". */
  readonly field: string;
  /** What the field accepts, e.g. "an integer in [1, 1000]". */
  readonly allowed: string;

  constructor(owner: string, field: string, allowed: string, value: unknown) {
    super(`${owner}: ${field} must be ${allowed}, got ${describe(value)}`);
    this.name = 'InvalidOptionError';
    this.field = field;
    this.allowed = allowed;
  }
}

export function isInvalidOptionError(err: unknown): err is InvalidOptionError {
  return err instanceof InvalidOptionError;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === undefined) {
    return String(value);
  }
  const json: unknown = JSON.stringify(value);
  return typeof json === 'string' ? json : typeof value;
}

/** Collects the owner's name so each check only names its field. */
export class OptionChecker {
  readonly #owner: string;

  constructor(owner: string) {
    this.#owner = owner;
  }

  integer(field: string, value: number, min: number, max: number): number {
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new InvalidOptionError(this.#owner, field, `an integer in [${min}, ${max}]`, value);
    }
    return value;
  }

  number(field: string, value: number, min: number, max: number): number {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
      throw new InvalidOptionError(this.#owner, field, `a number in [${min}, ${max}]`, value);
    }
    return value;
  }

  /** Strictly positive, up to max. */
  positive(field: string, value: number, max: number): number {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > max) {
      throw new InvalidOptionError(this.#owner, field, `a number in (0, ${max}]`, value);
    }
    return value;
  }

  oneOf<T extends string>(field: string, value: T, allowed: readonly T[]): T {
    if (!allowed.includes(value)) {
      throw new InvalidOptionError(this.#owner, field, `one of ${allowed.join(', ')}`, value);
    }
    return value;
  }

  fail(field: string, allowed: string, value: unknown): never {
    throw new InvalidOptionError(this.#owner, field, allowed, value);
  }
}

/** Upper bound for any duration option: 24 hours is far beyond any sane policy. */
export const MAX_DURATION_MS = 86_400_000;
