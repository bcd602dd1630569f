import { describe, expect, it } from '@jest/globals';
import { moneyFromUsd } from '../../../contract/src/spend/money.ts';
import type {
  BudgetSettings,
  ModelPriceSettings,
} from '../../../contract/src/policy/policyDocument.ts';
import type { PlannedCall } from '../../../contract/src/spend/callCost.ts';
import { seededRandom } from '../../../platform/src/random/random.ts';
import { ManualClock } from '../../../test/support/manualClock.ts';
import { BudgetLedger } from './budgetLedger.ts';
import { NO_CLIENT_KEY } from './budgetTicket.ts';
import type { BudgetTicket } from './budgetTicket.ts';
import {
  isBudgetExhaustedError,
  isUnpricedModelError,
  type BudgetExhaustedError,
  type UnpricedModelError,
} from '../guard/errors.ts';
import { TEST_MODEL_PRICE } from './budgetFixture.ts';

const CHEAP: ModelPriceSettings = {
  ...TEST_MODEL_PRICE,
  model: 'cheap-model',
  inputMicroUsdPerMTok: 100_000,
  outputMicroUsdPerMTok: 500_000,
};
const PICO_PER_USD = moneyFromUsd(1);
/** 100k in at $1/M and 100k out at $5/M: at most $0.60. */
const CALL: PlannedCall = { inputTokens: 100_000, maxTokens: 100_000 };
const WORST = 600_000_000_000n;
const NOV_24 = Date.parse('2026-11-24T12:00:00Z');

/** A $1 monthly budget for the whole agent, refusing; `noDollars` limits tokens alone. */
function budget(patch: Partial<BudgetSettings> & { noDollars?: true } = {}): BudgetSettings {
  const { noDollars, ...fields } = patch;
  const made: BudgetSettings = {
    name: 'monthly',
    period: 'Month',
    limitMicroUsd: 1_000_000,
    per: 'Agent',
    onExhausted: 'Refuse',
    warnAtPercent: 80,
    waitForHeldMs: 0,
    ...fields,
  };
  if (noDollars === undefined) return made;
  const { limitMicroUsd: _dropped, ...tokensOnly } = made;
  return tokensOnly;
}

function ledger(
  budgets: readonly BudgetSettings[],
  { start = NOV_24, timeZone = 'UTC', shareOf = 1, leaseMs = 60_000 } = {},
) {
  const clock = new ManualClock(start);
  const subject = new BudgetLedger({
    name: 'support',
    clock,
    spend: { shareOf: 1, timeZone, budgets },
    pricing: [TEST_MODEL_PRICE, CHEAP],
    shareOf,
    leaseMs,
  });
  return { clock, ledger: subject };
}

function reserve(l: BudgetLedger, clientKey?: string, model = 'test-model'): BudgetTicket {
  const ticket = l.reserve({ model, clientKey, planned: CALL });
  if (ticket === undefined) throw new Error('expected a reservation');
  return ticket;
}

function refusal(fn: () => unknown): BudgetExhaustedError {
  try {
    fn();
  } catch (err) {
    if (isBudgetExhaustedError(err)) return err;
    throw err;
  }
  throw new Error('expected a BudgetExhaustedError');
}

function unpriced(fn: () => unknown): UnpricedModelError {
  try {
    fn();
  } catch (err) {
    if (isUnpricedModelError(err)) return err;
    throw err;
  }
  throw new Error('expected an UnpricedModelError');
}

/** Settles a ticket as a plain answer: 100k in, `out` tokens out. */
function settle(ticket: BudgetTicket, out: number): void {
  ticket.note(1, 'primary', { inputTokens: 100_000, outputTokens: out });
  ticket.settle();
}

