/**
 * RedisServer `acknowledge: Replicas` (decision 0062): a script or command counts as done only
 * once a replica holds it too. The writes a promise rests on go out on a connection of their
 * own, the acknowledging lane, each batch followed in the same write to the socket by
 * `WAIT 1 <ms>`: WAIT counts the replicas that hold everything that connection wrote, so a
 * failover between the two fails both instead of asking a new primary about a write it never
 * saw. Reads, pins and everything else go on the other connection.
 *
 * WAIT holds its connection until it answers: one WAIT per write on a shared connection would
 * hold every later command for up to ACKNOWLEDGE_TIMEOUT_MS each while no replica confirms (an
 * outside attack found budgeted calls waiting 2.4–3 s, then decided on a replica's share, with
 * the primary healthy). So the lane carries one WAIT at a time, for every write that queued
 * behind the one before (a group commit); and once a WAIT comes back short, the writes go on
 * the other connection, unconfirmed at once, with one batch every PROBE_EVERY_MS still sent
 * on the lane to learn when a replica confirms again. A write waits at most two WAITs.
 *
 * Which side a write that no replica confirmed in time falls on is the caller's: a tool call's
 * claim and a run's lease are refused (`UnacknowledgedWriteError` reaches them), a budget's
 * reservation or settlement, already decided on the primary, is taken as it is and counted
 * (`acceptUnacknowledged`).
 */
import type { StoreCommands, StoreSetOptions } from './storeCommands.ts';

/** Replicas that must hold a write, and how long the primary waits for them. */
export const ACKNOWLEDGING_REPLICAS = 1;
export const ACKNOWLEDGE_TIMEOUT_MS = 500;
/** While no replica confirms, how often a batch still goes on the lane to ask again. */
export const PROBE_EVERY_MS = 250;

const WAIT = ['WAIT', String(ACKNOWLEDGING_REPLICAS), String(ACKNOWLEDGE_TIMEOUT_MS)] as const;

/** A write the primary took and no replica confirmed within ACKNOWLEDGE_TIMEOUT_MS. */
export class UnacknowledgedWriteError extends Error {
  readonly code = 'STORE_UNACKNOWLEDGED';
  /** What the primary answered: the write happened there. */
  readonly reply: unknown;
  /** Replicas that confirmed it (fewer than ACKNOWLEDGING_REPLICAS). */
  readonly replicas: number;

  constructor(reply: unknown, replicas: number, cause?: unknown) {
    super(
      cause instanceof Error && cause.message.startsWith('NOPERM')
        ? `no replica confirmed the write: the store's ACL user may not run WAIT, which acknowledge: Replicas sends after each write; add +wait to its rule (${cause.message})`
        : `no replica confirmed the write within ${String(ACKNOWLEDGE_TIMEOUT_MS)}ms (${String(replicas)} of ${String(ACKNOWLEDGING_REPLICAS)})`,
      cause === undefined ? undefined : { cause },
    );
    this.name = 'UnacknowledgedWriteError';
    this.reply = reply;
    this.replicas = replicas;
  }
}

export function isUnacknowledged(err: unknown): err is UnacknowledgedWriteError {
  return err instanceof UnacknowledgedWriteError;
}

/**
 * How much longer than a store that answers at once `client` may take for a command: the WAIT
 * of the batch on the lane ahead of it, its own, and as much again for a script sent in full
 * after NOSCRIPT (a promoted primary's empty script cache). A deadline that left this out
 * would take a store that answers, with no replica linked, for one that does not (0 under
 * `acknowledge: Primary`).
 */
export function acknowledgeAllowanceMs(client: StoreCommands): number {
  return client instanceof ReplicaAcknowledged ? 4 * ACKNOWLEDGE_TIMEOUT_MS : 0;
}

/** `write`'s reply, also when no replica confirmed it: then `shortfall` hears of it. */
export function acceptUnacknowledged<T>(write: Promise<T>, shortfall: () => void): Promise<T> {
  return write.catch((err: unknown) => {
    if (!isUnacknowledged(err)) throw err;
    shortfall();
    return err.reply as T;
  });
}

/** Logs the first write no replica confirmed, then every hundredth. */
export function logShortfall(
  logger: { warn(fields: object, message: string): void } | undefined,
  count: number,
  store: string,
): void {
  if (count !== 1 && count % 100 !== 0) return;
  logger?.warn(
    { store, unacknowledged: count },
    'writes no replica confirmed in time: taken on the primary alone, lost if it fails over before a replica has them',
  );
}

/** A write waiting for the lane: how to send it, and who hears how it went. */
interface Queued {
  readonly send: (client: StoreCommands) => Promise<unknown>;
  readonly resolve: (reply: unknown) => void;
  readonly reject: (err: unknown) => void;
}

/**
 * `inner`, with its scripts and raw commands acknowledged by a replica before they resolve,
 * through `lane` (a second client to the same server, made the same way).
 */
export class ReplicaAcknowledged implements StoreCommands {
  readonly #inner: StoreCommands;
  readonly #lane: StoreCommands;
  readonly #now: () => number;
  /** Writes for the lane's next batch. */
  #queued: Queued[] = [];
  /** A batch and its WAIT are out on the lane. */
  #busy = false;
  /** The last WAIT came back short: writes go unconfirmed, but for a probe now and then. */
  #short = false;
  #probedAt = Number.NEGATIVE_INFINITY;

