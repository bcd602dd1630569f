/**
 * A StoreCommands on one server at an address (`@redis/client`'s createClient). The library
 * reconnects a connection that drops by itself; what the base adds is a first connection tried
 * again forever, the bound on commands held, and a connection that hangs given up
 * (reconnectingClient.ts), as for the Sentinel and Cluster clients.
 */
import type { RedisClientType } from '@redis/client';
import { ReconnectingStoreClient, type ReconnectingClientOptions } from './reconnectingClient.ts';
import type { StoreCommands, StoreSetOptions } from './storeCommands.ts';

/** The library's client, as the store uses it (no modules, scripts or functions). */
export type StandaloneConnection = RedisClientType;

export type StandaloneClientOptions = ReconnectingClientOptions<StandaloneConnection>;

export class StandaloneStoreClient
  extends ReconnectingStoreClient<StandaloneConnection>
  implements StoreCommands
{
  async close(): Promise<unknown> {
    return this.stop()?.close();
  }

  destroy(): unknown {
    this.stop()?.destroy();
    return undefined;
  }

  ping(): Promise<unknown> {
    return this.run((c) => c.ping());
  }

  evalSha(sha: string, options: { keys: string[]; arguments: string[] }): Promise<unknown> {
    return this.run((c) => c.evalSha(sha, options));
  }

  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown> {
    return this.run((c) => c.eval(script, options));
  }

  sendCommand(args: readonly string[]): Promise<unknown> {
    return this.run((c) => c.sendCommand([...args]));
  }

  get(key: string): Promise<string | null> {
    return this.run((c) => c.get(key));
  }

  mGet(keys: string[]): Promise<(string | null)[]> {
    return this.run((c) => c.mGet(keys));
  }

  set(key: string, value: string, options: StoreSetOptions): Promise<string | null> {
    return this.run((c) => c.set(key, value, options));
  }

  lLen(key: string): Promise<number> {
    return this.run((c) => c.lLen(key));
  }

  async *scanIterator(options: { MATCH: string; COUNT: number }): AsyncIterable<string[]> {
    yield* this.ready().scanIterator(options);
  }

  protected offline(): Error {
    return new Error('The client is offline');
  }

  protected discard(client: StandaloneConnection): void {
    client.destroy();
  }

  /** A first connection the library gave up on (an error its strategy does not retry). */
  protected override abandon(client: StandaloneConnection): void {
    client.destroy();
  }

  protected listen(client: StandaloneConnection, current: () => boolean): void {
    client.on('error', (err: unknown) => {
      if (current()) this.emit('error', err);
    });
    client.on('ready', () => {
      if (current()) this.emit('ready');
    });
  }
}
