/**
 * `acknowledge: Replicas` on a Redis Cluster (issue 51), on real processes: six redis-server
 * nodes in cluster mode (test/support/redisCluster.ts), reached through the runtime's own client
 * (storeConnection.ts's redisClient: a lane per primary, replicaAcknowledged.ts) and its own
 * journal (RunJournal: a tool call's claim, each run's keys in a slot of their own, so the
 * claims spread over the three primaries). Four faults:
 * - one primary's replica frozen (SIGSTOP): that primary's claims are refused, the other
 *   primaries' are still confirmed, and its own are again once the replica is thawed;
 * - one primary's replica far behind (cut off it, as acknowledgedFailover.test.ts does) when
 *   the primary is SIGKILLed and the cluster promotes that replica: under Primary the store
 *   said yes to claims the promoted replica lacks, under Replicas to none;
 * - a primary down when the client first connects (killed, its replica frozen so nothing takes
 *   its slots): the client reports the node, and reaches the store once the replica is thawed
 *   and promoted, without being made again;
 * - a slot moved to another primary key by key while its runs' claims are written: a claim
 *   that meets MOVED or ASK on its primary's connection fails, none is confirmed that the new
 *   owner lacks, and claims there are confirmed once the move is done.
 * The figures are printed for docs/guarantees.md.
 */
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import type { RedisSettings } from '../../contract/src/policy/policyDocument.ts';
import { RunJournal } from '../../runtime/src/durable/runJournal.ts';
import type { StoreCommands } from '../../runtime/src/rateLimitStore/storeCommands.ts';
import { messageOf, redisClient } from '../../runtime/src/rateLimitStore/storeConnection.ts';
import {
  answeredOn,
  claims,
  confirmedOn,
  count,
  lostOn,
  PREFIX,
  runsOnOneSlot,
  seen,
} from '../support/clusterClaims.ts';
import { startRedisCluster, type RedisCluster } from '../support/redisCluster.ts';
import { cutReplicasOff } from '../support/redisSentinel.ts';
import { waitFor } from '../support/waitFor.ts';

jest.setTimeout(180_000);

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

const NODE_TIMEOUT_MS = 1000;
/** Claims with every replica linked, then with the fault on, before what comes next. */
const LINKED_MS = 1000;
const FAULT_MS = 1500;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function clusterClient(
  cluster: RedisCluster,
  acknowledge: 'Primary' | 'Replicas',
  errors: string[] = [],
): StoreCommands {
  const redis: RedisSettings = {
    cluster: { addresses: [...cluster.addresses] },
    ...(acknowledge === 'Replicas' ? { acknowledge } : {}),
  };
  const client = redisClient(redis, {});
  client.on('error', (err: unknown) => errors.push(messageOf(err)));
  cleanups.push(() => {
    client.destroy();
    return Promise.resolve();
  });
  client.connect().catch(() => undefined);
  return client;
}

const nodeAt = (cluster: RedisCluster, address: string) => {
  const node = cluster.nodes.find((n) => n.address === address);
  if (node === undefined) throw new Error(`no node at ${address}`);
  return node;
};

