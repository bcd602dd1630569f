/**
 * Money: an amount of US dollars as a whole number of picodollars (10⁻¹² USD), and every
 * conversion to and from it, written once. A price in micro-dollars per million tokens is
 * picodollars per token, so a call's cost is a product of integers and sums never round.
 *
 * `Money` is a bigint, named, not a brand or an object: the budget ledger and the store's
 * scripts add and compare amounts on every call, and a brand would need a cast at each sum, an
 * object an allocation. What keeps units apart is that nothing else converts:
 * test/moneyConversions.unit.test.ts fails on a dollar constant or a hand-made format outside
 * this file.
 *
 * The forms money takes at the edges:
 * - the API's decimal strings ("500", "0.25"; contract/src/api/usd.ts holds their grammar):
 *   parseMoney, and the policy document's micro-dollar integers: moneyFromMicros;
 * - exact decimal dollars for messages and status (formatMoney, read back by
 *   parseFormattedMoney), micro-dollars rounded up for
 *   a short figure (formatMoneyShort), the nearest float for a metric (moneyToUsdNumber);
 * - the store's scripts: micro-dollars and the picodollars past them, two integers a Lua double
 *   holds exactly (moneyToScriptArgs, moneyFromScript);
 * - status and the spend ledger: picodollars as a decimal integer string (moneyText,
 *   moneyFromText).
 */
import { parseUsdMicros } from '../api/usd.ts';

/** US dollars in picodollars (10⁻¹² USD). */
export type Money = bigint;

const PICO_PER_USD = 1_000_000_000_000n;
const PICO_PER_MICRO = 1_000_000n;
const PICO_PER_MICRO_NUMBER = 1_000_000;
const SAFE = BigInt(Number.MAX_SAFE_INTEGER);

export const NO_MONEY: Money = 0n;

/** "12.5" → $12.50 exactly (at most 6 decimals; InvalidUsdError names the input otherwise). */
export function parseMoney(usd: string): Money {
  return moneyFromMicros(parseUsdMicros(usd));
}

/** A whole number of micro-dollars (the policy document's `…MicroUsd` fields). */
export function moneyFromMicros(micros: number | bigint): Money {
  return BigInt(micros) * PICO_PER_MICRO;
}

/** Whole dollars: `usd(5)` is $5. */
export function moneyFromUsd(dollars: number | bigint): Money {
  return BigInt(dollars) * PICO_PER_USD;
}

/** Exact decimal dollars without trailing zeros: 12.5 USD is "12.5", 3 picodollars "0.000000000003". */
export function formatMoney(amount: Money): string {
  return decimal(amount, PICO_PER_USD, 12);
}

/**
 * A figure formatMoney wrote (status `usd` fields: up to 12 decimals) back into money;
 * absent: nothing. Places past the twelfth are dropped.
 */
export function parseFormattedMoney(usd: string | undefined): Money {
  if (usd === undefined) return NO_MONEY;
  const [whole = '0', fraction = ''] = usd.split('.');
  return BigInt(whole) * PICO_PER_USD + BigInt(fraction.padEnd(12, '0').slice(0, 12));
}

/** Dollars to the micro-dollar, rounded up: a figure for a message, never shown as less than spent. */
export function formatMoneyShort(amount: Money): string {
  const up = amount < 0n ? -ceilMicros(-amount) : ceilMicros(amount);
  return decimal(up, 1_000_000n, 6);
}

/** The nearest float in dollars, for a metric (read from the exact decimal, not summed as floats). */
export function moneyToUsdNumber(amount: Money): number {
  return Number(formatMoney(amount));
}

/** Micro-dollars rounded up: the smallest whole number of them that covers the amount. */
function ceilMicros(amount: Money): bigint {
  return (amount + PICO_PER_MICRO - 1n) / PICO_PER_MICRO;
}

/** As the store's scripts take an amount: micro-dollars, then the picodollars past them. */
export function moneyToScriptArgs(amount: Money): [string, string] {
  if (amount < 0n || amount > SAFE)
    return [(amount / PICO_PER_MICRO).toString(), (amount % PICO_PER_MICRO).toString()];
  // Up to $9,007 a whole number of picodollars is exact as a double, and so are its
  // remainder and the multiple of a million below it divided by a million: no bigint division.
  const n = Number(amount);
  const past = n % PICO_PER_MICRO_NUMBER;
  return [String((n - past) / PICO_PER_MICRO_NUMBER), String(past)];
}

/**
 * An amount the store's scripts hand back as micro-dollars and the picodollars past them
 * (whole numbers). Throws on anything else: a budget read
 * wrong must not pass for zero.
 */
export function moneyFromScript(micros: unknown, pico: unknown): Money {
  const p = wholeNumber(pico);
  if (p >= PICO_PER_MICRO_NUMBER)
    throw new Error(
      `a budget amount from the store has ${String(p)} picodollars past its microdollars`,
    );
  return BigInt(wholeNumber(micros)) * PICO_PER_MICRO + BigInt(p);
}

/** Picodollars as a decimal integer string (status and the spend ledger carry this). */
export function moneyText(amount: Money): string {
  return amount.toString();
}

/** A status field's picodollars; absent or not a whole number: nothing. */
export function moneyFromText(text: string | undefined): Money {
  return text !== undefined && /^[0-9]+$/.test(text) ? BigInt(text) : NO_MONEY;
}

/** The larger of two amounts. */
export function maxMoney(a: Money, b: Money): Money {
  return a > b ? a : b;
}

/** A whole number from a script (Redis hands a Lua number to a client as an integer). */
function wholeNumber(value: unknown): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  throw new Error(`a budget amount from the store is not a whole number: ${JSON.stringify(value)}`);
}

function decimal(amount: bigint, unitsPerUsd: bigint, places: number): string {
  const sign = amount < 0n ? '-' : '';
  const magnitude = amount < 0n ? -amount : amount;
  const fraction = String(magnitude % unitsPerUsd)
    .padStart(places, '0')
    .replace(/0+$/, '');
  return `${sign}${String(magnitude / unitsPerUsd)}${fraction === '' ? '' : `.${fraction}`}`;
}
