/**
 * One identity per request: only runtime/src/access/callerIdentity.ts reads the headers a
 * caller's key comes in (`x-api-key`, `Authorization`, and `rawHeaders`, where they repeat).
 * Any other reader could decide who is calling differently — as requestGate.ts once did, taking
 * an empty `x-api-key` beside `Authorization: Bearer <key>` for "no key" while access control
 * took it for the key — and account a call to someone else.
 */
import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
const THE_READER = 'runtime/src/access/callerIdentity.ts';

/** Reads of a caller's credential headers; writes (a provider's own key going out) are not. */
const READS: readonly RegExp[] = [
  /(?<!['"]|\*\.)\bheaders\s*(?:\?\.)?\[\s*['"`](?:x-api-key|authorization)['"`]\s*\](?!\s*=[^=])/i,
  /(?<!['"]|\*\.)\bheaders\s*\??\.\s*authorization\b(?!\s*=[^=])/i,
  /\.(?:get|getHeader)\(\s*['"`](?:x-api-key|authorization)['"`]/i,
  /\brawHeaders\b/,
];

function readsCallerHeaders(source: string): boolean {
  return READS.some((read) => read.test(source));
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

describe("reads of the caller's credential headers", () => {
  it.each<[string, string, boolean]>([
    ['count an x-api-key read by index', "const key = request.headers['x-api-key'];", true],
    [
      'count an Authorization read by property',
      'const auth = request.headers.authorization;',
      true,
    ],
    [
      'count an optional Authorization read',
      'if (req.headers?.authorization === undefined) {}',
      true,
    ],
    ['count a read through get()', "const k = headers.get('X-Api-Key');", true],
    ['count a look at rawHeaders', 'for (const h of request.raw.rawHeaders) {}', true],
    ['leave out a provider key going out', 'headers.authorization = `Bearer ${token}`;', false],
    ['leave out a provider key going out by index', "headers['x-api-key'] = apiKey;", false],
    [
      "leave out the logger's redaction paths",
      "redact: ['headers.authorization', '*.headers[\"x-api-key\"]']",
      false,
    ],
  ])('%s', (_name, source, expected) => {
    expect(readsCallerHeaders(source)).toBe(expected);
  });

  it('are made by the identity module alone', () => {
    const readers = sourceFiles(join(ROOT, 'runtime/src'))
      .filter((path) => readsCallerHeaders(readFileSync(path, 'utf8')))
      .map((path) => relative(ROOT, path));
    expect(readers).toEqual([THE_READER]);
  });
});