describe('a budget ledger', () => {
  it('reserves the worst case and settles the real cost, so sequential calls stop at the limit', () => {
    const { ledger: l } = ledger([budget()]);
    // Each call costs $0.10 in and $0.10 out: $0.20; the fourth would have $0.60 + $0.60 > $1.
    for (let i = 0; i < 3; i++) settle(reserve(l), 20_000);
    expect(l.account('monthly')?.spentPico).toBe(600_000_000_000n);
    const err = refusal(() => reserve(l));
    expect(err.message).toBe(
      'budget "monthly" (Month, per Agent) of agent support is exhausted: spent 0.6 of 1 USD, this call may cost up to 0.6 USD; it resets at 2026-12-01T00:00:00.000Z',
    );
    expect(err.budget).toBe('monthly');
    expect(err.retryAfterMs).toBe(Date.parse('2026-12-01T00:00:00Z') - NOV_24);
    expect(err.fallback).toBe(false);
    expect(l.account('monthly')).toMatchObject({ spentPico: 600_000_000_000n, reservedPico: 0n });
    expect(l.refusals().get('monthly')).toEqual({
      exhausted: 1,
      busy: 0,
      unpriced: 0,
      unbounded: 0,
      fallback: 0,
      shadow: 0,
    });
  });

  it('never lets concurrent reservations push the settled spend past the limit', () => {
    const { ledger: l } = ledger([budget({ limitMicroUsd: 2_000_000 })]);
    const held: BudgetTicket[] = [];
    for (;;) {
      try {
        held.push(reserve(l));
      } catch (err) {
        if (!isBudgetExhaustedError(err)) throw err;
        break;
      }
    }
    expect(held).toHaveLength(3); // 3 × $0.60 ≤ $2 < 4 × $0.60
    for (const ticket of held) settle(ticket, 100_000); // every call spends its worst case
    expect(l.account('monthly')?.spentPico).toBe(3n * WORST);
    expect(l.account('monthly')?.reservedPico).toBe(0n);
  });

  it('holds the limit over a seeded random interleaving of reservations and settlements', () => {
    const random = seededRandom(35);
    const limit = 5_000_000_000_000n; // $5
    const { ledger: l } = ledger([budget({ limitMicroUsd: 5_000_000 })]);
    const open: BudgetTicket[] = [];
    for (let step = 0; step < 2_000; step++) {
      if (open.length > 0 && random() < 0.5) {
        const ticket = open.splice(Math.floor(random() * open.length), 1)[0] as BudgetTicket;
        settle(ticket, Math.floor(random() * 100_001));
      } else {
        try {
          open.push(reserve(l));
        } catch (err) {
          if (!isBudgetExhaustedError(err)) throw err;
        }
      }
      const account = l.account('monthly');
      expect((account?.spentPico ?? 0n) + (account?.reservedPico ?? 0n)).toBeLessThanOrEqual(limit);
    }
    for (const ticket of open) settle(ticket, 100_000);
    expect(l.account('monthly')?.spentPico).toBeLessThanOrEqual(limit);
  });

  it('refuses all or nothing: a call that does not fit one budget reserves nothing on the others', () => {
    const { ledger: l } = ledger([
      budget({ name: 'daily', period: 'Day', limitMicroUsd: 500_000 }),
      budget({ name: 'monthly', limitMicroUsd: 100_000_000 }),
    ]);
    const err = refusal(() => reserve(l));
    expect(err.budget).toBe('daily');
    // Nothing reserved, and no account opened for it either.
    expect(l.account('monthly')).toBeUndefined();
    settle(reserve(l, undefined, 'cheap-model'), 10);
    expect(l.account('monthly')?.reservedPico).toBe(0n);
  });

  it('opens no account for a key whose call a budget refuses', () => {
    const { ledger: l } = ledger([
      budget({ name: 'agent', period: 'Day', limitMicroUsd: 500_000 }),
      budget({ name: 'per-key', per: 'ClientKey' }),
    ]);
    for (let i = 0; i < 50; i++) refusal(() => reserve(l, `key-made-up-${String(i)}`));
    expect(l.account('per-key', 'key-made-up-0')).toBeUndefined();
    const report = l.spendReport(100).find((r) => r.budget === 'per-key');
    expect(report !== undefined && 'keys' in report ? report.keys : undefined).toEqual([]);
  });

  it('settles a stream from its last usage report, cache tokens included', () => {
    const { ledger: l } = ledger([budget()]);
    const ticket = reserve(l);
    // message_start: input and cache counts, no output yet; message_delta: the output so far.
    const start = {
      inputTokens: 1_000,
      outputTokens: 1,
      cacheWriteTokens: 20_000,
      cacheReadTokens: 50_000,
    };
    ticket.note(1, 'primary', start);
    ticket.note(1, 'primary', { ...start, outputTokens: 300 });
    ticket.note(1, 'primary', { ...start, outputTokens: 2_000, cacheWrite1hTokens: 5_000 });
    ticket.settle();
    // 1,000 in × 1e6 + 2,000 out × 5e6 + 15,000 × 1.25e6 (5m) + 5,000 × 2e6 (1h) + 50,000 × 1e5
    const expected =
      1_000_000_000n + 10_000_000_000n + 18_750_000_000n + 10_000_000_000n + 5_000_000_000n;
    expect(l.account('monthly')).toMatchObject({
      spentPico: expected,
      spentTokens: 73_000n,
      reservedPico: 0n,
    });
    expect([...l.spendByTarget()]).toEqual([
      { model: 'test-model', backend: 'primary', picoUsd: expected },
    ]);
  });

  it('charges each attempt of a retried call, and settles once', () => {
    const { ledger: l } = ledger([budget()]);
    const ticket = reserve(l);
    ticket.note(1, 'primary', { inputTokens: 100, outputTokens: 0 });
    ticket.note(2, 'secondary', { inputTokens: 100, outputTokens: 10 });
    ticket.settle();
    ticket.settle();
    expect(l.account('monthly')?.spentPico).toBe(100_000_000n + 100_000_000n + 50_000_000n);
  });

  it('charges a reservation whose lease lapses at its worst case, and a late settlement corrects it once', () => {
    const { clock, ledger: l } = ledger([budget()], { leaseMs: 60_000 });
    const hung = reserve(l);
    expect(() => reserve(l)).toThrow('0.6 USD held by calls in flight'); // $1.20 would not fit
    clock.advance(59_999);
    expect(l.openReservations).toBe(1);
    clock.advance(1);
    expect(l.openReservations).toBe(0);
    expect(hung.released).toBe(true);
    // The provider may have billed it in full: charged at its worst case, held no more.
    expect(l.account('monthly')).toMatchObject({ spentPico: WORST, reservedPico: 0n });
    expect(() => reserve(l)).toThrow('is exhausted');
    // Its replica was only slow: the charge becomes what the call cost, once.
    settle(hung, 20_000);
    expect(l.account('monthly')).toMatchObject({ spentPico: 200_000_000_000n, reservedPico: 0n });
    hung.settle();
    expect(l.account('monthly')?.spentPico).toBe(200_000_000_000n);
    const next = reserve(l);
    settle(next, 20_000);
    expect(l.account('monthly')).toMatchObject({ spentPico: 400_000_000_000n, reservedPico: 0n });
  });

  it('starts a new period from zero at midnight in Europe/Berlin', () => {
    // 23:59 on 24 November in Berlin is 22:59 UTC.
    const { clock, ledger: l } = ledger(
      [budget({ name: 'daily', period: 'Day', limitMicroUsd: 700_000 })],
      { start: Date.parse('2026-11-24T22:59:00Z'), timeZone: 'Europe/Berlin' },
    );
    settle(reserve(l), 20_000);
    const err = refusal(() => reserve(l));
    expect(err.message).toContain('it resets at 2026-11-24T23:00:00.000Z');
    expect(err.retryAfterMs).toBe(60_000);
    clock.advance(60_000);
    const ticket = reserve(l);
    expect(l.account('daily')).toMatchObject({
      spentPico: 0n,
      reservedPico: WORST,
      period: {
        startMs: Date.parse('2026-11-24T23:00:00Z'),
        endMs: Date.parse('2026-11-25T23:00:00Z'),
      },
    });
    settle(ticket, 0);
  });

  it('keeps each client key on its own: one key refused while another is served', () => {
    const { ledger: l } = ledger([budget({ name: 'per-key', per: 'ClientKey' })]);
    settle(reserve(l, 'key-aaaaaaaaaaaa'), 100_000);
    const err = refusal(() => reserve(l, 'key-aaaaaaaaaaaa'));
    expect(err.message).toContain('of client key key-aaaaaaaaaaaa of agent support is exhausted');
    expect(() => reserve(l, 'key-bbbbbbbbbbbb')).not.toThrow();
    expect(l.account('per-key', 'key-aaaaaaaaaaaa')?.spentPico).toBe(WORST);
    expect(l.account('per-key', 'key-bbbbbbbbbbbb')?.reservedPico).toBe(WORST);
    expect(() => reserve(l)).not.toThrow();
    expect(l.account('per-key', NO_CLIENT_KEY)?.reservedPico).toBe(WORST);
  });

  it('never refuses under Shadow, and counts what it would have refused', () => {
    const { ledger: l } = ledger([budget({ onExhausted: 'Shadow', limitMicroUsd: 100_000 })]);
    for (let i = 0; i < 5; i++) settle(reserve(l), 100_000);
    expect(l.account('monthly')?.spentPico).toBe(5n * WORST);
    expect(l.refusals().get('monthly')).toEqual({
      exhausted: 0,
      busy: 0,
      unpriced: 0,
      unbounded: 0,
      fallback: 0,
      shadow: 5,
    });
    expect(l.remaining()).toEqual([
      {
        budget: 'monthly',
        picoUsd: 100_000_000_000n - 5n * WORST,
        tokens: undefined,
        limitPico: 100_000_000_000n,
      },
    ]);
  });

  it('refuses a model without a price under a dollar budget, naming the model and the field', () => {
    const { ledger: l } = ledger([budget()]);
    const err = unpriced(() => reserve(l, undefined, 'claude-unknown-9'));
    expect(err.model).toBe('claude-unknown-9');
    expect(err.message).toContain('model claude-unknown-9 has no price');
    expect(err.message).toContain('spec.pricing[].model');
    expect(l.refusals().get('monthly')?.unpriced).toBe(1);
  });

  it('lets an unpriced model through a token budget and a Shadow dollar budget, counting its tokens and what Shadow would have refused', () => {
    const { ledger: l } = ledger([
      budget({ name: 'tokens', noDollars: true, limitTokens: 1_000_000 }),
      budget({ name: 'watch', onExhausted: 'Shadow' }),
    ]);
    const ticket = l.reserve({ model: 'claude-unknown-9', planned: CALL });
    ticket?.note(1, 'primary', { inputTokens: 10, outputTokens: 5 });
    ticket?.settle();
    expect(l.account('tokens')).toMatchObject({ spentTokens: 15n, spentPico: 0n });
    // Its dollars cannot be counted: the Shadow budget says it would have refused the call.
    expect(l.refusals().get('watch')?.shadow).toBe(1);
    expect(l.refusals().get('tokens')).toBeUndefined();
  });

  it('refuses on tokens, naming spent and limit', () => {
    const { ledger: l } = ledger([budget({ noDollars: true, limitTokens: 250_000 })]);
    settle(reserve(l), 20_000);
    expect(refusal(() => reserve(l)).message).toContain('spent 120000 of 250000 tokens');
  });

  it('divides every limit among the replicas that share it: each holds its share', () => {
    const { ledger: l } = ledger([budget({ limitMicroUsd: 1_000_000 })], { shareOf: 2 });
    const err = refusal(() => reserve(l)); // $0.60 > $0.50
    expect(err.message).toContain(
      "exhausted (this replica's share: the budget divided among 2 replicas): spent 0 of 0.5 USD",
    );
  });

  it('reports a team budget’s limit as the replica holds it: the team’s divided among every agent’s replicas, the most this period', () => {
    // $1 a month for the team, 4 replicas of 2 agents on it; this agent has 2 of them.
    const team = (teamShareOf: number) => [
      budget({ name: 'team', per: 'Policy', limitMicroUsd: 1_000_000, teamShareOf }),
    ];
    const { ledger: l } = ledger(team(4), { shareOf: 2 });
    const limit = () => l.remaining().find((r) => r.budget === 'team');
    expect(limit()).toMatchObject({ limitPico: PICO_PER_USD / 4n, picoUsd: PICO_PER_USD / 4n });
    // One of the other agent's replicas went: the share stays this period's most (B2).
    l.configure({
      spend: { shareOf: 2, timeZone: 'UTC', budgets: team(3) },
      pricing: [TEST_MODEL_PRICE, CHEAP],
      shareOf: 2,
      leaseMs: 60_000,
    });
    expect(limit()).toMatchObject({ limitPico: PICO_PER_USD / 4n });
  });

  it('keeps each share when replicas go, until the next period: the gone replicas spent theirs (B2)', () => {
    // $3 a month per client key: $1 a replica while three share it; each call holds $0.60.
    const perKey = [budget({ name: 'per-key', per: 'ClientKey', limitMicroUsd: 3_000_000 })];
    const { clock, ledger: l } = ledger(perKey, { shareOf: 3 });
    const scaled = (shareOf: number) => {
      l.configure({
        spend: { shareOf, timeZone: 'UTC', budgets: perKey },
        pricing: [TEST_MODEL_PRICE, CHEAP],
        shareOf,
        leaseMs: 60_000,
      });
    };
    reserve(l, 'key-a');
    // Scaled in to one replica: this one still holds $1, not $3, since the two that went may
    // have spent theirs this period.
    scaled(1);
    expect(refusal(() => reserve(l, 'key-a')).message).toContain(
      'divided among 3 replicas): spent 0 of 1 USD',
    );
    // A key first seen after the scale-in: the gone replicas may have spent on it too.
    reserve(l, 'key-b');
    expect(refusal(() => reserve(l, 'key-b')).message).toContain('of 1 USD');
    // The next period starts from the replicas there are: one, the whole $3.
    clock.advance(Date.parse('2026-12-01T00:00:00Z') - clock.now());
    scaled(1);
    for (let i = 0; i < 5; i++) reserve(l, 'key-a');
    const whole = refusal(() => reserve(l, 'key-a')).message;
    expect(whole).toContain('of 3 USD');
    expect(whole).not.toContain('divided among');
    // Scale-out shrinks the share at once.
    scaled(4);
    reserve(l, 'key-c');
    expect(refusal(() => reserve(l, 'key-c')).message).toContain(
      'divided among 4 replicas): spent 0 of 0.75 USD',
    );
  });

  it('keeps the spend of an unchanged budget over a reload, and drops a removed one', () => {
    const { clock, ledger: l } = ledger([budget(), budget({ name: 'daily', period: 'Day' })]);
    settle(reserve(l), 20_000);
    const inFlight = reserve(l);
    l.configure({
      spend: { shareOf: 1, timeZone: 'UTC', budgets: [budget({ limitMicroUsd: 2_000_000 })] },
      pricing: [TEST_MODEL_PRICE],
      shareOf: 1,
      leaseMs: 60_000,
    });
    expect(l.account('monthly')).toMatchObject({
      spentPico: 200_000_000_000n,
      reservedPico: WORST,
    });
    expect(l.account('daily')).toBeUndefined();
    settle(inFlight, 20_000);
    expect(l.account('monthly')?.spentPico).toBe(400_000_000_000n);
    // The new limit applies: $0.40 + 2 × $0.60 ≤ $2.
    reserve(l);
    reserve(l);
    expect(() => reserve(l)).toThrow('spent 0.4 of 2 USD');
    // A budget whose period changes starts a period of its own, from zero.
    clock.advance(1);
    l.configure({
      spend: { shareOf: 1, timeZone: 'UTC', budgets: [budget({ period: 'Week' })] },
      pricing: [TEST_MODEL_PRICE],
      shareOf: 1,
      leaseMs: 60_000,
    });
    expect(l.account('monthly')).toBeUndefined();
  });

  it("keeps a removed budget's spend for its period: put back, it goes on from there", () => {
    const { clock, ledger: l } = ledger([budget()]);
    settle(reserve(l), 20_000);
    const reload = (budgets: BudgetSettings[]) => {
      l.configure({
        spend: { shareOf: 1, timeZone: 'UTC', budgets },
        pricing: [TEST_MODEL_PRICE],
        shareOf: 1,
        leaseMs: 60_000,
      });
    };
    // Removed (or the agent switched to a policy without it), then put back as it was.
    reload([]);
    expect(l.account('monthly')).toBeUndefined();
    expect(l.reserve({ model: 'claude-sonnet-5-5', planned: CALL })).toBeUndefined();
    reload([budget()]);
    expect(l.account('monthly')?.spentPico).toBe(200_000_000_000n);
    expect(l.spendReport(0)[0]?.spent.picoUsd).toBe(200_000_000_000n);
    // Removed again past its period's end: put back, it is a new period, from zero.
    reload([]);
    clock.advance(31 * 86_400_000);
    reload([]);
    reload([budget()]);
    settle(reserve(l), 0);
    expect(l.account('monthly')?.spentPico).toBe(100_000_000_000n);
  });

  it("keeps the agent's spend for the period when `per` changes and changes back", () => {
    const { ledger: l } = ledger([budget()]);
    settle(reserve(l), 20_000);
    const reload = (per: BudgetSettings['per']) => {
      l.configure({
        spend: { shareOf: 1, timeZone: 'UTC', budgets: [budget({ per })] },
        pricing: [TEST_MODEL_PRICE],
        shareOf: 1,
        leaseMs: 60_000,
      });
    };
    reload('ClientKey');
    // Each key counts from zero; what is left is the key's, not the agent's.
    settle(reserve(l, 'key-a'), 0);
    expect(l.account('monthly', 'key-a')?.spentPico).toBe(100_000_000_000n);
    expect(l.remaining()[0]?.picoUsd).toBe(900_000_000_000n);
    reload('Agent');
    expect(l.account('monthly')?.spentPico).toBe(200_000_000_000n);
    expect(l.remaining()[0]?.picoUsd).toBe(800_000_000_000n);
    expect(l.spendReport(0)[0]?.spent.picoUsd).toBe(200_000_000_000n);
  });

  it('marks a refusal that only Fallback budgets made, and orders models cheapest first', () => {
    const { ledger: l } = ledger([budget({ onExhausted: 'Fallback', limitMicroUsd: 100_000 })]);
    expect(refusal(() => reserve(l)).fallback).toBe(true);
    expect(l.cheapestFirst(['test-model', 'claude-unknown-9', 'cheap-model'], CALL)).toEqual([
      'cheap-model',
      'test-model',
    ]);
    expect(() => reserve(l, undefined, 'cheap-model')).not.toThrow(); // $0.06 fits $0.10
  });

  it('takes no reservation when the policy has no budgets', () => {
    const clock = new ManualClock(NOV_24);
    const l = new BudgetLedger({ name: 'a', clock, spend: undefined, shareOf: 1, leaseMs: 1 });
    expect(l.enabled).toBe(false);
    expect(l.reserve({ model: 'anything', planned: CALL })).toBeUndefined();
  });
});

