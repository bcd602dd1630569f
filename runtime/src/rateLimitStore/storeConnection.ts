/**
 * How the store reaches its server: the connection's identity, the address, the
 * mounted Secrets it authenticates with (its client made again when they change), and why a
 * failure made it fall back.
 */
import { readFileSync } from 'node:fs';
import { redisClientModule } from './redisModule.ts';
import {
  RATE_LIMIT_STORE_CA_FILE,
  RATE_LIMIT_STORE_CA_FILE_ENV,
  RATE_LIMIT_STORE_MOUNT_PATH,
  RATE_LIMIT_STORE_PASSWORD_FILE,
  RATE_LIMIT_STORE_PASSWORD_FILE_ENV,
  RATE_LIMIT_STORE_SENTINEL_PASSWORD_FILE,
  RATE_LIMIT_STORE_SENTINEL_PASSWORD_FILE_ENV,
} from '../../../contract/src/pod/runtimeEnvironment.ts';
import type {
  ClusterSettings,
  RedisSettings,
  SentinelSettings,
  StoreSettings,
} from '../../../contract/src/policy/policyDocument.ts';
import type { StoreFallbackReason } from '../../../contract/src/reporting/storeReport.ts';
import { ClusterStoreClient } from './clusterClient.ts';
import { StandaloneStoreClient } from './standaloneClient.ts';
import { onePrimary, ReplicaAcknowledged } from './replicaAcknowledged.ts';
import { clusterPrimaries } from './clusterPrimaries.ts';
import { SentinelStoreClient } from './sentinelClient.ts';
import type { StoreCommands } from './storeCommands.ts';
import { errorMessage } from '../../../platform/src/node/errorMessage.ts';

/** The files a Redis server's Secrets are mounted as. */
export interface StoreSecretFiles {
  readonly password: string;
  readonly ca: string;
  readonly sentinelPassword: string;
}

/** What those files hold, for the Secrets the settings name. */
export interface StoreSecrets {
  password?: string;
  ca?: string;
  sentinelPassword?: string;
}

/** Settings that reach the same server the same way share one connection. */
export function connectionKey(s: StoreSettings): string {
  return JSON.stringify(s.redis);
}

export function splitAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  return { host: address.slice(0, colon), port: Number(address.slice(colon + 1)) };
}

/** The mounted passwords and CA of a Redis server (the rate-limit store's, or the journal's). */
export function readSecrets(
  s: { readonly redis: RedisSettings },
  files: StoreSecretFiles,
): StoreSecrets {
  const secrets: StoreSecrets = {};
  if (s.redis.passwordSecretRef !== undefined) secrets.password = readPassword(files.password);
  if (s.redis.tls?.caSecretRef !== undefined) secrets.ca = readFileSync(files.ca, 'utf8');
  if (s.redis.sentinel?.passwordSecretRef !== undefined)
    secrets.sentinelPassword = readPassword(files.sentinelPassword);
  return secrets;
}

// `kubectl create secret --from-file` keeps a file's last newline; a password has none.
const readPassword = (file: string): string => readFileSync(file, 'utf8').replace(/\r?\n$/, '');

/**
 * Where the store's password and CA are mounted: the operator's paths, or the files the
 * environment names (standalone runs).
 */
export function storeSecretFiles(
  env: Readonly<Record<string, string | undefined>>,
): StoreSecretFiles {
  return {
    password:
      env[RATE_LIMIT_STORE_PASSWORD_FILE_ENV] ??
      `${RATE_LIMIT_STORE_MOUNT_PATH}/${RATE_LIMIT_STORE_PASSWORD_FILE}`,
    ca:
      env[RATE_LIMIT_STORE_CA_FILE_ENV] ??
      `${RATE_LIMIT_STORE_MOUNT_PATH}/${RATE_LIMIT_STORE_CA_FILE}`,
    sentinelPassword:
      env[RATE_LIMIT_STORE_SENTINEL_PASSWORD_FILE_ENV] ??
      `${RATE_LIMIT_STORE_MOUNT_PATH}/${RATE_LIMIT_STORE_SENTINEL_PASSWORD_FILE}`,
  };
}

/** The longest a connection attempt takes, and the longest pause between reconnects. */
const CONNECT_TIMEOUT_MS = 2000;
const RECONNECT_MAX_MS = 2000;
/** Commands a client holds at once (settlements included); beyond this they fail at once. */
const MAX_QUEUE = 1024;

/** Reconnects: 50 ms doubling up to RECONNECT_MAX_MS, plus up to 50 ms of jitter. */
const reconnectDelay = (retries: number): number =>
  Math.min(RECONNECT_MAX_MS, 50 * 2 ** Math.min(retries, 6)) + Math.floor(Math.random() * 50);

