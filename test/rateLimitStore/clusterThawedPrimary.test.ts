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
import { moneyToUsdNumber } from '../../contract/src/spend/money.ts';
import { keySlot } from '../../runtime/src/rateLimitStore/clusterRouting.ts';
import { ask, startRedisCluster } from '../support/redisCluster.ts';
import { waitForAReplicaPromoted } from '../support/redisSentinel.ts';
import { heldOn, LIMIT_PICO, thawedPrimaryRun } from '../support/thawedPrimary.ts';

jest.setTimeout(240_000);

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

/** cluster-node-timeout: a frozen primary is failed over a second or two after it stops. */
const NODE_TIMEOUT_MS = 1000;

/**
 * One run: the load, the freeze of the slot's primary at half the budget, the thaw as its
 * replica is promoted, the load until the budget refuses; then every call the provider billed
 * must be settled on the promoted replica, nothing held there, nothing past the budget.
 */
async function thawedPrimary(acknowledge: 'Primary' | 'Replicas'): Promise<void> {
  const cluster = await startRedisCluster({ nodeTimeoutMs: NODE_TIMEOUT_MS });
  cleanups.push(() => cluster.remove());
  const { calls, billed, held, figures } = await thawedPrimaryRun({
    test: 'test/rateLimitStore/clusterThawedPrimary.test.ts',
    seed: 59,
    redis: {
      cluster: { addresses: [...cluster.addresses] },
      ...(acknowledge === 'Replicas' ? { acknowledge } : {}),
    },
    cleanups,
    fault: async (doc) => {
      const prefix = doc.rateLimit.store?.keyPrefix;
      if (prefix === undefined) throw new Error('the document has no store');
      const slot = keySlot(prefix);
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
      // Thawed the moment its replica says it is a primary (the cluster failed it over),
      // before the runtimes hear: the old primary answers what it was sent meanwhile.
      await waitForAReplicaPromoted([replica], 30_000);
      frozen.thaw();
      const frozenMs = Date.now() - frozenAt;
      return {
        promoted: await cluster.waitForPromotion(slot, was, 30_000),
        figures: { was, frozenMs },
      };
    },
    // Where each node stands at the end (a replica answers MOVED for the account: 0).
    servers: () =>
      Promise.all(
        cluster.nodes.map(async (n) => ({
          address: n.address,
          role: ((await ask(n.address, ['ROLE']).catch(() => ['?'])) as unknown[])[0],
          settledUsd: moneyToUsdNumber(
            (await heldOn(n.address).catch(() => ({ spent: 0n }))).spent,
          ),
        })),
      ),
  });
  console.log(`cluster thawed primary figures: ${JSON.stringify(figures)}`);
  expect({
    failed: calls.filter((c) => c.outcome === 'failed').length,
    // No call is still in flight, so nothing is held for one.
    leasesOnPromoted: held.leases,
    heldOnPromoted: held.reserved,
    // Every call the provider billed is settled at its cost (B1, M1): nothing forgotten.
    forgotten: billed > held.spent ? billed - held.spent : 0n,
    // Nothing past the budget: every runtime was on the store before the load, and the calls
    // decided on shares while it was away were settled there (B3 would allow more).
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
