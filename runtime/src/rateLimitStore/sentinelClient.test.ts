import { describe, expect, it } from '@jest/globals';
import { messageOf } from './storeConnection.ts';
import { sentinelError } from './sentinelClient.ts';

describe('sentinelError', () => {
  it("reads the library's string about a sentinel connection as the Error it repeats", () => {
    const said = sentinelError('obseve client error: Error: connect ECONNREFUSED 127.0.0.1:26379');
    expect(said).toBeInstanceOf(Error);
    expect(messageOf(said)).toBe('connect ECONNREFUSED 127.0.0.1:26379');
  });

  it('leaves an Error as it is', () => {
    const err = new Error('READONLY You can not write against a read only replica.');
    expect(sentinelError(err)).toBe(err);
  });
});
