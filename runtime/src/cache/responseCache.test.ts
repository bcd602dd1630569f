import { describe, expect, it } from '@jest/globals';
import { ManualClock } from '../../../test/support/manualClock.ts';
import { cacheKey, ResponseCache } from './responseCache.ts';

const base = { model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] };

describe('cacheKey', () => {
  it.each<[string, Record<string, unknown>, boolean]>([
    ['temperature 0 without tools', { ...base, temperature: 0 }, true],
    ['no temperature (defaults to 1)', base, false],
    ['temperature 0.5', { ...base, temperature: 0.5 }, false],
    ['tools', { ...base, temperature: 0, tools: [{ name: 't' }] }, false],
    ['streaming', { ...base, temperature: 0, stream: true }, false],
  ])('caches a request with %s: %s', (_name, body, cacheable) => {
    expect(cacheKey(body) !== undefined).toBe(cacheable);
  });

  it('gives the same key whatever the field order', () => {
    expect(cacheKey({ temperature: 0, ...base })).toBe(cacheKey({ ...base, temperature: 0 }));
  });
});

describe('ResponseCache', () => {
  it('expires entries after the TTL', () => {
    const clock = new ManualClock(0);
    const cache = new ResponseCache(clock, 10, 1_000);
    cache.set('k', 'v', 'm');
    clock.advance(999);
    expect(cache.get('k')?.value).toBe('v');
    clock.advance(1);
    expect(cache.get('k')).toBeUndefined();
  });

  it('evicts the least recently used entry when full', () => {
    const cache = new ResponseCache(new ManualClock(0), 2, 60_000);
    cache.set('a', '1', 'm');
    cache.set('b', '2', 'm');
    cache.get('a');
    cache.set('c', '3', 'm');
    expect([cache.get('a')?.value, cache.get('b'), cache.get('c')?.value]).toEqual([
      '1',
      undefined,
      '3',
    ]);
  });
});
