import { describe, expect, it } from '@jest/globals';
import { Bulkhead } from './bulkhead.ts';
import { concurrencySettings, type ConcurrencyPatch } from './settingsFixture.ts';
import { isBulkheadFullError, isCancelledError } from './errors.ts';
import { ManualClock } from '../../../test/support/manualClock.ts';

function bulkhead(options: ConcurrencyPatch) {
  const clock = new ManualClock();
  return {
    clock,
    bulkhead: new Bulkhead({ name: 'models', clock, options: concurrencySettings(options) }),
  };
}

/** Lets queued promise reactions run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

describe('Bulkhead', () => {
  it('lets maxConcurrent calls in at once', () => {
    const { bulkhead: b } = bulkhead({ maxConcurrent: 2, maxQueue: 0 });
    expect([b.tryEnter(), b.tryEnter(), b.tryEnter()]).toEqual([true, true, false]);
    expect(b.active).toBe(2);
  });

  it('turns a caller away when the slots and the queue are full', async () => {
    const { bulkhead: b } = bulkhead({ maxConcurrent: 1, maxQueue: 1 });
    b.tryEnter();
    void b.enter();
    const err: unknown = await b.enter().catch((e: unknown) => e);
    expect(isBulkheadFullError(err)).toBe(true);
    expect(err).toMatchObject({ code: 'BULKHEAD_FULL', reason: 'queueFull' });
    expect(b.counters().rejectedQueueFull).toBe(1);
  });

  it('hands freed slots to waiters in arrival order', async () => {
    const { bulkhead: b } = bulkhead({ maxConcurrent: 1, maxQueue: 3 });
    b.tryEnter();
    const order: string[] = [];
    for (const name of ['a', 'b', 'c']) void b.enter().then(() => order.push(name));
    b.release();
    await settle();
    b.release();
    await settle();
    expect(order).toEqual(['a', 'b']);
    expect(b.active).toBe(1);
    expect(b.queued).toBe(1);
  });

  it('does not let a newcomer barge past the queue', () => {
    const { bulkhead: b } = bulkhead({ maxConcurrent: 1, maxQueue: 1 });
    b.tryEnter();
    void b.enter();
    b.release(); // the slot goes to the waiter
    expect(b.tryEnter()).toBe(false);
  });

  it('times a waiter out after queueTimeout', async () => {
    const { bulkhead: b, clock } = bulkhead({ maxConcurrent: 1, maxQueue: 1, queueTimeoutMs: 500 });
    b.tryEnter();
    const waiting = b.enter().catch((e: unknown) => e);
    clock.advance(499);
    expect(b.queued).toBe(1);
    clock.advance(1);
    expect(await waiting).toMatchObject({ code: 'BULKHEAD_FULL', reason: 'queueTimeout' });
    expect(b.queued).toBe(0);
  });

  it('takes a waiter whose caller aborts out of the queue at once', async () => {
    const { bulkhead: b, clock } = bulkhead({ maxConcurrent: 1, maxQueue: 2 });
    b.tryEnter();
    const controller = new AbortController();
    const first = b.enter(controller.signal).catch((e: unknown) => e);
    let secondIn = false;
    void b.enter().then(() => (secondIn = true));
    controller.abort();
    expect(isCancelledError(await first)).toBe(true);
    expect(b.queued).toBe(1);
    b.release();
    await settle();
    expect(secondIn).toBe(true);
    expect(clock.pendingTimers).toBe(0);
  });

  it('refuses a caller that has already aborted', async () => {
    const { bulkhead: b } = bulkhead({ maxConcurrent: 1, maxQueue: 1 });
    b.tryEnter();
    await expect(b.enter(AbortSignal.abort())).rejects.toMatchObject({ code: 'CANCELLED' });
  });

  it('lets waiters in at once when maxConcurrent grows', async () => {
    const { bulkhead: b } = bulkhead({ maxConcurrent: 1, maxQueue: 5 });
    b.tryEnter();
    let admitted = 0;
    for (let i = 0; i < 3; i++) void b.enter().then(() => admitted++);
    b.reconfigure(concurrencySettings({ maxConcurrent: 3, maxQueue: 5 }));
    await settle();
    expect(admitted).toBe(2);
    expect(b.active).toBe(3);
  });

  it('never cuts running calls when maxConcurrent shrinks: it waits for them to finish', () => {
    const { bulkhead: b } = bulkhead({ maxConcurrent: 3, maxQueue: 0 });
    b.tryEnter();
    b.tryEnter();
    b.tryEnter();
    b.reconfigure(concurrencySettings({ maxConcurrent: 1, maxQueue: 0 }));
    expect(b.active).toBe(3);
    b.release();
    expect(b.tryEnter()).toBe(false);
    b.release();
    b.release();
    expect(b.tryEnter()).toBe(true);
  });

  it('keeps queued waiters when maxQueue shrinks, and turns new ones away', async () => {
    const { bulkhead: b } = bulkhead({ maxConcurrent: 1, maxQueue: 3 });
    b.tryEnter();
    void b.enter();
    void b.enter();
    b.reconfigure(concurrencySettings({ maxConcurrent: 1, maxQueue: 1 }));
    expect(b.queued).toBe(2);
    await expect(b.enter()).rejects.toMatchObject({ reason: 'queueFull' });
  });
});

describe('Bulkhead in Shadow mode', () => {
  it('lets every call in at once, counting those Enforce would have turned away', () => {
    const { bulkhead: b } = bulkhead({ maxConcurrent: 1, maxQueue: 1, mode: 'Shadow' });
    // Enforce: the first runs, the second queues, the third and fourth find the queue full.
    expect([b.tryEnter(), b.tryEnter(), b.tryEnter(), b.tryEnter()]).toEqual([
      true,
      true,
      true,
      true,
    ]);
    expect(b.active).toBe(4);
    expect(b.counters()).toEqual({
      rejectedQueueFull: 0,
      rejectedQueueTimeout: 0,
      shadowRejected: 2,
    });
  });

  it('never queues a call, so nothing waits on a timer', async () => {
    const { bulkhead: b, clock } = bulkhead({ maxConcurrent: 1, maxQueue: 0, mode: 'Shadow' });
    b.tryEnter();
    await b.enter();
    expect(b.queued).toBe(0);
    expect(clock.pendingTimers).toBe(0);
    expect(b.counters().shadowRejected).toBe(1);
  });

  it('counts again once running calls finish and the load comes back', () => {
    const { bulkhead: b } = bulkhead({ maxConcurrent: 1, maxQueue: 0, mode: 'Shadow' });
    b.tryEnter();
    b.tryEnter();
    b.release();
    b.release();
    b.tryEnter();
    expect(b.counters().shadowRejected).toBe(1);
    b.tryEnter();
    expect(b.counters().shadowRejected).toBe(2);
  });

  it('lets the waiters of an enforcing bulkhead in when switched to Shadow', async () => {
    const { bulkhead: b } = bulkhead({ maxConcurrent: 1, maxQueue: 5 });
    b.tryEnter();
    let admitted = 0;
    for (let i = 0; i < 3; i++) void b.enter().then(() => admitted++);
    b.reconfigure(concurrencySettings({ maxConcurrent: 1, maxQueue: 5, mode: 'Shadow' }));
    await settle();
    expect(admitted).toBe(3);
    expect(b.active).toBe(4);
    expect(b.queued).toBe(0);
  });

  it('enforces again when switched back, once running calls fall below maxConcurrent', () => {
    const { bulkhead: b } = bulkhead({ maxConcurrent: 1, maxQueue: 0, mode: 'Shadow' });
    b.tryEnter();
    b.tryEnter();
    b.reconfigure(concurrencySettings({ maxConcurrent: 1, maxQueue: 0, mode: 'Enforce' }));
    expect(b.tryEnter()).toBe(false);
    b.release();
    expect(b.tryEnter()).toBe(false);
    b.release();
    expect(b.tryEnter()).toBe(true);
  });
});
