/**
 * docs/guarantees.md names, for every promise, the tests that check it. A name there that no
 * test file holds is a promise that looks proven and is not: every quoted name after a cited
 * file must begin a string in that file (a `describe › it` pair is checked part by part, and a
 * name with `%s` as the `it.each` title it is).
 */
import { describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');

interface Citation {
  readonly row: string;
  readonly file: string;
  readonly name: string;
}

/** Every (row, file, name) the **Tests** entries of the page cite. */
function citations(page: string): Citation[] {
  const found: Citation[] = [];
  let row = '';
  let block: string[] | undefined;
  const flush = () => {
    if (block === undefined) return;
    const text = block.join(' ');
    const files = [...text.matchAll(/`([\w./-]+\.(?:ts|js))`/g)];
    files.forEach((file, i) => {
      const end = files[i + 1]?.index ?? text.length;
      const cited = text.slice(file.index + file[0].length, end);
      for (const name of cited.matchAll(/"([^"]+)"/g))
        found.push({ row, file: file[1] ?? '', name: name[1] ?? '' });
    });
    block = undefined;
  };
  for (const line of page.split('\n')) {
    const heading = /^#+\s+(\S+)/.exec(line);
    if (heading !== null) row = heading[1] ?? '';
    if (/^\s*- \*\*Tests\*\*/.test(line)) {
      flush();
      block = [line];
    } else if (block !== undefined) {
      if (/^(- \*\*|#|---|\s*$)/.test(line)) flush();
      else block.push(line);
    }
  }
  flush();
  return found;
}

/** Whether `name` begins a string (quoted any way) in `source`, curly apostrophes as straight. */
function holds(source: string, name: string): boolean {
  const straight = (text: string) => text.replaceAll('’', "'");
  const plain = straight(source);
  const wanted = straight(name);
  return ["'", '"', '`'].some((quote) => plain.includes(quote + wanted));
}

describe('docs/guarantees.md', () => {
  const page = readFileSync(join(ROOT, 'docs/guarantees.md'), 'utf8');
  const cited = citations(page);

  it('cites tests for its promises', () => {
    expect(cited.length).toBeGreaterThan(200);
  });

  it('cites only tests that exist, in the files it names', () => {
    const missing = cited
      .filter(({ file, name }) => {
        const path = join(ROOT, file);
        return !existsSync(path) || !holds(readFileSync(path, 'utf8'), name);
      })
      .map(({ row, file, name }) => `${row} ${file}: "${name}"`);
    expect(missing).toEqual([]);
  });

  it.each([
    ['a name the file holds', 'it("opens after five 529s", ...)', 'opens after five 529s', true],
    ['a name the file does not hold', 'it("opens after five 529s", ...)', 'closes at once', false],
    [
      'a name found only inside another string',
      'it("never opens after five 529s")',
      'opens after five 529s',
      false,
    ],
    [
      'a curly apostrophe for a straight one',
      "it('keeps a caller's session')",
      'keeps a caller’s session',
      true,
    ],
  ])('finds %s as the check expects', (_case, source, name, found) => {
    expect(holds(source, name)).toBe(found);
  });

  it('reads the names after each cited file, up to the next', () => {
    const page = [
      '### X1. A promise',
      '- **Tests**: `a.test.ts`: "one", "two"; `b.test.ts` › "group": "three"',
      '  - `c.test.ts`: "four"',
      '',
      'Prose with "a quote" after the block.',
    ].join('\n');
    expect(citations(page)).toEqual([
      { row: 'X1.', file: 'a.test.ts', name: 'one' },
      { row: 'X1.', file: 'a.test.ts', name: 'two' },
      { row: 'X1.', file: 'b.test.ts', name: 'group' },
      { row: 'X1.', file: 'b.test.ts', name: 'three' },
      { row: 'X1.', file: 'c.test.ts', name: 'four' },
    ]);
  });
});
