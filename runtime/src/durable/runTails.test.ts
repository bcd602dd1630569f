import { describe, expect, it } from '@jest/globals';
import { MAX_RUNS, RunTails } from './runTails.ts';

describe('a run tail', () => {
  it('lets calls after a live step append without a claim, one position each, whatever they repeat', () => {
    const tails = new RunTails();
    tails.claimed('r', 'a', 0, true);
    expect(tails.take('r', 'a')).toBe(1);
    expect(tails.take('r', 'a')).toBe(2);
  });

  it.each([
    { name: 'an attempt this replica never claimed', setup: (_t: RunTails) => undefined },
    {
      name: 'an attempt being replayed',
      setup: (t: RunTails) => {
        t.claimed('r', 'a', 0, false);
      },
    },
    {
      name: 'an attempt whose tail was found moved',
      setup: (t: RunTails) => {
        t.claimed('r', 'a', 0, true);
        t.forget('r', 'a');
      },
    },
    {
      name: 'another attempt of the same run (an agent started again)',
      setup: (t: RunTails) => {
        t.claimed('r', 'first', 0, true);
      },
    },
    {
      name: 'an attempt at its tail once another attempt of the run was claimed (an agent left behind)',
      setup: (t: RunTails) => {
        t.claimed('r', 'a', 1, true);
        t.claimed('r', 'newer', 0, false);
      },
    },
  ])('claims every call of $name', ({ setup }) => {
    const tails = new RunTails();
    setup(tails);
    expect(tails.take('r', 'a')).toBeUndefined();
  });

  it('keeps the tails of at most MAX_RUNS runs, forgetting the oldest first', () => {
    const tails = new RunTails();
    for (let i = 0; i <= MAX_RUNS; i++) tails.claimed(`run-${String(i)}`, 'a', 0, true);
    expect(tails.take('run-0', 'a')).toBeUndefined();
    expect(tails.take('run-1', 'a')).toBe(1);
    expect(tails.take(`run-${String(MAX_RUNS)}`, 'a')).toBe(1);
  });

  it('keeps the tail of the attempt that was claimed, and of other runs', () => {
    const tails = new RunTails();
    tails.claimed('r', 'a', 1, true);
    tails.claimed('s', 'a', 4, true);
    tails.claimed('r', 'newer', 0, true);
    tails.forget('r', 'a');
    expect([tails.take('r', 'newer'), tails.take('s', 'a')]).toEqual([1, 5]);
  });

  it('follows a replayed attempt to its live tail', () => {
    const tails = new RunTails();
    tails.claimed('r', 'a', 0, false);
    tails.claimed('r', 'a', 1, false);
    tails.claimed('r', 'a', 2, true);
    expect(tails.take('r', 'a')).toBe(3);
  });
});
