/**
 * The journal's connection to its store (AgentDeployment `durability.store`): the key and the
 * Secrets it is read with, the Redis client, and how the journal stays out of a call's way —
 * with the store unreachable, slow (each command waits at most OP_TIMEOUT_MS) or the key
 * unreadable, a run's call goes on live and unjournaled, counted, and logged once per change.
 */
import { readFileSync } from 'node:fs';
import type { StoreCommands } from '../rateLimitStore/storeCommands.ts';
import {
  DURABILITY_CA_FILE,
  DURABILITY_CA_FILE_ENV,
  DURABILITY_KEY_FILE,
  DURABILITY_KEY_FILE_ENV,
  DURABILITY_MOUNT_PATH,
  DURABILITY_PASSWORD_FILE,
  DURABILITY_PASSWORD_FILE_ENV,
  DURABILITY_SENTINEL_PASSWORD_FILE,
  DURABILITY_SENTINEL_PASSWORD_FILE_ENV,
} from '../../../contract/src/pod/runtimeEnvironment.ts';
import type { DurabilitySettings } from '../../../contract/src/policy/policyDocument.ts';
import type { Clock } from '../../../platform/src/time/clock.ts';
import {
  messageOf,
  readSecrets,
  redisClient,
  type StoreSecretFiles,
} from '../rateLimitStore/storeConnection.ts';
import { EvictionWatch } from '../rateLimitStore/evictionPolicy.ts';
import { acknowledgeAllowanceMs, isUnacknowledged } from '../rateLimitStore/replicaAcknowledged.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { DurableMetrics } from './durableMetrics.ts';
import { JournalCipher, parseJournalKey } from './journalCipher.ts';
import type { RunActivity } from './runActivity.ts';
import { RunJournal } from './runJournal.ts';

/**
 * The longest a call waits for the journal before it goes on without it. A model call takes
 * seconds, and a step left out of the journal makes a resumed run diverge there: a second is
 * worth waiting on a slow store. A store that is down answers at once (connection refused).
 */
const OP_TIMEOUT_MS = 1_000;
/**
 * The longest a call waits for a store just configured to connect (a pod's first calls arrive
 * while it connects). Without the wait those calls went on unjournaled, and their runs could
 * not resume. Only the first attempt is waited for: once it failed, calls go on at once.
 */
const FIRST_CONNECT_MS = 3_000;
/** How often an unreadable journal key is read again. */
const KEY_RETRY_MS = 10_000;

/** The journal while its settings are readable: the client, the run scripts and the key. */
export interface Connection {
  readonly settings: DurabilitySettings;
  readonly client: StoreCommands;
  readonly journal: RunJournal;
  readonly cipher: JournalCipher;
  /** Whether the server may evict the journals (asked on connecting and every minute). */
  readonly eviction: EvictionWatch;
  /** The first connection attempt while it is under way: true once ready, false on an error. */
  firstAttempt?: Promise<boolean> | undefined;
}

export interface ConnectionDeps {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: DurableMetrics;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly activity: RunActivity;
}

export class JournalConnection {
  readonly #deps: ConnectionDeps;
  #connection: Connection | undefined;
  /** The key from a Secret among `--manifests` (else the mounted file is read). */
  #manifestKey: Buffer | undefined;
  #degraded: string | undefined;
  /** The connection's last error since it was last ready: what a call without it is told. */
  #connectionError: string | undefined;
  /** Settings whose key or Secret could not be read: tried again on a run's call, now and then. */
  #unreadable:
    { readonly settings: DurabilitySettings; readonly why: string; retryAt: number } | undefined;

  constructor(deps: ConnectionDeps) {
    this.#deps = deps;
  }

  /** The connection, while durability is on and its key was read. */
  get current(): Connection | undefined {
    return this.#connection;
  }

  /** Durability is asked for, connected or not (its key may be unreadable). */
  get configured(): boolean {
    return this.#connection !== undefined || this.#unreadable !== undefined;
  }

  /** Why durability is asked for and off: its key or Secret cannot be read (else undefined). */
  get unreadable(): string | undefined {
    return this.#unreadable?.why;
  }

  useManifestKey(key: Buffer | undefined): void {
    this.#manifestKey = key;
  }

