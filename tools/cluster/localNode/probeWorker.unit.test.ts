import { describe, expect, it } from '@jest/globals';
import { ManualClock } from '../../../test/support/manualClock.ts';
import {
  probeTiming,
  ProbeWorker,
  type ProbeOutcome,
  type ProbeResult,
  type ProbeTiming,
} from './probeWorker.ts';

const flush = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

const timing = (overrides: Partial<ProbeTiming> = {}): ProbeTiming => ({
  initialDelayMs: 0,
  periodMs: 1_000,
  timeoutMs: 1_000,
  successThreshold: 1,
  failureThreshold: 3,
  ...overrides,
});

/** A probe whose checks answer from a script (the last answer repeats), with a manual clock. */
function scripted(answers: boolean[], t: ProbeTiming, initial: ProbeResult = 'failure') {
  const clock = new ManualClock();
  const results: ProbeResult[] = [];
  let checks = 0;
  const worker = new ProbeWorker({
    timing: t,
    clock,
    initial,
    check: (): Promise<ProbeOutcome> => {
      const success = answers[Math.min(checks, answers.length - 1)] ?? false;
      checks++;
      return Promise.resolve(success ? { success } : { success, message: 'HTTP 503' });
    },
    onResult: (result) => {
      results.push(result);
    },
  });
  const advance = async (ms: number): Promise<void> => {
    clock.advance(ms);
    await flush();
  };
  return { worker, results, advance, checks: () => checks };
}

describe('probeTiming', () => {
  it('fills in the API defaults', () => {
    expect(probeTiming({})).toEqual({
      initialDelayMs: 0,
      periodMs: 10_000,
      timeoutMs: 1_000,
      successThreshold: 1,
      failureThreshold: 3,
    });
  });

  it('converts seconds to milliseconds', () => {
    expect(
      probeTiming({ initialDelaySeconds: 2, periodSeconds: 3, timeoutSeconds: 4 }),
    ).toMatchObject({ initialDelayMs: 2_000, periodMs: 3_000, timeoutMs: 4_000 });
  });
});

describe('ProbeWorker', () => {
  it('waits for the initial delay before the first check', async () => {
    const p = scripted([true], timing({ initialDelayMs: 5_000 }));
    p.worker.start();
    await p.advance(4_999);
    expect(p.checks()).toBe(0);
    await p.advance(1);
    expect(p.checks()).toBe(1);
    expect(p.results).toEqual(['success']);
  });

  it('checks once per period', async () => {
    const p = scripted([true], timing());
    p.worker.start();
    await p.advance(0);
    await p.advance(1_000);
    await p.advance(1_000);
    expect(p.checks()).toBe(3);
  });

  it('reports failure only after failureThreshold failures in a row', async () => {
    const p = scripted([true, false, false, true, false, false, false], timing());
    p.worker.start();
    for (let i = 0; i < 7; i++) await p.advance(i === 0 ? 0 : 1_000);
    expect(p.results).toEqual(['success', 'failure']);
  });

  it('needs successThreshold successes in a row to become ready', async () => {
    const p = scripted([true, false, true, true], timing({ successThreshold: 2 }));
    p.worker.start();
    for (let i = 0; i < 4; i++) await p.advance(i === 0 ? 0 : 1_000);
    expect(p.results).toEqual(['success']);
    expect(p.checks()).toBe(4);
  });

  it('never reports a change when a readiness probe keeps failing', async () => {
    const p = scripted([false], timing());
    p.worker.start();
    for (let i = 0; i < 10; i++) await p.advance(1_000);
    expect(p.results).toEqual([]);
    expect(p.worker.result).toBe('failure');
  });

  it('reports a startup probe that never succeeds as failed', async () => {
    const p = scripted([false], timing({ failureThreshold: 2 }), 'unknown');
    p.worker.start();
    await p.advance(0);
    await p.advance(1_000);
    expect(p.results).toEqual(['failure']);
  });

  it('stops checking once stopped', async () => {
    const p = scripted([true], timing());
    p.worker.start();
    await p.advance(0);
    p.worker.stop();
    await p.advance(10_000);
    expect(p.checks()).toBe(1);
  });
});
