import { describe, expect, it } from '@jest/globals';
import { seededRandom } from '../../../platform/src/random/random.ts';
import { TokenBucket } from './tokenBucket.ts';

describe('TokenBucket', () => {
  it.each<[string, number, number, number[], number[]]>([
    // perSecond, burst, arrival times (ms), expected waits (0 = admitted)
    ['admits a full burst at once, then refuses', 1, 3, [0, 0, 0, 0], [0, 0, 0, 1000]],
    ['refills at perSecond', 2, 1, [0, 0, 500], [0, 500, 0]],
    ['does not refill beyond the burst', 10, 2, [0, 0, 10_000, 10_000, 10_000], [0, 0, 0, 0, 100]],
    ['says how long until the next token', 4, 1, [0, 100], [0, 150]],
  ])('%s', (_name, perSecond, burst, arrivals, waits) => {
    const bucket = new TokenBucket(perSecond, burst, 0);
    expect(arrivals.map((t) => bucket.tryTake(1, t))).toEqual(waits);
  });

  it('makes a request larger than the bucket wait for a full bucket, not forever', () => {
    const bucket = new TokenBucket(10, 5, 0);
    bucket.take(5);
    expect(bucket.waitFor(50, 0)).toBe(500);
  });

  it('puts reservations into debt, so later callers wait behind them', () => {
    const bucket = new TokenBucket(1, 1, 0);
    bucket.take(1);
    bucket.take(1); // reserved ahead, due at 1 s
    expect(bucket.waitFor(1, 0)).toBe(2_000);
  });

  it('never refunds above capacity', () => {
    const bucket = new TokenBucket(1, 2, 0);
    bucket.refund(5);
    expect(bucket.available(0)).toBe(2);
  });

  it.each<[string, number, number, number, number, number]>([
    // old rate/burst, tokens taken, new rate/burst, expected tokens right after
    ['keeps the tokens in the bucket when the burst grows', 10, 10, 4, 20, 6],
    ['caps the tokens at a smaller burst', 10, 10, 0, 3, 3],
  ])('%s', (_name, rate, burst, taken, newBurst, expected) => {
    const bucket = new TokenBucket(rate, burst, 0);
    bucket.take(taken);
    bucket.reconfigure(rate, newBurst, 0);
    expect(bucket.available(0)).toBe(expected);
  });

  it('credits time before a reconfiguration at the old rate', () => {
    const bucket = new TokenBucket(1, 10, 0);
    bucket.take(10);
    bucket.reconfigure(100, 10, 2_000); // 2 s at 1/s → 2 tokens
    expect(bucket.available(2_000)).toBe(2);
  });
});

/** The first window [from, to] holding more than burst + perSecond × t admissions, if any. */
function firstViolation(
  times: readonly number[],
  perSecond: number,
  burst: number,
): string | undefined {
  const sorted = [...times].sort((a, b) => a - b);
  for (let i = 0; i < sorted.length; i++) {
    for (let j = i; j < sorted.length; j++) {
      const from = sorted[i] as number;
      const to = sorted[j] as number;
      const allowed = burst + (perSecond * (to - from)) / 1000 + 1e-9;
      if (j - i + 1 > allowed)
        return `${j - i + 1} admitted in [${from}, ${to}] ms, allowed ${allowed}`;
    }
  }
  return undefined;
}

describe('TokenBucket invariant', () => {
  const cases = Array.from({ length: 10 }, (_, i) => {
    const random = seededRandom(100 + i);
    return [i + 1, Math.round(1 + random() * 50), Math.round(1 + random() * 20)] as const;
  });

  it.each(cases)(
    'never admits more than burst + perSecond × t over any window (seed %i: %i/s, burst %i)',
    (seed, perSecond, burst) => {
      const random = seededRandom(seed);
      const bucket = new TokenBucket(perSecond, burst, 0);
      const admitted: number[] = [];
      let now = 0;
      for (let i = 0; i < 1_500; i++) {
        now += random() < 0.2 ? Math.floor(random() * 500) : Math.floor(random() * 3);
        if (bucket.tryTake(1, now) === 0) admitted.push(now);
      }
      expect(admitted.length).toBeGreaterThan(burst);
      expect(firstViolation(admitted, perSecond, burst)).toBeUndefined();
    },
  );

  it.each(cases)(
    'holds for reservations too: calls start when their tokens are due (seed %i: %i/s, burst %i)',
    (seed, perSecond, burst) => {
      const random = seededRandom(seed * 7);
      const bucket = new TokenBucket(perSecond, burst, 0);
      const starts: number[] = [];
      let now = 0;
      for (let i = 0; i < 600; i++) {
        now += Math.floor(random() * 40);
        const wait = bucket.waitFor(1, now);
        bucket.take(1);
        starts.push(now + wait);
      }
      expect(firstViolation(starts, perSecond, burst)).toBeUndefined();
    },
  );
});
