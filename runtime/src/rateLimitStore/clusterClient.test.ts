/**
 * What a cluster's first connection that timed out says: the store's state keeps the last error,
 * so it names the primaries that failed as the nodes' own errors do.
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from '@jest/globals';
import { errorMessage } from '../../../platform/src/node/errorMessage.ts';
import {
  ClusterStoreClient,
  connectTimedOutMessage,
  type ClusterConnection,
} from './clusterClient.ts';

describe('a first connection to a cluster that timed out', () => {
  it.each([
    [
      'names the primary that failed and what it said',
      new Map([['10.0.0.7:6379', 'connect ECONNREFUSED 10.0.0.7:6379']]),
      /^primary 10\.0\.0\.7:6379 \(connect ECONNREFUSED 10\.0\.0\.7:6379\) of the slot map does not answer: not connected within 3000ms; .*promotes a replica in its place/,
    ],
    [
      'names every primary that failed',
      new Map([
        ['10.0.0.7:6379', 'connect ECONNREFUSED 10.0.0.7:6379'],
        ['10.0.0.8:6379', 'Socket closed unexpectedly'],
      ]),
      /^primaries 10\.0\.0\.7:6379 \(connect ECONNREFUSED 10\.0\.0\.7:6379\), 10\.0\.0\.8:6379 \(Socket closed unexpectedly\) of the slot map do not answer/,
    ],
    [
      'says a primary does not answer when none has failed yet (a connection still hanging)',
      new Map<string, string>(),
      /^a primary of the slot map does not answer: not connected within 3000ms/,
    ],
  ])('%s', (_name, failing, expected) => {
    expect(connectTimedOutMessage(3000, failing)).toMatch(expected);
  });
});

describe('a cluster client whose next attempt times out before it reaches the node that is down', () => {
  /** A library client that never connects; the first one made hears the node fail. */
  function fakeCluster(failsNode: boolean): ClusterConnection {
    const events = new EventEmitter();
    const fake = {
      isReady: false,
      on: (event: string, listener: (...args: unknown[]) => void) => events.on(event, listener),
      connect: () => {
        if (failsNode)
          setImmediate(() => {
            events.emit('node-error', new Error('connect ECONNREFUSED 10.0.0.7:6379'), {
              host: '10.0.0.7',
              port: 6379,
            });
          });
        return new Promise<never>(() => undefined);
      },
      destroy: () => undefined,
      close: () => Promise.resolve(),
    };
    return fake as unknown as ClusterConnection;
  }

  it('still names the primary the attempt before heard fail', async () => {
    let made = 0;
    const client = new ClusterStoreClient({
      make: () => fakeCluster(made++ === 0),
      maxInFlight: 10,
      retryDelayMs: () => 1,
      connectWithinMs: 20,
    });
    const errors: string[] = [];
    client.on('error', (err: unknown) => errors.push(errorMessage(err)));
    await expect(client.connect()).rejects.toThrow(/^primary 10\.0\.0\.7:6379 /);
    // The second client times out having heard nothing of its own.
    while (!errors.some((e) => e.includes('not connected within')))
      await new Promise((resolve) => setTimeout(resolve, 5));
    expect(made).toBeGreaterThanOrEqual(2);
    await client.close();
    expect(errors.filter((e) => e.includes('not connected within'))[0]).toMatch(
      /^primary 10\.0\.0\.7:6379 \(connect ECONNREFUSED 10\.0\.0\.7:6379\) of the slot map/,
    );
  });
});
