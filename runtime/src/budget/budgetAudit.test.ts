import { describe, expect, it } from '@jest/globals';
import type {
  BudgetSettings,
  ModelPriceSettings,
} from '../../../contract/src/policy/policyDocument.ts';
import { ManualClock } from '../../../test/support/manualClock.ts';
import { auditedHold, type BudgetAuditEvent, type BudgetAuditSink } from './budgetAudit.ts';
import type { BudgetHold } from './budgetClaim.ts';
import { BudgetLedger } from './budgetLedger.ts';
import type { SettledCost } from './budgetTicket.ts';

/** $1 per million input tokens, $5 per million output: 10⁶ and 5 × 10⁶ picodollars a token. */
const PRICES: ModelPriceSettings = {
  model: 'test-model',
  inputMicroUsdPerMTok: 1_000_000,
  outputMicroUsdPerMTok: 5_000_000,
  cacheWrite5mMicroUsdPerMTok: 1_250_000,
  cacheWrite1hMicroUsdPerMTok: 2_000_000,
  cacheReadMicroUsdPerMTok: 100_000,
};
const budget = (name: string, per: BudgetSettings['per']): BudgetSettings => ({
  name,
  period: 'Day',
  limitMicroUsd: 10_000_000,
  per,
  onExhausted: 'Refuse',
  warnAtPercent: 80,
  waitForHeldMs: 5000,
});
const NOON = Date.parse('2026-11-27T12:00:00Z');
const MIDNIGHT = Date.parse('2026-11-27T00:00:00Z');
/** 1,000 tokens in and 100 out at most: 10⁹ + 5 × 10⁸ picodollars. */
const WORST = 1_500_000_000n;

/** A sink that keeps what it is given. */
function sinkOf(enabled: boolean): BudgetAuditSink & { readonly events: BudgetAuditEvent[] } {
  const events: BudgetAuditEvent[] = [];
  return {
    enabled,
    events,
    record(event) {
      events.push(event);
    },
  };
}

/** A replica's ticket for one call of client key `key-abc` against an agent and a per-key budget. */
function ticket() {
  const ledger = new BudgetLedger({
    name: 'agent',
    clock: new ManualClock(NOON),
    spend: {
      shareOf: 1,
      timeZone: 'UTC',
      budgets: [budget('daily', 'Agent'), budget('per-key', 'ClientKey')],
    },
    pricing: [PRICES],
    shareOf: 1,
    leaseMs: 60_000,
  });
  const reserved = ledger.reserve({
    model: 'test-model',
    clientKey: 'key-abc',
    planned: { inputTokens: 1_000, maxTokens: 100 },
  });
  if (reserved === undefined) throw new Error('expected a reservation');
  return { ledger, reserved };
}

/** A hold that says what was asked of it, and settles at `cost`. */
function recordingHold(cost: SettledCost): BudgetHold & { readonly calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    note: (attempt, backend, usage) =>
      calls.push(`note ${String(attempt)} ${backend} ${String(usage.outputTokens)}`),
    unheard: (attempt, backend) => calls.push(`unheard ${String(attempt)} ${backend}`),
    beforeRetry: () => calls.push('beforeRetry'),
    settle: () => {
      calls.push('settle');
      return cost;
    },
  };
}

describe('a budget hold under audit', () => {
  it('records budget_reserved with the request, the model, every account and the worst case', () => {
    const sink = sinkOf(true);
    const { reserved } = ticket();
    auditedHold(reserved, 'test-model', 'req-1', sink);
    expect(sink.events).toEqual([
      {
        event: 'budget_reserved',
        requestId: 'req-1',
        reservation: expect.any(String),
        model: 'test-model',
        accounts: [
          { budget: 'daily', per: 'Agent', who: '', periodStartMs: MIDNIGHT },
          { budget: 'per-key', per: 'ClientKey', who: 'key-abc', periodStartMs: MIDNIGHT },
        ],
        worstPico: String(WORST),
      },
    ]);
  });

  it('records budget_settled under the same reservation with what the call cost, decided locally', () => {
    const sink = sinkOf(true);
    const { ledger, reserved } = ticket();
    const hold = auditedHold(reserved, 'test-model', 'req-1', sink);
    hold.note(1, 'primary', { inputTokens: 1_000, outputTokens: 20 });
    const cost = hold.settle();
    // 1,000 in and 20 out: 10⁹ + 10⁸.
    expect(cost.pico).toBe(1_100_000_000n);
    expect(ledger.account('daily')?.spentPico).toBe(1_100_000_000n);
    const [reservedEvent, settled] = sink.events;
    expect(settled).toEqual({
      event: 'budget_settled',
      requestId: 'req-1',
      reservation: reservedEvent?.reservation,
      model: 'test-model',
      decision: 'local',
      costPico: '1100000000',
    });
    expect(sink.events).toHaveLength(2);
  });

  it('passes note, unheard, beforeRetry and settle through to the hold, and answers its cost', () => {
    const sink = sinkOf(true);
    const inner = recordingHold({ pico: 42n, tokens: 7n });
    const hold = auditedHold(inner, 'test-model', undefined, sink);
    hold.note(1, 'primary', { inputTokens: 3, outputTokens: 4 });
    hold.unheard(2, 'fallback');
    hold.beforeRetry();
    expect(hold.settle()).toEqual({ pico: 42n, tokens: 7n });
    expect(inner.calls).toEqual([
      'note 1 primary 4',
      'unheard 2 fallback',
      'beforeRetry',
      'settle',
    ]);
    // A hold the audit knows nothing of: no accounts, no worst case, its own reservation id.
    expect(sink.events).toEqual([
      expect.objectContaining({ event: 'budget_reserved', accounts: [], worstPico: '0' }),
      expect.objectContaining({ event: 'budget_settled', costPico: '42', decision: 'local' }),
    ]);
  });

  it('records nothing, and hands back the hold itself, while the audit is off', () => {
    const sink = sinkOf(false);
    const { reserved } = ticket();
    const hold = auditedHold(reserved, 'test-model', 'req-1', sink);
    expect(hold).toBe(reserved);
    hold.settle();
    expect(sink.events).toEqual([]);
  });
});
