import { describe, expect, it } from '@jest/globals';
import { reasonOf } from './storeConnection.ts';

describe('reasonOf', () => {
  it.each([
    ["READONLY You can't write against a read only replica.", 'FailingOver'],
    [
      'MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to no',
      'FailingOver',
    ],
    ['LOADING Redis is loading the dataset in memory', 'FailingOver'],
    ['NOSCRIPT No matching script', 'StoreError'],
    ['OOM command not allowed when used memory > maxmemory', 'StoreError'],
    ["NOPERM User breakwater has no permissions to run the 'wait' command", 'StoreError'],
    ['WRONGPASS invalid username-password pair or user is disabled.', 'AuthenticationFailed'],
    ['connect ECONNREFUSED 127.0.0.1:6379', 'Unreachable'],
  ])('names "%s" %s', (message, reason) => {
    expect(reasonOf(new Error(message))).toBe(reason);
  });

  it("reads the server's words under the sentinel client's wrapping that names the node", () => {
    const server = new Error("READONLY You can't write against a read only replica.");
    const wrapped = new Error(`Master Client (127.0.0.1:6379): ${server.message}`, {
      cause: server,
    });
    expect(reasonOf(wrapped)).toBe('FailingOver');
  });
});
