/** Budget settlements wait for an admission to ride with, or go alone soon; manual clock. */
import { describe, expect, it } from '@jest/globals';
import { ManualClock } from '../../../test/support/manualClock.ts';
import { SETTLE_WITHIN_MS, SETTLEMENTS_PER_ADMIT, SettlementQueue } from './settlementQueue.ts';
import { settlement } from './settlementFixtures.ts';

function setup() {
  const clock = new ManualClock(0);
  const sent: string[][] = [];
  const queue = new SettlementQueue(clock, (list) => sent.push(list.map((s) => s.reservationId)));
  return { clock, sent, queue };
}

describe('SettlementQueue', () => {
  it('hands waiting settlements to the next admission, and then sends nothing alone', () => {
    const { clock, sent, queue } = setup();
    queue.push(settlement('a'));
    queue.push(settlement('b'));
    expect(queue.take().map((s) => s.reservationId)).toEqual(['a', 'b']);
    clock.advance(SETTLE_WITHIN_MS * 2);
    expect(sent).toEqual([]);
  });

  it('keeps its timer across admissions, and gives a later settlement its whole wait', () => {
    const { clock, sent, queue } = setup();
    queue.push(settlement('a'));
    expect(queue.take().map((s) => s.reservationId)).toEqual(['a']);
    clock.advance(SETTLE_WITHIN_MS / 2);
    queue.push(settlement('b'));
    expect(clock.pendingTimers).toBe(1);
    clock.advance(SETTLE_WITHIN_MS / 2);
    expect(sent).toEqual([]);
    clock.advance(SETTLE_WITHIN_MS / 2 - 1);
    expect(sent).toEqual([]);
    clock.advance(1);
    expect(sent).toEqual([['b']]);
  });

  it('sends them alone, together, when no admission comes in time', () => {
    const { clock, sent, queue } = setup();
    queue.push(settlement('a'));
    clock.advance(SETTLE_WITHIN_MS - 1);
    queue.push(settlement('b'));
    expect(sent).toEqual([]);
    clock.advance(1);
    expect(sent).toEqual([['a', 'b']]);
    expect(queue.take()).toEqual([]);
  });

  it('gives an admission at most its share, and sends a full queue at once', () => {
    const { sent, queue } = setup();
    for (let i = 0; i < SETTLEMENTS_PER_ADMIT + 2; i++) {
      if (i === SETTLEMENTS_PER_ADMIT - 1) expect(queue.take()).toHaveLength(i);
      queue.push(settlement(String(i)));
    }
    expect(queue.take()).toHaveLength(3);
    for (let i = 0; i < SETTLEMENTS_PER_ADMIT; i++) queue.push(settlement(`f${String(i)}`));
    expect(sent).toHaveLength(1);
    expect(sent[0]).toHaveLength(SETTLEMENTS_PER_ADMIT);
    expect(queue.flush()).toBe(false);
  });
});
