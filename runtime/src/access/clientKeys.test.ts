import { describe, expect, it } from '@jest/globals';
import { isLoopbackAddress } from './callerIdentity.ts';
import { ClientKeys, DIGEST_CACHE_SIZE, keysFromSecret } from './clientKeys.ts';

const network = { loopback: false };
const loopback = { loopback: true };

describe('ClientKeys', () => {
  const keys = new ClientKeys();
  keys.set(['alpha-key', 'beta-key']);

  it.each<[string, string, string | undefined]>([
    ['an accepted key', 'beta-key', 'beta-key'],
    ['the other accepted key', 'alpha-key', 'alpha-key'],
    ['a wrong key', 'alpha-key-2', undefined],
    ['a prefix of a key', 'alpha', undefined],
    ['a key with a trailing NUL, as the padding would read', 'alpha-key\u0000', undefined],
    ['a key longer than every accepted one', 'beta-key-and-then-some', undefined],
    ['a key in other characters', 'bëta-kéy', undefined],
  ])('names the caller of %s', (_name, presented, expected) => {
    const identity = keys.identify(presented, network);
    expect(identity?.kind === 'clientKey' ? identity.key : undefined).toBe(expected);
  });

  it('names a key by its fingerprint, never by the key', () => {
    const identity = keys.identify('alpha-key', network);
    expect(identity?.fingerprint).toMatch(/^key-[0-9a-f]{12}$/);
    expect(identity?.binding).toBe(identity?.fingerprint);
  });

  it('holds a bounded number of presented keys, and names the same callers past the bound', () => {
    const held = new ClientKeys();
    held.set(['alpha-key', 'beta-key']);
    expect(held.identify('alpha-key', network)?.fingerprint).toBeDefined();
    for (let i = 0; i < DIGEST_CACHE_SIZE * 3; i++) {
      expect(held.identify(`guess-${String(i)}`, network)).toBeUndefined();
      expect(held.digestsHeld).toBeLessThanOrEqual(DIGEST_CACHE_SIZE);
    }
    expect(held.identify('alpha-key', network)?.fingerprint).toBeDefined();
    expect(held.identify('beta-key', network)?.fingerprint).toBeDefined();
    expect(held.identify('alpha-key-2', network)).toBeUndefined();
  });

  it('refuses a key it held once the accepted keys no longer name it', () => {
    const held = new ClientKeys();
    held.set(['alpha-key', 'beta-key']);
    expect(held.identify('alpha-key', network)).toBeDefined();
    held.set(['beta-key']);
    expect(held.digestsHeld).toBe(0);
    expect(held.identify('alpha-key', network)).toBeUndefined();
  });

  it('names nobody when it is on with no keys', () => {
    const closed = new ClientKeys();
    closed.set([]);
    expect(closed.identify('', network)).toBeUndefined();
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

    it.each<[string, string, { loopback: boolean }, string | undefined]>([
      ['the pod key from loopback', podKey, loopback, 'pod'],
      ['the pod key from the network', podKey, network, undefined],
      ['a client key from loopback', 'alpha-key', loopback, 'clientKey'],
      ['a prefix of the pod key from loopback', podKey.slice(0, -1), loopback, undefined],
    ])('judges %s', (_name, presented, peer, expected) => {
      expect(withPodKey.identify(presented, peer)?.kind).toBe(expected);
    });

    it('accepts no pod key when none is set, not even an empty one from loopback', () => {
      const none = new ClientKeys();
      none.set([]);
      none.setPodKey('');
      expect(none.identify('', loopback)).toBeUndefined();
      expect(none.identify('breakwater-pod-', loopback)).toBeUndefined();
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
