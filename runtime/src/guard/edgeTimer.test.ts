import { describe, expect, it } from '@jest/globals';
import { ManualClock } from '../../../test/support/manualClock.ts';
import { EdgeTimer, MAX_TIMER_STEP_MS } from './edgeTimer.ts';

/** A set of deadlines that settle (disappear) when due, like breakers' open periods. */
function deadlines(clock: ManualClock, initial: number[]) {
  const due = new Set(initial);
  const fired: number[] = [];
  const timer = new EdgeTimer({
    clock,
    nextEdge: () => (due.size === 0 ? undefined : Math.min(...due)),
    onDue: (now) => {
      for (const at of [...due]) if (at <= now) due.delete(at);
      fired.push(now);
    },
  });
  return { due, fired, timer };
}

describe('EdgeTimer', () => {
  it('arms one timer for the soonest of many deadlines', () => {
    const clock = new ManualClock(0);
    const { timer } = deadlines(clock, [5_000, 1_000, 3_000]);
    timer.reschedule();
    expect(clock.pendingTimers).toBe(1);
    expect(timer.armedFor).toBe(1_000);
  });

  it('arms nothing while no deadline is ahead', () => {
    const clock = new ManualClock(0);
    const { timer } = deadlines(clock, []);
    timer.reschedule();
    expect(clock.pendingTimers).toBe(0);
  });

  it('fires at each deadline in turn, then holds no timer', () => {
    const clock = new ManualClock(0);
    const { timer, fired } = deadlines(clock, [1_000, 3_000]);
    timer.reschedule();
    clock.advance(10_000);
    expect(fired).toEqual([1_000, 3_000]);
    expect(clock.pendingTimers).toBe(0);
    expect(timer.armedFor).toBeUndefined();
  });

  it('moves its one timer when a sooner deadline appears', () => {
    const clock = new ManualClock(0);
    const { timer, due, fired } = deadlines(clock, [5_000]);
    timer.reschedule();
    due.add(2_000);
    timer.reschedule();
    expect(clock.pendingTimers).toBe(1);
    clock.advance(2_000);
    expect(fired).toEqual([2_000]);
    expect(timer.armedFor).toBe(5_000);
  });

  it('does not spin on a deadline that settling leaves in the past', () => {
    const clock = new ManualClock(0);
    let calls = 0;
    const timer = new EdgeTimer({
      clock,
      nextEdge: () => 1_000,
      onDue: () => calls++,
    });
    timer.reschedule();
    clock.advance(5_000);
    expect(calls).toBe(1);
    expect(clock.pendingTimers).toBe(0);
  });

  it('reaches an edge years away in steps no timer overflows, settling only once it is due', () => {
    const clock = new ManualClock(0);
    const yearsAway = 4 * 365 * 24 * 60 * 60 * 1000;
    const { timer, fired } = deadlines(clock, [yearsAway]);
    const delays: number[] = [];
    const setTimeout = clock.setTimeout.bind(clock);
    clock.setTimeout = (fn, ms) => {
      delays.push(ms);
      return setTimeout(fn, ms);
    };
    timer.reschedule();
    clock.advance(yearsAway);
    expect(fired).toEqual([yearsAway]);
    expect(Math.max(...delays)).toBeLessThanOrEqual(MAX_TIMER_STEP_MS);
    expect(Math.max(...delays)).toBeLessThan(2 ** 31 - 1);
    expect(clock.pendingTimers).toBe(0);
  });
});
