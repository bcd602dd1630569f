/**
 * The store on a Redis Cluster, on real processes: six redis-server nodes in cluster mode (three
 * primaries, a replica each; test/support/redisCluster.ts) on loopback ports; three runtime
 * processes on one RateLimitPolicy whose store is `cluster`, under a rate-limited, budgeted load
 * from the real SDK (no retries) against the simulator. Three things happen to the cluster
 * while calls run: nothing; the slot of the policy's keys (budget account, limits, settled
 * markers, one hash tag) is moved to another primary key by key; its primary is SIGKILLed and
 * the cluster promotes the replica. Each time the runtimes carry on without a restart, the rate
 * limit holds and the budget is passed by no more than the settlements a promoted replica never
 * received. The figures (calls failed, spend past the budget from the simulator's own bills,
 * calls served against the limit, time until every replica is back on the store) are printed
 * for docs/guarantees.md and bench/results/cluster-failover.json.
 */
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { createClient } from '@redis/client';
import { moneyToUsdNumber, parseMoney } from '../../contract/src/spend/money.ts';
import type { PolicyDocument } from '../../contract/src/policy/policyDocument.ts';
import { keySlot } from '../../runtime/src/rateLimitStore/clusterRouting.ts';
import { PRICING, storedPico } from '../support/budgetStoreFixture.ts';
import {
  agentDocument,
  ratePolicy,
  startAgent,
  type StoreAgent,
} from '../support/rateLimitStoreFixture.ts';
import { startRedisCluster, type RedisCluster } from '../support/redisCluster.ts';
import { billedPico, call, load, outcomes, type Call } from '../support/budgetedLoad.ts';
import { startSimulator, type SimulatorHandle } from '../support/simulator.ts';
import type { Mutable } from '../support/standaloneRuntime.ts';
import { waitFor } from '../support/waitFor.ts';

jest.setTimeout(240_000);

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

/** About two hundred calls' worth: the load spends it in some twenty seconds. */
const BUDGET_USD = '0.015';
const LIMIT_PICO = parseMoney(BUDGET_USD);
const PER_SECOND = 10;
const BURST = 10;
/** cluster-node-timeout: how long a primary is silent before the others fail it over. */
const NODE_TIMEOUT_MS = 1000;
const PROMOTION_TIMEOUT_MS = 30_000;
const BACK_ON_STORE_MS = 30_000;

interface Setup {
  readonly cluster: RedisCluster;
  readonly sim: SimulatorHandle;
  readonly agent: StoreAgent;
  /** The slot every key of the policy lies in (its keyPrefix's hash tag). */
  readonly slot: number;
}

async function setup(acknowledge: 'Primary' | 'Replicas' = 'Primary'): Promise<Setup> {
  const cluster = await startRedisCluster({ nodeTimeoutMs: NODE_TIMEOUT_MS });
  cleanups.push(() => cluster.remove());
  const sim = await startSimulator({ seed: 51 });
  cleanups.push(() => sim.stop());
  const policy = ratePolicy({
    requests: { perSecond: PER_SECOND, burst: BURST },
    budgets: [{ name: 'daily', period: 'Day', usd: BUDGET_USD }],
    store: {
      redis: {
        cluster: { addresses: [...cluster.addresses] },
        ...(acknowledge === 'Replicas' ? { acknowledge } : {}),
      },
      waitBudget: '1s',
    },
  });
  const doc = structuredClone(agentDocument(sim.url, policy)) as Mutable<PolicyDocument>;
  doc.pricing = PRICING.map((p) => ({ ...p }));
  const prefix = doc.rateLimit.store?.keyPrefix;
  if (prefix === undefined) throw new Error('the document has no store');
  const agent = await startAgent(doc);
  cleanups.push(() => agent.stop());
  return { cluster, sim, agent, slot: keySlot(prefix) };
}

interface LimiterView {
  readonly counters: { readonly sharedDecisions: number };
  readonly store?: { readonly report: { readonly state: string; readonly reason?: string } };
}

const views = (agent: StoreAgent): Promise<LimiterView[]> =>
  Promise.all(
    agent.replicas.map(
      async (r) =>
        ((await r.runtime.debug('/debug/ratelimiter')) as { rateLimiter: LimiterView }).rateLimiter,
    ),
  );

const onStore = (agent: StoreAgent) =>
  waitFor(async () => (await views(agent)).every((v) => v.store?.report.state === 'Shared'), {
    description: 'every replica to decide on the store',
    timeoutMs: 30_000,
    intervalMs: 50,
  });

/**
 * The reasons the replicas report for leaving the store, polled from now until `stop()` (so the
 * ones reported while a slot moves are seen too).
 */
