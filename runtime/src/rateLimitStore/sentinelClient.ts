/**
 * A StoreCommands that finds the primary through Redis Sentinel (`@redis/client`'s
 * createSentinel) and follows a failover: the library re-asks the sentinels when they announce
 * a new primary, or when the primary answers READONLY or drops the connection, and sends the
 * command again there.
 *
 * What it adds to the library's client, as the cluster's does, is in reconnectingClient.ts:
 * no offline queue, at most `maxInFlight` commands, a first connection tried again forever.
 */
import type { RedisSentinelType } from '@redis/client';
import { ReconnectingStoreClient, type ReconnectingClientOptions } from './reconnectingClient.ts';
import type { StoreCommands, StoreSetOptions } from './storeCommands.ts';

/** The library's sentinel client, as the store uses it (no modules, scripts or functions). */
export type SentinelConnection = RedisSentinelType;

export type SentinelClientOptions = ReconnectingClientOptions<SentinelConnection>;

export class SentinelStoreClient
  extends ReconnectingStoreClient<SentinelConnection>
  implements StoreCommands
{
  async close(): Promise<unknown> {
    return this.stop()?.close();
  }

  destroy(): unknown {
    return this.stop()
      ?.destroy()
      .catch(() => undefined);
  }

  ping(): Promise<unknown> {
    return this.run((s) => s.ping());
  }

  evalSha(sha: string, options: { keys: string[]; arguments: string[] }): Promise<unknown> {
    return this.run((s) => s.evalSha(sha, options));
  }

  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown> {
    return this.run((s) => s.eval(script, options));
  }

  sendCommand(args: readonly string[]): Promise<unknown> {
    // Not read-only: the command goes to the primary.
    return this.run((s) => s.sendCommand(false, [...args]));
  }

  get(key: string): Promise<string | null> {
    return this.run((s) => s.get(key));
  }

  mGet(keys: string[]): Promise<(string | null)[]> {
    return this.run((s) => s.mGet(keys));
  }

  set(key: string, value: string, options: StoreSetOptions): Promise<string | null> {
    return this.run((s) => s.set(key, value, options));
  }

  lLen(key: string): Promise<number> {
    return this.run((s) => s.lLen(key));
  }

  async *scanIterator(options: { MATCH: string; COUNT: number }): AsyncIterable<string[]> {
    yield* this.ready().scanIterator(options);
  }

  /**
   * While no primary is connected (connecting, or the sentinels are choosing a new one) a
   * command fails at once; the caller goes on without the store and comes back when it is
   * `ready` again.
   */
  protected offline(): Error {
    return new Error('The client is offline: no primary connected through Sentinel');
  }

  protected discard(sentinel: SentinelConnection): void {
    sentinel.destroy().catch(() => undefined);
  }

  protected listen(sentinel: SentinelConnection, current: () => boolean): void {
    sentinel.on('error', (err: unknown) => {
      if (current()) this.emit('error', sentinelError(err));
    });
    sentinel.on('ready', () => {
      if (current()) this.emit('ready');
    });
  }
}

/**
 * The library reports a sentinel connection's failure as a string with a prefix of its own,
 * then the same failure as an Error: as one Error, the store logs it once, not twice a second.
 */
export function sentinelError(err: unknown): unknown {
  if (typeof err !== 'string') return err;
  return new Error(err.replace(/^obseve client error: (?:Error: )?/, ''));
}
