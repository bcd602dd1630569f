/**
 * Budgets when a store decides them: the ledger's claim, carried by the rate limiter to the
 * store with the call's first admission, against a store double that answers as admit.lua
 * does (held, refused, or no answer within its budget). Manual clock; the scripts themselves
 * are tested under lua5.1 and on redis-server (test/rateLimitStore/budgetScripts*).
 */
import { describe, expect, it } from '@jest/globals';
import { moneyFromUsd } from '../../../contract/src/spend/money.ts';
import type { BudgetSettings } from '../../../contract/src/policy/policyDocument.ts';
import { ManualClock } from '../../../test/support/manualClock.ts';
import { auditedHold, type BudgetAuditEvent } from './budgetAudit.ts';
import type { BudgetClaim } from './budgetClaim.ts';
import { BudgetLedger } from './budgetLedger.ts';
import type { ClaimContext } from './budgetStoreAccounts.ts';
import { isBudgetExhaustedError, type BudgetExhaustedError } from '../guard/errors.ts';
import { RateLimiter } from '../guard/rateLimiter.ts';
import type {
  RateLimitStore,
  StoreAccountState,
  StoreAdmission,
  StoreAdmitRequest,
  StoreBudgetSettlement,
} from '../guard/rateLimitStore.ts';
import { limiterSettings } from '../guard/settingsFixture.ts';
import { TEST_MODEL_PRICE, dailyBudget } from './budgetFixture.ts';

/** 100k in at $1/M and 100k out at $5/M: at most $0.60. */
const WORST = 600_000_000_000n;
const NOV_24_23H = Date.parse('2026-11-24T23:59:59Z');
const DAY_MS = 86_400_000;

const daily = dailyBudget;

const state = (s: StoreAccountState['state'], spent: bigint, reserved = 0n): StoreAccountState => ({
  state: s,
  spentPico: spent,
  reservedPico: reserved,
  spentTokens: 0n,
  reservedTokens: 0n,
});

/** Answers admit as told; records every request and settlement. */
class StoreDouble implements RateLimitStore {
  available = true;
  answer: StoreAdmission | undefined = { waitMs: 0, reason: 'requests', charged: true };
  readonly asked: StoreAdmitRequest[] = [];
  readonly settled: StoreBudgetSettlement[] = [];
  admit(request: StoreAdmitRequest): Promise<StoreAdmission | undefined> {
    this.asked.push(request);
    if (this.answer === undefined) this.available = false;
    return Promise.resolve(this.answer);
  }
  settle(): void {}
  settleBudget(s: StoreBudgetSettlement): void {
    this.settled.push(s);
  }
  pause(): void {}
}

function setup(budgets: readonly BudgetSettings[], { shareOf = 3 } = {}) {
  const clock = new ManualClock(NOV_24_23H);
  const limiter = new RateLimiter({ name: 'support', clock, options: limiterSettings({}) });
  const store = new StoreDouble();
  limiter.useStore(store);
  const ledger = new BudgetLedger({
    name: 'support',
    clock,
    spend: { shareOf, timeZone: 'UTC', budgets },
    pricing: [TEST_MODEL_PRICE],
    shareOf,
    leaseMs: 90_000,
  });
  const claim = (clientKey?: string): BudgetClaim<ClaimContext> => {
    const made = ledger.claim(
      { model: 'test-model', clientKey, planned: { inputTokens: 100_000, maxTokens: 100_000 } },
      limiter,
    );
    if (made === undefined) throw new Error('expected a claim');
    return made;
  };
  return { clock, limiter, store, ledger, claim };
}

async function refusedBy(p: Promise<unknown>): Promise<BudgetExhaustedError> {
  try {
    await p;
  } catch (err) {
    if (isBudgetExhaustedError(err)) return err;
    throw err;
  }
  throw new Error('expected a budget refusal');
}

