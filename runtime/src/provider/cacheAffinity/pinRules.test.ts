import { describe, expect, it } from '@jest/globals';
import { decodePin, encodePin, pinAfter, pinnedChoice, type Pin } from './pinRules.ts';

const TTL = 300_000;
const all = () => true;
const none = () => false;
const except = (down: string) => (b: string) => b !== down;

describe('pinnedChoice', () => {
  const pin: Pin = { backend: 'a', expiresAt: 1_000 };

  it.each<[string, Pin | undefined, number, (b: string) => boolean, string | undefined]>([
    ['no pin: the balancer decides', undefined, 0, all, undefined],
    ['a live pin keeps its backend', pin, 999, all, 'a'],
    ['an expired pin (an idle conversation) is balanced afresh', pin, 1_000, all, undefined],
    ['a pinned backend that cannot take the call: the balancer decides', pin, 0, none, undefined],
    [
      'a moved conversation stays where it moved before its failback time',
      { backend: 'b', expiresAt: 5_000, home: 'a', failbackAt: 2_000 },
      1_999,
      all,
      'b',
    ],
    [
      'a moved conversation goes home once the prefix there has expired',
      { backend: 'b', expiresAt: 5_000, home: 'a', failbackAt: 2_000 },
      2_000,
      all,
      'a',
    ],
    [
      'it stays moved while home cannot take the call',
      { backend: 'b', expiresAt: 5_000, home: 'a', failbackAt: 2_000 },
      3_000,
      except('a'),
      'b',
    ],
  ])('%s', (_name, p, now, usable, expected) => {
    expect(pinnedChoice(p, now, usable)).toBe(expected);
  });
});

describe('pinAfter', () => {
  it('makes a new pin for the cache lifetime', () => {
    expect(pinAfter(undefined, 'a', 100, TTL)).toEqual({
      pin: { backend: 'a', expiresAt: 100 + TTL },
      outcome: 'new',
    });
  });

  it('renews a pin on each call served where it points', () => {
    const { pin, outcome } = pinAfter({ backend: 'a', expiresAt: 200 + TTL }, 'a', 250_000, TTL);
    expect(outcome).toBe('pinned');
    expect(pin.expiresAt).toBe(250_000 + TTL);
  });

  it('moves on a failover and remembers when the left copy expires', () => {
    const { pin, outcome } = pinAfter({ backend: 'a', expiresAt: 400_000 }, 'b', 150_000, TTL);
    expect(outcome).toBe('moved');
    expect(pin).toEqual({ backend: 'b', expiresAt: 150_000 + TTL, home: 'a', failbackAt: 400_000 });
  });

  it('keeps the first home over a second move', () => {
    const moved: Pin = { backend: 'b', expiresAt: 450_000, home: 'a', failbackAt: 400_000 };
    expect(pinAfter(moved, 'c', 200_000, TTL).pin).toEqual({
      backend: 'c',
      expiresAt: 200_000 + TTL,
      home: 'a',
      failbackAt: 400_000,
    });
  });

  it('forgets home once the conversation is back', () => {
    const moved: Pin = { backend: 'b', expiresAt: 900_000, home: 'a', failbackAt: 400_000 };
    expect(pinAfter(moved, 'a', 500_000, TTL)).toEqual({
      pin: { backend: 'a', expiresAt: 500_000 + TTL },
      outcome: 'failback',
    });
  });

  it('treats an expired pin as none', () => {
    expect(pinAfter({ backend: 'a', expiresAt: 10 }, 'b', 10, TTL).outcome).toBe('new');
  });
});

describe('the stored form of a pin', () => {
  it.each<Pin>([
    { backend: 'anthropic-1', expiresAt: 1_700_000_000_000 },
    { backend: 'bedrock', expiresAt: 5, home: 'anthropic-1', failbackAt: 3 },
  ])('round-trips %j', (pin) => {
    expect(decodePin(encodePin(pin))).toEqual(pin);
  });

  it.each([null, undefined, '', '|x', 'a|not-a-number'])('reads %j as no pin', (text) => {
    expect(decodePin(text)).toBeUndefined();
  });
});