/**
 * A client for a Redis server the runtime uses (the rate-limit store, the journal): it never
 * queues commands while disconnected and holds a bounded queue, so a server that is down fails
 * calls at once instead of holding them; it reconnects forever with backoff and jitter, the
 * caller carrying on without it meanwhile. At an address, through Sentinel, or on a cluster,
 * following a failover. Not yet connected: the caller calls `connect()` after it has listened
 * for errors.
 */
export function redisClient(redis: RedisSettings, secrets: StoreSecrets): StoreCommands {
  if (redis.acknowledge !== 'Replicas') return primaryClient(redis, secrets);
  if (redis.cluster !== undefined) {
    const inner = clusterClient(redis, redis.cluster, secrets);
    const lane = clusterClient(redis, redis.cluster, secrets);
    return new ReplicaAcknowledged(inner, clusterPrimaries(lane, inner));
  }
  const inner = primaryClient(redis, secrets);
  return new ReplicaAcknowledged(inner, onePrimary(primaryClient(redis, secrets), inner));
}

function primaryClient(redis: RedisSettings, secrets: StoreSecrets): StoreCommands {
  if (redis.cluster !== undefined) return clusterClient(redis, redis.cluster, secrets);
  return redis.sentinel === undefined
    ? new StandaloneStoreClient({
        make: () =>
          redisClientModule().createClient({
            ...nodeOptions(redis, secrets),
            socket: { ...splitAddress(redis.address), ...socketOptions(redis, secrets) },
            commandOptions: NO_COMMAND_TIMEOUT,
          }),
        maxInFlight: MAX_QUEUE,
        retryDelayMs: reconnectDelay,
      })
    : sentinelClient(redis, redis.sentinel, secrets);
}

function sentinelClient(
  redis: RedisSettings,
  sentinel: SentinelSettings,
  secrets: StoreSecrets,
): StoreCommands {
  const socket = socketOptions(redis, secrets);
  return new SentinelStoreClient({
    make: () =>
      redisClientModule().createSentinel({
        name: sentinel.masterName,
        sentinelRootNodes: sentinel.addresses.map(splitAddress),
        nodeClientOptions: { ...nodeOptions(redis, secrets), socket },
        // The sentinels' own connections: their password, and TLS as the servers have it.
        sentinelClientOptions: {
          socket,
          ...(secrets.sentinelPassword === undefined ? {} : { password: secrets.sentinelPassword }),
        },
        commandOptions: NO_COMMAND_TIMEOUT,
        // Every connection's failure reaches the store's `error` listener, naming the node.
        passthroughClientErrorEvents: true,
        // A switch the sentinels announced while their connection was down is found anyway.
        scanInterval: SENTINEL_SCAN_MS,
      }),
    maxInFlight: MAX_QUEUE,
    retryDelayMs: reconnectDelay,
  });
}

/** How often the sentinel client asks the sentinels for the primary besides their announcements. */
const SENTINEL_SCAN_MS = 5000;

function clusterClient(
  redis: RedisSettings,
  cluster: ClusterSettings,
  secrets: StoreSecrets,
): ClusterStoreClient {
  const node = { ...nodeOptions(redis, secrets), socket: socketOptions(redis, secrets) };
  return new ClusterStoreClient({
    make: () =>
      redisClientModule().createCluster({
        rootNodes: cluster.addresses.map((a) => ({ socket: splitAddress(a) })),
        // Every node's connection (the root nodes' too): credentials, TLS, no offline queue.
        defaults: node,
        commandOptions: NO_COMMAND_TIMEOUT,
        // A primary that has been reconnecting this long: ask the others for the slot map.
        topologyRefreshOnReconnectionAttemptStrategy: CLUSTER_REFRESH_MS,
      }),
    maxInFlight: MAX_QUEUE,
    retryDelayMs: reconnectDelay,
    connectWithinMs: CLUSTER_CONNECT_WITHIN_MS,
  });
}

/**
 * How long the cluster client's first connection may take: it connects to every primary in the
 * slot map and waits for each, so one that is down would hold it forever, and the replica
 * promoted in its place would never be found (test/rateLimitStore/clusterAcknowledged.test.ts).
 * Past this a new client reads the slot map again. Above CONNECT_TIMEOUT_MS: a node that does
 * answer has its whole connect timeout.
 */
const CLUSTER_CONNECT_WITHIN_MS = 3000;

/**
 * How long a cluster node reconnects before the client asks the others for the slot map, and
 * again each time as long: a replica promoted in its place is found within this of its promotion.
 */
const CLUSTER_REFRESH_MS = 1000;

/**
 * No per-command timeout: @redis/client arms an AbortSignal.timeout (5 s by default) for every
 * command, and each one that fires builds a DOMException with its stack, about 20 µs of CPU
 * per command, long after the command was answered. Every caller here waits on its own
 * deadline already (the store's wait budget, the journal's second) and goes on without an
 * answer; a server that never answers fills the bounded queue, which then fails at once.
 */
