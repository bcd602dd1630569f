/**
 * How the store reaches its server: the connection's identity, the address, the
 * mounted Secrets it authenticates with (its client made again when they change), and why a
 * failure made it fall back.
 */
import { readFileSync } from 'node:fs';
import { createClient, type RedisClientType } from '@redis/client';
import {
  RATE_LIMIT_STORE_CA_FILE,
  RATE_LIMIT_STORE_CA_FILE_ENV,
  RATE_LIMIT_STORE_MOUNT_PATH,
  RATE_LIMIT_STORE_PASSWORD_FILE,
  RATE_LIMIT_STORE_PASSWORD_FILE_ENV,
} from '../../../contract/src/pod/runtimeEnvironment.ts';
import type { RedisSettings, StoreSettings } from '../../../contract/src/policy/policyDocument.ts';
import type { StoreFallbackReason } from '../../../contract/src/reporting/storeReport.ts';

/** Settings that reach the same server the same way share one connection. */
export function connectionKey(s: StoreSettings): string {
  return JSON.stringify(s.redis);
}

export function splitAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  return { host: address.slice(0, colon), port: Number(address.slice(colon + 1)) };
}

/** The mounted password and CA of a Redis server (the rate-limit store's, or the journal's). */
export function readSecrets(
  s: { readonly redis: RedisSettings },
  files: { readonly password: string; readonly ca: string },
): { password?: string; ca?: string } {
  const secrets: { password?: string; ca?: string } = {};
  // `kubectl create secret --from-file` keeps a file's last newline; a password has none.
  if (s.redis.passwordSecretRef !== undefined)
    secrets.password = readFileSync(files.password, 'utf8').replace(/\r?\n$/, '');
  if (s.redis.tls?.caSecretRef !== undefined) secrets.ca = readFileSync(files.ca, 'utf8');
  return secrets;
}

/**
 * Where the store's password and CA are mounted: the operator's paths, or the files the
 * environment names (standalone runs).
 */
export function storeSecretFiles(env: Readonly<Record<string, string | undefined>>): {
  readonly password: string;
  readonly ca: string;
} {
  return {
    password:
      env[RATE_LIMIT_STORE_PASSWORD_FILE_ENV] ??
      `${RATE_LIMIT_STORE_MOUNT_PATH}/${RATE_LIMIT_STORE_PASSWORD_FILE}`,
    ca:
      env[RATE_LIMIT_STORE_CA_FILE_ENV] ??
      `${RATE_LIMIT_STORE_MOUNT_PATH}/${RATE_LIMIT_STORE_CA_FILE}`,
  };
}

/** The longest a connection attempt takes, and the longest pause between reconnects. */
const CONNECT_TIMEOUT_MS = 2000;
const RECONNECT_MAX_MS = 2000;
/** Commands a client holds at once (settlements included); beyond this they fail at once. */
const MAX_QUEUE = 1024;

/**
 * A client for a Redis server the runtime uses (the rate-limit store, the journal): it never
 * queues commands while disconnected and holds a bounded queue, so a server that is down fails
 * calls at once instead of holding them; it reconnects forever with backoff and jitter, the
 * caller carrying on without it meanwhile. Not yet connected: the caller calls `connect()`
 * after it has listened for errors.
 */
export function redisClient(
  redis: RedisSettings,
  secrets: { password?: string; ca?: string },
): RedisClientType {
  const { host, port } = splitAddress(redis.address);
  const tls = redis.tls;
  return createClient({
    socket: {
      host,
      port,
      connectTimeout: CONNECT_TIMEOUT_MS,
      reconnectStrategy: (retries: number) =>
        Math.min(RECONNECT_MAX_MS, 50 * 2 ** Math.min(retries, 6)) + Math.floor(Math.random() * 50),
      ...(tls === undefined
        ? {}
        : {
            tls: true as const,
            ...(tls.serverName === undefined ? {} : { servername: tls.serverName }),
            ...(secrets.ca === undefined ? {} : { ca: secrets.ca }),
          }),
    },
    ...(redis.username === undefined ? {} : { username: redis.username }),
    ...(secrets.password === undefined ? {} : { password: secrets.password }),
    disableOfflineQueue: true,
    commandsQueueMaxLength: MAX_QUEUE,
    // No per-command timeout: @redis/client arms an AbortSignal.timeout (5 s by default) for
    // every command, and each one that fires builds a DOMException with its stack, about 20 µs
    // of CPU per command, long after the command was answered. Every caller here waits on its
    // own deadline already (the store's wait budget, the journal's second) and goes on without
    // an answer; a server that never answers fills the bounded queue, which then fails at once.
    commandOptions: { timeout: 0 },
  });
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function reasonOf(err: unknown): StoreFallbackReason {
  const message = messageOf(err);
  if (/WRONGPASS|NOAUTH|invalid (username-)?password|AUTH failed/i.test(message))
    return 'AuthenticationFailed';
  if (/^(ERR|NOSCRIPT|BUSY|OOM|READONLY)/.test(message)) return 'StoreError';
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
  readonly #secretFiles: { readonly password: string; readonly ca: string };
  readonly #events: ConnectionEvents;
  #client: RedisClientType | undefined;
  /** The password and CA the client was made with, to notice a rotated Secret. */
  #secrets = '';

  constructor(
    secretFiles: { readonly password: string; readonly ca: string },
    events: ConnectionEvents,
  ) {
    this.#secretFiles = secretFiles;
    this.#events = events;
  }

  /** The client made last (undefined until the Secrets could be read once). */
  get current(): RedisClientType | undefined {
    return this.#client;
  }

  /**
   * (Re)reads the mounted password and CA and connects with them when they changed (or on the
   * first call). The kubelet rewrites a mounted Secret in place, so a rotated password, or a
   * wrong one corrected, reaches the store without a restart.
   */
  reconnectWithSecrets(settings: StoreSettings): void {
    let secrets: { password?: string; ca?: string };
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

  #connect(settings: StoreSettings, secrets: { password?: string; ca?: string }): RedisClientType {
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
