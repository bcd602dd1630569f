/**
 * bench/results/*.json say which file each figure came from. A path there that no longer exists
 * (a file moved since, as the budget files moved from runtime/src/guard/ to runtime/src/budget/)
 * sends a reader to nothing: every source path a results file names must exist.
 */
import { describe, expect, it } from '@jest/globals';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
const RESULTS = join(ROOT, 'bench/results');

/**
 * A file under dist/ exists only after `make build`, and the unit tests run before it in a fresh
 * clone: such a path stands for the source it is built from, which must exist. `dist/a/b.js` is built
 * from `a/b.ts`; the runtime's bundle, `dist/runtime/bundle/x.js`, from `runtime/src/x.ts`.
 */
function sourceOf(path: string): string {
  if (!path.startsWith('dist/')) return path;
  return path
    .slice('dist/'.length)
    .replace(/^runtime\/bundle\//, 'runtime/src/')
    .replace(/\.js$/, '.ts');
}

/** The repository paths of source files `text` names: `runtime/src/x.ts`, `test/y.lua`. */
function sourcePaths(text: string): string[] {
  return [...text.matchAll(/(?<![\w./-])((?:[\w.-]+\/)+[\w.-]+\.(?:ts|js|lua))\b/g)].map(
    (m) => m[1] ?? '',
  );
}

describe('bench/results', () => {
  it('names only source files that exist', () => {
    const missing = readdirSync(RESULTS)
      .filter((name) => name.endsWith('.json'))
      .flatMap((name) =>
        sourcePaths(readFileSync(join(RESULTS, name), 'utf8'))
          .filter((path) => !existsSync(join(ROOT, sourceOf(path))))
          .map((path) => `${name}: ${path}`),
      );
    expect(missing).toEqual([]);
  });

  it.each([
    ['dist/runtime/src/main.js', 'runtime/src/main.ts'],
    ['dist/runtime/bundle/main.js', 'runtime/src/main.ts'],
    ['runtime/src/main.ts', 'runtime/src/main.ts'],
  ])('reads the built file %s as its source %s', (built, source) => {
    expect(sourceOf(built)).toBe(source);
  });

  it.each([
    ['a key', '"runtime/src/budget/budgetLedger.ts": {', ['runtime/src/budget/budgetLedger.ts']],
    [
      'inside prose',
      'the script (runtime/src/rateLimitStore/budget.lua)',
      ['runtime/src/rateLimitStore/budget.lua'],
    ],
    ['no folder, not a path', '"budgetLedger.ts"', []],
    ['an address', 'https://example.invalid/x/y.js', []],
  ])('reads %s as the check expects', (_case, text, paths) => {
    expect(sourcePaths(text)).toEqual(paths);
  });
});