describe('acknowledge: Replicas on a Redis Cluster', () => {
  it("refuses one primary's claims while its replica is frozen, confirms the others', and recovers when it thaws", async () => {
    const cluster = await startRedisCluster({ nodeTimeoutMs: NODE_TIMEOUT_MS });
    cleanups.push(() => cluster.remove());
    const shards = await cluster.shards();
    const client = clusterClient(cluster, 'Replicas');
    const journal = new RunJournal(client, PREFIX, 600_000);
    for (const s of shards) await confirmedOn(journal, shards, s.primary, 10_000);
    const cut = shards[0]?.primary ?? '';
    const replica = nodeAt(cluster, (await cluster.replicasOf(cut))[0] ?? '');
    replica.freeze();
    cleanups.push(() => {
      replica.thaw();
      return Promise.resolve();
    });
    const writing = claims(journal, shards);
    await pause(FAULT_MS);
    const tally = await writing.stop();
    const thawedAt = Date.now();
    replica.thaw();
    await confirmedOn(journal, shards, cut, 10_000);
    const figures = {
      test: 'test/rateLimitStore/clusterAcknowledged.test.ts',
      scenario: "one primary's replica frozen",
      cutConfirmed: count(tally.confirmed, (p) => p === cut),
      cutRefused: count(tally.refused, (p) => p === cut),
      othersConfirmed: count(tally.confirmed, (p) => p !== cut),
      othersRefused: count(tally.refused, (p) => p !== cut),
      failed: count(tally.failed, () => true),
      errors: [...tally.errors],
      confirmedAgainAfterThawMs: Date.now() - thawedAt,
    };
    console.log(`cluster acknowledged figures: ${JSON.stringify(figures)}`);
    expect({
      cutConfirmed: figures.cutConfirmed,
      cutRefused: figures.cutRefused > 0,
      othersConfirmed: figures.othersConfirmed > 0,
      othersRefused: figures.othersRefused,
      failed: figures.failed,
    }).toEqual({
      cutConfirmed: 0,
      cutRefused: true,
      othersConfirmed: true,
      othersRefused: 0,
      failed: 0,
    });
  });

  it.each(['Primary', 'Replicas'] as const)(
    'with acknowledge %s, through the promotion of a replica far behind its killed primary',
    async (acknowledge) => {
      const cluster = await startRedisCluster({ nodeTimeoutMs: NODE_TIMEOUT_MS });
      cleanups.push(() => cluster.remove());
      const shards = await cluster.shards();
      const client = clusterClient(cluster, acknowledge);
      const journal = new RunJournal(client, PREFIX, 600_000);
      for (const s of shards) await confirmedOn(journal, shards, s.primary, 10_000);
      const victim = shards[0]?.primary ?? '';
      const slot = shards[0]?.slots[0]?.[0] ?? 0;
      const writing = claims(journal, shards);
      await pause(LINKED_MS);
      await cutReplicasOff(victim);
      await pause(FAULT_MS);
      const tally = await writing.stop();
      const killedAt = Date.now();
      await nodeAt(cluster, victim).kill();
      const promoted = await cluster.waitForPromotion(slot, victim, 30_000);
      const promotedAfterMs = Date.now() - killedAt;
      const onVictim = tally.confirmed.get(victim) ?? [];
      const figures = {
        test: 'test/rateLimitStore/clusterAcknowledged.test.ts',
        scenario: 'replica far behind, primary killed',
        acknowledge,
        claimsAcknowledgedOnVictim: onVictim.length,
        claimsLost: await lostOn(promoted, onVictim),
        refusedUnacknowledged: count(tally.refused, () => true),
        othersConfirmed: count(tally.confirmed, (p) => p !== victim),
        failed: count(tally.failed, () => true),
        promotedAfterMs,
      };
      console.log(`cluster acknowledged figures: ${JSON.stringify(figures)}`);
      expect({
        wrote: figures.claimsAcknowledgedOnVictim > 0 && figures.othersConfirmed > 0,
        lost: figures.claimsLost > 0,
        refused: figures.refusedUnacknowledged > 0,
      }).toEqual(
        acknowledge === 'Primary'
          ? // Said yes to what the promoted replica never received.
            { wrote: true, lost: true, refused: false }
          : // Said no to what no replica confirmed, and lost nothing it said yes to.
            { wrote: true, lost: false, refused: true },
      );
    },
  );

  it('names a primary that is down at first connect, and reaches its slots once its replica is promoted', async () => {
    const cluster = await startRedisCluster({ nodeTimeoutMs: NODE_TIMEOUT_MS });
    cleanups.push(() => cluster.remove());
    const shards = await cluster.shards();
    const down = shards[1]?.primary ?? '';
    const slot = shards[1]?.slots[0]?.[0] ?? 0;
    const replica = nodeAt(cluster, (await cluster.replicasOf(down))[0] ?? '');
    // Nothing takes the dead primary's slots until the replica runs again.
    replica.freeze();
    cleanups.push(() => {
      replica.thaw();
      return Promise.resolve();
    });
    await nodeAt(cluster, down).kill();
    const errors: string[] = [];
    const client = clusterClient(cluster, 'Replicas', errors);
    const journal = new RunJournal(client, PREFIX, 600_000);
    await waitFor(() => errors.some((e) => e.includes(down)), {
      description: `the client to name ${down}`,
      timeoutMs: 15_000,
      intervalMs: 50,
    });
    const thawedAt = Date.now();
    replica.thaw();
    const promoted = await cluster.waitForPromotion(slot, down, 30_000);
    const promotedAfterMs = Date.now() - thawedAt;
    const shardsNow = await cluster.shards();
    // The promoted primary has no replica: the store answers, and its claims are refused.
    await answeredOn(journal, shardsNow, promoted, 30_000).catch((err: unknown) => {
      console.log([...seen], errors.slice(-20));
      throw err;
    });
    const answeredAfterThawMs = Date.now() - thawedAt;
    for (const s of shardsNow.filter((s) => s.primary !== promoted))
      await confirmedOn(journal, shardsNow, s.primary, 30_000);
    // The old primary back, as the promoted one's replica: its claims are confirmed again.
    await nodeAt(cluster, down).start();
    await confirmedOn(journal, shardsNow, promoted, 30_000);
    const figures = {
      test: 'test/rateLimitStore/clusterAcknowledged.test.ts',
      scenario: 'a primary down at first connect',
      namedTheNode: errors.find((e) => e.includes(down)),
      promotedAfterThawMs: promotedAfterMs,
      answeredOnPromotedAfterThawMs: answeredAfterThawMs,
      confirmedOnPromotedAfterThawMs: Date.now() - thawedAt,
    };
    console.log(`cluster acknowledged figures: ${JSON.stringify(figures)}`);
    expect(figures.namedTheNode).toContain(down);
  });

  it('confirms no claim of a slot moved while they run that its new primary lacks', async () => {
    const cluster = await startRedisCluster({ nodeTimeoutMs: NODE_TIMEOUT_MS });
    cleanups.push(() => cluster.remove());
    const shards = await cluster.shards();
    const from = shards[0]?.primary ?? '';
    const to = shards[1]?.primary ?? '';
    const { slot, runs } = runsOnOneSlot(shards, from);
    const client = clusterClient(cluster, 'Replicas');
    const journal = new RunJournal(client, PREFIX, 600_000);
    for (const s of shards) await confirmedOn(journal, shards, s.primary, 10_000);
    const writing = claims(journal, shards, () => runs.next().value);
    await pause(LINKED_MS);
    const startedAt = Date.now();
    // Twenty keys at a time (the writers made some thousand), a pause between: claims meet the
    // slot half moved (ASK, TRYAGAIN).
    await cluster.migrateSlot(slot, to, { pauseMs: 50, batch: 20 });
    const movedAt = Date.now();
    await pause(LINKED_MS);
    const tally = await writing.stop();
    const confirmed = tally.confirmed.get(from) ?? [];
    const moved = await cluster.shards();
    await confirmedOn(journal, moved, to, 30_000);
    const figures = {
      test: 'test/rateLimitStore/clusterAcknowledged.test.ts',
      scenario: 'slot moved while claims run',
      confirmed: confirmed.length,
      lostOnNewOwner: await lostOn(to, confirmed),
      refused: count(tally.refused, () => true),
      failed: count(tally.failed, () => true),
      errors: [...tally.errors].map((e) => e.replace(/\d+/g, 'N')).slice(0, 5),
      migrationMs: movedAt - startedAt,
    };
    console.log(`cluster acknowledged figures: ${JSON.stringify(figures)}`);
    expect({
      onNewOwner: (await cluster.primaryOf(slot)) === to,
      confirmed: figures.confirmed > 0,
      lostOnNewOwner: figures.lostOnNewOwner,
    }).toEqual({ onNewOwner: true, confirmed: true, lostOnNewOwner: 0 });
  });
});
