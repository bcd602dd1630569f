import { describe, expect, it } from '@jest/globals';
import { DeadlineTimer, type DeadlineEntry } from './timeout.ts';
import { ManualClock } from '../../../test/support/manualClock.ts';

function entry(deadlineAt: number, fired: string[], name: string): DeadlineEntry {
  return {
    deadlineAt,
    prevDeadline: undefined,
    nextDeadline: undefined,
    linked: false,
    onDeadline: () => fired.push(name),
  };
}

describe('DeadlineTimer', () => {
  it('fires each deadline once it has passed, in deadline order', () => {
    const clock = new ManualClock(0);
    const timer = new DeadlineTimer(clock, 1);
    const fired: string[] = [];
    timer.add(entry(300, fired, 'c'), 0);
    timer.add(entry(100, fired, 'a'), 0);
    timer.add(entry(200, fired, 'b'), 0);
    clock.advance(99);
    expect(fired).toEqual([]);
    clock.advance(101);
    expect(fired).toEqual(['a', 'b']);
    clock.advance(100);
    expect(fired).toEqual(['a', 'b', 'c']);
  });

  it('does not fire a deadline whose call finished', () => {
    const clock = new ManualClock(0);
    const timer = new DeadlineTimer(clock, 1);
    const fired: string[] = [];
    const done = entry(100, fired, 'done');
    timer.add(done, 0);
    timer.add(entry(150, fired, 'late'), 0);
    timer.remove(done);
    clock.advance(200);
    expect(fired).toEqual(['late']);
    expect(timer.size).toBe(0);
  });

  it('uses one timer for any number of calls with the same timeout', () => {
    const clock = new ManualClock(0);
    const timer = new DeadlineTimer(clock, 10);
    const entries = Array.from({ length: 1_000 }, (_, i) => entry(30_000 + i, [], String(i)));
    entries.forEach((e, i) => {
      clock.advance(i === 0 ? 0 : 1);
      timer.add(e, clock.now());
    });
    expect(clock.pendingTimers).toBe(1);
    entries.forEach((e) => {
      timer.remove(e);
    });
    expect(clock.pendingTimers).toBe(1); // not cancelled on every finish: it lapses
    clock.advance(30_000);
    expect(clock.pendingTimers).toBe(0);
    expect(timer.armed).toBe(false);
  });

  it('re-arms earlier for a shorter deadline added later', () => {
    const clock = new ManualClock(0);
    const timer = new DeadlineTimer(clock, 1);
    const fired: string[] = [];
    timer.add(entry(10_000, fired, 'long'), 0);
    timer.add(entry(50, fired, 'short'), 0);
    clock.advance(50);
    expect(fired).toEqual(['short']);
  });

  it('fires deadlines closer than the resolution together', () => {
    const clock = new ManualClock(0);
    const timer = new DeadlineTimer(clock, 100);
    const fired: string[] = [];
    timer.add(entry(10, fired, 'a'), 0);
    timer.add(entry(60, fired, 'b'), 0);
    clock.advance(99);
    expect(fired).toEqual([]);
    clock.advance(1);
    expect(fired).toEqual(['a', 'b']);
  });
});
