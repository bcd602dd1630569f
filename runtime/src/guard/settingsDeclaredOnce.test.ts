/**
 * Each policy setting is declared once, in the schema: shipped code takes the document's
 * value as it is. This fails when any shipped file restates a default or a bound of a setting
 * the mapping table (contract/src/policy/documentFields.ts) names — `maxQueue ?? 64`, `maxAttempts > 20`, `Math.min(maxDelayMs, 8000)` — on the line that
 * names the setting.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import {
  DOCUMENT_FIELDS,
  type DocumentSection,
} from '../../../contract/src/policy/documentFields.ts';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const SHIPPED = [
  'contract/src',
  'runtime/src',
  'operator/src',
  'plugin/src',
  'simulator/src',
  'platform/src',
];

/**
 * Every setting the document carries, as the mapping table names it, but `size`: every Map and
 * Set has one.
 */
const SETTINGS: readonly string[] = [
  ...new Set(
    Object.values(DOCUMENT_FIELDS).flatMap((root) =>
      Object.values(root.sections as Readonly<Record<string, DocumentSection>>).flatMap((s) =>
        Object.keys(s),
      ),
    ),
  ),
].filter((name) => name !== 'size');

/** Code that uses a setting's word for something else says so on the line above: `settings-check: <why>`. */
const OTHER_MEANING = /settings-check:/;

/** Every shipped source file (no tests), by path from the repository root. */
function shippedFiles(): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return walk(path);
      return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : [];
    });
  return SHIPPED.flatMap((dir) => walk(join(ROOT, dir)))
    .map((path) => relative(ROOT, path))
    .filter((path) => !/Fixtures?\.ts$/.test(path));
}

/** A literal default other than none (`?? 64`) or a literal bound (`> 20`, `<= 1_000`). */
const RESTATED = /\?\?\s*-?(?:0*[1-9][\d_]*|0?\.\d+)\b|[<>]=?\s*-?[\d_.]*[1-9][\d_.]*\b/;
/** The arguments of each innermost Math.min / Math.max: a clamp to a literal. */
const CLAMP = /Math\.(?:min|max)\(([^()]*)\)/g;
const LITERAL = /(?<![\w.])[1-9][\d_]*\b/;

export function restatements(file: string, source: string): string[] {
  const fields = SETTINGS;
  const found: string[] = [];
  source.split('\n').forEach((line, index, lines) => {
    if (OTHER_MEANING.test(lines[index - 1] ?? '')) return;
    const code = line.replace(/\/\/.*$/, '').replace(/^\s*\*.*$/, '');
    const names = (text: string): boolean =>
      fields.some((f) => new RegExp(`\\b${f}\\b`).test(text));
    if (!names(code)) return;
    const clamped = [...code.matchAll(CLAMP)].some(
      ([, args = '']) => names(args) && LITERAL.test(args),
    );
    if (RESTATED.test(code) || clamped) found.push(`${file}:${index + 1}: ${line.trim()}`);
  });
  return found;
}

describe('shipped code restates no setting', () => {
  it('finds the kinds of restatement it is meant to', () => {
    expect(
      restatements('bulkhead.ts', '    replicaMaxQueue: input.replicaMaxQueue ?? 64,'),
    ).toHaveLength(1);
    expect(
      restatements('retry.ts', "  if (o.maxAttempts > 20) throw new Error('x');"),
    ).toHaveLength(1);
    expect(restatements('retry.ts', '  const cap = Math.min(o.maxDelayMs, 8000);')).toHaveLength(1);
    expect(restatements('retry.ts', '  if (attempt >= o.maxAttempts) return NO_RETRY;')).toEqual(
      [],
    );
  });

  it('catches a default planted in a shipped file', () => {
    const file = 'runtime/src/guard/consecutiveFailures.ts';
    const source = readFileSync(join(ROOT, file), 'utf8');
    const planted = source.replace('settings.failureThreshold;', 'settings.failureThreshold ?? 5;');
    expect(planted).not.toBe(source);
    expect(restatements(file, planted)).toHaveLength(1);
  });

  it('reads every shipped file', () => {
    expect(shippedFiles()).toEqual(
      expect.arrayContaining([
        'contract/src/policy/policyResolution.ts',
        'runtime/src/guard/bulkhead.ts',
        'operator/src/status/policyStatus.ts',
      ]),
    );
  });

  it.each(shippedFiles())('%s takes the document’s values as they are', (file) => {
    expect(restatements(file, readFileSync(join(ROOT, file), 'utf8'))).toEqual([]);
  });
});
