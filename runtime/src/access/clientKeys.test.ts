import { describe, expect, it } from '@jest/globals';
import { ClientKeys, keysFromSecret } from './clientKeys.ts';

describe('ClientKeys', () => {
  const keys = new ClientKeys();
  keys.set(['alpha-key', 'beta-key']);

  it.each<[string, Record<string, string>, boolean | string]>([
    ['an accepted x-api-key', { 'x-api-key': 'beta-key' }, true],
    ['an accepted Bearer token', { authorization: 'Bearer alpha-key' }, true],
    ['a lower-case bearer scheme', { authorization: 'bearer alpha-key' }, true],
    ['a wrong key', { 'x-api-key': 'alpha-key-2' }, 'invalid'],
    ['a prefix of a key', { 'x-api-key': 'alpha' }, 'invalid'],
    [
      'a key with a trailing NUL, as the padding would read',
      { 'x-api-key': 'alpha-key\u0000' },
      'invalid',
    ],
    ['a key longer than every accepted one', { 'x-api-key': 'beta-key-and-then-some' }, 'invalid'],
    ['a key in other characters', { 'x-api-key': 'bëta-kéy' }, 'invalid'],
    ['no key at all', {}, 'missing'],
    ['Basic auth', { authorization: 'Basic YWxwaGE=' }, 'missing'],
  ])('judges %s', (_name, headers, expected) => {
    const decision = keys.check(headers);
    expect(decision.ok ? true : decision.reason).toBe(expected);
  });

  it('lets everyone in when access control is off', () => {
    const open = new ClientKeys();
    open.set(undefined);
    expect(open.check({}).ok).toBe(true);
  });

  it('lets nobody in when it is on with no keys', () => {
    const closed = new ClientKeys();
    closed.set([]);
    expect(closed.check({ 'x-api-key': '' }).ok).toBe(false);
  });

  it('reads every value of a Secret, base64 data and stringData alike', () => {
    expect(
      keysFromSecret({
        data: { a: Buffer.from('one\n').toString('base64') },
        stringData: { b: 'two' },
      }),
    ).toEqual(['one', 'two']);
  });
});
