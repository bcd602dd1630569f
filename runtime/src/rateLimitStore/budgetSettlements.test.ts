/**
 * A budget settlement's way to the store and back to it after a failover: remembered once
 * answered, sent again to each connection made ready a batch at a time, sent again at once when
 * answered by a connection left behind, kept when it fails.
 */
import { describe, expect, it } from '@jest/globals';
import { ManualClock } from '../../../test/support/manualClock.ts';
import type { StoreBudgetSettlement } from '../guard/rateLimitStore.ts';
import { BudgetSettlements } from './budgetSettlements.ts';
import { RESEND_BATCH } from './recentSettlements.ts';
import { settlement } from './settlementFixtures.ts';

const many = (n: number, from = 0): StoreBudgetSettlement[] =>
  Array.from({ length: n }, (_, i) => settlement(String(from + i)));

/** A store whose script calls are answered, or failed, when the test says. */
function heldStore() {
  const calls: {
    ids: string[];
    fail: () => void;
    answer: () => void;
  }[] = [];
  let resent = 0;
  let closed = false;
  const settlements = new BudgetSettlements({
    clock: new ManualClock(0),
    closed: () => closed,
    send: (list, unsent, answered) => {
      calls.push({ ids: list.map((s) => s.reservationId), fail: unsent, answer: answered });
    },
    resent: (n) => {
      resent += n;
    },
  });
  return {
    settlements,
    calls,
    resent: () => resent,
    close: () => {
      closed = true;
    },
  };
}

/** An admission's script with settlements riding, answered or failed by the test. */
function ride(store: ReturnType<typeof heldStore>, list: StoreBudgetSettlement[]) {
  let answer!: () => void;
  let fail!: () => void;
  const script = new Promise<void>((resolve, reject) => {
    answer = resolve;
    fail = () => {
      reject(new Error('connection dropped'));
    };
  });
  script.catch(() => undefined);
  store.settlements.ridden(script, list);
  return { answer, fail };
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('BudgetSettlements', () => {
  it('sends what it remembers to a connection made ready, a batch at a time', async () => {
    const store = heldStore();
    const riding = ride(store, many(RESEND_BATCH + 5));
    riding.answer();
    await turn();
    store.settlements.ready();
    expect(store.resent()).toBe(RESEND_BATCH + 5);
    expect(store.calls).toHaveLength(1);
    expect(store.calls[0]?.ids).toHaveLength(RESEND_BATCH);
    store.calls[0]?.answer();
    expect(store.calls[1]?.ids).toEqual(many(5, RESEND_BATCH).map((s) => s.reservationId));
  });

  it('a newer connection made ready takes over the resend: the older one stops', async () => {
    const store = heldStore();
    const riding = ride(store, many(RESEND_BATCH * 2));
    riding.answer();
    await turn();
    store.settlements.ready();
    store.settlements.ready();
    expect(store.calls).toHaveLength(2);
    // The first connection's first batch answered: sent again at once, since a connection
    // was made ready after it was sent; its second batch is not sent.
    store.calls[0]?.answer();
    expect(store.calls).toHaveLength(3);
    expect(store.calls[2]?.ids[0]).toBe('0');
    store.calls[1]?.answer();
    expect(store.calls).toHaveLength(4);
    expect(store.calls[3]?.ids[0]).toBe(String(RESEND_BATCH));
    expect(store.calls.filter((c) => c.ids[0] === String(RESEND_BATCH))).toHaveLength(1);
  });

  it('sends again at once what was answered after a newer connection was made ready', async () => {
    const store = heldStore();
    const riding = ride(store, many(2));
    // Sent on connection 0; connection 1 made ready (nothing remembered yet); then answered,
    // maybe by the server left behind.
    store.settlements.ready();
    expect(store.calls).toHaveLength(0);
    riding.answer();
    await turn();
    expect(store.calls.map((c) => c.ids)).toEqual([['0', '1']]);
  });

  it('keeps what failed and sends it when the store answers again', async () => {
    const store = heldStore();
    const riding = ride(store, many(3));
    riding.fail();
    await turn();
    expect(store.calls).toHaveLength(0);
    store.settlements.answering();
    expect(store.calls.map((c) => c.ids)).toEqual([['0', '1', '2']]);
    // Failed again: kept again, and sent with the next answer.
    store.calls[0]?.fail();
    store.settlements.answering();
    expect(store.calls[1]?.ids).toEqual(['0', '1', '2']);
  });

  it('a closed store is sent nothing again', async () => {
    const store = heldStore();
    ride(store, many(3)).answer();
    await turn();
    store.close();
    store.settlements.ready();
    store.settlements.answering();
    expect(store.calls).toHaveLength(0);
  });

  it('a settlement pushed goes alone on the next turn when no admission is waiting', async () => {
    const store = heldStore();
    store.settlements.push(settlement('a'), () => true);
    expect(store.calls).toHaveLength(0);
    await turn();
    expect(store.calls.map((c) => c.ids)).toEqual([['a']]);
  });

  it('a settlement pushed while an admission waits rides with it', async () => {
    const store = heldStore();
    store.settlements.push(settlement('a'), () => false);
    await turn();
    expect(store.calls).toHaveLength(0);
    expect(store.settlements.take().map((s) => s.reservationId)).toEqual(['a']);
  });
});