describe('budgets decided by the store', () => {
  it("asks the store for every budget's account in the call's first admission, with the whole limits", async () => {
    const { clock, limiter, store, claim } = setup([
      daily(),
      daily({ name: 'per-key', per: 'ClientKey', onExhausted: 'Shadow', limitTokens: 500_000 }),
    ]);
    const c = claim('key-abc');
    store.answer = {
      waitMs: 0,
      reason: 'requests',
      charged: true,
      budget: {
        held: true,
        refusedBy: undefined,
        accounts: [state('fits', 0n), state('fits', 0n)],
      },
    };
    await limiter.admitWithStore(clock.now(), { inputTokens: 10, outputTokens: 10 }, c);
    const start = Date.parse('2026-11-24T00:00:00Z');
    expect(store.asked[0]?.budget).toEqual({
      accounts: [
        {
          key: `support:daily:${String(start)}`,
          limitPico: moneyFromUsd(1),
          limitTokens: undefined,
          keepUntilMs: start + DAY_MS + 7 * DAY_MS,
          refuses: true,
        },
        {
          key: `support:per-key:${String(start)}:key-abc`,
          limitPico: moneyFromUsd(1),
          limitTokens: 500_000n,
          keepUntilMs: start + DAY_MS + 7 * DAY_MS,
          refuses: false,
        },
      ],
      reservationId: c.request.reservationId,
      leaseMs: 90_000,
      worstPico: WORST,
      worstTokens: 200_000n,
    });
    expect(c.decision).toBe('store');
    // A retry's admission asks for limits alone: the worst case is held for every attempt.
    await limiter.admitWithStore(clock.now(), { inputTokens: 10, outputTokens: 10 }, c);
    expect(store.asked[1]?.budget).toBeUndefined();
  });

  it('settles a call the store holds there, and counts its spend in the share too', async () => {
    const { clock, limiter, store, ledger, claim } = setup([daily()]);
    const c = claim();
    store.answer = {
      waitMs: 0,
      reason: 'requests',
      charged: true,
      budget: { held: true, refusedBy: undefined, accounts: [state('fits', 0n, WORST)] },
    };
    await limiter.admitWithStore(clock.now(), undefined, c);
    c.note(1, 'east', { inputTokens: 1000, outputTokens: 200 });
    c.settle();
    c.settle();
    expect(store.settled).toEqual([
      {
        accounts: c.request.accounts,
        reservationId: c.request.reservationId,
        worstPico: WORST,
        worstTokens: 200_000n,
        costPico: 2_000_000_000n,
        costTokens: 1200n,
      },
    ]);
    expect(ledger.account('daily')).toMatchObject({ spentPico: 2_000_000_000n, reservedPico: 0n });
    expect([...ledger.spendByTarget()]).toEqual([
      { model: 'test-model', backend: 'east', picoUsd: 2_000_000_000n },
    ]);
  });

  it("records a retry's room under the audit as a reservation of its own, naming its call's", async () => {
    const { clock, limiter, store, claim } = setup([daily()]);
    const events: BudgetAuditEvent[] = [];
    const c = claim();
    const hold = auditedHold(c, 'test-model', 'req-7', {
      enabled: true,
      record: (e) => events.push(e),
    });
    store.answer = {
      waitMs: 0,
      reason: 'requests',
      charged: true,
      budget: { held: true, refusedBy: undefined, accounts: [state('fits', 0n)] },
    };
    await limiter.admitWithStore(clock.now(), undefined, c);
    expect(c.decision).toBe('store');
    // The first attempt cost something and failed: the retry asks room for it.
    hold.note(1, 'east', { inputTokens: 1000, outputTokens: 200 });
    hold.beforeRetry();
    const room = c.pending;
    expect(room).toBeDefined();
    expect(events.map((e) => e.event)).toEqual(['budget_reserved', 'budget_room_reserved']);
    expect(events[1]).toEqual({
      event: 'budget_room_reserved',
      requestId: 'req-7',
      reservation: room?.reservationId,
      of: c.request.reservationId,
      model: 'test-model',
      accounts: [expect.objectContaining({ budget: 'daily', per: 'Agent', who: '' })],
      worstPico: String(room?.worstPico),
    });
    // Nothing new to hold room for: no record.
    hold.beforeRetry();
    expect(events).toHaveLength(2);
  });

  it('charges the store with what a call decided on the share cost, once it settles', async () => {
    // One replica: its share is the whole $1, room for one worst case of $0.60.
    const { clock, limiter, store, ledger, claim } = setup([daily()], { shareOf: 1 });
    store.answer = undefined;
    const c = claim();
    await limiter.admitWithStore(clock.now(), undefined, c);
    expect(c.decision).toBe('local');
    expect(store.settled).toEqual([]);
    c.note(1, 'east', { inputTokens: 1000, outputTokens: 200 });
    c.settle();
    c.settle();
    // Nothing was held there under this reservation: the store charges the cost, releases nothing.
    expect(store.settled).toEqual([
      {
        accounts: c.request.accounts,
        reservationId: c.request.reservationId,
        worstPico: WORST,
        worstTokens: 200_000n,
        costPico: 2_000_000_000n,
        costTokens: 1200n,
      },
    ]);
    expect(ledger.account('daily')).toMatchObject({ spentPico: 2_000_000_000n, reservedPico: 0n });
  });

  it("refuses with the store's numbers for the whole agent, naming the budget", async () => {
    const { clock, limiter, store, ledger, claim } = setup([daily({ onExhausted: 'Fallback' })]);
    store.answer = {
      waitMs: 0,
      reason: 'budget',
      charged: false,
      budget: { held: false, refusedBy: 0, accounts: [state('refuses', 700_000_000_000n)] },
    };
    const c = claim();
    const err = await refusedBy(limiter.admitWithStore(clock.now(), undefined, c));
    expect(err.message).toBe(
      'budget "daily" (Day, per Agent) of agent support is exhausted: spent 0.7 of 1 USD, this call may cost up to 0.6 USD; it resets at 2026-11-25T00:00:00.000Z',
    );
    expect(err.retryAfterMs).toBe(1000);
    expect(err.fallback).toBe(true);
    // A Fallback budget's refusal is counted by what became of the call (modelRouter.ts).
    expect(ledger.refusals().get('daily')).toBeUndefined();
    expect(limiter.counters().admitted).toBe(0);
    c.settle();
    expect(store.settled).toEqual([]);
  });

  it('decides on the share when the store does not answer, and refuses past the share', async () => {
    const { clock, limiter, store, claim } = setup([daily()]);
    store.answer = undefined;
    // $1 among three replicas: a share of $0.333…, less than one worst case of $0.60.
    const c = claim();
    const err = await refusedBy(limiter.admitWithStore(clock.now(), undefined, c));
    expect(err.message).toContain("this replica's share: the budget divided among 3 replicas");
    expect(c.decision).toBe('local');
    expect(limiter.counters().fallbackDecisions).toBe(1);
  });

  it('counts a Shadow budget the store says is over, and lets the call go', async () => {
    const { clock, limiter, store, ledger, claim } = setup([daily({ onExhausted: 'Shadow' })]);
    store.answer = {
      waitMs: 0,
      reason: 'requests',
      charged: true,
      budget: {
        held: true,
        refusedBy: undefined,
        accounts: [state('shadowOver', 900_000_000_000n)],
      },
    };
    await limiter.admitWithStore(clock.now(), undefined, claim());
    expect(ledger.refusals().get('daily')).toEqual({
      exhausted: 0,
      busy: 0,
      unpriced: 0,
      unbounded: 0,
      fallback: 0,
      shadow: 1,
    });
    // What is left is the store's, for the whole agent, not this replica's share.
    expect(ledger.remaining()).toEqual([
      {
        budget: 'daily',
        picoUsd: 100_000_000_000n,
        tokens: undefined,
        limitPico: moneyFromUsd(1),
      },
    ]);
  });

  it('claims the next period from a new account once midnight passes', async () => {
    const { clock, limiter, store, claim } = setup([daily()]);
    const before = claim();
    clock.advance(1000);
    const after = claim();
    await limiter.admitWithStore(clock.now(), undefined, after);
    expect(before.request.accounts[0]?.key).toBe(
      `support:daily:${String(Date.parse('2026-11-24T00:00:00Z'))}`,
    );
    expect(store.asked[0]?.budget?.accounts[0]?.key).toBe(
      `support:daily:${String(Date.parse('2026-11-25T00:00:00Z'))}`,
    );
  });
});
