import { describe, expect, it } from '@jest/globals';
import type { SpendSettings } from '../../../contract/src/policy/policyDocument.ts';
import { ManualClock } from '../../../test/support/manualClock.ts';
import { IDLE_READ_MS, READ_EVERY_MS, TeamAccountReads } from './teamAccountReads.ts';

const NOON = Date.parse('2026-11-24T12:00:00.000Z');
const DAY_START = Date.parse('2026-11-24T00:00:00.000Z');
const PREFIX = 'breakwater:{default/shared}';

const spend: SpendSettings = {
  timeZone: 'UTC',
  budgets: [
    { name: 'team', period: 'Day', limitMicroUsd: 1_000_000, per: 'Policy', onExhausted: 'Refuse' },
    { name: 'own', period: 'Day', limitMicroUsd: 500_000, per: 'Agent', onExhausted: 'Refuse' },
  ],
} as unknown as SpendSettings;

/** The reads, and what each HMGET asked; the account: $1.5 and 7 picodollars spent, 40 tokens. */
function reads() {
  const clock = new ManualClock(NOON);
  const asked: string[][] = [];
  let changes = 0;
  const r = new TeamAccountReads({
    clock,
    connection: () => ({
      sendCommand: (args) => {
        asked.push([...args]);
        return Promise.resolve(['1500000', '7', '0', '0', '40', '0']);
      },
    }),
    onChange: () => {
      changes++;
    },
  });
  return { clock, asked, r, changes: () => changes };
}

/** Lets the read's promise chain run. */
const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('a team budget’s reads of its account in the store', () => {
  it('reads only the team budgets’ accounts, under the policy’s prefix, of the current period', async () => {
    const { clock, asked, r, changes } = reads();
    r.configure(spend, PREFIX);
    clock.advance(0);
    await turn();
    expect(asked).toEqual([
      [
        'HMGET',
        `${PREFIX}:budget:team:${String(DAY_START)}`,
        'spent_micro',
        'spent_pico',
        'reserved_micro',
        'reserved_pico',
        'spent_tokens',
        'reserved_tokens',
      ],
    ]);
    expect(r.read('team')).toEqual({
      periodStart: '2026-11-24T00:00:00.000Z',
      readAt: '2026-11-24T12:00:00.000Z',
      spent: { picoUsd: 1_500_000_000_007n, tokens: 40 },
      held: { picoUsd: 0n, tokens: 0 },
    });
    expect(r.read('own')).toBeUndefined();
    expect(changes()).toBe(1);
  });

  it('reads at most once per interval however many calls end, twice after the last, then idles', async () => {
    const { clock, asked, r } = reads();
    r.configure(spend, PREFIX);
    clock.advance(0);
    await turn();
    for (let i = 0; i < 100; i++) r.called();
    await turn();
    expect(asked).toHaveLength(1);
    clock.advance(READ_EVERY_MS);
    await turn();
    clock.advance(READ_EVERY_MS);
    await turn();
    expect(asked).toHaveLength(3);
    clock.advance(IDLE_READ_MS - 1);
    await turn();
    expect(asked).toHaveLength(3);
    clock.advance(1);
    await turn();
    expect(asked).toHaveLength(4);
  });

  it('reads nothing without a store or without a team budget', async () => {
    const { clock, asked, r } = reads();
    r.configure(spend, undefined);
    r.called();
    clock.advance(IDLE_READ_MS);
    await turn();
    r.configure({ ...spend, budgets: spend.budgets.slice(1) }, PREFIX);
    r.called();
    clock.advance(IDLE_READ_MS);
    await turn();
    expect(asked).toEqual([]);
    expect(r.read('team')).toBeUndefined();
  });
});
