import { describe, expect, it } from '@jest/globals';
import { ManualClock } from '../../../test/support/manualClock.ts';
import { WorkQueue, type Outcome } from './workQueue.ts';

/** A handler whose calls stay open until the test settles them. */
function controllableHandler() {
  const calls: { key: string; settle: (outcome?: Outcome | Error) => void }[] = [];
  const handler = (key: string) =>
    new Promise<Outcome | undefined>((resolve, reject) => {
      calls.push({
        key,
        settle: (outcome) => {
          if (outcome instanceof Error) reject(outcome);
          else resolve(outcome);
        },
      });
    });
  return { calls, handler };
}

const flush = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

describe('WorkQueue', () => {
  it('processes a key added many times while waiting only once', async () => {
    const { calls, handler } = controllableHandler();
    const queue = new WorkQueue(handler, { concurrency: 1, clock: new ManualClock() });
    queue.add('a');
    queue.add('b');
    queue.add('b');
    queue.add('b');
    calls[0]?.settle();
    await flush();
    calls[1]?.settle();
    await flush();
    expect(calls.map((c) => c.key)).toEqual(['a', 'b']);
    await queue.idle();
  });

  it('takes keys while paused, processes none, and each once after resume', async () => {
    const { calls, handler } = controllableHandler();
    const queue = new WorkQueue(handler, {
      concurrency: 2,
      clock: new ManualClock(),
      paused: true,
    });
    queue.add('a');
    queue.add('b');
    queue.add('a');
    await flush();
    expect(calls).toEqual([]);
    queue.resume();
    await flush();
    expect(calls.map((c) => c.key)).toEqual(['a', 'b']);
    for (const call of calls) call.settle();
    await flush();
    expect(calls).toHaveLength(2);
    await queue.idle();
  });

  it('never processes one key twice at once, and runs it again after when it changed meanwhile', async () => {
    const { calls, handler } = controllableHandler();
    const queue = new WorkQueue(handler, { concurrency: 4, clock: new ManualClock() });
    queue.add('a');
    queue.add('a');
    expect(calls).toHaveLength(1);
    calls[0]?.settle();
    await flush();
    expect(calls).toHaveLength(2);
    calls[1]?.settle();
    await queue.idle();
  });

  it('runs at most `concurrency` keys at a time', async () => {
    const { calls, handler } = controllableHandler();
    const queue = new WorkQueue(handler, { concurrency: 2, clock: new ManualClock() });
    for (const key of ['a', 'b', 'c', 'd']) queue.add(key);
    expect(queue.stats).toEqual({ depth: 2, active: 2, delayed: 0 });
    calls[0]?.settle();
    await flush();
    expect(calls.map((c) => c.key)).toEqual(['a', 'b', 'c']);
  });

  it.each([
    { failures: 1, retryMs: 100 },
    { failures: 2, retryMs: 200 },
    { failures: 4, retryMs: 800 },
    { failures: 12, retryMs: 1_000 },
  ])(
    'retries after $retryMs ms once a key has failed $failures times in a row',
    async ({ failures, retryMs }) => {
      const clock = new ManualClock();
      const { calls, handler } = controllableHandler();
      const queue = new WorkQueue(handler, { backoffBaseMs: 100, backoffMaxMs: 1_000, clock });
      queue.add('a');
      for (let i = 0; i < failures; i++) {
        await flush();
        calls[i]?.settle(new Error('boom'));
        await flush();
        if (i < failures - 1) clock.advance(60_000);
      }
      expect(queue.failures('a')).toBe(failures);
      const before = calls.length;
      clock.advance(retryMs - 1);
      await flush();
      expect(calls).toHaveLength(before);
      clock.advance(1);
      await flush();
      expect(calls).toHaveLength(before + 1);
    },
  );

  it('forgets the failures of a key once it succeeds', async () => {
    const clock = new ManualClock();
    const { calls, handler } = controllableHandler();
    const queue = new WorkQueue(handler, { clock });
    queue.add('a');
    calls[0]?.settle(new Error('boom'));
    await flush();
    clock.advance(100);
    await flush();
    calls[1]?.settle();
    await flush();
    expect(queue.failures('a')).toBe(0);
  });

  it('requeues a key after the delay its handler asked for', async () => {
    const clock = new ManualClock();
    const { calls, handler } = controllableHandler();
    const queue = new WorkQueue(handler, { clock });
    queue.add('a');
    calls[0]?.settle({ requeueAfterMs: 30_000 });
    await flush();
    expect(queue.stats.delayed).toBe(1);
    clock.advance(30_000);
    expect(calls).toHaveLength(2);
  });

  it('lets a fresh add beat a scheduled retry', async () => {
    const clock = new ManualClock();
    const { calls, handler } = controllableHandler();
    const queue = new WorkQueue(handler, { clock });
    queue.add('a');
    calls[0]?.settle(new Error('boom'));
    await flush();
    queue.add('a');
    expect(calls).toHaveLength(2);
    expect(queue.stats.delayed).toBe(0);
  });

  it('takes no new work after shutDown and waits for the running key', async () => {
    const { calls, handler } = controllableHandler();
    const queue = new WorkQueue(handler, { concurrency: 1, clock: new ManualClock() });
    queue.add('a');
    queue.add('b');
    let down = false;
    const shutdown = queue.shutDown().then(() => (down = true));
    queue.add('c');
    await flush();
    expect(down).toBe(false);
    calls[0]?.settle();
    await shutdown;
    expect(calls.map((c) => c.key)).toEqual(['a']);
  });
});
