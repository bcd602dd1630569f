import { describe, expect, it } from '@jest/globals';
import { callerIdentity, isIdentity, OPEN_CALLER, POD_CALLER } from './callerIdentity.ts';
import { ClientKeys } from './clientKeys.ts';

const ALICE = 'alice-client-key';
const BOB = 'bob-client-key';
const POD_KEY = 'breakwater-pod-0b6f0c1e-5d3a-4f8e-9a51-3c2d7e8f9a10';

const enforced = new ClientKeys();
enforced.set([ALICE, BOB]);
enforced.setPodKey(POD_KEY);

/** Headers as Node's rawHeaders holds them: name, value, name, value, repeats kept. */
type Raw = readonly string[];

/** Who the headers name: the key, 'pod', or the refusal's reason and message. */
function judged(rawHeaders: Raw, remoteAddress = '10.244.0.7', keys = enforced): string {
  const answer = callerIdentity(keys, { rawHeaders, socket: { remoteAddress } });
  if (!isIdentity(answer)) return `${answer.reason}: ${answer.message}`;
  return answer.kind === 'clientKey' ? answer.key : answer.kind;
}

describe('callerIdentity', () => {
  it.each<[string, Raw, string]>([
    ['x-api-key alone', ['x-api-key', ALICE], ALICE],
    ['a Bearer token alone', ['Authorization', `Bearer ${ALICE}`], ALICE],
    ['a lower-case bearer scheme', ['authorization', `bearer ${ALICE}`], ALICE],
    ['header names in any case', ['X-Api-Key', ALICE], ALICE],
    [
      'the same key in both headers',
      ['x-api-key', ALICE, 'authorization', `Bearer ${ALICE}`],
      ALICE,
    ],
    ['an empty x-api-key alone', ['x-api-key', ''], 'missing: missing client key'],
    ['an empty Authorization alone', ['authorization', ''], 'missing: missing client key'],
    ['no key at all', [], 'missing: missing client key'],
    ['a key no one was given', ['x-api-key', 'made-up'], 'invalid: invalid client key'],
  ])('names the caller of %s', (_name, raw, expected) => {
    expect(judged(raw)).toMatch(new RegExp(`^${expected}`));
  });

  it.each<[string, Raw, string]>([
    [
      'an empty x-api-key beside a Bearer token',
      ['x-api-key', '', 'authorization', `Bearer ${ALICE}`],
      'header x-api-key is empty beside Authorization',
    ],
    [
      'an empty Authorization beside x-api-key',
      ['authorization', '', 'x-api-key', ALICE],
      'header Authorization is empty beside x-api-key',
    ],
    [
      'two different keys in x-api-key and Authorization',
      ['x-api-key', ALICE, 'authorization', `Bearer ${BOB}`],
      'headers x-api-key and Authorization carry different client keys',
    ],
    [
      'x-api-key sent twice (Node would join them with ", ")',
      ['x-api-key', ALICE, 'x-api-key', BOB],
      'header x-api-key is sent more than once',
    ],
    [
      'x-api-key sent twice with the same key',
      ['x-api-key', ALICE, 'X-API-Key', ALICE],
      'header x-api-key is sent more than once',
    ],
    [
      'Authorization sent twice (Node would keep only the first)',
      ['authorization', `Bearer ${ALICE}`, 'Authorization', `Bearer ${BOB}`],
      'header Authorization is sent more than once',
    ],
    [
      'an Authorization that is Basic',
      ['authorization', 'Basic YWxpY2U6eA=='],
      'header Authorization must be "Bearer <client key>"',
    ],
    [
      'a Bearer scheme without a key',
      ['authorization', 'Bearer'],
      'header Authorization must be "Bearer <client key>"',
    ],
    [
      'a Bearer token of two words',
      ['authorization', `Bearer ${ALICE} ${BOB}`],
      'header Authorization must be "Bearer <client key>"',
    ],
    [
      'a Basic Authorization beside a good x-api-key',
      ['x-api-key', ALICE, 'authorization', 'Basic YWxpY2U6eA=='],
      'header Authorization must be "Bearer <client key>"',
    ],
  ])('refuses %s with 401, naming the header', (_name, raw, message) => {
    expect(judged(raw)).toBe(`ambiguous: ${message}: send one client key, once`);
  });

  it('names the pod key the pod, from loopback only', () => {
    expect(judged(['x-api-key', POD_KEY], '127.0.0.1')).toBe('pod');
    expect(judged(['authorization', `Bearer ${POD_KEY}`], '::1')).toBe('pod');
    expect(judged(['x-api-key', POD_KEY], '10.244.0.7')).toBe('invalid: invalid client key');
  });

  it('gives every caller of an agent without client keys one identity, reading no header', () => {
    const open = new ClientKeys();
    open.set(undefined);
    for (const raw of [
      [],
      ['x-api-key', 'made-up-1'],
      ['x-api-key', 'made-up-2', 'authorization', 'Bearer made-up-3'],
      ['authorization', 'Basic YWxpY2U6eA=='],
      ['x-api-key', POD_KEY],
    ])
      expect(
        callerIdentity(open, { rawHeaders: raw, socket: { remoteAddress: '127.0.0.1' } }),
      ).toBe(OPEN_CALLER);
  });

  it('names the pod key the pod on an agent without client keys, from loopback only', () => {
    const open = new ClientKeys();
    open.set(undefined);
    open.setPodKey(POD_KEY);
    const of = (raw: Raw, remoteAddress: string) =>
      callerIdentity(open, { rawHeaders: raw, socket: { remoteAddress } });
    expect(of(['x-api-key', POD_KEY], '127.0.0.1')).toBe(POD_CALLER);
    expect(of(['authorization', `Bearer ${POD_KEY}`], '::1')).toBe(POD_CALLER);
    expect(of(['x-api-key', POD_KEY], '10.0.0.7')).toBe(OPEN_CALLER);
    // Refused for nothing: what could be read two ways is the open caller.
    expect(of(['x-api-key', POD_KEY, 'x-api-key', POD_KEY], '127.0.0.1')).toBe(OPEN_CALLER);
    expect(of(['x-api-key', 'made-up'], '127.0.0.1')).toBe(OPEN_CALLER);
  });

  it('gives the same caller the same fingerprint and binding whichever header carried the key', () => {
    const of = (raw: Raw) => callerIdentity(enforced, { rawHeaders: raw, socket: {} });
    const plain = of(['x-api-key', ALICE]);
    expect(of(['authorization', `Bearer ${ALICE}`])).toEqual(plain);
    expect(of(['x-api-key', ALICE, 'authorization', `Bearer ${ALICE}`])).toEqual(plain);
    expect(of(['x-api-key', BOB])).not.toEqual(plain);
  });
});