function watchReasons(agent: StoreAgent): { stop(): Promise<string[]> } {
  const reasons = new Set<string>();
  const watching = { on: true };
  const polling = (async () => {
    while (watching.on) {
      for (const v of await views(agent).catch(() => []))
        if (v.store?.report.reason !== undefined) reasons.add(v.store.report.reason);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  })();
  return {
    stop: async () => {
      watching.on = false;
      await polling;
      return [...reasons];
    },
  };
}

/** Every replica decides on the store again and has decided a call there. */
async function backOnStore(agent: StoreAgent): Promise<void> {
  const before = (await views(agent)).map((v) => v.counters.sharedDecisions);
  await waitFor(
    async () => {
      const now = await views(agent);
      return now.every(
        (v, i) =>
          v.store?.report.state === 'Shared' && v.counters.sharedDecisions > (before[i] ?? 0),
      );
    },
    { description: 'every replica back on the store', timeoutMs: BACK_ON_STORE_MS, intervalMs: 25 },
  );
}

/** Until the budget refuses a call on every replica (or a minute has passed). */
const budgetSpent = (urls: readonly string[]) =>
  waitFor(
    async () =>
      (await Promise.all(urls.map(async (u) => (await call(u)).outcome))).every(
        (o) => o === 'budgetRefused',
      ),
    {
      description: 'the budget spent, refused on every replica',
      timeoutMs: 60_000,
      intervalMs: 100,
    },
  );

const quarterSpent = (sim: SimulatorHandle) =>
  waitFor(async () => (await billedPico(sim)) > LIMIT_PICO / 4n, {
    description: 'a quarter of the budget spent',
    timeoutMs: 30_000,
    intervalMs: 50,
  });

/** The budget account's settled spend on the primary at `address`, in picodollars. */
async function spentOn(address: string): Promise<bigint> {
  const [host, port] = address.split(':');
  const client = createClient({ socket: { host: host ?? '', port: Number(port) } });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const [key] = (await client.keys('*:budget:*')).filter((k) => !k.endsWith(':leases'));
    if (key === undefined) return 0n;
    return storedPico(await client.hGetAll(key), 'spent');
  } finally {
    client.destroy();
  }
}

/**
 * The figures of one run: outcomes, calls served against what the limit allows over the time
 * they were served in, the spend past the budget.
 */
function figures(calls: readonly Call[], billed: bigint) {
  const served = calls.filter((c) => c.outcome === 'served');
  const first = Math.min(...calls.map((c) => c.at));
  const last = Math.max(...served.map((c) => c.at));
  const allowed = BURST + Math.ceil((PER_SECOND * (last - first)) / 1000);
  return {
    calls: calls.length,
    ...outcomes(calls),
    failedDetails: [...new Set(calls.flatMap((c) => (c.detail === undefined ? [] : [c.detail])))],
    servedSeconds: (last - first) / 1000,
    limitAllowed: allowed,
    budgetUsd: BUDGET_USD,
    billedUsd: moneyToUsdNumber(billed),
    pastBudgetUsd: moneyToUsdNumber(billed > LIMIT_PICO ? billed - LIMIT_PICO : 0n),
  };
}

