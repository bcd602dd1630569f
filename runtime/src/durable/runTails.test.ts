import { describe, expect, it } from '@jest/globals';
import { RunTails } from './runTails.ts';

describe('a run tail', () => {
  it('lets calls after a live step append without a claim, one position each, whatever they repeat', () => {
    const tails = new RunTails();
    tails.claimed('r', 0, true);
    expect(tails.take('r')).toBe(1);
    expect(tails.take('r')).toBe(2);
  });

  it.each([
    { name: 'an attempt this replica never claimed', setup: (_t: RunTails) => undefined },
    {
      name: 'an attempt being replayed',
      setup: (t: RunTails) => {
        t.claimed('r', 0, false);
      },
    },
    {
      name: 'an attempt whose tail was found moved',
      setup: (t: RunTails) => {
        t.claimed('r', 0, true);
        t.forget('r');
      },
    },
    {
      name: 'another attempt of the same run (an agent started again)',
      setup: (t: RunTails) => {
        t.claimed('r|first', 0, true);
      },
    },
  ])('claims every call of $name', ({ setup }) => {
    const tails = new RunTails();
    setup(tails);
    expect(tails.take('r')).toBeUndefined();
  });

  it('follows a replayed attempt to its live tail', () => {
    const tails = new RunTails();
    tails.claimed('r', 0, false);
    tails.claimed('r', 1, false);
    tails.claimed('r', 2, true);
    expect(tails.take('r')).toBe(3);
  });
});
