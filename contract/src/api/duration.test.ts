import { describe, expect, it } from '@jest/globals';
import { isInvalidDurationError, parseDuration, toMilliseconds } from './duration.ts';

describe('parseDuration', () => {
  it.each<[string, number]>([
    ['500ms', 500],
    ['30s', 30_000],
    ['1m30s', 90_000],
    ['1.5s', 1_500],
    ['2h', 7_200_000],
    ['1h2m3s4ms', 3_723_004],
    ['.5m', 30_000],
    ['0', 0],
    [' 10s ', 10_000],
  ])('reads "%s" as %i ms', (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  it.each(['', '10', 's', '10x', '1m30', '-5s', '5 s', '1d', 'abc'])(
    'refuses "%s", naming the input',
    (input) => {
      let caught: unknown;
      try {
        parseDuration(input);
      } catch (err) {
        caught = err;
      }
      expect(isInvalidDurationError(caught)).toBe(true);
      expect((caught as Error).message).toContain(JSON.stringify(input));
    },
  );

  it('takes a number as milliseconds already', () => {
    expect(toMilliseconds(250)).toBe(250);
    expect(toMilliseconds('250ms')).toBe(250);
  });
});
