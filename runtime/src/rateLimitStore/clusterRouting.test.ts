import { describe, expect, it } from '@jest/globals';
import { createRequire } from 'node:module';
import { keySlot, keysBySlot, redirectOf, routingKey, SLOT_COUNT } from './clusterRouting.ts';
import { nodeError } from './clusterClient.ts';
import { reasonOf } from './storeConnection.ts';

// The library routes by its own copy of the server's function; the two must agree.
const librarySlot = createRequire(import.meta.url)(
  '@redis/client/dist/lib/utils/calculate-slot.js',
) as { default: (key: string) => number };

describe('keySlot', () => {
  it.each([
    ['a key with no tag', 'somekey', 11058],
    ['a tag shared by two keys (first)', 'foo{hash_tag}', 2515],
    ['a tag shared by two keys (second)', 'bar{hash_tag}', 2515],
    ['a key that is only its tag', '{hash_tag}', 2515],
    ['an empty tag, which hashes the whole key', 'a{}b', keySlot('a{}b')],
  ])('hashes %s as the server does', (_, key, slot) => {
    expect(keySlot(key)).toBe(slot);
    expect(librarySlot.default(key)).toBe(slot);
  });

  it("puts a limiter's keys and a run's keys each in their tag's slot", () => {
    const limiter = 'breakwater:{tests/policy/agent}';
    expect(keySlot(`${limiter}:bucket`)).toBe(keySlot(`${limiter}pin:abc`));
    const run = 'breakwater:run:tests/agent:{run-1}';
    expect(keySlot(`${run}:log`)).toBe(keySlot(`${run}:owner`));
  });

  it('agrees with the library on every kind of key, the first tag alone counting', () => {
    const keys = ['', '{', '}', '{}', '{}{a}', '{a}{b}', 'x{a', 'ü{é}', 'run:{r-1}:log', '😀'];
    for (let i = 0; i < 500; i++) keys.push(`key:${String(i * 7919)}:{t${String(i % 13)}}`);
    for (const key of keys) {
      expect(keySlot(key)).toBe(librarySlot.default(key));
      expect(keySlot(key)).toBeLessThan(SLOT_COUNT);
    }
  });
});

describe('routingKey', () => {
  it.each([
    ["a script's first key", ['EVALSHA', 'sha', '2', 'k1', 'k2', 'arg'], 'k1'],
    ['an EVAL the same way', ['EVAL', 'return 1', '1', 'k1', 'arg'], 'k1'],
    ['no key for a script without keys', ['EVALSHA', 'sha', '0', 'arg'], undefined],
    ['the key of a one-key command', ['GET', 'k'], 'k'],
    ['no key for PING', ['PING'], undefined],
  ])('routes by %s', (_, args, key) => {
    expect(routingKey(args)).toBe(key);
  });
});

describe('keysBySlot', () => {
  it("groups keys by slot and remembers each one's place", () => {
    const keys = ['{a}1', '{b}1', '{a}2', '{b}2', '{c}'];
    const groups = keysBySlot(keys);
    expect(groups.map((g) => g.keys)).toEqual([['{a}1', '{a}2'], ['{b}1', '{b}2'], ['{c}']]);
    expect(groups.map((g) => g.at)).toEqual([[0, 2], [1, 3], [4]]);
    expect(groups.map((g) => g.slot)).toEqual(['a', 'b', 'c'].map(keySlot));
  });

  it('sends keys of one slot as one group', () => {
    expect(keysBySlot(['{p}pin:1', '{p}pin:2', '{p}pin:3'])).toHaveLength(1);
  });
});

describe('nodeError', () => {
  it('names the node and keeps the reason the server gave', () => {
    const err = nodeError(new Error('CLUSTERDOWN The cluster is down'), {
      host: '127.0.0.1',
      port: 7001,
    });
    expect(err.message).toBe('127.0.0.1:7001: CLUSTERDOWN The cluster is down');
    expect(reasonOf(err)).toBe('FailingOver');
    expect(reasonOf(nodeError(new Error('WRONGPASS invalid'), undefined))).toBe(
      'AuthenticationFailed',
    );
  });
});

describe('redirectOf', () => {
  it.each([
    [
      'an ASK reply',
      new Error('ASK 866 127.0.0.1:7002'),
      { address: '127.0.0.1:7002', asking: true },
    ],
    [
      'a MOVED reply',
      new Error('MOVED 866 127.0.0.1:7002'),
      { address: '127.0.0.1:7002', asking: false },
    ],
    ['TRYAGAIN', new Error('TRYAGAIN Multiple keys request during rehashing of slot'), undefined],
    ['something not an error', 'ASK 866 127.0.0.1:7002', undefined],
  ])('reads where %s sends a command', (_, err, to) => {
    expect(redirectOf(err)).toEqual(to);
  });
});
