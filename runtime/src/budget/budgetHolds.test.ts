/**
 * What a call in flight may hold of a budget, and what a refusal says about it: a reservation's
 * lease is the call's own bound capped at five minutes (a replica killed mid-call holds its
 * worst case that long at most, not for the longest stream a policy allows), renewed while the
 * call runs; and a refusal is `busy` (retry shortly) when only what calls in flight hold blocks
 * the call, `exhausted` (retry after the reset, or never) only when spent + its worst case is
 * over the limit. Issue 50.
 */
import { describe, expect, it } from '@jest/globals';
import type { PolicyDocument } from '../../../contract/src/policy/policyDocument.ts';
import { samplePolicyDocument } from '../../../contract/src/policy/policyFixtures.ts';
import { ManualClock } from '../../../test/support/manualClock.ts';
import { BudgetLedger } from './budgetLedger.ts';
import type { BudgetTicket } from './budgetTicket.ts';
import { isBudgetExhaustedError, type BudgetExhaustedError } from '../guard/errors.ts';
import { budgetOptions } from './budgetGate.ts';
import { TEST_MODEL_PRICE, dailyBudget } from './budgetFixture.ts';

const FIVE_MINUTES = 5 * 60_000;
/** 08:00 in Berlin (UTC+1): a Day budget resets in 16 hours. */
const MORNING = Date.parse('2026-11-24T07:00:00Z');
/** Two cents a day: a call of 1,000 bytes in and 1,500 out may cost $0.0085. */
const DAILY = dailyBudget({ limitMicroUsd: 20_000 });
const CALL = { model: 'test-model', planned: { inputTokens: 1_000, maxTokens: 1_500 } };
const STREAM = { ...CALL, stream: true };
const WORST_PICO = 8_500_000_000n;

/** A document as the cluster resolves it: timeouts, retries, and no maxStreamDuration set. */
function policy(): PolicyDocument {
  const sample = samplePolicyDocument();
  return {
    ...sample,
    rateLimit: {
      ...sample.rateLimit,
      spend: { shareOf: 1, timeZone: 'Europe/Berlin', budgets: [DAILY] },
    },
    pricing: [TEST_MODEL_PRICE],
  };
}

function ledgerOf(doc: PolicyDocument) {
  const clock = new ManualClock(MORNING);
  return { clock, ledger: new BudgetLedger({ name: 'spender', clock, ...budgetOptions(doc) }) };
}

