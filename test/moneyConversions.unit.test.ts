/**
 * Money is one type (contract/src/spend/money.ts): only that file turns picodollars into
 * dollars, micro-dollars or the store's two integers and back. A conversion written by hand
 * elsewhere is where a unit slips: a factor of a million off, or a float sum that no longer
 * adds up to the budget.
 */
import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
/** money.ts, and the API's grammar that reads "12.5" into the policy document's micro-dollars. */
const THE_CONVERTERS = ['contract/src/spend/money.ts', 'contract/src/api/usd.ts'];
/** Folders whose sources and tests are held to it. */
const FOLDERS = ['contract', 'operator', 'runtime', 'simulator', 'plugin', 'platform', 'test'];
/** Files allowed to convert by hand for now: none. */
const NOT_YET: readonly string[] = [];

/** A dollar factor or a hand-made dollar format, anywhere. */
const EVERYWHERE: readonly RegExp[] = [
  /\b10n\s*\*\*\s*12n\b/,
  /\b1_?000_?000_?000_?000n\b/,
  /\b1e12\b/,
  /\bformatUsd\s*\(/,
  /\bPICODOLLARS_PER_USD\b/,
];
/**
 * Micro-dollars to picodollars by hand, or a unit factor of its own: in a shipped source (a
 * test's prices per token may read so, and a test may name a dollar money.ts made).
 */
const IN_SOURCES: readonly RegExp[] = [
  /[*/%]\s*1_?000_?000n\b/,
  /\b(?:PICO|MICRO)S?_PER_(?:PICO|MICRO|USD)S?\s*=/i,
];

function convertsByHand(source: string, isTest: boolean): boolean {
  const rules = isTest ? EVERYWHERE : [...EVERYWHERE, ...IN_SOURCES];
  return rules.some((rule) => rule.test(source));
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.name === 'node_modules' || entry.name === 'generated') return [];
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

const isTestFile = (path: string): boolean => path.endsWith('.test.ts') || path.startsWith('test/');

describe('conversions of money', () => {
  it.each<[string, string, boolean, boolean]>([
    ['count a dollar of picodollars as a power', 'const usd = 10n ** 12n;', false, true],
    ['count it spelled out', 'x * 1_000_000_000_000n', true, true],
    ['count a float division', 'Number(pico) / 1e12', false, true],
    ['count the old formatter', 'formatUsd(pico, 10n)', true, true],
    ['count micro-dollars made picodollars', 'BigInt(limit) * 1_000_000n', false, true],
    ['count a split into micro-dollars', 'pico % 1_000_000n', false, true],
    ['count a unit factor of its own', 'const PICO_PER_MICRO = 1_000_000n;', false, true],
    [
      "leave out a test's dollar from money.ts",
      'const PICO_PER_USD = moneyFromUsd(1);',
      true,
      false,
    ],
    ["leave out a test's price per token", 'BigInt(tokens) * 1_000_000n', true, false],
    ['leave out a million tokens', 'limitTokens: 1_000_000n,', false, false],
    ['leave out money.ts called', 'formatMoney(pico)', false, false],
  ])('%s', (_name, source, isTest, expected) => {
    expect(convertsByHand(source, isTest)).toBe(expected);
  });

  it('are written in money.ts alone', () => {
    const converters = FOLDERS.flatMap((folder) => sourceFiles(join(ROOT, folder)))
      .map((path) => relative(ROOT, path))
      .filter(
        (path) => !THE_CONVERTERS.includes(path) && path !== 'test/moneyConversions.unit.test.ts',
      )
      .filter((path) => convertsByHand(readFileSync(join(ROOT, path), 'utf8'), isTestFile(path)));
    expect(converters).toEqual(NOT_YET);
  });
});
