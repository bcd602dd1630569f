/**
 * What a failover loses of the writes the store acknowledged, with `acknowledge: Primary` and
 * with `Replicas`, on real processes: a primary, two replicas and three sentinels (Debian's
 * redis-server and redis-sentinel), reached through the runtime's own client
 * (storeConnection.ts's redisClient, through Sentinel) and its own journal (RunJournal: a tool
 * call's claim). The replicas are cut off the primary (test/support/redisSentinel.ts's
 * cutReplicasOff: a partition, or replicas far behind) while writes go on, then the primary is
 * SIGKILLed and the sentinels promote a replica that never received the last writes. Under
 * Primary the store said yes to writes the promoted replica lacks (a claim lost is a tool that
 * runs again on replay); under Replicas no write it said yes to is lost: those made while no
 * replica could confirm them were refused. The figures are printed for docs/guarantees.md and
 * bench/results/sentinel-faults.json.
 */
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { createClient } from '@redis/client';
import type { RedisSettings } from '../../contract/src/policy/policyDocument.ts';
import { RunJournal, runKeys } from '../../runtime/src/durable/runJournal.ts';
import { isUnacknowledged } from '../../runtime/src/rateLimitStore/replicaAcknowledged.ts';
import type { StoreCommands } from '../../runtime/src/rateLimitStore/storeCommands.ts';
import { redisClient, splitAddress } from '../../runtime/src/rateLimitStore/storeConnection.ts';
import { cutReplicasOff, startSentinelSet } from '../support/redisSentinel.ts';
import { waitFor } from '../support/waitFor.ts';

jest.setTimeout(120_000);

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

const PREFIX = 'breakwater:run:tests/acknowledged';
const COUNTER = 'breakwater:{tests}:acknowledged';
/** Writers at once, as concurrent calls of a few runtimes would be. */
const WRITERS = 4;
/** Writes with the replicas linked, then with them cut off, before the primary is killed. */
const LINKED_MS = 1000;
const CUT_OFF_MS = 1500;

interface Tally {
  /** Runs whose tool claim the store acknowledged (`live`). */
  readonly claimed: string[];
  /** INCRs the store acknowledged. */
  increments: number;
  /** Writes the primary took and the client refused: no replica confirmed them. */
  unacknowledged: number;
  /** Anything else that failed. */
  failed: number;
}

/** WRITERS loops, each a tool claim of a run of its own then an INCR, until `stop()`. */
function write(client: StoreCommands, journal: RunJournal): { stop(): Promise<Tally> } {
  const tally: Tally = { claimed: [], increments: 0, unacknowledged: 0, failed: 0 };
  let running = true;
  const count = (err: unknown) => {
    if (isUnacknowledged(err)) tally.unacknowledged++;
    else tally.failed++;
  };
  const writers = Array.from({ length: WRITERS }, async () => {
    while (running) {
      const run = randomUUID();
      await journal.claim(run, 'owner', 'tool', 'a'.repeat(64), 'attempt-1').then((claim) => {
        if (claim.verdict === 'live') tally.claimed.push(run);
      }, count);
      await client.sendCommand(['INCR', COUNTER]).then(() => {
        tally.increments++;
      }, count);
    }
  });
  return {
    stop: async () => {
      running = false;
      await Promise.all(writers);
      return tally;
    },
  };
}

/** On the promoted primary: the acknowledged claims it lacks, and the counter it holds. */
async function onPromoted(
  address: string,
  claimed: readonly string[],
): Promise<{ lost: number; held: number }> {
  const client = createClient({ socket: splitAddress(address) });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const cursors = claimed.map((run) => runKeys(PREFIX, run)[1] ?? '');
    const exists = await Promise.all(cursors.map((key) => client.exists(key)));
    return {
      lost: exists.filter((e) => e === 0).length,
      held: Number((await client.get(COUNTER)) ?? 0),
    };
  } finally {
    client.destroy();
  }
}

describe('writes the store acknowledged, through a failover to replicas cut off the primary', () => {
  it.each(['Primary', 'Replicas'] as const)('with acknowledge %s', async (acknowledge) => {
    const set = await startSentinelSet();
    cleanups.push(() => set.remove());
    const redis: RedisSettings = {
      sentinel: { masterName: set.masterName, addresses: [...set.sentinels] },
      ...(acknowledge === 'Replicas' ? { acknowledge } : {}),
    };
    const client = redisClient(redis, {});
    client.on('error', () => undefined);
    cleanups.push(() => {
      client.destroy();
      return Promise.resolve();
    });
    await client.connect();
    await waitFor(() => client.isReady, {
      description: 'the client on the primary',
      timeoutMs: 10_000,
    });
    const journal = new RunJournal(client, PREFIX, 600_000);
    const writing = write(client, journal);
    await new Promise((resolve) => setTimeout(resolve, LINKED_MS));
    const was = set.primary.address;
    await cutReplicasOff(was);
    await new Promise((resolve) => setTimeout(resolve, CUT_OFF_MS));
    const tally = await writing.stop();
    const killedAt = Date.now();
    await set.primary.kill();
    const promoted = await set.waitForNewPrimary(was, 30_000);
    const promotedAfterMs = Date.now() - killedAt;
    const { lost, held } = await onPromoted(promoted, tally.claimed);
    const figures = {
      test: 'test/rateLimitStore/acknowledgedFailover.test.ts',
      acknowledge,
      claimsAcknowledged: tally.claimed.length,
      claimsLost: lost,
      incrementsAcknowledged: tally.increments,
      incrementsLost: Math.max(0, tally.increments - held),
      refusedUnacknowledged: tally.unacknowledged,
      failed: tally.failed,
      promotedAfterMs,
    };
    console.log(`acknowledged failover figures: ${JSON.stringify(figures)}`);
    expect({
      wrote: figures.claimsAcknowledged > 0 && figures.incrementsAcknowledged > 0,
      lost: figures.claimsLost + figures.incrementsLost > 0,
      refused: figures.refusedUnacknowledged > 0,
    }).toEqual(
      acknowledge === 'Primary'
        ? // Said yes to what the promoted replica never received.
          { wrote: true, lost: true, refused: false }
        : // Said no to what no replica confirmed, and lost nothing it said yes to.
          { wrote: true, lost: false, refused: true },
    );
  });
});