describe('dollars in a refusal', () => {
  it('are exact decimal strings', () => {
    const { ledger: l } = ledger([budget({ limitMicroUsd: 600_001 })]);
    const ticket = reserve(l);
    ticket.note(1, 'primary', { inputTokens: 3, outputTokens: 1 });
    ticket.settle();
    expect(refusal(() => reserve(l)).message).toContain('spent 0.000008 of 0.600001 USD');
  });
});

describe('what a ledger reports and what it is seeded with', () => {
  const PERIOD = Date.parse('2026-11-01T00:00:00Z');

  it('reports its own settled spend and what calls in flight hold, per budget', () => {
    const { ledger: l } = ledger([budget()]);
    settle(reserve(l), 20_000);
    reserve(l); // in flight
    expect(l.spendReport(5)).toEqual([
      {
        budget: 'monthly',
        period: { startMs: PERIOD, endMs: Date.parse('2026-12-01T00:00:00Z') },
        limit: { picoUsd: PICO_PER_USD, tokens: undefined },
        warnAtPercent: 80,
        spent: { picoUsd: 200_000_000_000n, tokens: 120_000n },
        held: { picoUsd: WORST, tokens: 200_000n },
      },
    ]);
  });

  it('counts a seed as spent, refuses what the seeded total forbids, and leaves it out of its report', () => {
    const { ledger: l } = ledger([budget()]);
    l.seed([
      {
        budget: 'monthly',
        periodStartMs: PERIOD,
        whole: { picoUsd: 500_000_000_000n, tokens: 0n },
      },
    ]);
    expect(refusal(() => reserve(l)).message).toContain('spent 0.5 of 1 USD');
    expect(l.spendReport(5)[0]?.spent.picoUsd).toBe(0n);
    // Seeding again keeps the larger figure rather than adding.
    l.seed([
      {
        budget: 'monthly',
        periodStartMs: PERIOD,
        whole: { picoUsd: 100_000_000_000n, tokens: 0n },
      },
    ]);
    expect(l.account('monthly')?.spentPico).toBe(500_000_000_000n);
  });

  it.each([
    ['an earlier period', { periodStartMs: Date.parse('2026-10-01T00:00:00Z') }],
    ['a budget not in force', { budget: 'weekly' }],
  ])('ignores a seed of %s', (_name, patch) => {
    const { ledger: l } = ledger([budget()]);
    l.seed([
      {
        budget: 'monthly',
        periodStartMs: PERIOD,
        whole: { picoUsd: 900_000_000_000n, tokens: 0n },
        ...patch,
      },
    ]);
    expect(reserve(l)).toBeDefined();
  });

  it('per ClientKey: seeds listed keys, bounds every other key, and names the top spenders', () => {
    const { ledger: l } = ledger([budget({ per: 'ClientKey' })]);
    l.seed([
      {
        budget: 'monthly',
        periodStartMs: PERIOD,
        keys: [{ key: 'key-heavy', picoUsd: 900_000_000_000n, tokens: 0n }],
        others: { picoUsd: 100_000_000_000n, tokens: 0n },
      },
    ]);
    refusal(() => reserve(l, 'key-heavy'));
    settle(reserve(l, 'key-new'), 20_000);
    settle(reserve(l, 'key-other'), 0);
    expect(l.account('monthly', 'key-new')?.spentPico).toBe(300_000_000_000n);
    const [report] = l.spendReport(1);
    expect(report?.keys).toEqual([{ key: 'key-new', picoUsd: 200_000_000_000n, tokens: 120_000n }]);
    expect(report?.others).toEqual({ picoUsd: 100_000_000_000n, tokens: 100_000n });
    expect(report?.spent.picoUsd).toBe(300_000_000_000n);
  });
  it('tells what is left of every budget, not only the first one read', () => {
    const { ledger: l } = ledger([
      budget({ name: 'tokens', noDollars: true, limitTokens: 1_000_000 }),
      budget({ name: 'dollars' }),
    ]);
    settle(reserve(l), 20_000);
    expect(l.remaining()).toEqual([
      {
        budget: 'tokens',
        picoUsd: undefined,
        tokens: 880_000n,
        limitPico: undefined,
        limitTokens: 1_000_000n,
      },
      {
        budget: 'dollars',
        picoUsd: 800_000_000_000n,
        tokens: undefined,
        limitPico: PICO_PER_USD,
        limitTokens: undefined,
      },
    ]);
  });

  it('per ClientKey: bounds the keys already seen by every budget that has a seed for others', () => {
    const { ledger: l } = ledger([
      budget({ per: 'ClientKey' }),
      budget({ name: 'weekly', period: 'Week', per: 'ClientKey' }),
    ]);
    settle(reserve(l, 'key-early'), 0);
    const others = { picoUsd: 100_000_000_000n, tokens: 0n };
    l.seed([
      { budget: 'monthly', periodStartMs: PERIOD, others },
      {
        budget: 'weekly',
        periodStartMs: Date.parse('2026-11-23T00:00:00Z'),
        others,
      },
    ]);
    // key-early spent $0.10 here; each budget counts what it may have spent elsewhere too.
    expect(l.account('monthly', 'key-early')?.spentPico).toBe(200_000_000_000n);
    expect(l.account('weekly', 'key-early')?.spentPico).toBe(200_000_000_000n);
  });
});
