import { describe, expect, it } from '@jest/globals';
import { ManualClock } from '../../../test/support/manualClock.ts';
import { ACTIVE_RUN_WINDOW_MS } from '../../../contract/src/reporting/durableReport.ts';
import { MAX_TRACKED_RUNS, RunActivity } from './runActivity.ts';

describe('RunActivity', () => {
  it('counts a run as active until five minutes pass without a call of it', () => {
    const clock = new ManualClock(0);
    const activity = new RunActivity(clock);
    activity.called('pods|a');
    clock.advance(60_000);
    activity.called('pods|b');
    activity.called('pods|a');
    expect(activity.report().active).toBe(2);
    clock.advance(ACTIVE_RUN_WINDOW_MS - 1);
    expect(activity.report().active).toBe(2);
    clock.advance(1);
    expect(activity.report().active).toBe(0);
  });

  it('remembers at most MAX_TRACKED_RUNS runs however many distinct ones are called, the newest', () => {
    const activity = new RunActivity(new ManualClock(0));
    for (let i = 0; i < MAX_TRACKED_RUNS * 2; i++) activity.called(`pods|run-${String(i)}`);
    expect(activity.report().active).toBe(MAX_TRACKED_RUNS);
  });

  it('counts resumed, diverged and replayed from zero', () => {
    const activity = new RunActivity(new ManualClock(0));
    activity.resumed();
    activity.replayed();
    activity.replayed();
    activity.diverged();
    expect(activity.report()).toMatchObject({ resumed: 1, diverged: 1, replayed: 2 });
  });

  it('moves the store’s since only when its state or reason changes', () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 25, 8));
    const activity = new RunActivity(clock);
    expect(activity.report().store).toEqual({
      state: 'Connecting',
      since: '2026-11-25T08:00:00.000Z',
    });
    clock.advance(1000);
    activity.store('Unavailable', 'Unreachable', 'ECONNREFUSED');
    clock.advance(1000);
    activity.store('Unavailable', 'Unreachable', 'ECONNRESET');
    expect(activity.report().store).toEqual({
      state: 'Unavailable',
      reason: 'Unreachable',
      message: 'ECONNRESET',
      since: '2026-11-25T08:00:01.000Z',
    });
    clock.advance(1000);
    activity.store('Available');
    expect(activity.report().store).toEqual({
      state: 'Available',
      since: '2026-11-25T08:00:03.000Z',
    });
  });
});
