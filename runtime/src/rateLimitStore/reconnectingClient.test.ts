import { EventEmitter } from 'node:events';
import { describe, expect, it } from '@jest/globals';
import { StalledConnectionError } from './reconnectingClient.ts';
import { StandaloneStoreClient, type StandaloneConnection } from './standaloneClient.ts';

/**
 * A library client whose connection is up and whose commands either answer at once or, once
 * `hang()` is called, are never answered: what a partition does to a TCP connection.
 */
class ScriptedConnection extends EventEmitter {
  isReady = false;
  destroyed = false;
  #hung = false;
  readonly #owed: ((err: Error) => void)[] = [];

  connect(): Promise<void> {
    this.isReady = true;
    return Promise.resolve();
  }

  hang(): void {
    this.#hung = true;
  }

  ping(): Promise<string> {
    if (!this.#hung) return Promise.resolve('PONG');
    return new Promise((_resolve, reject) => this.#owed.push(reject));
  }

  /** As the library's destroy: what is owed fails. */
  destroy(): void {
    this.destroyed = true;
    this.isReady = false;
    for (const reject of this.#owed.splice(0)) reject(new Error('Disconnects client'));
  }
}

function clientOver(connections: ScriptedConnection[], stallMs: number) {
  return new StandaloneStoreClient({
    make: () => {
      const connection = new ScriptedConnection();
      connections.push(connection);
      return connection as unknown as StandaloneConnection;
    },
    maxInFlight: 16,
    retryDelayMs: () => 10,
    stallMs,
  });
}

describe('ReconnectingStoreClient: a connection that hangs', () => {
  it('is given up once a command is owed past stallMs, and a new one connects', async () => {
    const connections: ScriptedConnection[] = [];
    const client = clientOver(connections, 40);
    const errors: unknown[] = [];
    client.on('error', (err: unknown) => errors.push(err));
    await client.connect();
    await expect(client.ping()).resolves.toBe('PONG');

    connections[0]?.hang();
    const owed = [client.ping(), client.ping()];
    // What the hung connection owed fails when it is discarded, not before.
    await expect(Promise.all(owed)).rejects.toThrow('Disconnects client');
    expect(errors[0]).toBeInstanceOf(StalledConnectionError);
    expect(String(errors[0])).toContain('2 command(s) owed');
    expect(connections).toHaveLength(2);
    expect(connections[0]?.destroyed).toBe(true);
    // The new connection answers (its 'ready' is the library's, which this fake leaves out).
    expect(connections[1]?.isReady).toBe(true);
    await expect(client.ping()).resolves.toBe('PONG');
    client.destroy();
  });

  it('is kept while every command is answered, however long the client lives', async () => {
    const connections: ScriptedConnection[] = [];
    const client = clientOver(connections, 40);
    const errors: unknown[] = [];
    client.on('error', (err: unknown) => errors.push(err));
    await client.connect();
    for (let i = 0; i < 20; i++) {
      await client.ping();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(errors).toEqual([]);
    expect(connections).toHaveLength(1);
    client.destroy();
  });

  it('stops watching once destroyed: nothing is made anew', async () => {
    const connections: ScriptedConnection[] = [];
    const client = clientOver(connections, 40);
    client.on('error', () => undefined);
    await client.connect();
    connections[0]?.hang();
    const owed = client.ping().catch((err: unknown) => err);
    client.destroy();
    expect(await owed).toBeInstanceOf(Error);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(connections).toHaveLength(1);
  });
});
