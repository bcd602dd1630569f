/**
 * RateLimiter with a store (RateLimitPolicy spec.store), against a store double that
 * answers, refuses, or fails the way the Redis store does: the store decides while it
 * answers, the local share decides at once when it does not, and every charge goes back to
 * where it was made.
 */
import { describe, expect, it } from '@jest/globals';
import { isRateLimitedError } from './errors.ts';
import { RateLimiter, UNCHARGED } from './rateLimiter.ts';
import { limiterSettings, type LimiterPatch } from './settingsFixture.ts';
import type {
  StoreAdmission,
  StoreAdmitRequest,
  RateLimitStore,
  StoreSettlement,
  StoreShareCall,
} from './rateLimitStore.ts';
import { ManualClock } from '../../../test/support/manualClock.ts';

class StoreDouble implements RateLimitStore {
  available = true;
  /** What the next admit answers; undefined: no answer within the budget. */
  answer: StoreAdmission | undefined = { waitMs: 0, reason: 'requests', charged: true };
  readonly asked: StoreAdmitRequest[] = [];
  readonly settled: StoreSettlement[] = [];
  readonly paused: number[] = [];
  /** The calls the share let go that the store is to charge when it answers again. */
  readonly letGo: StoreShareCall[] = [];

  admit(request: StoreAdmitRequest): Promise<StoreAdmission | undefined> {
    this.asked.push(request);
    const answer = this.answer;
    // Unanswered: the store also stops being asked, as the Redis store does.
    if (answer === undefined) this.available = false;
    return Promise.resolve(answer);
  }
  settle(amounts: StoreSettlement): void {
    this.settled.push(amounts);
  }
  letGoOnShare(call: StoreShareCall): void {
    this.letGo.push(call);
  }
  settleBudget(): void {}
  pause(ms: number): void {
    this.paused.push(ms);
  }
}

const SHARE: LimiterPatch = {
  requests: { perSecond: 1, burst: 2 },
  tokens: { inputPerMinute: 600 },
};
const ESTIMATE = { inputTokens: 100, outputTokens: 50 };

function setup(options: LimiterPatch = SHARE) {
  const clock = new ManualClock(1_000);
  const limiter = new RateLimiter({ name: 'agent', clock, options: limiterSettings(options) });
  const store = new StoreDouble();
  limiter.useStore(store);
  return { clock, limiter, store };
}

