/** The calls a share let go without the store, counted to charge it when it answers (R3). */
import { describe, expect, it } from '@jest/globals';
import type { StoreAdmitRequest } from '../guard/rateLimitStore.ts';
import { UNASKED_KEYS_AT_MOST, UnaskedCalls } from './unaskedCalls.ts';

const KEYS = ['p:requests', 'p:input_tokens', 'p:output_tokens'];
const RATES = ['0.01', '0.1', '0.05'];
const estimate = { inputTokens: 100, outputTokens: 30 };
const share = { requests: 4, inputTokens: 1_000, outputTokens: 1_000 };

describe('UnaskedCalls', () => {
  it('charges every call let go once, as settle.lua charges (negative amounts), then nothing', () => {
    const calls = new UnaskedCalls();
    calls.keep(KEYS, RATES, { estimate, share });
    calls.keep(KEYS, RATES, { estimate, share });
    expect(calls.requests).toBe(2);
    expect(calls.take()).toEqual([
      {
        keys: KEYS,
        rates: RATES,
        cap: share,
        amounts: { requests: -2, inputTokens: -200, outputTokens: -60 },
      },
    ]);
    expect(calls.take()).toEqual([]);
  });

  it("keeps no more than the share's bucket of each limit", () => {
    const calls = new UnaskedCalls();
    for (let i = 0; i < 20; i++) calls.keep(KEYS, RATES, { estimate, share });
    expect(calls.take()[0]?.amounts).toEqual({
      requests: -4,
      inputTokens: -1_000,
      outputTokens: -600,
    });
  });

  it('leaves a call whose admission answers late to that answer (lateAdmissionUndo)', () => {
    const calls = new UnaskedCalls();
    const asked: StoreAdmitRequest = { estimate, localWaitMs: 0, maxWaitMs: 0 };
    const notSent: StoreAdmitRequest = { estimate, localWaitMs: 0, maxWaitMs: 0 };
    calls.late(asked);
    calls.keep(KEYS, RATES, { estimate, share, asked });
    expect(calls.requests).toBe(0);
    // Asked, but the store never ran it (not connected): counted.
    calls.keep(KEYS, RATES, { estimate, share, asked: notSent });
    expect(calls.requests).toBe(1);
  });

  it('keeps a charge the store did not take, with what came since, within the bound', () => {
    const calls = new UnaskedCalls();
    calls.keep(KEYS, RATES, { estimate, share });
    calls.keep(KEYS, RATES, { estimate, share });
    const [taken] = calls.take();
    calls.keep(KEYS, RATES, { estimate, share });
    calls.keep(KEYS, RATES, { estimate, share });
    calls.keep(KEYS, RATES, { estimate, share });
    if (taken !== undefined) calls.unsent(taken);
    expect(calls.take()[0]?.amounts).toEqual({
      requests: -4,
      inputTokens: -500,
      outputTokens: -150,
    });
  });

  it('counts each limiter key apart, and remembers so many keys at most', () => {
    const calls = new UnaskedCalls();
    for (let i = 0; i <= UNASKED_KEYS_AT_MOST; i++)
      calls.keep([`p${String(i)}:requests`], RATES, { estimate, share });
    const taken = calls.take();
    expect(taken).toHaveLength(UNASKED_KEYS_AT_MOST);
    expect(taken[0]?.keys).toEqual(['p1:requests']);
  });
});