  /** Follows the policy: connects, reconnects when the store or key changed, or closes. */
  configure(settings: DurabilitySettings | undefined): void {
    const current = this.#connection;
    this.#unreadable = undefined;
    if (settings === undefined) {
      this.close();
      return;
    }
    if (current !== undefined && JSON.stringify(current.settings) === JSON.stringify(settings))
      return;
    let cipher: JournalCipher;
    let secrets: { password?: string; ca?: string };
    try {
      cipher = new JournalCipher(parseJournalKey(this.#readKey(settings)));
      secrets = readSecrets(settings.store, this.#secretFiles());
    } catch (err) {
      this.close();
      // The kubelet may mount the Secret later (the volume is optional): read it again then.
      this.#unreadable = {
        settings,
        why: messageOf(err),
        retryAt: this.#deps.clock.now() + KEY_RETRY_MS,
      };
      this.#deps.activity.store('Unavailable', 'KeyUnreadable', messageOf(err));
      this.#deps.metrics.unjournaled.inc({ reason: 'no_key' }, 0);
      this.#deps.logger.error(
        { error: messageOf(err) },
        'durable runs are off: cannot read the journal key or the store Secret',
      );
      return;
    }
    this.close();
    this.#connectionError = undefined;
    this.#deps.activity.store('Connecting');
    const client = redisClient(settings.store.redis, secrets);
    // The connection's own failures (each reconnect attempt too) say how the store is, and
    // count no call: a call is counted when it goes on unjournaled (`within`, `degrade`).
    const onError = (err: unknown) => {
      if (this.#connection?.client === client) this.#connectionError = messageOf(err);
      this.#storeFailed('store_error', messageOf(err));
    };
    client.on('error', onError);
    const eviction = new EvictionWatch(
      this.#deps.logger,
      { store: 'journal' },
      "durable runs' journals and owners within their retention",
      (keys) => {
        this.#deps.metrics.evictedKeys.inc(keys);
      },
    );
    eviction.recheck(this.#deps.clock, () => client);
    client.on('ready', () => {
      this.recovered();
      eviction.check(client);
    });
    const connection: Connection = {
      settings,
      client,
      cipher,
      eviction,
      journal: new RunJournal(client, settings.keyPrefix, settings.retentionMs, () => {
        this.#deps.metrics.unacknowledged.inc({ write: 'complete' });
      }),
    };
    connection.firstAttempt = new Promise<boolean>((resolve) => {
      const settle = (ready: boolean): void => {
        connection.firstAttempt = undefined;
        resolve(ready);
      };
      client.once('ready', () => {
        settle(true);
      });
      client.once('error', () => {
        settle(false);
      });
    });
    client.connect().catch(onError);
    this.#connection = connection;
  }

  /** Whether the store's first connection, when it is under way, is made within FIRST_CONNECT_MS. */
  async firstConnection(connection: Connection): Promise<boolean> {
    const attempt = connection.firstAttempt;
    if (attempt === undefined) return false;
    let cancel: (() => void) | undefined;
    const deadline = new Promise<boolean>((resolve) => {
      cancel = this.#deps.clock.setTimeout(() => {
        resolve(false);
      }, FIRST_CONNECT_MS);
    });
    try {
      return (await Promise.race([attempt, deadline])) && connection.client.isReady;
    } finally {
      cancel?.();
    }
  }

  /**
   * A call of a run while the key is unreadable: the key read again, at most every ten
   * seconds; the call is counted as unjournaled only when it still cannot be journaled.
   */
  retryUnreadable(): Connection | undefined {
    const unreadable = this.#unreadable;
    if (unreadable === undefined) return undefined;
    if (this.#deps.clock.now() >= unreadable.retryAt) {
      this.configure(unreadable.settings);
      if (this.#connection !== undefined) return this.#connection;
    }
    this.#deps.metrics.unjournaled.inc({ reason: 'no_key' });
    return undefined;
  }

  close(): void {
    const connection = this.#connection;
    this.#connection = undefined;
    connection?.eviction.stop();
    if (connection?.client.isOpen === true) connection.client.destroy();
  }

  /**
   * `op`'s answer, or a rejection once it took longer than OP_TIMEOUT_MS: for the store's
   * commands off a call's path (the runs the runtime owns, their leases, the listing), which
   * must not wait on a store that stopped answering any more than a call does. Not counted as
   * an unjournaled call. Under `acknowledge: Replicas` each WAIT outstanding on the connection
   * (`op`'s own among them) adds its timeout: a store that answers with no replica linked
   * answers "no replica confirmed" (refused by the caller), never "no answer" (live, D7).
   */
  async deadline<T>(op: Promise<T>): Promise<T> {
    const client = this.#connection?.client;
    const ms = OP_TIMEOUT_MS + (client === undefined ? 0 : acknowledgeAllowanceMs(client));
    let cancel: (() => void) | undefined;
    const deadline = new Promise<never>((_resolve, reject) => {
      cancel = this.#deps.clock.setTimeout(() => {
        reject(new Error(`the journal store gave no answer within ${String(ms)}ms`));
      }, ms);
    });
    try {
      return await Promise.race([op, deadline]);
    } finally {
      cancel?.();
    }
  }

