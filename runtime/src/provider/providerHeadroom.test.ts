import { describe, expect, it } from '@jest/globals';
import { ManualClock } from '../../../test/support/manualClock.ts';
import { ProviderHeadroom } from './providerHeadroom.ts';

const START = Date.parse('2026-11-22T19:00:00Z');

/** Headers as the simulator and the API send them. */
const headers = (remaining: number, limit: number, resetIn = 30_000): Record<string, string> => ({
  'anthropic-ratelimit-requests-limit': String(limit),
  'anthropic-ratelimit-requests-remaining': String(remaining),
  'anthropic-ratelimit-requests-reset': new Date(START + resetIn).toISOString(),
  'anthropic-ratelimit-tokens-limit': '100000',
  'anthropic-ratelimit-tokens-remaining': '100000',
  'anthropic-ratelimit-tokens-reset': new Date(START + 5_000).toISOString(),
});

function setup() {
  const clock = new ManualClock(START);
  const headroom = new ProviderHeadroom(clock);
  let changes = 0;
  headroom.onChange(() => {
    changes++;
  });
  return { clock, headroom, changes: () => changes };
}

describe('ProviderHeadroom', () => {
  it('reports the tightest limit the headers carry', () => {
    const { headroom } = setup();
    headroom.observe('default', {
      ...headers(12, 100),
      'anthropic-ratelimit-tokens-remaining': '9000',
    });
    expect(headroom.ratios().get('default')).toBe(0.09);
    expect(headroom.report()['default']).toMatchObject({
      ratio: 0.05,
      limitedBy: 'tokens',
      resetAt: '2026-11-22T19:00:05Z',
    });
  });

  it('says nothing for an answer without rate-limit headers', () => {
    const { headroom, changes } = setup();
    headroom.observe('default', {});
    expect(headroom.report()).toEqual({});
    expect(changes()).toBe(0);
  });

  it('changes the pod report only when the ratio crosses a 5% step', () => {
    const { headroom, changes } = setup();
    headroom.observe('default', headers(99, 100));
    headroom.observe('default', headers(96, 100));
    expect(changes()).toBe(1);
    headroom.observe('default', headers(94, 100));
    expect(changes()).toBe(2);
    expect(headroom.report()['default']?.ratio).toBe(0.9);
  });

  it('counts a 429 as no room until its retry-after', () => {
    const { clock, headroom } = setup();
    headroom.observeAttempt({
      backend: 'default',
      outcome: 'RateLimited',
      error: new Error('429'),
    });
    expect(headroom.ratios().get('default')).toBe(0);
    expect(headroom.report()['default']?.limitedBy).toBe('retry-after');
    clock.advance(1_000);
    expect(headroom.ratios().get('default')).toBe(1);
  });

  it('shows a quota as whole again once the provider reset time passes, with no call since', () => {
    const { clock, headroom } = setup();
    headroom.observe('default', headers(0, 100, 10_000));
    expect(headroom.ratios().get('default')).toBe(0);
    clock.advance(10_000);
    expect(headroom.ratios().get('default')).toBe(1);
  });
});
