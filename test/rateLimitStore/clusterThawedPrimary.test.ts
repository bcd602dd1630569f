/**
 * A hung cluster primary that comes back just after the cluster promoted its replica, on real
 * processes: six redis-server nodes in cluster mode (three primaries, a replica each;
 * test/support/redisCluster.ts, `cluster-node-timeout 1000`) on loopback ports; six runtime
 * processes on one RateLimitPolicy whose store is `cluster`, four SDK callers each against a
 * $0.05 budget. Once half of it is billed, the primary that owns the policy's slot (the budget
 * account's, its keyPrefix's hash tag) is SIGSTOPped; the moment its replica answers ROLE as a
 * primary (the cluster failed it over; the runtimes have not heard, their commands to the old
 * primary are still owed), it is SIGCONTed. The old primary answers what it was sent meanwhile
 * as a primary, until the gossip of the new configuration makes it a replica of the promoted
 * one, which drops what it took. The Sentinel case is sentinelThawedPrimary.test.ts (B4).
 *
 * Under either acknowledgement every call is to be answered, every call the provider billed
 * settled on the promoted replica at its cost, nothing held there once the calls end.
 *
 * Why it holds (traced on 2026-11-29, recentSettlements.ts): a runtime's cluster client learns
 * the promoted replica from a slot map read again (after a MOVED from the thawed node, a
 * topology refresh, or a hung client made anew) and, since it never had a connection to that
 * node as a primary, connects to it: its `node-ready` comes after the new map is in place
 * (the library sets the slots before it connects their primaries), so clusterClient.ts's
 * 'ready' sends the remembered settlements to the new owner of the slot, 70 to 200 ms after
 * the thaw here. What the thawed node answered after that 'ready' is sent again as a late
 * answer; a map read later from the thawed node while it still thinks it is a primary would
 * name it again, and the next map naming the promoted replica connects to it anew: another
 * 'node-ready', another resend. Under Replicas the WAIT behind a write the thawed node took
 * fails (its one replica is the promoted node; the node is made a replica within milliseconds
 * and unblocks the WAIT), so the write is kept and sent again; and each lane's own cluster
 * client's 'ready' sends the remembered settlements again too (clusterPrimaries.ts), since the
 * lanes route by their own slot map, which may name the old primary after `inner`'s has moved.
 * With the resend switched off, the Primary case forgot $0.003366 and left 6 holds on the
 * promoted replica (1 run); the Replicas case passed (the failed WAITs kept what it took).
 */
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { moneyToUsdNumber, parseMoney } from '../../contract/src/spend/money.ts';
import { resolveRateLimit } from '../../contract/src/policy/policyResolution.ts';
import { keySlot } from '../../runtime/src/rateLimitStore/clusterRouting.ts';
import type { StoreCounters } from '../../runtime/src/rateLimitStore/storeCounters.ts';
import { PRICING, storedPico } from '../support/budgetStoreFixture.ts';
import { billedPico, call, type Call } from '../support/budgetedLoad.ts';
import { AGENT_NAME, ratePolicy } from '../support/rateLimitStoreFixture.ts';
import { ask, startRedisCluster } from '../support/redisCluster.ts';
import { waitForAReplicaPromoted } from '../support/redisSentinel.ts';
import { startSimulator } from '../support/simulator.ts';
import {
  policyDocument,
  standaloneRuntime,
  type StandaloneRuntime,
} from '../support/standaloneRuntime.ts';
import { waitFor } from '../support/waitFor.ts';

jest.setTimeout(240_000);

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

const BUDGET_USD = '0.05';
const LIMIT_PICO = parseMoney(BUDGET_USD);
/** As on Sentinel: six runtimes, four callers each. */
const RUNTIMES = 6;
const CALLERS = 4;
/** cluster-node-timeout: a frozen primary is failed over a second or two after it stops. */
const NODE_TIMEOUT_MS = 1000;

