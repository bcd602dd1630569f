/**
 * The history checker (test/support/spendHistory.ts) over a seeded mixed workload: three real
 * runtime processes sharing one redis-server, the simulator billing as the API does and
 * answering some attempts 529, the real SDK as the client (plain and streamed calls, streams
 * cut at a random event, tool use, retries and fallbacks), an agent budget and a budget per
 * client key small enough to be exhausted. Every replica's budget records, the store and the
 * provider's own bills must keep B1, B9, B10 and M1–M10.
 *
 * `make test-history` runs it longer, with these settings (the defaults are `make test`'s):
 * SPEND_HISTORY_SEED (50), SPEND_HISTORY_CALLS per round (90), SPEND_HISTORY_ROUNDS (1), each
 * round a new agent and store on the next seed; SPEND_HISTORY_CONCURRENCY, calls in flight at
 * once (12); SPEND_HISTORY_WAIT_BUDGET=default, the store's `waitBudget` left at the policy's
 * default (5 ms) instead of 1 s; SPEND_HISTORY_RESULTS, a file the figures are written to,
 * before the assertions, so that a failing run leaves them too.
 */
import { writeFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { describeViolations, pico } from '../support/spendHistory.ts';
import { runSpendWorkload, type SpendWorkloadRun } from '../support/spendWorkload.ts';

const env = process.env;
const SEED = Number(env.SPEND_HISTORY_SEED ?? 50);
const CALLS = Number(env.SPEND_HISTORY_CALLS ?? 90);
const ROUNDS = Number(env.SPEND_HISTORY_ROUNDS ?? 1);
const CONCURRENCY = Number(env.SPEND_HISTORY_CONCURRENCY ?? 12);
const WAIT_BUDGET = env.SPEND_HISTORY_WAIT_BUDGET === 'default' ? null : '1s';

function figures(seed: number, run: SpendWorkloadRun, wallSeconds: number) {
  const { verdict } = run;
  return {
    seed,
    wallSeconds,
    counts: run.counts,
    billed: pico(verdict.billedPico),
    settled: pico(verdict.settledPico),
    accounts: verdict.accounts.map((a) => ({
      account: a.account,
      limit: a.limitPico === undefined ? null : pico(a.limitPico),
      settled: pico(a.settledPico),
      billed: pico(a.billedPico),
      calls: a.calls,
    })),
    violations: verdict.violations,
  };
}

describe('the spend history of three replicas sharing one store', () => {
  it('keeps every budget promise over a seeded mixed workload: within each limit, never less than billed, every hold released', async () => {
    const runs: { seed: number; run: SpendWorkloadRun }[] = [];
    const rounds: ReturnType<typeof figures>[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const seed = SEED + round;
      const started = Date.now();
      const run = await runSpendWorkload({
        seed,
        calls: CALLS,
        concurrency: CONCURRENCY,
        waitBudget: WAIT_BUDGET,
      });
      runs.push({ seed, run });
      rounds.push(figures(seed, run, Math.round((Date.now() - started) / 1000)));
    }
    const results = env.SPEND_HISTORY_RESULTS;
    if (results !== undefined && results !== '') {
      const report = {
        what: 'The spend history checker (test/support/spendHistory.ts) over seeded multi-replica workloads: test/rateLimitStore/spendHistory.test.ts, issue 50 item 9',
        date: new Date().toISOString().slice(0, 10),
        machine: 'shared 2-core machine, other helpers running',
        settings: {
          seed: SEED,
          rounds: ROUNDS,
          callsPerRound: CALLS,
          concurrency: CONCURRENCY,
          waitBudget: WAIT_BUDGET ?? 'the policy default (5ms)',
        },
        violations: rounds.reduce((n, r) => n + r.violations.length, 0),
        rounds,
      };
      writeFileSync(results, `${JSON.stringify(report, null, 2)}\n`);
    }
    for (const { seed, run } of runs) {
      const { verdict, counts } = run;
      expect(`seed ${String(seed)}\n${describeViolations(verdict.violations)}`).toBe(
        `seed ${String(seed)}\n`,
      );
      // The workload reached what it is for: budgets exhausted, streams cut, calls billed.
      expect(counts.refused ?? 0).toBeGreaterThan(0);
      expect(counts.served ?? 0).toBeGreaterThan(0);
      expect(run.calls.some((c) => c.cut)).toBe(true);
      expect(verdict.billedPico).toBeGreaterThan(0n);
      expect(verdict.settledPico).toBeGreaterThanOrEqual(verdict.billedPico);
    }
  });
});
