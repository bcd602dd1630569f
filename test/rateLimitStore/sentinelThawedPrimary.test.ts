/**
 * A hung primary that comes back just after the sentinels promoted a replica, on real
 * processes: a primary, two replicas and three sentinels (Debian's redis-server and
 * redis-sentinel) on loopback ports; six runtime processes on one RateLimitPolicy whose store is
 * `sentinel` (the document the operator writes for six ready replicas), four SDK callers each
 * (no retries) against a $0.05 budget. Once half of it is billed, the primary is SIGSTOPped; the
 * moment a replica answers ROLE as a primary (the sentinels promoted it and have not yet
 * announced the switch), it is SIGCONTed: a VM paused and resumed, a host stalled for a few
 * seconds. The runtimes follow the promoted replica; every call is then
 * answered, and every call the store held should have been settled there at its cost.
 *
 * Found by an outside attack (attacks/store-failover/REPORT.md, "thawed primary"): calls held
 * when the primary froze sent their settlements to the old primary, which took them as it
 * thawed and lost them when the sentinels made it a replica of the promoted one. The promoted
 * replica kept those calls' holds (their worst cases, $0.001236 each for a $0.000066 call), so
 * callers were refused as "busy" with a sixth of the budget unspent, and when the leases lapsed
 * (B10, five minutes) each call was charged its worst case, for a replica that never died.
 */
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { moneyToUsdNumber, parseMoney } from '../../contract/src/spend/money.ts';
import { resolveRateLimit } from '../../contract/src/policy/policyResolution.ts';
import type { StoreCounters } from '../../runtime/src/rateLimitStore/storeCounters.ts';
import { PRICING, storedPico } from '../support/budgetStoreFixture.ts';
import { billedPico, call, type Call } from '../support/budgetedLoad.ts';
import { AGENT_NAME, ratePolicy } from '../support/rateLimitStoreFixture.ts';
import { ask, startSentinelSet, waitForAReplicaPromoted } from '../support/redisSentinel.ts';
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
/** Runtimes, and callers on each: the attack reproduced with six and four, not with three. */
const RUNTIMES = 6;
const CALLERS = 4;

/** The budget account on the server at `address`: settled, held, and the holds' leases. */
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
 * One run: the load, the freeze at half the budget, the thaw as a replica is promoted, the load
 * until the budget refuses; then every call the provider billed must be settled on the promoted
 * replica and nothing held there.
 */
