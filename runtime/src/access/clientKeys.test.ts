import { describe, expect, it } from '@jest/globals';
import { ClientKeys, isLoopbackAddress, keysFromSecret } from './clientKeys.ts';

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

  describe('the per-pod key of an agent container', () => {
    const podKey = 'breakwater-pod-0b6f0c1e-5d3a-4f8e-9a51-3c2d7e8f9a10';
    const withPodKey = new ClientKeys();
    withPodKey.set(['alpha-key']);
    withPodKey.setPodKey(podKey);
    const loopback = { loopback: true };
    const network = { loopback: false };

    it.each<[string, Record<string, string>, { loopback: boolean }, boolean | string]>([
      ['the pod key from loopback', { 'x-api-key': podKey }, loopback, true],
      [
        'the pod key as a Bearer token from loopback',
        { authorization: `Bearer ${podKey}` },
        loopback,
        true,
      ],
      ['the pod key from the network', { 'x-api-key': podKey }, network, 'invalid'],
      ['a client key from loopback', { 'x-api-key': 'alpha-key' }, loopback, true],
      [
        'a prefix of the pod key from loopback',
        { 'x-api-key': podKey.slice(0, -1) },
        loopback,
        'invalid',
      ],
      ['no key from loopback', {}, loopback, 'missing'],
    ])('judges %s', (_name, headers, peer, expected) => {
      const decision = withPodKey.check(headers, peer);
      expect(decision.ok ? true : decision.reason).toBe(expected);
    });

    it('accepts no pod key when none is set, not even an empty one from loopback', () => {
      const none = new ClientKeys();
      none.set([]);
      none.setPodKey('');
      expect(none.check({ 'x-api-key': '' }, loopback).ok).toBe(false);
      expect(none.check({ 'x-api-key': 'breakwater-pod-' }, loopback).ok).toBe(false);
    });
  });

  it.each<[string | undefined, boolean]>([
    ['127.0.0.1', true],
    ['127.0.0.53', true],
    ['::1', true],
    ['::ffff:127.0.0.1', true],
    ['10.244.0.7', false],
    ['::ffff:10.244.0.7', false],
    ['fe80::1', false],
    ['1127.0.0.1', false],
    [undefined, false],
  ])('counts %s as loopback: %s', (address, expected) => {
    expect(isLoopbackAddress(address)).toBe(expected);
  });
});
