import { describe, expect, it } from '@jest/globals';
import { chooseBackend, type BalancedBackend } from './loadBalancer.ts';

const backends: BalancedBackend[] = [
  { name: 'a', weight: 1, priority: 0, inFlight: 3 },
  { name: 'b', weight: 3, priority: 0, inFlight: 1 },
  { name: 'c', weight: 0, priority: 0, inFlight: 2 },
];

/** Anthropic first, then Bedrock, then Vertex; two of equal priority at the front. */
const tiers: BalancedBackend[] = [
  { name: 'vertex', weight: 1, priority: 2, inFlight: 0 },
  { name: 'us', weight: 1, priority: 0, inFlight: 0 },
  { name: 'bedrock', weight: 1, priority: 1, inFlight: 0 },
  { name: 'eu', weight: 1, priority: 0, inFlight: 0 },
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

  it('balances only among the lowest priority that can take the call', () => {
    const state = { cursor: 0 };
    const picks = [0, 1, 2, 3].map(
      () => chooseBackend('RoundRobin', tiers, () => true, state)?.name,
    );
    expect(picks).toEqual(['us', 'eu', 'us', 'eu']);
  });

  it.each([
    [['us', 'eu'], 'bedrock'],
    [['us', 'eu', 'bedrock'], 'vertex'],
    [['us', 'bedrock'], 'eu'],
    [['us', 'eu', 'bedrock', 'vertex'], undefined],
  ])('with %j out, moves to %s', (out, expected) => {
    const pick = chooseBackend('LeastLoaded', tiers, (b) => !out.includes(b.name), { cursor: 0 });
    expect(pick?.name).toBe(expected);
  });
});
