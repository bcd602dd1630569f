import { describe, expect, it } from '@jest/globals';
import { nestsDeeperThan } from './jsonDepth.ts';

const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

describe('a JSON body nesting', () => {
  it.each([
    ['at the limit', nested(8), false],
    ['one past it', nested(9), true],
    ['objects and arrays mixed past it', `${'{"a":['.repeat(5)}1${']}'.repeat(5)}`, true],
    ['wide, not deep: many brackets side by side', `[${'[],'.repeat(100)}[]]`, false],
    ['brackets inside strings, which do not nest', `["${'[{'.repeat(50)}"]`, false],
    ['an escaped quote inside a string', `["\\"${'['.repeat(20)}"]`, false],
  ])('%s', (_case, text, deeper) => {
    expect(() => JSON.parse(text) as unknown).not.toThrow();
    expect(nestsDeeperThan(text, 8)).toBe(deeper);
  });
});
