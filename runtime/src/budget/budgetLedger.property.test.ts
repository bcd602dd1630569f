/**
 * The in-process ledger against the reference model (test/support/budgetModel.ts): random
 * interleavings of calls on several replicas (each its share of the budget), settled for at
 * most their worst case, abandoned (never renewed: the replica was killed, or cut off and
 * settling late), a lapsed hold charged at its worst case until a settlement corrects it,
 * renewed while they run, and a clock that crosses midnight and the clock changes in
 * Europe/Berlin, per Agent and per ClientKey. After every step each replica's spent and held
 * must be the model's, a refusal must say what the model says (busy or exhausted), settled
 * spend stays within the share, and no hold outlives its lease.
 *
 * Fixed seed and a bounded number of runs; BREAKWATER_PROPERTY_RUNS=N runs more (make
 * test-properties). A failure prints its seed and the shrunk case (fast-check).
 */
import { describe, expect, it } from '@jest/globals';
import { moneyFromMicros } from '../../../contract/src/spend/money.ts';
import fc from 'fast-check';
import { appendFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { BudgetSettings } from '../../../contract/src/policy/policyDocument.ts';
import { BudgetModel, dayOf, MODEL_LEASE_CAP_MS } from '../../../test/support/budgetModel.ts';
import { ManualClock } from '../../../test/support/manualClock.ts';
import { BudgetLedger } from './budgetLedger.ts';
import type { BudgetTicket } from './budgetTicket.ts';
import { isBudgetExhaustedError } from '../guard/errors.ts';

const SEED = 50_0607;
/** The file's path from the repository's root, as bench/results/budget-properties.json names it. */
const REPORTED_AS = relative(join(import.meta.dirname, '../../..'), import.meta.filename);
const RUNS = Number(process.env.BREAKWATER_PROPERTY_RUNS ?? '60');
const PICO_PER_TOKEN_IN = 1_000_000n; // $1 per million
const PICO_PER_TOKEN_OUT = 5_000_000n; // $5 per million
/** Five cents a day for the agent. */
const LIMIT_MICRO = 50_000;
/** A call may take 20 minutes (its lease's bound): past the cap, so renewal matters. */
const BOUND_MS = 20 * 60_000;
const KEYS = ['key-a', 'key-b', undefined] as const;
/** Evenings before Berlin's clocks change: spring forward (23 h day), fall back (25 h day). */
const STARTS = [Date.parse('2026-03-28T20:00:00Z'), Date.parse('2026-10-24T20:00:00Z')];

type Step =
  | { kind: 'call'; replica: number; who: number; input: number; output: number }
  | { kind: 'settle'; pick: number; usedIn: number; usedOut: number }
  | { kind: 'abandon'; pick: number }
  | { kind: 'advance'; ms: number }
  | { kind: 'renew'; replica: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('call' as const),
      replica: fc.nat(2),
      who: fc.nat(2),
      input: fc.integer({ min: 1, max: 6_000 }),
      output: fc.integer({ min: 1, max: 6_000 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('settle' as const),
      pick: fc.nat(),
      usedIn: fc.double({ min: 0, max: 1, noNaN: true }),
      usedOut: fc.double({ min: 0, max: 1, noNaN: true }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('abandon' as const), pick: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      ms: fc.oneof(
        fc.integer({ min: 1, max: 90_000 }),
        fc.integer({ min: 60_000, max: 4 * 3_600_000 }),
      ),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('renew' as const), replica: fc.nat(2) }) },
);

interface Running {
  readonly id: string;
  readonly replica: number;
  readonly ticket: BudgetTicket;
  readonly account: string;
  readonly input: number;
  readonly output: number;
  /** The replica was killed: the call never settles and is never renewed. */
  abandoned: boolean;
}

function budget(per: 'Agent' | 'ClientKey'): BudgetSettings {
  return {
    name: 'daily',
    period: 'Day',
    limitMicroUsd: LIMIT_MICRO,
    per,
    onExhausted: 'Refuse',
    warnAtPercent: 80,
    waitForHeldMs: 0,
  };
}

function run(replicas: number, per: 'Agent' | 'ClientKey', start: number, steps: readonly Step[]) {
  const timeZone = 'Europe/Berlin';
  const clock = new ManualClock(start);
  const share = moneyFromMicros(LIMIT_MICRO) / BigInt(replicas);
  const ledgers = Array.from(
    { length: replicas },
    (_, i) =>
      new BudgetLedger({
        name: `replica-${String(i)}`,
        clock,
        spend: { shareOf: replicas, timeZone, budgets: [budget(per)] },
        pricing: [
          {
            model: 'm',
            inputMicroUsdPerMTok: 1_000_000,
            outputMicroUsdPerMTok: 5_000_000,
            cacheWrite5mMicroUsdPerMTok: 1_250_000,
            cacheWrite1hMicroUsdPerMTok: 2_000_000,
            cacheReadMicroUsdPerMTok: 100_000,
          },
        ],
        shareOf: replicas,
        leaseMs: BOUND_MS,
      }),
  );
  const models = ledgers.map(
    () => new BudgetModel({ limitPico: share, timeZone, per, boundMs: BOUND_MS }),
  );
  const running: Running[] = [];
  let ids = 0;
  const days = new Set<string>();
  for (const s of steps) {
    const now = clock.now();
    days.add(dayOf(now, timeZone));
    switch (s.kind) {
      case 'call': {
        const r = s.replica % replicas;
        const who = KEYS[s.who];
        const id = String(++ids);
        const worst = BigInt(s.input) * PICO_PER_TOKEN_IN + BigInt(s.output) * PICO_PER_TOKEN_OUT;
        const expected = models[r]?.reserve(now, id, who, worst);
        let got: string | undefined;
        let ticket: BudgetTicket | undefined;
        try {
          ticket = ledgers[r]?.reserve({
            model: 'm',
            clientKey: who,
            planned: { inputTokens: s.input, maxTokens: s.output },
          });
        } catch (err) {
          if (!isBudgetExhaustedError(err)) throw err;
          got = err.reason;
        }
        expect(got).toBe(expected);
        if (ticket !== undefined)
          running.push({
            id,
            replica: r,
            ticket,
            account: models[r]?.accountOf(now, who) ?? '',
            input: s.input,
            output: s.output,
            abandoned: false,
          });
        break;
      }
      case 'settle': {
        // An abandoned call settling too is a replica that was cut off, not killed: it settles
        // late, after its lease lapsed and charged its worst case.
        const c = running[s.pick % Math.max(1, running.length)];
        if (c === undefined) break;
        running.splice(running.indexOf(c), 1);
        const input = Math.floor(c.input * s.usedIn);
        const output = Math.floor(c.output * s.usedOut);
        c.ticket.note(0, 'b', { inputTokens: input, outputTokens: output });
        c.ticket.settle();
        models[c.replica]?.settle(
          c.id,
          c.account,
          BigInt(input) * PICO_PER_TOKEN_IN + BigInt(output) * PICO_PER_TOKEN_OUT,
        );
        break;
      }
      case 'abandon': {
        const c = running[s.pick % Math.max(1, running.length)];
        if (c !== undefined) c.abandoned = true;
        break;
      }
      case 'advance':
        clock.advance(s.ms);
        break;
      case 'renew': {
        const r = s.replica % replicas;
        const mine = running.filter((c) => c.replica === r && !c.abandoned);
        expect(ledgers[r]?.renew(mine.map((c) => c.ticket))).toEqual([]);
        models[r]?.renew(
          now,
          mine.map((c) => c.id),
        );
        break;
      }
    }
    const at = clock.now();
    ledgers.forEach((ledger, r) => {
      const model = models[r] as BudgetModel;
      for (const who of per === 'Agent' ? [undefined] : KEYS) {
        const a = ledger.account('daily', who);
        expect({ spent: a?.spentPico ?? 0n, held: a?.reservedPico ?? 0n }).toEqual({
          spent: model.spent(at, who),
          held: model.held(at, who),
        });
        // Settled spend never passes the replica's share.
        expect(a?.spentPico ?? 0n).toBeLessThanOrEqual(share);
      }
    });
    for (const c of running) {
      const ends = ledgers[c.replica]?.leaseEndsAt(c.ticket);
      expect(ends).toBe(models[c.replica]?.endsAt(c.id));
      // No hold outlives the cap from now: it was made or renewed at most now.
      if (ends !== undefined) expect(ends - at).toBeLessThanOrEqual(MODEL_LEASE_CAP_MS);
    }
  }
  return days.size;
}

describe('the budget ledger against the reference model', () => {
  it('agrees on every step of random calls over replicas, midnights and clock changes', () => {
    let crossed = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }),
        fc.constantFrom('Agent' as const, 'ClientKey' as const),
        fc.constantFrom(...STARTS),
        fc.array(step, { minLength: 1, maxLength: 80 }),
        (replicas, per, start, steps) => {
          if (run(replicas, per, start, steps) > 1) crossed++;
        },
      ),
      { seed: SEED, numRuns: RUNS, verbose: fc.VerbosityLevel.Verbose },
    );
    const report = process.env.BREAKWATER_PROPERTY_REPORT;
    if (report !== undefined)
      appendFileSync(
        report,
        `${JSON.stringify({ test: REPORTED_AS, seed: SEED, runs: RUNS, crossedMidnight: crossed })}\n`,
      );
    // The runs cross midnight (and the clock change that night) often enough to mean something.
    expect(crossed).toBeGreaterThan(RUNS / 10);
  });
});
