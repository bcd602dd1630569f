import { describe, expect, it } from '@jest/globals';
import {
  backoffFrom,
  configRetryDelayMs,
  CrashCounter,
  kubeletBackoff,
  restartDelayMs,
} from './restartBackoff.ts';

describe('restartDelayMs', () => {
  it.each([
    ['restarts at once after the first crash', 1, 0],
    ['waits 10s after the second crash', 2, 10_000],
    ['doubles to 20s after the third', 3, 20_000],
    ['doubles to 160s after the sixth', 6, 160_000],
    ['stops at five minutes', 7, 300_000],
    ['stays at five minutes however long it crashes', 40, 300_000],
  ])('%s', (_name, crashes, expected) => {
    expect(restartDelayMs(kubeletBackoff, crashes)).toBe(expected);
  });

  it('scales the whole curve from a shorter first wait', () => {
    const fast = backoffFrom(100);
    expect([1, 2, 3, 10].map((n) => restartDelayMs(fast, n))).toEqual([0, 100, 200, 3_000]);
  });
});

describe('CrashCounter', () => {
  it('grows the wait with each quick crash', () => {
    const counter = new CrashCounter(kubeletBackoff);
    expect([counter.crashed(1), counter.crashed(1), counter.crashed(1)]).toEqual([
      0, 10_000, 20_000,
    ]);
  });

  it('starts over after a run longer than twice the cap', () => {
    const counter = new CrashCounter(kubeletBackoff);
    counter.crashed(1);
    counter.crashed(1);
    counter.crashed(1);
    expect(counter.crashed(600_000)).toBe(0);
    expect(counter.crashed(1)).toBe(10_000);
  });
});

describe('configRetryDelayMs', () => {
  it('retries a container that cannot start after 1s, 2s, 4s, 8s, then every 10s', () => {
    expect([1, 2, 3, 4, 5, 9].map((n) => configRetryDelayMs(kubeletBackoff, n))).toEqual([
      1_000, 2_000, 4_000, 8_000, 10_000, 10_000,
    ]);
  });

  it('never waits longer than the first crash-loop wait', () => {
    expect(configRetryDelayMs(backoffFrom(300), 3)).toBe(300);
  });
});
