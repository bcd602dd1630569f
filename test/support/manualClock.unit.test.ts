import { describe, expect, it } from '@jest/globals';
import { ManualClock } from './manualClock.ts';

describe('ManualClock', () => {
  it('fires timers in due order as time advances, and not before', () => {
    const clock = new ManualClock(1000);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push('b'), 20);
    clock.setTimeout(() => fired.push('a'), 10);
    clock.advance(9);
    expect(fired).toEqual([]);
    clock.advance(11);
    expect(fired).toEqual(['a', 'b']);
    expect(clock.now()).toBe(1020);
  });

  it('does not fire a cancelled timer', () => {
    const clock = new ManualClock();
    let fired = false;
    const cancel = clock.setTimeout(() => (fired = true), 5);
    cancel();
    clock.advance(10);
    expect(fired).toBe(false);
    expect(clock.pendingTimers).toBe(0);
  });

  it('fires a timer scheduled by a timer within the same advance', () => {
    const clock = new ManualClock();
    const at: number[] = [];
    clock.setTimeout(() => {
      at.push(clock.now());
      clock.setTimeout(() => at.push(clock.now()), 5);
    }, 5);
    clock.advance(20);
    expect(at).toEqual([5, 10]);
  });
});
