import { describe, expect, it } from '@jest/globals';
import { chooseBackend, type BalancedBackend } from './loadBalancer.ts';

const backends: BalancedBackend[] = [
  { name: 'a', weight: 1, inFlight: 3 },
  { name: 'b', weight: 3, inFlight: 1 },
  { name: 'c', weight: 0, inFlight: 2 },
];

describe('chooseBackend', () => {
  it('takes turns with RoundRobin', () => {
    const state = { cursor: 0 };
    const picks = [0, 1, 2, 3].map(
      () => chooseBackend('RoundRobin', backends, () => true, state)?.name,
    );
    expect(picks).toEqual(['a', 'b', 'c', 'a']);
  });

  it.each([
    ['RoundRobin', 'b'],
    ['LeastLoaded', 'b'],
    ['Weighted', 'b'],
    ['Random', 'b'],
  ] as const)('with %s skips backends whose breaker refuses', (strategy, expected) => {
    const pick = chooseBackend(strategy, backends, (b) => b.name === 'b', { cursor: 0 });
    expect(pick?.name).toBe(expected);
  });

  it('sends LeastLoaded to the backend with the fewest attempts in flight', () => {
    expect(chooseBackend('LeastLoaded', backends, () => true, { cursor: 0 })?.name).toBe('b');
  });

  it.each([
    [0.0, 'a'],
    [0.3, 'b'],
    [0.99, 'b'],
  ])('with Weighted maps roll %s to %s in proportion to weight', (roll, expected) => {
    expect(
      chooseBackend(
        'Weighted',
        backends,
        () => true,
        { cursor: 0 },
        () => roll,
      )?.name,
    ).toBe(expected);
  });

  it('answers undefined when every breaker refuses', () => {
    expect(chooseBackend('RoundRobin', backends, () => false, { cursor: 0 })).toBeUndefined();
  });
});
