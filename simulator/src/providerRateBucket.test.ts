import { describe, expect, it } from '@jest/globals';
import { ManualClock } from '../../test/support/manualClock.ts';
import { ProviderRateBucket } from './providerRateBucket.ts';

describe('ProviderRateBucket', () => {
  it('starts full and refills continuously at its rate per minute', () => {
    const clock = new ManualClock();
    const bucket = new ProviderRateBucket(60, clock);
    bucket.take(60);
    expect(bucket.remaining()).toBe(0);
    clock.advance(10_000);
    expect(bucket.remaining()).toBe(10);
    clock.advance(120_000);
    expect(bucket.remaining()).toBe(60);
  });

  it.each([
    ['no wait when the cost fits', 30, 10, 0],
    ['the time to earn the missing tokens', 60, 10, 10_000],
    ['at most the time to fill up, for a cost above capacity', 60, 500, 60_000],
  ])('says how long until a cost can be taken: %s', (_name, spent, cost, waitMs) => {
    const clock = new ManualClock();
    const bucket = new ProviderRateBucket(60, clock);
    bucket.take(spent);
    expect(bucket.msUntilAvailable(cost)).toBe(waitMs);
  });

  it('lets a full bucket take an oversized cost and repays the debt before admitting more', () => {
    const clock = new ManualClock();
    const bucket = new ProviderRateBucket(60, clock);
    bucket.take(90);
    expect(bucket.remaining()).toBe(0);
    expect(bucket.msUntilAvailable(1)).toBe(31_000);
    expect(bucket.msUntilFull()).toBe(90_000);
  });

  it('refuses a capacity that is not positive', () => {
    expect(() => new ProviderRateBucket(0, new ManualClock())).toThrow(RangeError);
  });
});
