/**
 * Tool claims through the runtime's own journal (RunJournal) on a Redis Cluster, told apart by
 * the primary each run's slot is on: what test/rateLimitStore/clusterAcknowledged*.test.ts
 * write and count, and what a node holds of them afterwards.
 */
import { randomUUID } from 'node:crypto';
import { createClient } from '@redis/client';
import { RunJournal, runKeys } from '../../runtime/src/durable/runJournal.ts';
import { keySlot } from '../../runtime/src/rateLimitStore/clusterRouting.ts';
import { isUnacknowledged } from '../../runtime/src/rateLimitStore/replicaAcknowledged.ts';
import { messageOf, splitAddress } from '../../runtime/src/rateLimitStore/storeConnection.ts';
import { holderOf, type ShardView } from './redisCluster.ts';
import { waitFor } from './waitFor.ts';

export const PREFIX = 'breakwater:run:tests/cluster-acknowledged';
/** Writers at once, as concurrent calls of a few runtimes would be. */
export const WRITERS = 6;
/** The slot a run's journal lives in (every key of it shares the run's hash tag). */
export const slotOf = (run: string): number => keySlot(runKeys(PREFIX, run)[0] ?? '');

/** What the writers saw, by the primary each run's slot was on when the writing began. */
export interface Tally {
  readonly confirmed: Map<string, string[]>;
  readonly refused: Map<string, number>;
  readonly failed: Map<string, number>;
  readonly errors: Set<string>;
}

const add = <T>(map: Map<string, T[]>, at: string, value: T) =>
  map.set(at, [...(map.get(at) ?? []), value]);
const bump = (map: Map<string, number>, at: string) => map.set(at, (map.get(at) ?? 0) + 1);

/** WRITERS loops, each a tool claim of a run of its own (`nextRun()`), until `stop()`. */
export function claims(
  journal: RunJournal,
  shards: readonly ShardView[],
  nextRun: () => string = randomUUID,
): { stop(): Promise<Tally> } {
  const tally: Tally = {
    confirmed: new Map(),
    refused: new Map(),
    failed: new Map(),
    errors: new Set(),
  };
  let running = true;
  const writers = Array.from({ length: WRITERS }, async () => {
    while (running) {
      const run = nextRun();
      const at = holderOf(shards, slotOf(run)) ?? 'unknown';
      await journal.claim(run, 'owner', 'tool', 'a'.repeat(64), 'attempt-1').then(
        (claim) => {
          if (claim.verdict === 'live') add(tally.confirmed, at, run);
        },
        (err: unknown) => {
          if (isUnacknowledged(err)) bump(tally.refused, at);
          else {
            bump(tally.failed, at);
            tally.errors.add(messageOf(err));
          }
        },
      );
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

/** A claim on a run whose slot `primary` holds is confirmed (one tried every 100 ms). */
export async function confirmedOn(
  journal: RunJournal,
  shards: readonly ShardView[],
  primary: string,
  timeoutMs: number,
): Promise<void> {
  await waitFor(
    async () =>
      journal.claim(runOn(shards, primary), 'owner', 'tool', 'a'.repeat(64), 'attempt-1').then(
        (c) => c.verdict === 'live',
        () => false,
      ),
    { description: `a claim on ${primary} confirmed`, timeoutMs, intervalMs: 100 },
  );
}

/** Errors other than unconfirmed seen by answeredOn, for a failure's message. */
export const seen = new Set<string>();
/** A claim on a run whose slot `primary` holds is answered by the store, confirmed or not. */
export async function answeredOn(
  journal: RunJournal,
  shards: readonly ShardView[],
  primary: string,
  timeoutMs: number,
): Promise<void> {
  await waitFor(
    async () =>
      journal.claim(runOn(shards, primary), 'owner', 'tool', 'a'.repeat(64), 'attempt-1').then(
        (c) => c.verdict === 'live',
        (err: unknown) => {
          if (!isUnacknowledged(err)) seen.add(messageOf(err));
          return isUnacknowledged(err);
        },
      ),
    { description: `a claim on ${primary} answered`, timeoutMs, intervalMs: 100 },
  );
}

/**
 * Run names, endlessly, whose journals all lie in one slot, one `primary` holds: each closes
 * the run's hash tag early (`tag}N`), so the key's tag is `tag` alone.
 */
export function runsOnOneSlot(
  shards: readonly ShardView[],
  primary: string,
): { readonly slot: number; readonly runs: Generator<string, never> } {
  let tag = 0;
  while (holderOf(shards, keySlot(`{m-${String(tag)}}`)) !== primary) tag++;
  const name = `m-${String(tag)}`;
  function* runs(): Generator<string, never> {
    for (let i = 0; ; i++) yield `${name}}${String(i)}`;
  }
  return { slot: keySlot(`{${name}}`), runs: runs() };
}

/** A new run whose journal lies in a slot `primary` holds. */
export function runOn(shards: readonly ShardView[], primary: string): string {
  let run = randomUUID();
  while (holderOf(shards, slotOf(run)) !== primary) run = randomUUID();
  return run;
}

/** The claims of `runs` the node at `address` lacks (each run's cursor key). */
export async function lostOn(address: string, runs: readonly string[]): Promise<number> {
  const client = createClient({ socket: splitAddress(address) });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const exists = await Promise.all(
      runs.map((run) => client.exists(runKeys(PREFIX, run)[1] ?? '')),
    );
    return exists.filter((e) => e === 0).length;
  } finally {
    client.destroy();
  }
}

export const count = (
  map: ReadonlyMap<string, number | readonly string[]>,
  at: (p: string) => boolean,
) =>
  [...map]
    .filter(([p]) => at(p))
    .reduce((n, [, v]) => n + (typeof v === 'number' ? v : v.length), 0);