function held(ledger: BudgetLedger): bigint | undefined {
  return ledger.account('daily')?.reservedPico;
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

function reserve(ledger: BudgetLedger, call = CALL): BudgetTicket {
  const ticket = ledger.reserve(call);
  if (ticket === undefined) throw new Error('expected a reservation');
  return ticket;
}

describe('leases a call can hold', () => {
  it('releases the worst case of a stream that never settles within five minutes, not at the longest stream', () => {
    const { clock, ledger } = ledgerOf(policy());
    reserve(ledger, STREAM); // the replica's call: it never settles, nothing renews it
    expect(held(ledger)).toBe(WORST_PICO);
    clock.advance(FIVE_MINUTES);
    expect(held(ledger)).toBe(0n);
    expect(ledger.openReservations).toBe(0);
  });

  it("asks the store for a lease of at most five minutes, whatever the policy's longest stream", () => {
    const { ledger } = ledgerOf(policy());
    const claim = ledger.claim(STREAM, { settleBudget: () => undefined });
    expect(claim?.request.leaseMs).toBe(FIVE_MINUTES);
  });

  it('keeps a short stream to its own bound: every attempt and its backoff, and the stream', () => {
    const doc = { ...policy(), maxStreamDurationMs: 1_000 };
    const { ledger } = ledgerOf(doc);
    const bound = doc.retry.maxAttempts * (doc.timeoutMs + doc.retry.maxDelayMs) + 1_000;
    const claim = ledger.claim(STREAM, { settleBudget: () => undefined });
    expect(claim?.request.leaseMs).toBe(Math.min(bound, FIVE_MINUTES));
  });

  it("keeps a plain call to its own bound, every attempt and its backoff, not the policy's longest stream", () => {
    const doc = policy(); // maxStreamDuration unset: the longest a stream may be, 24 hours
    const bound = doc.retry.maxAttempts * (doc.timeoutMs + doc.retry.maxDelayMs);
    expect(bound).toBe(105_000);
    const { ledger } = ledgerOf(doc);
    const claim = ledger.claim(CALL, { settleBudget: () => undefined });
    expect(claim?.request.leaseMs).toBe(bound);
    expect(ledger.leaseEndsAt(reserve(ledger))).toBe(MORNING + bound);
  });

  it('renews a long call while it runs, so its hold outlives the cap, and never past its bound', () => {
    const doc = { ...policy(), maxStreamDurationMs: 20 * 60_000 };
    const bound = doc.retry.maxAttempts * (doc.timeoutMs + doc.retry.maxDelayMs) + 20 * 60_000;
    const { clock, ledger } = ledgerOf(doc);
    const ticket = reserve(ledger, STREAM);
    // The replica's timer renews the calls still running every minute.
    for (let minute = 1; minute * 60_000 < bound; minute++) {
      clock.advance(60_000);
      expect(ledger.renew([ticket])).toEqual([]);
      expect(held(ledger)).toBe(WORST_PICO);
      expect(ledger.leaseEndsAt(ticket)).toBeLessThanOrEqual(MORNING + bound);
    }
    clock.advance(MORNING + bound - clock.now());
    expect(held(ledger)).toBe(0n);
  });

  it('lets a hold lapse once its call stops renewing it (the replica was killed)', () => {
    const doc = { ...policy(), maxStreamDurationMs: 60 * 60_000 };
    const { clock, ledger } = ledgerOf(doc);
    const ticket = reserve(ledger, STREAM);
    clock.advance(60_000);
    ledger.renew([ticket]);
    clock.advance(FIVE_MINUTES - 1);
    expect(held(ledger)).toBe(WORST_PICO);
    clock.advance(1);
    expect(held(ledger)).toBe(0n);
    // Renewing a lapsed lease does not bring its hold back.
    ledger.renew([ticket]);
    expect(held(ledger)).toBe(0n);
  });

  it('renews a store-held call for what is left of its bound, at most five minutes', () => {
    const doc = { ...policy(), maxStreamDurationMs: 6 * 60_000 };
    const bound = doc.retry.maxAttempts * (doc.timeoutMs + doc.retry.maxDelayMs) + 6 * 60_000;
    const { clock, ledger } = ledgerOf(doc);
    const claim = ledger.claim(STREAM, { settleBudget: () => undefined });
    if (claim === undefined) throw new Error('expected a claim');
    claim.held({
      held: true,
      refusedBy: undefined,
      accounts: [
        {
          state: 'fits',
          spentPico: 0n,
          reservedPico: WORST_PICO,
          spentTokens: 0n,
          reservedTokens: 0n,
        },
      ],
    });
    clock.advance(60_000);
    expect(ledger.renew([claim])).toEqual([
      {
        accounts: claim.request.accounts,
        reservationId: claim.request.reservationId,
        leaseMs: Math.min(FIVE_MINUTES, bound - 60_000),
      },
    ]);
    clock.advance(bound - 60_000);
    expect(ledger.renew([claim])).toEqual([]);
  });
});

describe('a refusal says what blocks the call', () => {
  it('is busy, with a short retry-after naming what calls in flight hold, when nothing is spent yet', () => {
    const { ledger } = ledgerOf(policy());
    reserve(ledger);
    reserve(ledger); // two calls in flight hold $0.017 of $0.02; nothing is spent
    const err = refusal(() => ledger.reserve(CALL));
    expect(err.reason).toBe('busy');
    expect(err.message).toContain('is busy');
    expect(err.message).toContain('spent 0 of 0.02 USD, 0.017 USD held by calls in flight');
    expect(err.message).not.toContain('exhausted');
    expect(err.retryAfterMs).toBeLessThanOrEqual(1_000);
    expect(err.retryHelps).toBe(true);
  });

  it('is exhausted, until the reset and not to be retried, when spent + the worst case is over the limit, held or not', () => {
    const { ledger } = ledgerOf(policy());
    for (let i = 0; i < 2; i++) {
      const ticket = reserve(ledger);
      ticket.note(0, 'b', { inputTokens: 1_000, outputTokens: 1_500 });
      ticket.settle(); // $0.0085 spent, each
    }
    // A small call in flight holds $0.0006: it cannot make room for a call of $0.0085.
    ledger.reserve({ model: 'test-model', planned: { inputTokens: 100, maxTokens: 100 } });
    const err = refusal(() => ledger.reserve(CALL));
    expect(err.reason).toBe('exhausted');
    expect(err.message).toContain(
      'is exhausted: spent 0.017 of 0.02 USD, 0.0006 USD held by calls in flight, this call may cost up to 0.0085 USD; it resets at 2026-11-24T23:00:00.000Z',
    );
    expect(err.retryAfterMs).toBe(Date.parse('2026-11-24T23:00:00Z') - MORNING);
    expect(err.retryHelps).toBe(false);
  });

  it('counts each refusal the caller gets once, busy and exhausted apart', () => {
    const { ledger } = ledgerOf(policy());
    reserve(ledger);
    reserve(ledger);
    // The guard set asks quietly while the call may still wait, and counts the refusal it gives.
    const busy = refusal(() => ledger.reserve(CALL, true));
    refusal(() => ledger.reserve(CALL, true));
    expect(ledger.refusals().get('daily')).toBeUndefined();
    ledger.counted(busy);
    refusal(() => ledger.reserve(CALL)); // asked directly: counted at once
    expect(ledger.refusals().get('daily')).toMatchObject({ busy: 2, exhausted: 0 });
  });
});
