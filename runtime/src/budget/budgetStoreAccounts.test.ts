import { describe, expect, it } from '@jest/globals';
import type { BudgetSettings } from '../../../contract/src/policy/policyDocument.ts';
import { calendarPeriod } from '../../../contract/src/spend/calendarPeriod.ts';
import { budgetKeys } from '../rateLimitStore/storeScriptCalls.ts';
import { storeAccount } from './budgetStoreAccounts.ts';
import { Account, whoOf } from './budgetTicket.ts';

const NOW = Date.UTC(2026, 10, 28, 12);
const budget = (per: BudgetSettings['per']): BudgetSettings => ({
  name: 'monthly',
  period: 'Month',
  limitMicroUsd: 2_000_000_000,
  per,
  onExhausted: 'Refuse',
  warnAtPercent: 80,
  waitForHeldMs: 0,
});
const START = calendarPeriod(NOW, 'Month', 'UTC').startMs;
const TEAM_PREFIX = 'breakwater:{ns/team}';

/** The store key `agent`'s replica charges for `b`, under its limiter's PerAgent prefix. */
function keyOf(agent: string, b: BudgetSettings, clientKey?: string): string {
  const account = new Account(b, whoOf(b, clientKey), calendarPeriod(NOW, b.period, 'UTC'), 2);
  const inStore = storeAccount(agent, b, account, TEAM_PREFIX);
  return budgetKeys(`breakwater:{ns/team/${agent}}`, [inStore])[0] ?? '';
}

describe('the store account of a budget', () => {
  it('is the policy’s for a team budget (per Policy): every agent charges the same key', () => {
    const team = budget('Policy');
    expect(keyOf('alpha', team)).toBe(`${TEAM_PREFIX}:budget:monthly:${String(START)}`);
    expect(keyOf('beta', team)).toBe(keyOf('alpha', team));
    // A caller's key does not split the team's account.
    expect(keyOf('alpha', team, 'key-abc')).toBe(keyOf('alpha', team));
  });

  it('is each agent’s own per Agent, and each key’s per ClientKey, under its limiter', () => {
    expect(keyOf('alpha', budget('Agent'))).toBe(
      `breakwater:{ns/team/alpha}:budget:alpha:monthly:${String(START)}`,
    );
    expect(keyOf('beta', budget('Agent'))).not.toBe(keyOf('alpha', budget('Agent')));
    expect(keyOf('alpha', budget('ClientKey'), 'key-abc')).toBe(
      `breakwater:{ns/team/alpha}:budget:alpha:monthly:${String(START)}:key-abc`,
    );
  });

  it('holds the whole team limit in the store, and no share on a replica', () => {
    const team = budget('Policy');
    // No count of the team's replicas (BudgetAccounts gives 0 without teamShareOf).
    const account = new Account(team, '', calendarPeriod(NOW, 'Month', 'UTC'), 0);
    expect(storeAccount('alpha', team, account, TEAM_PREFIX).limitPico).toBe(
      2_000_000_000_000_000n,
    );
    // Decided on this replica alone, nothing fits: each agent would spend all of it.
    expect(account.limitPico).toBe(0n);
    expect(account.fits(1n, 0n)).toBe(false);
  });

  it('holds a share of every agent’s replicas when the operator counts them', () => {
    const team = budget('Policy');
    const account = new Account(team, '', calendarPeriod(NOW, 'Month', 'UTC'), 4);
    expect(account.limitPico).toBe(500_000_000_000_000n);
  });

  it('is refused without the team prefix the document renders', () => {
    const team = budget('Policy');
    const account = new Account(team, '', calendarPeriod(NOW, 'Month', 'UTC'), 1);
    expect(() => storeAccount('alpha', team, account)).toThrow(/per Policy.*no teamKeyPrefix/);
  });
});
