/**
 * R3 under a starved CPU (docs/guarantees.md): three replicas on one store whose admissions now
 * and then answer after the caller's wait budget. Each such call is decided on its replica's
 * share, and what the store's late answer did is then put right (lateAdmissionUndo, as
 * redisStore.ts applies it). The store double decides like admit.lua and settle.lua (a GCRA on
 * requests, a settlement may charge into debt), on a ManualClock.
 *
 * Before the mend every late answer's charge was given back, though the call had gone on the
 * share: 294 served where the limit and one burst allowed 210. Keeping only the charges the
 * store had made: 271 (the store, kept full by the busy replicas, had refused most of them).
 * The store counting exactly the calls that went: 209.
 */
import { describe, expect, it } from '@jest/globals';
import { isRateLimitedError } from './errors.ts';
import { RateLimiter, UNCHARGED } from './rateLimiter.ts';
import { limiterSettings } from './settingsFixture.ts';
import type {
  RateLimitStore,
  StoreAdmission,
  StoreAdmitRequest,
  StoreSettlement,
} from './rateLimitStore.ts';
import { admission, lateAdmissionUndo } from '../rateLimitStore/storeScriptCalls.ts';
import { ManualClock } from '../../../test/support/manualClock.ts';

const PER_SECOND = 10;
const BURST = 10;
const REPLICAS = 3;
/** The store's probe backoff's first step (storeFallback.ts): a stall is a spell this long. */
const PROBE_MS = 100;
/** When the late answer is read, after the limiter decided on the share. */
const LATE_MS = 30;

/** The requests' bucket as admit.lua and settle.lua keep it: a theoretical arrival time. */
class SharedRequests {
  #tat = 0;
  readonly #perMs = PER_SECOND / 1000;

  /** admit.lua for one request: [wait, reason, charged]. */
  admit(now: number, maxWaitMs: number): [number, number, number] {
    const tat = Math.max(this.#tat, now);
    const wait = Math.ceil(Math.max(0, tat - now - (BURST - 1) / this.#perMs));
    if (wait > maxWaitMs) return [wait, 0, 0];
    this.#tat = tat + 1 / this.#perMs;
    return [wait, 0, 1];
  }

  /** settle.lua: gives back `requests` (negative: charges more, into debt). */
  settle(now: number, requests: number): void {
    this.#tat = Math.max(this.#tat, now) - requests / this.#perMs;
  }
}

/** One replica's view of the store: decides at once, or (stalled) answers after the wait budget. */
class LateStore implements RateLimitStore {
  available = true;
  /** The next admission's answer is read after the caller's wait budget. */
  stallNext = false;
  late = 0;

  readonly redis: SharedRequests;
  readonly clock: ManualClock;

  constructor(redis: SharedRequests, clock: ManualClock) {
    this.redis = redis;
    this.clock = clock;
  }

  admit(request: StoreAdmitRequest): Promise<StoreAdmission | undefined> {
    // Redis runs the script when it gets it; only reading its answer is late.
    const reply = this.redis.admit(this.clock.now(), request.maxWaitMs);
    if (!this.stallNext) return Promise.resolve(admission(reply));
    this.stallNext = false;
    // As redisStore.ts: fall back until a probe answers, and put right what the answer did.
    this.available = false;
    this.clock.setTimeout(() => {
      this.available = true;
    }, PROBE_MS);
    this.clock.setTimeout(() => {
      this.late++;
      const undo = lateAdmissionUndo(request, reply);
      if (undo.limits !== undefined) this.settle(undo.limits);
    }, LATE_MS);
    return Promise.resolve(undefined);
  }
  settle(amounts: StoreSettlement): void {
    this.redis.settle(this.clock.now(), amounts.requests);
  }
  settleBudget(): void {}
  pause(): void {}
}

interface Replica {
  readonly limiter: RateLimiter;
  readonly store: LateStore;
  /** A call every this many ms. */
  readonly everyMs: number;
  served: number;
}

describe('RateLimiter with a store that answers late now and then', () => {
  it('serves no more than the limit and one burst, whichever replica the late answers hit', async () => {
    const clock = new ManualClock(1_000);
    const redis = new SharedRequests();
    const share = limiterSettings({
      requests: { perSecond: PER_SECOND / REPLICAS, burst: Math.ceil(BURST / REPLICAS) },
    });
    // Two replicas take more than their shares through the store; the third less than its own.
    const replicas: Replica[] = [100, 200, 500].map((everyMs, i) => {
      const limiter = new RateLimiter({ name: `replica-${String(i)}`, clock, options: share });
      const store = new LateStore(redis, clock);
      limiter.useStore(store);
      return { limiter, store, everyMs, served: 0 };
    });
    const windowMs = 20_000;
    const stallEveryMs = 500;
    for (let t = 0; t < windowMs; t += 10) {
      if (t > 0) clock.advance(10);
      // A starved event loop: every half second each replica's next admission is read late.
      if (t % stallEveryMs === 0) for (const r of replicas) r.store.stallNext = true;
      for (const r of replicas) {
        if (t % r.everyMs !== 0) continue;
        try {
          const { waitMs } = await r.limiter.admitWithStore(clock.now());
          if (waitMs !== UNCHARGED) r.served++;
        } catch (err) {
          if (!isRateLimitedError(err)) throw err;
        }
      }
    }
    clock.advance(LATE_MS);
    const served = replicas.reduce((sum, r) => sum + r.served, 0);
    const allowed = (PER_SECOND * windowMs) / 1000 + BURST;
    const late = replicas.reduce((sum, r) => sum + r.store.late, 0);
    expect(late).toBeGreaterThan(0);
    // The light replica's calls went, on the store or its share.
    expect(replicas[2]?.served).toBe(windowMs / 500);
    expect(served).toBeLessThanOrEqual(allowed);
  });
});
