import { describe, expect, it } from '@jest/globals';
import { RunTails } from './runTails.ts';

describe('a run tail', () => {
  it('lets model calls after a live step append without a claim, one position each', () => {
    const tails = new RunTails();
    tails.claimed('r', 0, 'first', true);
    expect(tails.take('r', 'second')).toBe(1);
    expect(tails.take('r', 'third')).toBe(2);
  });

  it.each([
    { name: 'a run this replica never claimed', setup: (_t: RunTails) => undefined },
    {
      name: "a run whose first step it did not see (another replica's, or expired)",
      setup: (t: RunTails) => {
        t.claimed('r', 3, 'x', true);
      },
    },
    {
      name: 'a run being replayed',
      setup: (t: RunTails) => {
        t.claimed('r', 0, 'first', false);
      },
    },
    {
      name: 'a run whose tail was found moved',
      setup: (t: RunTails) => {
        t.claimed('r', 0, 'first', true);
        t.forget('r');
      },
    },
  ])('claims every call of $name', ({ setup }) => {
    const tails = new RunTails();
    setup(tails);
    expect(tails.take('r', 'next')).toBeUndefined();
  });

  it('claims a call that repeats the first request: a restarted agent starting over', () => {
    const tails = new RunTails();
    tails.claimed('r', 0, 'first', true);
    expect(tails.take('r', 'first')).toBeUndefined();
  });

  it('follows a replayed attempt to its live tail', () => {
    const tails = new RunTails();
    tails.claimed('r', 0, 'first', false);
    tails.claimed('r', 1, 'second', false);
    tails.claimed('r', 2, 'third', true);
    expect(tails.take('r', 'fourth')).toBe(3);
  });
});