async function thawedPrimary(acknowledge?: 'Replicas'): Promise<void> {
  const set = await startSentinelSet();
  cleanups.push(() => set.remove());
  // A frozen process takes no SIGTERM: thawed before anything stops it.
  cleanups.push(() => {
    set.primary.thaw();
    return Promise.resolve();
  });
  const sim = await startSimulator({ seed: 57 });
  cleanups.push(() => sim.stop());
  const policy = ratePolicy({
    requests: { perSecond: 1000, burst: 1000 },
    budgets: [{ name: 'daily', period: 'Day', usd: BUDGET_USD }],
    store: {
      redis: {
        sentinel: { masterName: set.masterName, addresses: [...set.sentinels] },
        ...(acknowledge === undefined ? {} : { acknowledge }),
      },
      waitBudget: '1s',
    },
  });
  const doc = policyDocument(sim.url, (d) => {
    // One retry, as a production policy has: in 4 of 36 runs one to three calls met a
    // "Connection error" from the simulator's keep-alive connection (not the store), which
    // with no retry failed the call; this test is about what the store keeps.
    d.retry = { ...d.retry, maxAttempts: 2 };
    d.agent = { ...d.agent, name: AGENT_NAME, namespace: 'default' };
    d.rateLimit = resolveRateLimit(policy, RUNTIMES, AGENT_NAME);
    d.pricing = PRICING.map((p) => ({ ...p }));
  });
  const runtimes: StandaloneRuntime[] = [];
  for (let i = 0; i < RUNTIMES; i++) {
    const rt = await standaloneRuntime(doc).catch(() => standaloneRuntime(doc));
    runtimes.push(rt);
    cleanups.push(() => rt.stop());
  }
  const urls = runtimes.map((r) => r.runtime.url);
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
  await waitFor(async () => (await billedPico(sim)) > LIMIT_PICO / 2n, {
    description: 'half the budget spent',
    timeoutMs: 60_000,
    intervalMs: 20,
  });
  const was = set.primary.address;
  set.primary.freeze();
  // Thawed the moment a replica says it is a primary (the sentinels' REPLICAOF NO ONE),
  // before they announce the switch: the old primary answers what it was sent meanwhile.
  await waitForAReplicaPromoted(set.replicas, 30_000);
  set.primary.thaw();
  const promoted = await set.waitForNewPrimary(was, 30_000);
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
  // Every call has been answered. A runtime still on its share (the load ends as soon as every
  // share refuses) keeps its settlements until it is back on the store: wait for that, then
  // the settlements they kept are sent within a second.
  await waitFor(
    async () => (await Promise.all(runtimes.map(storeOf))).every((s) => s?.state === 'Shared'),
    { description: 'every runtime back on the store', timeoutMs: 30_000, intervalMs: 100 },
  );
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const billed = await billedPico(sim);
  const held = await heldOn(promoted);
  const figures = {
    test: 'test/rateLimitStore/sentinelThawedPrimary.test.ts',
    acknowledge: acknowledge ?? 'Primary',
    calls: calls.length,
    served: calls.filter((c) => c.outcome === 'served').length,
    failed: calls.filter((c) => c.outcome === 'failed').length,
    budgetUsd: BUDGET_USD,
    billedUsd: moneyToUsdNumber(billed),
    settledOnPromotedUsd: moneyToUsdNumber(held.spent),
    heldOnPromotedUsd: moneyToUsdNumber(held.reserved),
    leasesOnPromoted: held.leases,
    failures: calls.filter((c) => c.outcome === 'failed').map((c) => c.detail),
    // Where each server stands at the end, and what the runtimes' stores counted: a failure
    // says which server the runtimes ended on.
    named: await set.currentPrimary().catch((err: unknown) => String(err)),
    promoted,
    servers: await Promise.all(
      [set.primary, ...set.replicas].map(async (s) => ({
        address: s.address,
        role: ((await ask(s.address, ['ROLE']).catch(() => ['?'])) as unknown[])[0],
        settledUsd: moneyToUsdNumber((await heldOn(s.address).catch(() => ({ spent: 0n }))).spent),
      })),
    ),
    stores: await Promise.all(runtimes.map(storeOf)),
  };
  console.log(`thawed primary figures: ${JSON.stringify(figures)}`);
  expect({
    failed: figures.failed,
    // No call is still in flight, so nothing is held for one.
    leasesOnPromoted: held.leases,
    heldOnPromoted: held.reserved,
    // Every call the provider billed is settled at its cost (B1, M1): nothing forgotten.
    forgotten: billed > held.spent ? billed - held.spent : 0n,
  }).toEqual({ failed: 0, leasesOnPromoted: 0, heldOnPromoted: 0n, forgotten: 0n });
}

describe('the rate-limit store through a primary that hangs and comes back as a replica is promoted', () => {
  // Failed before the fix (attacks/store-failover/REPORT.md, "thawed primary"; under Replicas,
  // WAIT 1 is answered by the replica the sentinels have not reconfigured yet, which drops the
  // writes with its primary: 2 runs, 2026-11-29, $0.011154 and $0.015576 of billed spend
  // forgotten). Now each runtime sends the settlements answered in the last two minutes again
  // to every connection made ready, the promoted primary's among them (recentSettlements.ts).
  it('under acknowledge: Primary, settles every held call on the promoted replica at its cost: no hold outlives its call', () =>
    thawedPrimary());

  it('under acknowledge: Replicas, settles every held call on the promoted replica at its cost', () =>
    thawedPrimary('Replicas'));
});