const NO_COMMAND_TIMEOUT = { timeout: 0 };

/** A data node's connection: who it authenticates as, no offline queue, a bounded queue. */
function nodeOptions(redis: RedisSettings, secrets: StoreSecrets) {
  return {
    ...(redis.username === undefined ? {} : { username: redis.username }),
    ...(secrets.password === undefined ? {} : { password: secrets.password }),
    disableOfflineQueue: true,
    commandsQueueMaxLength: MAX_QUEUE,
  };
}

/** Connect and reconnect timing, and TLS when the settings ask for it. */
function socketOptions(redis: RedisSettings, secrets: StoreSecrets) {
  const tls = redis.tls;
  return {
    connectTimeout: CONNECT_TIMEOUT_MS,
    reconnectStrategy: reconnectDelay,
    ...(tls === undefined
      ? {}
      : {
          tls: true as const,
          ...(tls.serverName === undefined ? {} : { servername: tls.serverName }),
          ...(secrets.ca === undefined ? {} : { ca: secrets.ca }),
        }),
  };
}

/** A caught value's message (the store's users import it from here). */
export const messageOf = errorMessage;

export function reasonOf(err: unknown): StoreFallbackReason {
  // The sentinel client wraps a node's error in one that names the node: the server's words
  // are the innermost cause's.
  let root = err;
  while (root instanceof Error && root.cause !== undefined) root = root.cause;
  const message = messageOf(root);
  if (/WRONGPASS|NOAUTH|invalid (username-)?password|AUTH failed/i.test(message))
    return 'AuthenticationFailed';
  // A replica where the primary was (demoted, or named by hand), or one loading or cut off
  // from its primary: a failover under way, not a store that refuses the scripts.
  // In a cluster, a slot without a primary (CLUSTERDOWN) or half moved (TRYAGAIN) too.
  // Under acknowledge: Replicas a write that met MOVED or ASK on its primary's own connection.
  if (/^(READONLY|MASTERDOWN|LOADING|CLUSTERDOWN|TRYAGAIN|MOVED|ASK)/.test(message))
    return 'FailingOver';
  // NOPERM: the ACL user may not run a command the store sends (docs/rate-limit-store.md's rule).
  if (/^(ERR|NOSCRIPT|BUSY|OOM|NOPERM)/.test(message)) return 'StoreError';
  return 'Unreachable';
}

/** What the store hears from its connection. */
export interface ConnectionEvents {
  /** The client failed (or the Secrets cannot be read): the store falls back. */
  fallBack(reason: StoreFallbackReason, message: string): void;
  /** The client connected: the store probes it at once. */
  ready(): void;
}

/** The store's client, made again with the mounted Secrets when they change. */
export class StoreClient {
  readonly #secretFiles: StoreSecretFiles;
  readonly #events: ConnectionEvents;
  #client: StoreCommands | undefined;
  /** The passwords and CA the client was made with, to notice a rotated Secret. */
  #secrets = '';

  constructor(secretFiles: StoreSecretFiles, events: ConnectionEvents) {
    this.#secretFiles = secretFiles;
    this.#events = events;
  }

  /** The client made last (undefined until the Secrets could be read once). */
  get current(): StoreCommands | undefined {
    return this.#client;
  }

  /**
   * (Re)reads the mounted passwords and CA and connects with them when they changed (or on the
   * first call). The kubelet rewrites a mounted Secret in place, so a rotated password, or a
   * wrong one corrected, reaches the store without a restart.
   */
  reconnectWithSecrets(settings: StoreSettings): void {
    let secrets: StoreSecrets;
    try {
      secrets = readSecrets(settings, this.#secretFiles);
    } catch (err) {
      this.#events.fallBack('SecretMissing', `cannot read the store's Secret: ${messageOf(err)}`);
      return;
    }
    const fingerprint = JSON.stringify(secrets);
    if (this.#client !== undefined && fingerprint === this.#secrets) return;
    this.#secrets = fingerprint;
    const previous = this.#client;
    this.#client = this.#connect(settings, secrets);
    if (previous?.isOpen === true) previous.destroy();
  }

  #connect(settings: StoreSettings, secrets: StoreSecrets): StoreCommands {
    const client = redisClient(settings.redis, secrets);
    // A replaced client's last words are not the store's state.
    const current = () => client === this.#client;
    client.on('error', (err: unknown) => {
      if (current()) this.#events.fallBack(reasonOf(err), messageOf(err));
    });
    client.on('ready', () => {
      if (current()) this.#events.ready();
    });
    client.connect().catch((err: unknown) => {
      if (current()) this.#events.fallBack(reasonOf(err), messageOf(err));
    });
    return client;
  }
}
