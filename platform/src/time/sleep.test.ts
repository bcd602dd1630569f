import { describe, expect, it } from '@jest/globals';
import type { Clock } from './clock.ts';
import { sleep } from './sleep.ts';

/** A clock whose timers the test fires by hand, whenever it likes (early ones included). */
function handClock() {
  let now = 1_000;
  const timers: { fn: () => void; ms: number }[] = [];
  const clock: Clock = {
    now: () => now,
    setTimeout(fn, ms) {
      const timer = { fn, ms };
      timers.push(timer);
      return () => {
        timers.splice(timers.indexOf(timer), 1);
      };
    },
  };
  const fire = (at: number) => {
    now = at;
    const due = timers.splice(0);
    for (const t of due) t.fn();
  };
  return { clock, timers, fire };
}

const settled = async (p: Promise<void>) => {
  let done = false;
  void p.then(() => (done = true));
  await Promise.resolve();
  await Promise.resolve();
  return done;
};

describe('sleep', () => {
  it('waits again when its timer fires before the clock says the time has passed', async () => {
    const { clock, timers, fire } = handClock();
    const slept = sleep(clock, 1_000);
    fire(1_999);
    expect(await settled(slept)).toBe(false);
    expect(timers.map((t) => t.ms)).toEqual([1]);
    fire(2_000);
    expect(await settled(slept)).toBe(true);
  });

  it('rejects with the reason on abort and leaves no timer', async () => {
    const { clock, timers, fire } = handClock();
    const controller = new AbortController();
    const slept = sleep(clock, 1_000, controller.signal);
    fire(1_500);
    expect(timers).toHaveLength(1);
    controller.abort(new Error('caller gone'));
    await expect(slept).rejects.toThrow('caller gone');
    expect(timers).toHaveLength(0);
  });
});
