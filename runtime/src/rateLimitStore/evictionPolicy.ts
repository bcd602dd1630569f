/**
 * Whether the store may evict Breakwater's keys. Every key Breakwater writes has an expiry
 * (buckets, budget accounts, journals, run owners), so any `maxmemory-policy` but `noeviction`
 * may drop one when Redis fills: a budget account evicted mid-period is spent again from zero,
 * a run's journal evicted within its retention runs its tools again on resume, and a run's
 * owner evicted lets another key take the run (an outside attack did all three with the policy
 * the guide used to call safe, `volatile-ttl`). A Redis without `maxmemory` never evicts.
 *
 * The store still decides on such a server; the runtime says so when it connects and when a
 * minute's re-check finds the policy changed (a warning log, and `rate_limiter_store_evicting` for the rate-limit store), naming the fix.
 * A policy set to evict and back between two checks is caught by what it did: each check reads
 * `evicted_keys` too (evictedKeys.ts).
 * A server that refuses INFO (no `+info` in the ACL, or INFO renamed away) counts as one that
 * may evict: the policy reads `unreadable`, with a warning naming the fix.
 */
import { isUnacknowledged } from './replicaAcknowledged.ts';
import type { Cancel, Clock } from '../../../platform/src/time/clock.ts';
import { redisClientModule } from './redisModule.ts';
import type { CommandSender } from './luaScripts.ts';
import type { StoreCommands } from './storeCommands.ts';
import { EvictedKeys, evictionReadingOf, type EvictionReading } from './evictedKeys.ts';

/** The policy of an `INFO` answer (its memory section) when it may evict (maxmemory set, not noeviction). */
export function evictingPolicyOf(info: string): string | undefined {
  const field = (name: string) => new RegExp(`^${name}:(\\S+)`, 'm').exec(info)?.[1];
  const policy = field('maxmemory_policy');
  const limit = Number(field('maxmemory') ?? '0');
  if (policy === undefined || policy === 'noeviction' || !(limit > 0)) return undefined;
  return policy;
}

/** What `evictingPolicy` gives when the store did not answer at all (down, hung). */
export const UNANSWERED = Symbol('unanswered');

/**
 * The policy a server that refuses `INFO` (an ACL user without `+info`, or INFO renamed away as
 * some managed services do) is taken to have: it may evict, for all anyone can tell. Taken for
 * safe, such a store evicted a budget account and a run's owner with no warning at all.
 */
export const UNREADABLE_POLICY = 'unreadable';

/** One check's answer: how the store may evict, and what each server that answered has evicted. */
export interface EvictionCheck {
  readonly policy: string | null | typeof UNANSWERED;
  readonly readings: EvictionReading[];
}

/**
 * Asks the store: the policy when it may evict (UNREADABLE_POLICY when it refuses to say), null
 * when it evicts nothing, UNANSWERED when it did not answer. On a Redis Cluster every primary is
 * asked (`servers`), since each holds its own slots' keys: a keyless INFO goes to one node, and
 * an outside attack set the primary of a budget's slot evicting while that one said
 * noeviction. The first that may evict is the answer; one that did not answer keeps what was
 * known unless another may evict.
 */
export async function evictingPolicy(
  client: StoreCommands,
): Promise<string | null | typeof UNANSWERED> {
  return (await askServers(client)).policy;
}

/**
 * Asks every server of the store (`evictingPolicy`), with one `INFO` each: its memory section
 * gives the policy, its server and stats sections the process and the keys it evicted.
 */
export async function askServers(client: StoreCommands): Promise<EvictionCheck> {
  const servers =
    client.servers === undefined
      ? [client]
      : await client.servers().catch((): CommandSender[] => [client]);
  const answers = await Promise.all(servers.map(askServer));
  const readings = answers.flatMap((a) => a.reading ?? []);
  const evicting = answers.find((a) => typeof a.policy === 'string');
  if (evicting !== undefined) return { policy: evicting.policy, readings };
  return { policy: answers.some((a) => a.policy === UNANSWERED) ? UNANSWERED : null, readings };
}

async function askServer(
  client: CommandSender,
): Promise<{ policy: string | null | typeof UNANSWERED; reading?: EvictionReading | undefined }> {
  // INFO without a section: the default ones (server, memory, stats among them) in one round
  // trip on every Redis (several sections in one INFO need Redis 7).
  const info: unknown = await client.sendCommand(['INFO']).catch((err: unknown): unknown => {
    // Under acknowledge: Replicas a command no replica confirmed still carries its answer.
    if (isUnacknowledged(err)) return err.reply;
    // The server's own error answer (NOPERM, unknown command), not a connection's failure.
    return err instanceof redisClientModule().ErrorReply ? REFUSED : undefined;
  });
  if (typeof info === 'string')
    return { policy: evictingPolicyOf(info) ?? null, reading: evictionReadingOf(info) };
  return { policy: info === REFUSED ? UNREADABLE_POLICY : UNANSWERED };
}

const REFUSED = Symbol('refused');

