/**
 * US dollar amounts as the API spells them: decimal strings ("500", "0.25", "3.75") with at
 * most six decimals, read exactly into whole micro-dollars. Never through a binary float:
 * 0.1 + 0.2 is not 0.3 there, and a budget must add up.
 *
 * Money in picodollars, and its formats, is contract/src/spend/money.ts.
 *
 * The schema's `UsdAmount` (crds/schemas/common.defs.json) states the same grammar as
 * USD_PATTERN; the generator refuses a dollar field whose pattern differs.
 */

/** The grammar of an amount: at most 6 digits before the point and 6 after. */
export const USD_PATTERN = '^(0|[1-9][0-9]{0,5})([.][0-9]{1,6})?$';
/** The CEL rule a dollar field that must be above zero carries (RateLimitPolicy budgets[].usd). */
export const USD_POSITIVE_RULE = "!self.matches('^0([.]0+)?$')";
/** Micro-dollars in one dollar: an amount's six decimals make it a whole number of them. */
export const MICROS_PER_USD = 1_000_000;
/** The largest amount, 999999.999999 dollars, in micro-dollars: well inside a safe integer. */
export const USD_MAX_MICROS = 999_999_999_999;

const AMOUNT = new RegExp(USD_PATTERN);

export class InvalidUsdError extends Error {
  readonly code = 'INVALID_USD';
  readonly input: string;

  constructor(input: string) {
    super(
      `invalid dollar amount ${JSON.stringify(input)}: expected a decimal string with at most 6 digits before the point and 6 after, e.g. "500" or "0.25"`,
    );
    this.name = 'InvalidUsdError';
    this.input = input;
  }
}

export function isInvalidUsdError(err: unknown): err is InvalidUsdError {
  return err instanceof InvalidUsdError;
}

/** "12.5" → 12500000, exactly: the digits are read as integers, never as a float. */
export function parseUsdMicros(input: string): number {
  // A YAML number (usd: 5) would pass the pattern as "5" and then not split.
  const given: unknown = input;
  if (typeof given !== 'string') throw new InvalidUsdError(JSON.stringify(given));
  if (!AMOUNT.test(input)) throw new InvalidUsdError(input);
  const [whole = '0', fraction = ''] = input.split('.');
  return Number(whole) * MICROS_PER_USD + Number(fraction.padEnd(6, '0'));
}
