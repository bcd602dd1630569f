import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { InvalidUsdError, USD_MAX_MICROS } from '../api/usd.ts';
import {
  formatMoney,
  formatMoneyShort,
  moneyFromMicros,
  moneyFromScript,
  moneyFromText,
  moneyFromUsd,
  moneyText,
  moneyToScriptArgs,
  moneyToUsdNumber,
  parseFormattedMoney,
  parseMoney,
  type Money,
} from './money.ts';

const SEED = 503;
const RUNS = Number(process.env.BREAKWATER_PROPERTY_RUNS ?? '500');
const options = { seed: SEED, numRuns: RUNS };
const TWO_TO_THE_53 = 2n ** 53n;
/** Any amount up to 10³⁰ picodollars, well past what a double holds exactly. */
const anyMoney = fc.bigInt({ min: 0n, max: 10n ** 30n });

describe('money read from the API', () => {
  it.each<[string, Money]>([
    ['500', 500_000_000_000_000n],
    ['12.5', 12_500_000_000_000n],
    ['0.000001', 1_000_000n],
    ['0', 0n],
    ['999999.999999', 999_999_999_999_000_000n],
  ])('reads "%s" as %p picodollars', (text, pico) => {
    expect(parseMoney(text)).toBe(pico);
  });

  it.each(['1.0000001', '-1', '1e3', ' 1', '0x10', '1,5', ''])(
    'refuses "%s", naming it',
    (text) => {
      expect(() => parseMoney(text)).toThrow(InvalidUsdError);
      expect(() => parseMoney(text)).toThrow(JSON.stringify(text));
    },
  );

  it('refuses a YAML number that is not a string', () => {
    expect(() => parseMoney(5 as unknown as string)).toThrow(InvalidUsdError);
  });

  it('is what the policy document holds in micro-dollars, a million picodollars each', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: USD_MAX_MICROS }), (micros) => {
        const text = formatMoney(moneyFromMicros(micros));
        expect(parseMoney(text)).toBe(moneyFromMicros(micros));
      }),
      options,
    );
  });
});

describe('money written as dollars', () => {
  it.each<[string, Money, string]>([
    ['a whole dollar', moneyFromUsd(2), '2'],
    ['without trailing zeros', 12_500_000_000_000n, '12.5'],
    ['to the picodollar', 3n, '0.000000000003'],
    ['past 2^53 picodollars, exactly', 2n ** 64n + 1n, '18446744.073709551617'],
    ['below zero', -1_500_000_000_000n, '-1.5'],
  ])('writes %s', (_name, amount, text) => {
    expect(formatMoney(amount)).toBe(text);
  });

  it('reads back what it wrote, for any amount (no float on the way)', () => {
    fc.assert(
      fc.property(anyMoney, (amount) => {
        expect(parseFormattedMoney(formatMoney(amount))).toBe(amount);
      }),
      options,
    );
  });

  it('writes a short figure never below the amount and less than a micro-dollar above it', () => {
    expect(formatMoneyShort(1n)).toBe('0.000001');
    expect(formatMoneyShort(moneyFromMicros(1))).toBe('0.000001');
    fc.assert(
      fc.property(anyMoney, (amount) => {
        const shown = parseFormattedMoney(formatMoneyShort(amount));
        expect(shown >= amount && shown - amount < 1_000_000n).toBe(true);
      }),
      options,
    );
  });

  it('gives a metric the float nearest the exact amount', () => {
    expect(moneyToUsdNumber(29_611_500_000n)).toBe(0.0296115);
    expect(moneyToUsdNumber(moneyFromUsd(3))).toBe(3);
  });
});

describe('money as the store and status carry it', () => {
  it('splits an amount into micro-dollars and the picodollars past them, around 2^53', () => {
    for (const pico of [0n, 1n, 999_999n, 1_000_000n, 1_000_001n, TWO_TO_THE_53 - 1n]) {
      const [micros, past] = moneyToScriptArgs(pico);
      expect(BigInt(micros) * 1_000_000n + BigInt(past)).toBe(pico);
      expect(BigInt(past) < 1_000_000n).toBe(true);
    }
    expect(moneyToScriptArgs(TWO_TO_THE_53 - 1n)).toEqual(['9007199254', '740991']);
    expect(moneyToScriptArgs(TWO_TO_THE_53 + 1n)).toEqual(['9007199254', '740993']);
  });

  it('reads back from the store what it gave it, for any amount a micro-dollar count holds', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 21n }), (amount) => {
        const [micros, past] = moneyToScriptArgs(amount);
        expect(moneyFromScript(Number(micros), Number(past))).toBe(amount);
      }),
      options,
    );
  });

  it.each<[string, unknown, unknown]>([
    ['a fraction', 1.5, 0],
    ['a string', '1', 0],
    ['a negative count', -1, 0],
    ['a million picodollars past the micro-dollars', 1, 1_000_000],
  ])('refuses %s from the store', (_name, micros, pico) => {
    expect(() => moneyFromScript(micros, pico)).toThrow(/budget amount from the store/);
  });

  it('writes status amounts as decimal picodollars and reads them back', () => {
    fc.assert(
      fc.property(anyMoney, (amount) => {
        expect(moneyFromText(moneyText(amount))).toBe(amount);
      }),
      options,
    );
    expect(moneyFromText(undefined)).toBe(0n);
    expect(moneyFromText('1.5')).toBe(0n);
  });
});