  /**
   * A call's journaling: `op`'s answer, or undefined when it failed or took longer than
   * OP_TIMEOUT_MS — then the call goes on unjournaled, and is counted once.
   */
  async within<T>(op: Promise<T>): Promise<T | undefined> {
    try {
      return await this.deadline(op);
    } catch (err) {
      // Answered, but no replica confirmed it: the caller refuses the call (RunJournal.claim).
      if (isUnacknowledged(err)) throw err;
      this.degrade('store_error', messageOf(err));
      return undefined;
    }
  }

  /** A call goes on unjournaled because of the store: counted, and the store's state told. */
  degrade(reason: 'store_unavailable' | 'store_error', message: string): void {
    this.#deps.metrics.unjournaled.inc({ reason });
    this.#storeFailed(reason, message);
  }

  /** The store failed: its state says so, and the log once until it answers again. */
  #storeFailed(reason: 'store_unavailable' | 'store_error', message: string): void {
    const connected = this.#connection?.client.isReady === true;
    this.#deps.activity.store('Unavailable', connected ? 'StoreError' : 'Unreachable', message);
    if (this.#degraded !== undefined) return;
    this.#degraded = message;
    this.#deps.logger.warn(
      { reason, error: message },
      'journal store unavailable: durable runs go on live and unjournaled',
    );
  }

  /**
   * Why a call goes on without the store while it is not connected: with the connection's last
   * error, which names the node that is down (a cluster's primary, clusterClient.ts), so the
   * state the pod reports keeps naming it.
   */
  get notConnected(): string {
    const why = this.#connectionError;
    return `the journal store is not connected${why === undefined ? '' : `: ${why}`}`;
  }

  recovered(): void {
    this.#connectionError = undefined;
    this.#deps.activity.store('Available');
    if (this.#degraded === undefined) return;
    this.#degraded = undefined;
    this.#deps.logger.info({}, 'journal store answering: durable runs are journaled again');
  }

  /** The key: from a Secret among `--manifests`, else the mounted (or named) file. */
  #readKey(settings: DurabilitySettings): Buffer {
    if (this.#manifestKey !== undefined) return this.#manifestKey;
    const env = this.#deps.env;
    const file = env[DURABILITY_KEY_FILE_ENV] ?? `${DURABILITY_MOUNT_PATH}/${DURABILITY_KEY_FILE}`;
    try {
      return readFileSync(file);
    } catch (err) {
      const { name, key } = settings.encryptionKeySecretRef;
      throw new Error(
        `cannot read the journal key of durability.encryptionKeySecretRef (Secret ${name}, key ${key}) from ${file}: ${messageOf(err)}; in a cluster the operator mounts that Secret, with --manifests put the Secret among them, with --policy name a file in ${DURABILITY_KEY_FILE_ENV}`,
        { cause: err },
      );
    }
  }

  #secretFiles(): StoreSecretFiles {
    const env = this.#deps.env;
    return {
      password:
        env[DURABILITY_PASSWORD_FILE_ENV] ?? `${DURABILITY_MOUNT_PATH}/${DURABILITY_PASSWORD_FILE}`,
      ca: env[DURABILITY_CA_FILE_ENV] ?? `${DURABILITY_MOUNT_PATH}/${DURABILITY_CA_FILE}`,
      sentinelPassword:
        env[DURABILITY_SENTINEL_PASSWORD_FILE_ENV] ??
        `${DURABILITY_MOUNT_PATH}/${DURABILITY_SENTINEL_PASSWORD_FILE}`,
    };
  }
}
