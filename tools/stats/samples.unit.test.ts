import { describe, expect, it } from '@jest/globals';
import { median, percentile } from './samples.ts';

describe('median', () => {
  it.each<[string, number[], number]>([
    ['the middle of an odd count', [5, 1, 3], 3],
    ['the mean of the two middle ones of an even count', [4, 1, 3, 2], 2.5],
    ['NaN for no samples', [], Number.NaN],
  ])('%s', (_name, samples, expected) => {
    expect(median(samples)).toBe(expected);
  });
});

describe('percentile (nearest rank)', () => {
  const twenty = Array.from({ length: 20 }, (_, i) => 20 - i);
  it.each<[string, number[], number, number]>([
    ['p95 of 20 samples is the 19th smallest', twenty, 0.95, 19],
    ['p50 of 20 samples is the 10th smallest', twenty, 0.5, 10],
    ['p100 is the largest', twenty, 1, 20],
    ['p0 is the smallest', twenty, 0, 1],
    ['NaN for no samples', [], 0.5, Number.NaN],
  ])('%s', (_name, samples, q, expected) => {
    expect(percentile(samples, q)).toBe(expected);
  });
});
