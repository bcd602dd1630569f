/**
 * The acknowledging lane of one primary (decision 0062): the writes a promise rests on, sent in
 * batches on a connection to that primary, each batch followed in the same write to the socket
 * by `WAIT 1 <ms>`. WAIT counts the replicas that hold everything that connection wrote on that
 * node, so a failover between the two fails both instead of asking a new primary about a write
 * it never saw.
 *
 * WAIT holds its connection until it answers, so the lane carries one WAIT at a time, for every
 * write that queued behind the one before (a group commit); once a WAIT comes back short, the
 * writes go out unconfirmed at once, with one batch every PROBE_EVERY_MS still sent on the lane
 * to learn when a replica confirms again. A write waits at most two WAITs. On a cluster each
 * primary has a lane of its own (replicaAcknowledged.ts routes to it), so one primary's replica
 * cut leaves the other primaries' writes confirmed; and a write whose slot is being moved off
 * that primary (an `ASK` reply) is sent again on the target node's connection behind `ASKING`,
 * with a WAIT of its own there, whose replicas are the ones that must hold it: a batch split
 * over two nodes has one WAIT on each.
 */
import { redirectOf } from './clusterRouting.ts';
import type { CommandSender } from './luaScripts.ts';
import {
  ACKNOWLEDGE_TIMEOUT_MS,
  ACKNOWLEDGING_REPLICAS,
  isUnacknowledged,
  PROBE_EVERY_MS,
  UnacknowledgedWriteError,
} from './unacknowledgedWrite.ts';

const WAIT = ['WAIT', String(ACKNOWLEDGING_REPLICAS), String(ACKNOWLEDGE_TIMEOUT_MS)] as const;
/** Lets the next command on the connection run in a slot the node is importing (one-shot). */
const ASKING = ['ASKING'] as const;

/** Where one primary's lane sends. */
export interface LaneConnections {
  /**
   * The connection a batch and its WAIT go out on, in the order sent, to this lane's primary
   * (undefined key: a keyless write). A promise while the connection is being found.
   */
  batch(key: string | undefined): CommandSender | Promise<CommandSender>;
  /**
   * The connection to the node at `address`, where an `ASK` sent a write of this lane's batch
   * (its slot is being moved there). Absent (one primary, no slots): such a write fails.
   */
  readonly askedTo?: ((address: string) => CommandSender | Promise<CommandSender>) | undefined;
  /** Where a write goes unconfirmed, no WAIT behind it. */
  readonly direct: CommandSender;
  readonly now: () => number;
}

/** A write waiting for the lane: its command, the key it is routed by, who hears how it went. */
interface Queued {
  readonly args: readonly string[];
  readonly key: string | undefined;
  readonly resolve: (reply: unknown) => void;
  readonly reject: (err: unknown) => void;
}

export class AcknowledgingLane {
  readonly #to: LaneConnections;
  /** Writes for the lane's next batch. */
  #queued: Queued[] = [];
  /** A batch and its WAIT are out on the lane. */
  #busy = false;
  /** The last WAIT came back short: writes go unconfirmed, but for a probe now and then. */
  #short = false;
  #probedAt = Number.NEGATIVE_INFINITY;

  constructor(to: LaneConnections) {
    this.#to = to;
  }

