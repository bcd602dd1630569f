/**
 * Budget settlements the store could not take, kept to be sent again: at most 10,000, for 30
 * minutes, and sent one batch at a time once the store answers.
 */
import { describe, expect, it } from '@jest/globals';
import { ManualClock } from '../../../test/support/manualClock.ts';
import type { StoreBudgetSettlement } from '../guard/rateLimitStore.ts';
import { RESEND_BATCH } from './recentSettlements.ts';
import {
  SettlementResend,
  UNSENT_AT_MOST,
  UNSENT_KEPT_MS,
  UnsentSettlements,
} from './unsentSettlements.ts';
import { settlement } from './settlementFixtures.ts';

const many = (n: number, from = 0): StoreBudgetSettlement[] =>
  Array.from({ length: n }, (_, i) => settlement(String(from + i)));

/** A store that answers each script call when the test says so. */
class HeldSends {
  readonly calls: { list: StoreBudgetSettlement[]; then: (answered: boolean) => void }[] = [];
  readonly send = (list: StoreBudgetSettlement[], then: (answered: boolean) => void): void => {
    this.calls.push({ list, then });
  };
  ids(call: number): string[] {
    return (this.calls[call]?.list ?? []).map((s) => s.reservationId);
  }
}

describe('UnsentSettlements', () => {
  it('hands back every settlement kept, oldest first, once', () => {
    const unsent = new UnsentSettlements();
    unsent.keep([settlement('a'), settlement('b')], 0);
    unsent.keep([settlement('c')], 10);
    expect(unsent.take(20).map((s) => s.reservationId)).toEqual(['a', 'b', 'c']);
    expect(unsent.take(20)).toEqual([]);
  });

  it('drops the oldest past 10,000', () => {
    const unsent = new UnsentSettlements();
    unsent.keep(
      Array.from({ length: UNSENT_AT_MOST + 2 }, (_, i) => settlement(String(i))),
      0,
    );
    const kept = unsent.take(0);
    expect(kept).toHaveLength(UNSENT_AT_MOST);
    expect(kept[0]?.reservationId).toBe('2');
  });

  it('never sends one again once the store may have forgotten it: 30 minutes from its first failure', () => {
    const unsent = new UnsentSettlements();
    const a = settlement('a');
    unsent.keep([a], 0);
    // Sent again, and failed again: it keeps its first time.
    expect(unsent.take(UNSENT_KEPT_MS - 1)).toEqual([a]);
    unsent.keep([a, settlement('b')], UNSENT_KEPT_MS - 1);
    expect(unsent.take(UNSENT_KEPT_MS + 1).map((s) => s.reservationId)).toEqual(['b']);
    expect(unsent.expired).toBe(1);
  });

  it('hands back at most as many as asked, oldest first, the rest kept', () => {
    const unsent = new UnsentSettlements();
    unsent.keep(many(5), 0);
    expect(unsent.take(0, 2).map((s) => s.reservationId)).toEqual(['0', '1']);
    expect(unsent.size).toBe(3);
    expect(unsent.take(0, 10).map((s) => s.reservationId)).toEqual(['2', '3', '4']);
  });

  it('counts the expired it passes on the way to a batch, not those behind it', () => {
    const unsent = new UnsentSettlements();
    unsent.keep(many(2), 0);
    unsent.keep(many(3, 2), UNSENT_KEPT_MS);
    expect(unsent.take(UNSENT_KEPT_MS + 1, 2).map((s) => s.reservationId)).toEqual(['2', '3']);
    expect(unsent.expired).toBe(2);
    expect(unsent.size).toBe(1);
  });
});

describe('SettlementResend', () => {
  it('sends what it kept one batch at a time, the next once the last is answered', () => {
    const clock = new ManualClock(0);
    const resend = new SettlementResend(clock, () => false);
    const sends = new HeldSends();
    resend.keep(many(RESEND_BATCH * 2 + 3));
    resend.resendTo(sends.send);
    expect(sends.calls).toHaveLength(1);
    expect(sends.ids(0)).toEqual(many(RESEND_BATCH).map((s) => s.reservationId));
    sends.calls[0]?.then(true);
    expect(sends.calls).toHaveLength(2);
    expect(sends.ids(1)[0]).toBe(String(RESEND_BATCH));
    sends.calls[1]?.then(true);
    expect(sends.ids(2)).toEqual(['256', '257', '258']);
    sends.calls[2]?.then(true);
    expect(sends.calls).toHaveLength(3);
    expect(resend.kept).toBe(0);
  });

  it('one resend at a time: a second answer of the store while one is under way starts none', () => {
    const clock = new ManualClock(0);
    const resend = new SettlementResend(clock, () => false);
    const sends = new HeldSends();
    resend.keep(many(RESEND_BATCH + 1));
    resend.resendTo(sends.send);
    resend.resendTo(sends.send);
    expect(sends.calls).toHaveLength(1);
    // Kept meanwhile: the resend under way takes it too.
    resend.keep([settlement('late')]);
    sends.calls[0]?.then(true);
    expect(sends.ids(1)).toEqual([String(RESEND_BATCH), 'late']);
  });

  it('stops at a batch the store did not take, and starts again when it answers again', () => {
    const clock = new ManualClock(0);
    const resend = new SettlementResend(clock, () => false);
    const sends = new HeldSends();
    resend.keep(many(RESEND_BATCH + 1));
    resend.resendTo(sends.send);
    // The store failed it: RedisStore keeps the batch again, then says so.
    resend.keep(sends.calls[0]?.list ?? []);
    sends.calls[0]?.then(false);
    expect(sends.calls).toHaveLength(1);
    expect(resend.kept).toBe(RESEND_BATCH + 1);
    resend.resendTo(sends.send);
    expect(sends.ids(1)).toEqual([
      String(RESEND_BATCH),
      ...many(RESEND_BATCH - 1).map((s) => s.reservationId),
    ]);
  });

  it('sends nothing to a closed store, and keeps nothing for it', () => {
    const clock = new ManualClock(0);
    let closed = false;
    const resend = new SettlementResend(clock, () => closed);
    const sends = new HeldSends();
    resend.keep(many(3));
    closed = true;
    resend.keep(many(3, 3));
    resend.resendTo(sends.send);
    expect(sends.calls).toHaveLength(0);
  });
});