  constructor(inner: StoreCommands, lane: StoreCommands, now: () => number = Date.now) {
    this.#inner = inner;
    this.#lane = lane;
    this.#now = now;
    // The lane's failures are the server's, which the other connection reports.
    lane.on('error', () => undefined);
  }

  get isOpen(): boolean {
    return this.#inner.isOpen;
  }

  get isReady(): boolean {
    return this.#inner.isReady;
  }

  evalSha(sha: string, options: { keys: string[]; arguments: string[] }): Promise<unknown> {
    return this.#acknowledged((c) => c.evalSha(sha, options));
  }

  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown> {
    return this.#acknowledged((c) => c.eval(script, options));
  }

  sendCommand(args: readonly string[]): Promise<unknown> {
    return this.#acknowledged((c) => c.sendCommand(args));
  }

  connect(): Promise<unknown> {
    // The lane connects (and reconnects) by itself; until it is ready, writes WAIT on `inner`.
    this.#lane.connect().catch(() => undefined);
    return this.#inner.connect();
  }

  async close(): Promise<unknown> {
    await this.#lane.close().catch(() => undefined);
    return this.#inner.close();
  }

  destroy(): unknown {
    this.#lane.destroy();
    return this.#inner.destroy();
  }

  on(event: 'error' | 'ready', listener: (err: unknown) => void): this {
    this.#inner.on(event as 'error', listener);
    return this;
  }

  once(event: 'error' | 'ready', listener: (err: unknown) => void): this {
    this.#inner.once(event as 'error', listener);
    return this;
  }

  ping(): Promise<unknown> {
    return this.#inner.ping();
  }

  get(key: string): Promise<string | null> {
    return this.#inner.get(key);
  }

  mGet(keys: string[]): Promise<(string | null)[]> {
    return this.#inner.mGet(keys);
  }

  // A cache pin is a hint, not a promise: it is not waited on.
  set(key: string, value: string, options: StoreSetOptions): Promise<string | null> {
    return this.#inner.set(key, value, options);
  }

  lLen(key: string): Promise<number> {
    return this.#inner.lLen(key);
  }

  scanIterator(options: { MATCH: string; COUNT: number }): AsyncIterable<string[]> {
    return this.#inner.scanIterator(options);
  }

  #acknowledged(send: (client: StoreCommands) => Promise<unknown>): Promise<unknown> {
    if (this.#short && (this.#busy || !this.#probeDue())) return unconfirmed(send(this.#inner));
    return new Promise((resolve, reject) => {
      this.#queued.push({ send, resolve, reject });
      this.#sendBatch();
    });
  }

  #probeDue(): boolean {
    return this.#now() - this.#probedAt >= PROBE_EVERY_MS;
  }

  /** The queued writes and one WAIT behind them on the lane, unless a batch is out already. */
  #sendBatch(): void {
    if (this.#busy || this.#queued.length === 0) return;
    const batch = this.#queued;
    this.#queued = [];
    this.#busy = true;
    // The lane not connected (yet, or again): the batch and its WAIT on the other connection.
    const on = this.#lane.isReady ? this.#lane : this.#inner;
    const writes = batch.map((q) => q.send(on));
    void waited(on, writes).then((outcomes) => {
      this.#busy = false;
      outcomes.forEach((outcome, i) => {
        const queued = batch[i];
        if (queued === undefined) return;
        if (outcome.ok) queued.resolve(outcome.reply);
        else queued.reject(outcome.error);
      });
      // Every write failed otherwise (NOSCRIPT, a script's error): the WAIT told nothing new.
      if (outcomes.some((o) => o.ok)) this.#short = false;
      else if (outcomes.some((o) => !o.ok && isUnacknowledged(o.error))) {
        // This batch was the last ask: the next one goes PROBE_EVERY_MS after it.
        this.#short = true;
        this.#probedAt = this.#now();
      }
      if (!this.#short || this.#probeDue()) {
        this.#sendBatch();
        return;
      }
      // No replica confirms: what queued meanwhile goes unconfirmed rather than wait again.
      const waiting = this.#queued;
      this.#queued = [];
      for (const q of waiting) unconfirmed(q.send(this.#inner)).then(q.resolve, q.reject);
    });
  }
}

type Outcome = { ok: true; reply: unknown } | { ok: false; error: unknown };

/**
 * `writes` (already sent on `client`) and one WAIT sent right behind them on the same
 * connection: each write's reply, or its error, or UnacknowledgedWriteError when no replica
 * confirmed within ACKNOWLEDGE_TIMEOUT_MS.
 */
async function waited(client: StoreCommands, writes: Promise<unknown>[]): Promise<Outcome[]> {
  const wait = client.sendCommand(WAIT);
  const [waitOutcome, written] = await Promise.all([
    wait.then(
      (value): Outcome => ({ ok: true, reply: value }),
      (error: unknown): Outcome => ({ ok: false, error }),
    ),
    Promise.allSettled(writes),
  ]);
  const replicas = waitOutcome.ok ? Number(waitOutcome.reply) : 0;
  const cause = waitOutcome.ok ? undefined : waitOutcome.error;
  return written.map((w): Outcome => {
    if (w.status === 'rejected') return { ok: false, error: w.reason };
    if (replicas >= ACKNOWLEDGING_REPLICAS) return { ok: true, reply: w.value };
    return { ok: false, error: new UnacknowledgedWriteError(w.value, replicas, cause) };
  });
}

/** A write no WAIT follows: the primary took it, no replica is known to hold it. */
async function unconfirmed(write: Promise<unknown>): Promise<never> {
  throw new UnacknowledgedWriteError(await write, 0);
}