  /** `args`' reply once a replica holds it; UnacknowledgedWriteError when none confirmed. */
  write(args: readonly string[], key: string | undefined): Promise<unknown> {
    if (this.#short && (this.#busy || !this.#probeDue()))
      return unconfirmed(this.#to.direct.sendCommand(args));
    return new Promise((resolve, reject) => {
      this.#queued.push({ args, key, resolve, reject });
      this.#sendBatch();
    });
  }

  #probeDue(): boolean {
    return this.#to.now() - this.#probedAt >= PROBE_EVERY_MS;
  }

  /** The queued writes and one WAIT behind them on the lane, unless a batch is out already. */
  #sendBatch(): void {
    if (this.#busy || this.#queued.length === 0) return;
    const batch = this.#queued;
    this.#queued = [];
    this.#busy = true;
    let outcomes: Promise<Outcome[]>;
    try {
      const on = this.#to.batch(batch[0]?.key);
      outcomes =
        on instanceof Promise
          ? on.then((c) => waited(c, batch, this.#to.askedTo), failedAll(batch))
          : waited(on, batch, this.#to.askedTo);
    } catch (err) {
      outcomes = Promise.resolve(failedAll(batch)(err));
    }
    void outcomes.then((o) => {
      this.#settle(batch, o);
    });
  }

  #settle(batch: readonly Queued[], outcomes: readonly Outcome[]): void {
    this.#busy = false;
    outcomes.forEach((outcome, i) => {
      const queued = batch[i];
      if (queued === undefined) return;
      if (outcome.ok) queued.resolve(outcome.reply);
      else queued.reject(outcome.error);
    });
    // Every write failed otherwise (NOSCRIPT, a script's error, no node): the WAIT told nothing.
    if (outcomes.some((o) => o.ok)) this.#short = false;
    else if (outcomes.some((o) => !o.ok && isUnacknowledged(o.error))) {
      // This batch was the last ask: the next one goes PROBE_EVERY_MS after it.
      this.#short = true;
      this.#probedAt = this.#to.now();
    }
    if (!this.#short || this.#probeDue()) {
      this.#sendBatch();
      return;
    }
    // No replica confirms: what queued meanwhile goes unconfirmed rather than wait again.
    const waiting = this.#queued;
    this.#queued = [];
    for (const q of waiting)
      unconfirmed(this.#to.direct.sendCommand(q.args)).then(q.resolve, q.reject);
  }
}

type Outcome = { ok: true; reply: unknown } | { ok: false; error: unknown };

const failedAll =
  (batch: readonly Queued[]) =>
  (error: unknown): Outcome[] =>
    batch.map(() => ({ ok: false, error }));

/**
 * `batch`'s writes and one WAIT right behind them on `client`: each write's reply, or its
 * error, or UnacknowledgedWriteError when no replica confirmed within ACKNOWLEDGE_TIMEOUT_MS.
 * A write that met `ASK` or `MOVED` goes to the node it names while this node's WAIT is still
 * out, so following it costs the target's round trip, not a second WAIT in turn.
 */
async function waited(
  client: CommandSender,
  batch: readonly Queued[],
  askedTo: LaneConnections['askedTo'],
): Promise<Outcome[]> {
  const here = acknowledged(
    client,
    batch.map((q) => q.args),
    false,
  );
  const followed =
    askedTo === undefined
      ? new Map<number, Outcome>()
      : here.written.then((written) => followRedirects(written, batch, askedTo));
  const [outcomes, asked] = await Promise.all([here.outcomes, followed]);
  return outcomes.map((o, i) => asked.get(i) ?? o);
}

/**
 * The writes of `batch` that met a redirect, each sent again on the connection to the node it
 * names (behind `ASKING` for an `ASK`), with one WAIT per node: their outcomes by their place in
 * the batch. Once only: a write redirected again there fails. A `MOVED` is followed too: the
 * node that answered it ran nothing, and a lane whose slot map predates a slot move or a
 * failover would otherwise fail every write of that slot until it learnt the map again (a
 * durable run's claim among them, which then went on live and ran its tool a second time).
 */
async function followRedirects(
  written: readonly PromiseSettledResult<unknown>[],
  batch: readonly Queued[],
  askedTo: (address: string) => CommandSender | Promise<CommandSender>,
): Promise<Map<number, Outcome>> {
  const byNode = new Map<string, { address: string; asking: boolean; at: number[] }>();
  written.forEach((w, i) => {
    const to = w.status === 'rejected' ? redirectOf(w.reason) : undefined;
    if (to === undefined) return;
    const group = `${to.asking ? 'ASK' : 'MOVED'} ${to.address}`;
    const known = byNode.get(group);
    if (known === undefined) byNode.set(group, { ...to, at: [i] });
    else known.at.push(i);
  });
  const outcomes = new Map<number, Outcome>();
  await Promise.all(
    [...byNode.values()].map(async ({ address, asking, at }) => {
      const args = at.map((i) => batch[i]?.args ?? []);
      let there: Outcome[];
      try {
        there = await acknowledged(await askedTo(address), args, asking).outcomes;
      } catch (error) {
        there = at.map(() => ({ ok: false, error }));
      }
      there.forEach((o, j) => outcomes.set(at[j] ?? -1, o));
    }),
  );
  return outcomes;
}

/**
 * `writes` and one WAIT behind them on `client`, each write behind `ASKING` when `asking`:
 * the writes' own replies as they come (`written`, before the WAIT's), and each one's outcome
 * once the WAIT has answered.
 */
function acknowledged(
  client: CommandSender,
  writes: readonly (readonly string[])[],
  asking: boolean,
): { written: Promise<PromiseSettledResult<unknown>[]>; outcomes: Promise<Outcome[]> } {
  const sent = writes.map((args) => {
    // Its failure is the write's: without it the write meets ASK or MOVED again.
    if (asking) client.sendCommand(ASKING).catch(() => undefined);
    return client.sendCommand(args);
  });
  const wait = client.sendCommand(WAIT).then(
    (value): Outcome => ({ ok: true, reply: value }),
    (error: unknown): Outcome => ({ ok: false, error }),
  );
  const written = Promise.allSettled(sent);
  const outcomes = Promise.all([wait, written]).then(([waitOutcome, replies]) => {
    const replicas = waitOutcome.ok ? Number(waitOutcome.reply) : 0;
    const cause = waitOutcome.ok ? undefined : waitOutcome.error;
    return replies.map((w): Outcome => {
      if (w.status === 'rejected') return { ok: false, error: w.reason };
      if (replicas >= ACKNOWLEDGING_REPLICAS) return { ok: true, reply: w.value };
      return { ok: false, error: new UnacknowledgedWriteError(w.value, replicas, cause) };
    });
  });
  return { written, outcomes };
}

/** A write no WAIT follows: the primary took it, no replica is known to hold it. */
async function unconfirmed(write: Promise<unknown>): Promise<never> {
  throw new UnacknowledgedWriteError(await write, 0);
}