describe('RateLimiter with a store', () => {
  it('lets the store decide while it answers, and never takes the synchronous path', async () => {
    const { clock, limiter, store } = setup();
    expect(limiter.tryAdmitNow(clock.now(), ESTIMATE)).toBe(false);
    for (let i = 0; i < 5; i++) {
      expect(await limiter.admitWithStore(clock.now(), ESTIMATE)).toEqual({
        waitMs: 0,
        charge: 'store',
      });
    }
    expect(limiter.counters()).toMatchObject({ admitted: 5, sharedDecisions: 5 });
    expect(store.asked[0]).toEqual({ estimate: ESTIMATE, localWaitMs: 0, maxWaitMs: 0 });
  });

  it('refuses what the store refuses, with its reason and wait', async () => {
    const { clock, limiter, store } = setup();
    store.answer = { waitMs: 1200, reason: 'inputTokens', charged: false };
    await expect(limiter.admitWithStore(clock.now(), ESTIMATE)).rejects.toMatchObject({
      reason: 'inputTokens',
      retryAfterMs: 1200,
    });
    expect(limiter.counters().rejected.inputTokens).toBe(1);
  });

  it('lets a Shadow call through uncharged where the store would refuse', async () => {
    const { clock, limiter, store } = setup({ ...SHARE, mode: 'Shadow' });
    store.answer = { waitMs: 500, reason: 'requests', charged: false };
    expect(await limiter.admitWithStore(clock.now(), ESTIMATE)).toEqual({
      waitMs: UNCHARGED,
      charge: false,
    });
    expect(limiter.counters().shadowRejected).toBe(1);
  });

  it('asks the store to charge ahead up to maxWait with onLimit: Wait', async () => {
    const { clock, limiter, store } = setup({ ...SHARE, onLimit: 'Wait', maxWaitMs: 3_000 });
    store.answer = { waitMs: 800, reason: 'requests', charged: true };
    expect(await limiter.admitWithStore(clock.now(), ESTIMATE)).toEqual({
      waitMs: 800,
      charge: 'store',
    });
    expect(store.asked[0]?.maxWaitMs).toBe(3_000);
    expect(limiter.counters().waited).toBe(1);
  });

  it('decides on the local share at once when the store does not answer, and stops asking', async () => {
    const { clock, limiter, store } = setup();
    store.answer = undefined;
    expect(await limiter.admitWithStore(clock.now(), ESTIMATE)).toEqual({
      waitMs: 0,
      charge: 'local',
    });
    expect(await limiter.admitWithStore(clock.now(), ESTIMATE)).toEqual({
      waitMs: 0,
      charge: 'local',
    });
    // The share's burst of two is spent: the third is refused locally, the store not asked.
    const third = await limiter.admitWithStore(clock.now(), ESTIMATE).catch((err: unknown) => err);
    expect(isRateLimitedError(third)).toBe(true);
    expect(store.asked).toHaveLength(1);
    // The asked call went on the share: its late answer, when it comes, keeps the store's charge.
    expect(store.asked[0]?.wentOnShare).toBe(true);
    expect(limiter.storeFallback).toBe(true);
    expect(limiter.counters()).toMatchObject({ fallbackDecisions: 3, sharedDecisions: 0 });
    // The guard's synchronous path decides on the share too, and counts it as a fallback.
    clock.advance(1_000);
    expect(limiter.tryAdmitNow(clock.now(), ESTIMATE)).toBe(true);
    expect(limiter.counters().fallbackDecisions).toBe(4);
    // Each call the share let go is the store's to count when it answers again, up to the
    // share's bucket (its burst, its budget per minute); the asked one names its admission, whose
    // late answer puts it right instead. The refused third is not among them.
    const share = { requests: 2, inputTokens: 600, outputTokens: 0 };
    expect(store.letGo).toEqual([
      { estimate: ESTIMATE, share, asked: store.asked[0] },
      { estimate: ESTIMATE, share },
      { estimate: ESTIMATE, share },
    ]);
    // Back: the store decides again.
    store.available = true;
    store.answer = { waitMs: 0, reason: 'requests', charged: true };
    expect(await limiter.admitWithStore(clock.now(), ESTIMATE)).toMatchObject({ charge: 'store' });
  });

  it('takes what the store admitted from the local share too, so a fallback cannot burst past it', async () => {
    const { clock, limiter, store } = setup();
    for (let i = 0; i < 4; i++) await limiter.admitWithStore(clock.now(), ESTIMATE);
    store.answer = undefined;
    await expect(limiter.admitWithStore(clock.now(), ESTIMATE)).rejects.toMatchObject({
      reason: 'requests',
    });
    // Refused on the share: a late answer's charge is given back, and nothing is to be charged.
    expect(store.asked.at(-1)?.wentOnShare).toBe(false);
    expect(store.letGo).toEqual([]);
  });

  it('settles and refunds a shared charge in the store, a local one locally', async () => {
    const { clock, limiter, store } = setup();
    await limiter.admitWithStore(clock.now(), ESTIMATE);
    limiter.settle(ESTIMATE, { inputTokens: 40, outputTokens: 70 }, 'store');
    limiter.refund(ESTIMATE, 'store');
    expect(store.settled).toEqual([
      { requests: 0, inputTokens: 60, outputTokens: -20 },
      { requests: 1, inputTokens: 100, outputTokens: 50 },
    ]);
    limiter.settle(ESTIMATE, { inputTokens: 40, outputTokens: 70 }, 'local');
    expect(store.settled).toHaveLength(2);
  });

  it("shares the provider's retry-after and a spent limit with every replica", () => {
    const { clock, limiter, store } = setup();
    limiter.observeRetryAfter(2_000, clock.now());
    limiter.observeHeaders(
      {
        'anthropic-ratelimit-requests-remaining': '0',
        'anthropic-ratelimit-requests-reset': new Date(clock.now() + 5_000).toISOString(),
      },
      clock.now(),
    );
    limiter.observeHeaders({ 'anthropic-ratelimit-requests-remaining': '7' }, clock.now());
    expect(store.paused).toEqual([2_000, 5_000]);
  });

  it("sends this replica's own pacing wait along with the question", async () => {
    const { clock, limiter, store } = setup();
    limiter.observeRetryAfter(750, clock.now());
    store.answer = { waitMs: 750, reason: 'provider', charged: false };
    await expect(limiter.admitWithStore(clock.now(), ESTIMATE)).rejects.toMatchObject({
      reason: 'provider',
    });
    expect(store.asked[0]?.localWaitMs).toBe(750);
  });
});
