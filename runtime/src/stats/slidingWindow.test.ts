import { describe, expect, it } from '@jest/globals';
import { ManualClock } from '../../../test/support/manualClock.ts';
import { SlidingWindow } from './slidingWindow.ts';

describe('SlidingWindow', () => {
  it('reports count, success rate, percentiles and top errors', () => {
    const clock = new ManualClock(1_000_000);
    const window = new SlidingWindow(clock, 60_000, 6);
    for (let i = 1; i <= 100; i++)
      window.record(i, { errorType: i % 10 === 0 ? 'Overloaded' : undefined });
    window.record(5, { errorType: 'Timeout' });
    const s = window.summary();
    expect(s.count).toBe(101);
    expect(s.successRate).toBeCloseTo(90 / 101);
    expect(s.latencyMs.p50).toBeGreaterThanOrEqual(45);
    expect(s.latencyMs.p50).toBeLessThanOrEqual(56);
    expect(s.latencyMs.p99).toBeGreaterThanOrEqual(99);
    expect(s.topErrors).toEqual([
      { type: 'Overloaded', count: 10 },
      { type: 'Timeout', count: 1 },
    ]);
  });

  it('lists tied errors in name order, whichever was counted first', () => {
    const first = new SlidingWindow(new ManualClock(0), 60_000, 6);
    const second = new SlidingWindow(new ManualClock(0), 60_000, 6);
    first.record(5, { errorType: 'ServerError' });
    first.record(5, { errorType: 'Overloaded' });
    second.record(5, { errorType: 'Overloaded' });
    second.record(5, { errorType: 'ServerError' });
    const expected = [
      { type: 'Overloaded', count: 1 },
      { type: 'ServerError', count: 1 },
    ];
    expect(first.summary().topErrors).toEqual(expected);
    expect(second.summary().topErrors).toEqual(expected);
  });

  it('forgets calls older than the window', () => {
    const clock = new ManualClock(0);
    const window = new SlidingWindow(clock, 60_000, 6);
    window.record(10);
    clock.advance(30_000);
    window.record(10);
    expect(window.summary().count).toBe(2);
    clock.advance(40_000);
    expect(window.summary().count).toBe(1);
    clock.advance(60_000);
    expect(window.summary()).toMatchObject({ count: 0, successRate: null });
  });

  it('keeps a bounded set of error types per slice', () => {
    const window = new SlidingWindow(new ManualClock(0), 60_000, 6);
    for (let i = 0; i < 100; i++) window.record(1, { errorType: `type-${i}` });
    expect(window.summary().topErrors.length).toBeLessThanOrEqual(5);
    expect(window.summary().count).toBe(100);
  });

  it('counts fallback answers and shows the histogram its percentiles come from', () => {
    const window = new SlidingWindow(new ManualClock(0), 60_000, 6);
    window.record(10, { fallback: true });
    window.record(10);
    window.record(200, { errorType: 'Overloaded' });
    const s = window.summary();
    expect(s.fallbacks).toBe(1);
    expect(s.latencyHistogram.map((b) => b.count)).toEqual([2, 1]);
    const [fast, slow] = s.latencyHistogram;
    expect(fast?.le).toBeGreaterThanOrEqual(10);
    expect(fast?.le).toBeLessThan(11);
    expect(slow?.le).toBe(s.latencyMs.p99);
  });
});
