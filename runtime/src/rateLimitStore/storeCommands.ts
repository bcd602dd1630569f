/**
 * What every store user (limits, budgets, cache-affinity pins, run journals, leases, the run
 * listing) needs from a connection to Redis, whichever way it reaches the primary: at an
 * address (standaloneClient.ts), through Sentinel (sentinelClient.ts, following a failover) or
 * on a cluster (clusterClient.ts), each `@redis/client`'s own client under what
 * reconnectingClient.ts adds to all three.
 */
import type { CommandSender, ScriptRunner } from './luaScripts.ts';

export interface StoreCommands extends ScriptRunner, CommandSender {
  /** Connecting or connected, until closed or destroyed. */
  readonly isOpen: boolean;
  /** Connected to the primary and able to take commands now. */
  readonly isReady: boolean;
  /** Starts connecting; listen for `error` first. Reconnects on its own afterwards. */
  connect(): Promise<unknown>;
  /** Closes once the commands already sent are answered. */
  close(): Promise<unknown>;
  /** Closes at once, failing the commands still waiting. */
  destroy(): unknown;
  on(event: 'error', listener: (err: unknown) => void): unknown;
  on(event: 'ready', listener: () => void): unknown;
  once(event: 'error', listener: (err: unknown) => void): unknown;
  once(event: 'ready', listener: () => void): unknown;
  ping(): Promise<unknown>;
  get(key: string): Promise<string | null>;
  mGet(keys: string[]): Promise<(string | null)[]>;
  set(key: string, value: string, options: StoreSetOptions): Promise<string | null>;
  lLen(key: string): Promise<number>;
  scanIterator(options: { MATCH: string; COUNT: number }): AsyncIterable<string[]>;
  /**
   * Every server that holds keys, where that is more than the one this client sends a keyless
   * command to: a cluster's primaries. Absent: this client alone.
   */
  servers?(): Promise<CommandSender[]>;
}

/** SET's options the store users give: an expiry, and only when the key is new. */
export interface StoreSetOptions {
  readonly NX?: true;
  readonly PX?: number;
  readonly expiration?: { readonly type: 'PX'; readonly value: number };
}
