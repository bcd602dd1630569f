import { describe, expect, it } from '@jest/globals';
import { debtArguments, MAX_OWED, RunDebts } from './runDebts.ts';

const h = (c: string) => `ts${c.repeat(64)}`;

describe('what a replica owes a run', () => {
  it('hands an attempt its debts once, in order, and only to that attempt', () => {
    const debts = new RunDebts();
    debts.unjournaled('run', 'a1', h('a'), false);
    debts.unjournaled('run', 'a1', h('b'), false);
    expect(debts.owes('run')).toBe(true);
    const debt = debts.take('run');
    expect(debtArguments(debt)).toEqual(['', `n${h('a')}n${h('b')}`, 'a1']);
    expect(debts.take('run')).toBeUndefined();
    expect(debts.owes('run')).toBe(false);
  });

  it('owes again what an unanswered claim carried, with the call itself, ahead of later calls, all maybe landed', () => {
    const debts = new RunDebts();
    debts.unjournaled('run', 'a1', h('a'), false);
    debts.refused('run', 'a1', { position: 3, live: true, header: h('r') });
    const carried = debts.take('run');
    debts.unjournaled('run', 'a1', h('c'), false);
    debts.unanswered('run', 'a1', carried, h('b'), true);
    expect(debtArguments(debts.take('run'))).toEqual([
      `3:L:${h('r')}`,
      `m${h('a')}m${h('b')}n${h('c')}`,
      'a1',
    ]);
  });

  it("ends another attempt's debts when an attempt owes something", () => {
    const debts = new RunDebts();
    debts.unjournaled('run', 'a1', h('a'), false);
    debts.refused('run', 'a2', { position: 0, live: false, header: h('x') });
    expect(debtArguments(debts.take('run'))).toEqual([`0:R:${h('x')}`, '', 'a2']);
  });

  it('keeps what it carried as it was when the store answered the claim with an error (nothing ran)', () => {
    const debts = new RunDebts();
    debts.unjournaled('run', 'a1', h('a'), false);
    debts.unanswered('run', 'a1', debts.take('run'), h('b'), false);
    expect(debtArguments(debts.take('run'))).toEqual(['', `n${h('a')}n${h('b')}`, 'a1']);
  });

  it('owes at most MAX_OWED calls a run', () => {
    const debts = new RunDebts();
    for (let i = 0; i < MAX_OWED + 5; i++) debts.unjournaled('run', 'a1', h('a'), false);
    expect(debts.take('run')?.owed).toHaveLength(MAX_OWED);
  });
});