/** What the runtime logs about an evicting store, with the fix. */
export function evictionMessage(policy: string, what: string): string {
  if (policy === UNREADABLE_POLICY)
    return `the store refuses INFO, so whether Redis may evict ${what} when it fills cannot be read (every key Breakwater writes has an expiry): allow +info to the store's ACL user, or, where INFO is disabled, make sure maxmemory-policy is noeviction (docs/rate-limit-store.md); until INFO answers the store counts as one that may evict`;
  return `the store's maxmemory-policy is ${policy}: Redis may evict ${what} when it fills (every key Breakwater writes has an expiry); set maxmemory-policy noeviction and size the store for its keys (docs/rate-limit-store.md)`;
}

/** What the runtime logs when a server's `evicted_keys` grew since the last check. */
export function evictedMessage(reading: EvictionReading, what: string): string {
  return `the store evicted ${String(reading.evictedKeys)} keys since the last check (server run_id ${reading.runId}${reading.port === undefined ? '' : `, port ${reading.port}`}), whatever its maxmemory-policy reads now: Redis may have dropped ${what} (every key Breakwater writes has an expiry), so budgets may have been spent again from zero and runs may repeat their tools; set maxmemory-policy noeviction, size the store for its keys and find who changed it (docs/rate-limit-store.md)`;
}

/**
 * How often a connected store is asked again: `CONFIG SET maxmemory-policy` changes a running
 * server without a new connection. One `INFO` a minute per store user is nothing beside the
 * calls. Keys evicted between two checks are counted at the next (`evicted_keys` only grows),
 * so a shorter period would only tell sooner, not tell more.
 */
export const EVICTION_RECHECK_MS = 60_000;

/**
 * The eviction policy of the server a store user is connected to: asked on each new connection
 * (a failover may land on a server configured otherwise) and every EVICTION_RECHECK_MS while
 * connected, and logged each time it changes: a warning when it comes to allow eviction, a
 * line when it no longer does. Each check also reads every server's `evicted_keys`: a count
 * grown since the last check is a warning and counted (`evictedKeys`, `onEvicted`), though the
 * policy may read noeviction again by then.
 */
export class EvictionWatch {
  readonly #logger: EvictionLogger | undefined;
  /** The log line's fields besides the policy (which store). */
  readonly #fields: object;
  /** What the store user keeps that an eviction would drop, in the log line. */
  readonly #what: string;
  /** Told the keys each increase of `evicted_keys` counts (a counter metric). */
  readonly #onEvicted: ((keys: number) => void) | undefined;
  readonly #evicted = new EvictedKeys();
  #policy: string | undefined;
  #stopRechecks: Cancel | undefined;

  constructor(
    logger: EvictionLogger | undefined,
    fields: object,
    what: string,
    onEvicted?: (keys: number) => void,
  ) {
    this.#logger = logger;
    this.#fields = fields;
    this.#what = what;
    this.#onEvicted = onEvicted;
  }

  /** The server's maxmemory-policy while it may evict; undefined otherwise or not yet known. */
  get policy(): string | undefined {
    return this.#policy;
  }

  /** Keys the store's servers evicted since each was first read (`evicted_keys`, evictedKeys.ts). */
  get evictedKeys(): number {
    return this.#evicted.total;
  }

  /**
   * Asks a newly connected server how it evicts, and says so if that changed; and whether it
   * evicted keys since the last check, whatever it says now.
   */
  check(client: StoreCommands | undefined): void {
    if (client === undefined) return;
    void askServers(client).then(({ policy: answer, readings }) => {
      for (const increase of this.#evicted.observe(readings)) {
        this.#logger?.warn(
          {
            ...this.#fields,
            evictedKeys: increase.evictedKeys,
            runId: increase.runId,
            port: increase.port,
          },
          evictedMessage(increase, this.#what),
        );
        this.#onEvicted?.(increase.evictedKeys);
      }
      // A server that did not answer (down, or an ACL without INFO) keeps what was known.
      if (answer === UNANSWERED) return;
      const policy = answer ?? undefined;
      if (policy !== undefined && policy !== this.#policy)
        this.#logger?.warn(
          { ...this.#fields, maxmemoryPolicy: policy },
          evictionMessage(policy, this.#what),
        );
      else if (policy === undefined && this.#policy !== undefined)
        this.#logger?.info(
          { ...this.#fields, maxmemoryPolicy: 'noeviction' },
          'the store no longer evicts keys',
        );
      this.#policy = policy;
    });
  }

  /** Asks `current()` again every EVICTION_RECHECK_MS until `stop`. */
  recheck(clock: Clock, current: () => StoreCommands | undefined): void {
    this.stop();
    const tick = () => {
      const client = current();
      if (client?.isReady === true) this.check(client);
      this.#stopRechecks = clock.setTimeout(tick, EVICTION_RECHECK_MS);
    };
    this.#stopRechecks = clock.setTimeout(tick, EVICTION_RECHECK_MS);
  }

  stop(): void {
    this.#stopRechecks?.();
    this.#stopRechecks = undefined;
  }
}

interface EvictionLogger {
  warn(fields: object, message: string): void;
  info(fields: object, message: string): void;
}
