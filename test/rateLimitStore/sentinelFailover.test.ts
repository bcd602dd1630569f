/**
 * The store through a Redis Sentinel failover, on real processes: a primary, two replicas and
 * three sentinels (Debian's redis-server and redis-sentinel) on loopback ports; three runtime
 * processes on one RateLimitPolicy whose store is `sentinel`, under a rate-limited, budgeted
 * load from the real SDK (no retries) against the simulator. The primary is SIGKILLed mid-load
 * and the sentinels promote a replica: the runtimes follow it without a restart, and calls
 * after the failover are decided on it. The figures (calls failed, time until every replica
 * is back on the store, spend past the budget from the simulator's own bills) are printed for
 * docs/guarantees.md and bench/results/sentinel-failover.json.
 */
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { moneyToUsdNumber, parseMoney } from '../../contract/src/spend/money.ts';
import type { PolicyDocument } from '../../contract/src/policy/policyDocument.ts';
import { PRICING } from '../support/budgetStoreFixture.ts';
import { billedPico, call, load, spentOn, views, type Call } from '../support/budgetedLoad.ts';
import {
  agentDocument,
  ratePolicy,
  startAgent,
  type StoreAgent,
} from '../support/rateLimitStoreFixture.ts';
import { startSentinelSet, type SentinelSet } from '../support/redisSentinel.ts';
import { startSimulator, type SimulatorHandle } from '../support/simulator.ts';
import type { Mutable } from '../support/standaloneRuntime.ts';
import { waitFor } from '../support/waitFor.ts';

jest.setTimeout(180_000);

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

/** About two hundred calls' worth: the load spends it in some twenty seconds, the kill inside. */
const BUDGET_USD = '0.015';
const LIMIT_PICO = parseMoney(BUDGET_USD);
/** What the sentinels are given to notice the primary gone and promote a replica. */
const FAILOVER_TIMEOUT_MS = 30_000;
/** How long after the kill every replica must be deciding on the promoted primary again. */
const BACK_ON_STORE_MS = 30_000;

interface Setup {
  readonly set: SentinelSet;
  readonly sim: SimulatorHandle;
  readonly agent: StoreAgent;
}

async function setup(): Promise<Setup> {
  const set = await startSentinelSet();
  cleanups.push(() => set.remove());
  const sim = await startSimulator({ seed: 51 });
  cleanups.push(() => sim.stop());
  const policy = ratePolicy({
    requests: { perSecond: 10, burst: 10 },
    budgets: [{ name: 'daily', period: 'Day', usd: BUDGET_USD }],
    store: {
      redis: { sentinel: { masterName: set.masterName, addresses: [...set.sentinels] } },
      waitBudget: '1s',
    },
  });
  const doc = structuredClone(agentDocument(sim.url, policy)) as Mutable<PolicyDocument>;
  doc.pricing = PRICING.map((p) => ({ ...p }));
  const agent = await startAgent(doc);
  cleanups.push(() => agent.stop());
  return { set, sim, agent };
}

describe('the rate-limit store through a Redis Sentinel failover', () => {
  it('follows the promoted replica without a restart: calls after the failover are decided on it, within the budget', async () => {
    const { set, sim, agent } = await setup();
    const pids = agent.replicas.map((r) => r.runtime.child.pid);
    await waitFor(
      async () => (await views(agent)).every((v) => v.store?.report.state === 'Shared'),
      {
        description: 'every replica to decide on the store',
        timeoutMs: 30_000,
        intervalMs: 50,
      },
    );
    const urls = agent.replicas.map((r) => r.runtime.url);
    const running = load(urls);
    // Some of the budget spent through the first primary.
    await waitFor(async () => (await billedPico(sim)) > LIMIT_PICO / 4n, {
      description: 'a quarter of the budget spent',
      timeoutMs: 30_000,
      intervalMs: 50,
    });
    const was = set.primary.address;
    const killedAt = Date.now();
    await set.primary.kill();
    const promoted = await set.waitForNewPrimary(was, FAILOVER_TIMEOUT_MS);
    const promotedAt = Date.now();
    // Back on the store: every replica decides on it again, and has decided a call there.
    const before = (await views(agent)).map((v) => v.counters.sharedDecisions);
    const reasons = new Set<string>();
    await waitFor(
      async () => {
        const now = await views(agent);
        for (const v of now)
          if (v.store?.report.reason !== undefined) reasons.add(v.store.report.reason);
        return now.every(
          (v, i) =>
            v.store?.report.state === 'Shared' && v.counters.sharedDecisions > (before[i] ?? 0),
        );
      },
      {
        description: 'every replica back on the store',
        timeoutMs: BACK_ON_STORE_MS,
        intervalMs: 25,
      },
    );
    const backAt = Date.now();
    // The load goes on until the budget refuses every caller, or a minute has passed.
    await waitFor(
      async () => {
        const refused = await Promise.all(urls.map(async (u) => (await call(u)).outcome));
        return refused.every((o) => o === 'budgetRefused');
      },
      {
        description: 'the budget spent, refused on every replica',
        timeoutMs: 60_000,
        intervalMs: 100,
      },
    );
    const calls = await running.stop();
    const billed = await billedPico(sim);
    const settledOnPromoted = await spentOn(promoted);
    const after = (c: Call) => c.at >= backAt;
    const figures = {
      test: 'test/rateLimitStore/sentinelFailover.test.ts',
      calls: calls.length,
      served: calls.filter((c) => c.outcome === 'served').length,
      rateLimited: calls.filter((c) => c.outcome === 'rateLimited').length,
      budgetRefused: calls.filter((c) => c.outcome === 'budgetRefused').length,
      failed: calls.filter((c) => c.outcome === 'failed').length,
      failedDetails: [...new Set(calls.flatMap((c) => (c.detail === undefined ? [] : [c.detail])))],
      servedAfterBack: calls.filter((c) => after(c) && c.outcome === 'served').length,
      promotedAfterMs: promotedAt - killedAt,
      backOnStoreAfterMs: backAt - killedAt,
      budgetUsd: BUDGET_USD,
      billedUsd: moneyToUsdNumber(billed),
      pastBudgetUsd: moneyToUsdNumber(billed > LIMIT_PICO ? billed - LIMIT_PICO : 0n),
      settledOnPromotedUsd: moneyToUsdNumber(settledOnPromoted),
      reasonsAfterPromotion: [...reasons],
    };
    console.log(`sentinel failover figures: ${JSON.stringify(figures)}`);
    expect({
      // The same processes, none replaced or restarted.
      restarted: agent.started.length !== pids.length,
      samePids: agent.replicas.map((r) => r.runtime.child.pid),
      alive: agent.replicas.every((r) => r.runtime.child.exitCode === null),
      servedAfterBack: figures.servedAfterBack > 0,
      // The promoted replica holds the account and every settlement made on it.
      settledOnPromoted: settledOnPromoted > 0n,
      // Past the budget by no more than the settlements the promoted replica never received
      // (replication is asynchronous): nothing decided on a replica's share added to it.
      pastBudgetWithinLost:
        billed - LIMIT_PICO <= (billed > settledOnPromoted ? billed - settledOnPromoted : 0n),
    }).toEqual({
      restarted: false,
      samePids: pids,
      alive: true,
      servedAfterBack: true,
      settledOnPromoted: true,
      pastBudgetWithinLost: true,
    });
  });
});