describe('the rate-limit store on a Redis Cluster', () => {
  it('keeps the limit and the budget exact across three replicas on a steady cluster', async () => {
    const { cluster, sim, agent, slot } = await setup();
    await onStore(agent);
    const urls = agent.replicas.map((r) => r.runtime.url);
    const running = load(urls);
    // A failed expectation still stops the callers.
    cleanups.push(async () => {
      await running.stop();
    });
    await budgetSpent(urls);
    const calls = await running.stop();
    const billed = await billedPico(sim);
    const settled = await spentOn(await cluster.primaryOf(slot));
    const decided = (await views(agent)).map((v) => v.counters.sharedDecisions);
    const f = { scenario: 'steady', ...figures(calls, billed) };
    console.log(`cluster figures: ${JSON.stringify(f)}`);
    expect({
      decidedOnStore: decided.every((d) => d > 0),
      failed: f.failed,
      servedWithinLimit: f.served <= f.limitAllowed,
      pastBudget: billed > LIMIT_PICO,
      settledIsBilled: settled === billed,
    }).toEqual({
      decidedOnStore: true,
      failed: 0,
      servedWithinLimit: true,
      pastBudget: false,
      settledIsBilled: true,
    });
  });

  it("follows the policy's slot to another primary while calls run, without a restart", async () => {
    const { cluster, sim, agent, slot } = await setup();
    const pids = agent.replicas.map((r) => r.runtime.child.pid);
    await onStore(agent);
    const urls = agent.replicas.map((r) => r.runtime.url);
    const running = load(urls);
    // A failed expectation still stops the callers.
    cleanups.push(async () => {
      await running.stop();
    });
    await quarterSpent(sim);
    const from = await cluster.primaryOf(slot);
    const to = (await cluster.primaries()).find((p) => p !== from) ?? '';
    const watching = watchReasons(agent);
    const startedAt = Date.now();
    // A key at a time, a pause between: calls meet the slot half moved (ASK, TRYAGAIN).
    await cluster.migrateSlot(slot, to, { pauseMs: 100, batch: 1 });
    const movedAt = Date.now();
    await backOnStore(agent);
    const backAt = Date.now();
    const reasons = await watching.stop();
    await budgetSpent(urls);
    const calls = await running.stop();
    const billed = await billedPico(sim);
    const settledOnTarget = await spentOn(to);
    const f = {
      scenario: 'slot migrated',
      ...figures(calls, billed),
      failedDuringMove: calls.filter(
        (c) => c.outcome === 'failed' && c.at >= startedAt && c.at <= movedAt,
      ).length,
      migrationMs: movedAt - startedAt,
      backOnStoreAfterMoveMs: backAt - movedAt,
      reasonsSeen: reasons,
      settledOnTargetUsd: moneyToUsdNumber(settledOnTarget),
    };
    console.log(`cluster figures: ${JSON.stringify(f)}`);
    expect({
      samePids: agent.replicas.map((r) => r.runtime.child.pid),
      onTarget: (await cluster.primaryOf(slot)) === to,
      // The replicas decided on their shares while the slot was half moved: R3's one burst.
      servedWithinLimit: f.served <= f.limitAllowed + BURST,
      // A migration loses nothing (MIGRATE moves each key whole): every bill settled on the target.
      pastBudget: billed > LIMIT_PICO,
      settledIsBilled: settledOnTarget === billed,
    }).toEqual({
      samePids: pids,
      onTarget: true,
      servedWithinLimit: true,
      pastBudget: false,
      settledIsBilled: true,
    });
  });

  it.each(['Primary', 'Replicas'] as const)(
    'follows a primary the cluster replaced with its replica, without a restart, within the budget (acknowledge %s)',
    async (acknowledge) => {
      const { cluster, sim, agent, slot } = await setup(acknowledge);
      const pids = agent.replicas.map((r) => r.runtime.child.pid);
      await onStore(agent);
      const urls = agent.replicas.map((r) => r.runtime.url);
      const running = load(urls);
      // A failed expectation still stops the callers.
      cleanups.push(async () => {
        await running.stop();
      });
      await quarterSpent(sim);
      const watching = watchReasons(agent);
      const killedAt = Date.now();
      const killed = await cluster.killPrimaryOf(slot);
      const promoted = await cluster.waitForPromotion(slot, killed, PROMOTION_TIMEOUT_MS);
      const promotedAt = Date.now();
      await backOnStore(agent);
      const backAt = Date.now();
      const reasons = await watching.stop();
      await budgetSpent(urls);
      const calls = await running.stop();
      const billed = await billedPico(sim);
      const settledOnPromoted = await spentOn(promoted);
      const f = {
        scenario: 'primary killed',
        acknowledge,
        ...figures(calls, billed),
        servedAfterBack: calls.filter((c) => c.at >= backAt && c.outcome === 'served').length,
        promotedAfterMs: promotedAt - killedAt,
        backOnStoreAfterMs: backAt - killedAt,
        reasonsSeen: reasons,
        settledOnPromotedUsd: moneyToUsdNumber(settledOnPromoted),
      };
      console.log(`cluster figures: ${JSON.stringify(f)}`);
      expect({
        samePids: agent.replicas.map((r) => r.runtime.child.pid),
        servedAfterBack: f.servedAfterBack > 0,
        // The replicas decided on their shares until the promotion: R3's one burst.
        servedWithinLimit: f.served <= f.limitAllowed + BURST,
        settledOnPromoted: settledOnPromoted > 0n,
        // Past the budget by no more than the settlements the promoted replica never received
        // (replication is asynchronous): nothing decided on a replica's share added to it.
        pastBudgetWithinLost:
          billed - LIMIT_PICO <= (billed > settledOnPromoted ? billed - settledOnPromoted : 0n),
        // Under Replicas every settlement the store acknowledged was on the promoted replica.
        pastBudget: acknowledge === 'Replicas' ? billed > LIMIT_PICO : 'not promised',
      }).toEqual({
        samePids: pids,
        servedAfterBack: true,
        servedWithinLimit: true,
        settledOnPromoted: true,
        pastBudgetWithinLost: true,
        pastBudget: acknowledge === 'Replicas' ? false : 'not promised',
      });
    },
  );
});