/** The budget account on the node at `address`: settled, held, and the holds' leases. */
async function heldOn(
  address: string,
): Promise<{ spent: bigint; reserved: bigint; leases: number }> {
  const keys = (await ask(address, ['KEYS', '*:budget:*'])) as string[];
  const key = keys.find((k) => !k.endsWith(':leases'));
  if (key === undefined) return { spent: 0n, reserved: 0n, leases: 0 };
  const answer = (await ask(address, ['HGETALL', key])) as string[] | Record<string, string>;
  const hash: Record<string, string> = {};
  if (Array.isArray(answer))
    for (let i = 0; i + 1 < answer.length; i += 2) hash[answer[i] ?? ''] = answer[i + 1] ?? '';
  else Object.assign(hash, answer);
  return {
    spent: storedPico(hash, 'spent'),
    reserved: storedPico(hash, 'reserved'),
    leases: Object.keys(hash).filter((field) => field.startsWith('lease:')).length,
  };
}

/** A runtime's store: Shared or Fallback, and what it counted. */
async function storeOf(r: StandaloneRuntime) {
  const view = (await r.runtime.debug('/debug/ratelimiter').catch(() => undefined)) as
    | { rateLimiter?: { store?: { report: { state: string }; counters: StoreCounters } } }
    | undefined;
  const store = view?.rateLimiter?.store;
  return store === undefined
    ? undefined
    : {
        state: store.report.state,
        resent: store.counters.resent,
        errors: store.counters.errors,
        fallbacks: store.counters.fallbacks,
      };
}

/**
 * One run: the load, the freeze of the slot's primary at half the budget, the thaw as its
 * replica is promoted, the load until the budget refuses; then every call the provider billed
 * must be settled on the promoted replica and nothing held there.
 */
