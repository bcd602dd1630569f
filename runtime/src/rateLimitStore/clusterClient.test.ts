/**
 * What a cluster's first connection that timed out says: the store's state keeps the last error,
 * so it names the primaries that failed as the nodes' own errors do.
 */
import { describe, expect, it } from '@jest/globals';
import { connectTimedOutMessage } from './clusterClient.ts';

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
