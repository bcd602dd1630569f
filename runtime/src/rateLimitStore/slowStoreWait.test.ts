/** A call with budgets waits on a slow store's answer up to 2 s in all; manual clock. */
import { describe, expect, it } from '@jest/globals';
import { ManualClock } from '../../../test/support/manualClock.ts';
import { BUDGET_ANSWER_AT_MOST_MS, SlowStoreWait, TIMED_OUT } from './slowStoreWait.ts';

function setup() {
  const clock = new ManualClock(0);
  let stalls = 0;
  const wait = new SlowStoreWait(clock, () => stalls++);
  return { clock, wait, stalls: () => stalls };
}

describe('SlowStoreWait', () => {
  it('uses an answer that comes within the 2 s, and stalls nothing', async () => {
    const { wait, stalls } = setup();
    await expect(wait.answer(Promise.resolve('held'), 50)).resolves.toBe('held');
    expect({ stalled: wait.stalled, stalls: stalls() }).toEqual({ stalled: false, stalls: 0 });
  });

  it('gives up what is left of the 2 s after the wait budget, stalls budgets, and says so once', async () => {
    const { clock, wait, stalls } = setup();
    const never = new Promise<unknown>(() => undefined);
    const first = wait.answer(never, 50);
    clock.advance(BUDGET_ANSWER_AT_MOST_MS - 50);
    await expect(first).resolves.toBe(TIMED_OUT);
    const second = wait.answer(never, 50);
    clock.advance(BUDGET_ANSWER_AT_MOST_MS);
    await expect(second).resolves.toBe(TIMED_OUT);
    expect({ stalled: wait.stalled, stalls: stalls() }).toEqual({ stalled: true, stalls: 1 });
    wait.reset();
    expect(wait.stalled).toBe(false);
  });
});