async function thawedPrimary(acknowledge: 'Primary' | 'Replicas'): Promise<void> {
  const cluster = await startRedisCluster({ nodeTimeoutMs: NODE_TIMEOUT_MS });
  cleanups.push(() => cluster.remove());
  const sim = await startSimulator({ seed: 59 });
  cleanups.push(() => sim.stop());
  const policy = ratePolicy({
    requests: { perSecond: 1000, burst: 1000 },
    budgets: [{ name: 'daily', period: 'Day', usd: BUDGET_USD }],
    store: {
      redis: {
        cluster: { addresses: [...cluster.addresses] },
        ...(acknowledge === 'Replicas' ? { acknowledge } : {}),
      },
      waitBudget: '1s',
    },
  });
  const doc = policyDocument(sim.url, (d) => {
    // One retry, as a production policy has (sentinelThawedPrimary.test.ts says why).
    d.retry = { ...d.retry, maxAttempts: 2 };
    d.agent = { ...d.agent, name: AGENT_NAME, namespace: 'default' };
    d.rateLimit = resolveRateLimit(policy, RUNTIMES, AGENT_NAME);
    d.pricing = PRICING.map((p) => ({ ...p }));
  });
  const prefix = doc.rateLimit.store?.keyPrefix;
  if (prefix === undefined) throw new Error('the document has no store');
  const slot = keySlot(prefix);
  const runtimes: StandaloneRuntime[] = [];
  for (let i = 0; i < RUNTIMES; i++) {
    const rt = await standaloneRuntime(doc).catch(() => standaloneRuntime(doc));
    runtimes.push(rt);
    cleanups.push(() => rt.stop());
  }
  const urls = runtimes.map((r) => r.runtime.url);
  await waitFor(
    async () => (await Promise.all(runtimes.map(storeOf))).every((s) => s?.state === 'Shared'),
    { description: 'every runtime on the store', timeoutMs: 30_000, intervalMs: 100 },
  );
  const calls: Call[] = [];
  let running = true;
  const callers = urls.flatMap((url) =>
    Array.from({ length: CALLERS }, async () => {
      while (running) {
        calls.push(await call(url));
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }),
  );
  // A failed wait still stops the callers.
  cleanups.push(async () => {
    running = false;
    await Promise.all(callers);
  });
  await waitFor(async () => (await billedPico(sim)) > LIMIT_PICO / 2n, {
    description: 'half the budget spent',
    timeoutMs: 60_000,
    intervalMs: 20,
  });
  const was = await cluster.primaryOf(slot);
  const [replicaAddress] = await cluster.replicasOf(was);
  const frozen = cluster.nodes.find((n) => n.address === was);
  const replica = cluster.nodes.find((n) => n.address === replicaAddress);
  if (frozen === undefined || replica === undefined)
    throw new Error(`no replica of ${was} among the nodes`);
  frozen.freeze();
  // A frozen process takes no SIGTERM: thawed before anything stops it.
  cleanups.push(() => {
    frozen.thaw();
    return Promise.resolve();
  });
  const frozenAt = Date.now();
  // Thawed the moment its replica says it is a primary (the cluster failed it over), before
  // the runtimes hear: the old primary answers what it was sent meanwhile.
  await waitForAReplicaPromoted([replica], 30_000);
  frozen.thaw();
  const thawedAt = Date.now();
  const promoted = await cluster.waitForPromotion(slot, was, 30_000);
  // The load goes on until the budget refuses every caller, or half a minute has passed.
  const until = Date.now() + 30_000;
  await waitFor(
    async () => {
      const outcomes = await Promise.all(urls.map(async (u) => (await call(u)).outcome));
      return outcomes.every((o) => o === 'budgetRefused') || Date.now() > until;
    },
    { description: 'the budget refused everywhere', timeoutMs: 60_000, intervalMs: 100 },
  );
  running = false;
  await Promise.all(callers);
  // Every call has been answered. A runtime still on its share keeps its settlements until it
  // is back on the store: wait for that, then the settlements they kept are sent within a second.
  await waitFor(
    async () => (await Promise.all(runtimes.map(storeOf))).every((s) => s?.state === 'Shared'),
    { description: 'every runtime back on the store', timeoutMs: 30_000, intervalMs: 100 },
  );
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const billed = await billedPico(sim);
  const held = await heldOn(promoted);
  const figures = {
    test: 'test/rateLimitStore/clusterThawedPrimary.test.ts',
    acknowledge,
    calls: calls.length,
    served: calls.filter((c) => c.outcome === 'served').length,
    failed: calls.filter((c) => c.outcome === 'failed').length,
    budgetUsd: BUDGET_USD,
    billedUsd: moneyToUsdNumber(billed),
    settledOnPromotedUsd: moneyToUsdNumber(held.spent),
    heldOnPromotedUsd: moneyToUsdNumber(held.reserved),
    leasesOnPromoted: held.leases,
    frozenMs: thawedAt - frozenAt,
    failures: calls.filter((c) => c.outcome === 'failed').map((c) => c.detail),
    was,
    promoted,
    // Where each node stands at the end, and what the runtimes' stores counted.
    servers: await Promise.all(
      cluster.nodes.map(async (n) => ({
        address: n.address,
        role: ((await ask(n.address, ['ROLE']).catch(() => ['?'])) as unknown[])[0],
        settledUsd: moneyToUsdNumber((await heldOn(n.address).catch(() => ({ spent: 0n }))).spent),
      })),
    ),
    stores: await Promise.all(runtimes.map(storeOf)),
  };
  console.log(`cluster thawed primary figures: ${JSON.stringify(figures)}`);
  expect({
    failed: figures.failed,
    // No call is still in flight, so nothing is held for one.
    leasesOnPromoted: held.leases,
    heldOnPromoted: held.reserved,
    // Every call the provider billed is settled at its cost (B1, M1): nothing forgotten.
    forgotten: billed > held.spent ? billed - held.spent : 0n,
    // Nothing settled past the budget but what calls decided on shares spent (B3): none here
    // past the limit, since every share refuses once the store's account is spent.
    pastBudget: billed > LIMIT_PICO ? billed - LIMIT_PICO : 0n,
  }).toEqual({
    failed: 0,
    leasesOnPromoted: 0,
    heldOnPromoted: 0n,
    forgotten: 0n,
    pastBudget: 0n,
  });
}

describe('the rate-limit store on a Redis Cluster through a primary that hangs and comes back as its replica is promoted', () => {
  it('under acknowledge: Primary, settles every held call on the promoted replica at its cost: no hold outlives its call', () =>
    thawedPrimary('Primary'));

  it('under acknowledge: Replicas, settles every held call on the promoted replica at its cost', () =>
    thawedPrimary('Replicas'));
});
