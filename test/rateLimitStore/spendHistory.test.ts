/**
 * The history checker (test/support/spendHistory.ts) over a seeded mixed workload: three real
 * runtime processes sharing one redis-server, the simulator billing as the API does and
 * answering some attempts 529, the real SDK as the client (plain and streamed calls, streams
 * cut at a random event, tool use, retries and fallbacks), `/v1/agent/invoke` calls whose
 * bundled agent calls a tool of an MCP server (the official SDK's) before it answers, an agent
 * budget and a budget per client key small enough to be exhausted, and one replica SIGKILLed
 * mid-call and replaced, whose holds lapse and are charged at their worst case. Every
 * replica's budget records, the store and the provider's own bills must keep B1, B9, B10,
 * M1–M10 and M12. A failure prints the round's seed, each violation, and every record of the
 * calls it names.
 *
 * `make test-history` runs it longer, with these settings (the defaults are `make test`'s):
 * SPEND_HISTORY_SEED (50), SPEND_HISTORY_CALLS per round (90), SPEND_HISTORY_ROUNDS (1), each
 * round a new agent and store on the next seed; SPEND_HISTORY_CONCURRENCY, calls in flight at
 * once (12); SPEND_HISTORY_KILLS, replicas killed per round (1);
 * SPEND_HISTORY_WAIT_BUDGET=default, the store's `waitBudget` left at the policy's default
 * (5 ms) instead of 1 s;
 * SPEND_HISTORY_RESULTS, a file the figures are written to, before the assertions, so that a
 * failing run leaves them too. Each round prints a line to stderr as it ends.
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { describe, expect, it } from '@jest/globals';
import { describeViolations, offendingHistory, pico } from '../support/spendHistory.ts';
import { runSpendWorkload, type SpendWorkloadRun } from '../support/spendWorkload.ts';

const env = process.env;
const SEED = Number(env.SPEND_HISTORY_SEED ?? 50);
const CALLS = Number(env.SPEND_HISTORY_CALLS ?? 90);
const ROUNDS = Number(env.SPEND_HISTORY_ROUNDS ?? 1);
const CONCURRENCY = Number(env.SPEND_HISTORY_CONCURRENCY ?? 12);
const KILLS = Number(env.SPEND_HISTORY_KILLS ?? 1);
const WAIT_BUDGET = env.SPEND_HISTORY_WAIT_BUDGET === 'default' ? null : '1s';

/** `a / b` to three places; null when b is 0. */
function ratio(a: bigint, b: bigint): number | null {
  return b === 0n ? null : Number((a * 1000n) / b) / 1000;
}

function figures(seed: number, run: SpendWorkloadRun, wallSeconds: number) {
  const { verdict } = run;
  const limited = verdict.accounts.flatMap((a) =>
    a.limitPico === undefined ? [] : [ratio(a.settledPico, a.limitPico) ?? 0],
  );
  const chargedOverBilled = verdict.accounts.flatMap((a) => {
    const r = ratio(a.settledPico, a.billedPico);
    return r === null ? [] : [r];
  });
  return {
    seed,
    wallSeconds,
    counts: run.counts,
    kills: run.kills,
    billed: pico(verdict.billedPico),
    charged: pico(verdict.settledPico),
    lapsedHolds: {
      count: verdict.lapses,
      charged: pico(verdict.lapsedPico),
      billed: pico(verdict.lapsedBilledPico),
      chargedOverBilled: ratio(verdict.lapsedPico, verdict.lapsedBilledPico),
    },
    maxSpendOverLimit: Math.max(0, ...limited),
    chargedOverBilled: {
      all: ratio(verdict.settledPico, verdict.billedPico),
      leastOfAnAccount: chargedOverBilled.length === 0 ? null : Math.min(...chargedOverBilled),
    },
    accounts: verdict.accounts.map((a) => ({
      account: a.account,
      limit: a.limitPico === undefined ? null : pico(a.limitPico),
      charged: pico(a.settledPico),
      lapsed: pico(a.lapsedPico),
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
        kills: KILLS,
      });
      runs.push({ seed, run });
      const ended = figures(seed, run, Math.round((Date.now() - started) / 1000));
      rounds.push(ended);
      process.stderr.write(
        `spend history: round ${String(round + 1)}/${String(ROUNDS)} seed ${String(seed)}: ${String(ended.wallSeconds)} s, ${String(CALLS)} calls, ${String(run.kills.length)} killed, ${String(ended.lapsedHolds.count)} holds lapsed, spend/limit ≤ ${String(ended.maxSpendOverLimit)}, ${String(ended.violations.length)} violations\n`,
      );
    }
    const results = env.SPEND_HISTORY_RESULTS;
    if (results !== undefined && results !== '') {
      const report = {
        what: 'The spend history checker (test/support/spendHistory.ts) over seeded multi-replica workloads: test/rateLimitStore/spendHistory.test.ts, issue 50 item 9',
        date: new Date().toISOString().slice(0, 10),
        machine: `shared 2-core machine, other helpers running; load average at the end ${loadavg()
          .map((l) => l.toFixed(2))
          .join(', ')} (1, 5, 15 min)`,
        settings: {
          seed: SEED,
          rounds: ROUNDS,
          callsPerRound: CALLS,
          concurrency: CONCURRENCY,
          killsPerRound: KILLS,
          waitBudget: WAIT_BUDGET ?? 'the policy default (5ms)',
        },
        violations: rounds.reduce((n, r) => n + r.violations.length, 0),
        kills: rounds.reduce((n, r) => n + r.kills.length, 0),
        lapsedHolds: rounds.reduce((n, r) => n + r.lapsedHolds.count, 0),
        maxSpendOverLimit: Math.max(0, ...rounds.map((r) => r.maxSpendOverLimit)),
        leastChargedOverBilled: Math.min(
          ...rounds.flatMap((r) =>
            r.chargedOverBilled.all === null ? [] : [r.chargedOverBilled.all],
          ),
        ),
        wallSeconds: rounds.reduce((n, r) => n + r.wallSeconds, 0),
        rounds,
      };
      writeFileSync(results, `${JSON.stringify(report, null, 2)}\n`);
    }
    for (const { seed, run } of runs) {
      const { verdict, counts } = run;
      const failure =
        verdict.violations.length === 0
          ? ''
          : `${describeViolations(verdict.violations)}\nthe calls named:\n${offendingHistory(run.history, verdict.violations)}`;
      expect(`seed ${String(seed)}\n${failure}`).toBe(`seed ${String(seed)}\n`);
      // The workload reached what it is for: budgets exhausted, streams cut, calls billed.
      expect(counts.refused ?? 0).toBeGreaterThan(0);
      expect(counts.served ?? 0).toBeGreaterThan(0);
      expect(run.calls.some((c) => c.cut)).toBe(true);
      expect(verdict.billedPico).toBeGreaterThan(0n);
      expect(verdict.settledPico).toBeGreaterThanOrEqual(verdict.billedPico);
      expect(run.kills.length).toBe(KILLS);
    }
    // A replica was killed while the store held a call of its own (a round's kill may come when
    // the budgets admit nothing more, and wait for one in vain).
    if (KILLS > 0) expect(runs.some(({ run }) => run.kills.some((k) => k.open > 0))).toBe(true);
    // Invocations of the bundled agent ran their tool loop: a turn served, its tool called.
    expect(runs.some(({ run }) => (run.counts.mcpToolCalls ?? 0) > 0)).toBe(true);
    // Somewhere in the run a killed replica's hold lapsed and was charged.
    if (KILLS > 0) expect(runs.some(({ run }) => run.verdict.lapses > 0)).toBe(true);
  });
});
