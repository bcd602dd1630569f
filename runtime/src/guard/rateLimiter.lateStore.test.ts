/**
 * R3 under a starved CPU (docs/guarantees.md): three replicas on one store whose admissions now
 * and then answer after the caller's wait budget. Each such call is decided on its replica's
 * share, and what the store's late answer did is then put right (lateAdmissionUndo, as
 * redisStore.ts applies it); until a probe answers, 100 ms later, the replica decides on its
 * share without asking, and counts what it let go to charge the store when it answers again
 * (UnaskedCalls, as redisStore.ts keeps them). The store double decides like admit.lua and
 * settle.lua (a GCRA on requests, a settlement may charge into debt), on a ManualClock.
 *
 * Before the late answer was put right every late answer's charge was given back, though the
 * call had gone on the share: 294 served where the limit and one burst allowed 210. Keeping
 * only the charges the store had made: 271 (the store, kept full by the busy replicas, had
 * refused most of them). The store counting exactly the calls that went: 209.
 *
 * The busier mix (the busy replicas calling every 20 and 50 ms) also spends within each spell
 * what the shares refill: 239 served of 210 with the late answers put right but the calls
 * decided without asking never charged to the store (319 before either mend); charged when it
 * answers again, 209.
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
  StoreShareCall,
} from './rateLimitStore.ts';
import { admission, lateAdmissionUndo } from '../rateLimitStore/storeScriptCalls.ts';
import { UnaskedCalls } from '../rateLimitStore/unaskedCalls.ts';
import { ManualClock } from '../../../test/support/manualClock.ts';

const PER_SECOND = 10;
const BURST = 10;
const REPLICAS = 3;
/** The store's probe backoff's first step (storeFallback.ts): a stall is a spell this long. */
const PROBE_MS = 100;
/** When the late answer is read, after the limiter decided on the share. */
const LATE_MS = 30;
const KEYS = ['requests', 'input_tokens', 'output_tokens'];

/** The requests' bucket as admit.lua and settle.lua keep it: a theoretical arrival time. */
class SharedRequests {
  #tat = 0;
  readonly #perMs: number;
  readonly #burst: number;
  /** The calls the store counts: charged by admit.lua, less given back, plus charged later. */
  counted = 0;

  constructor(perSecond = PER_SECOND, burst = BURST) {
    this.#perMs = perSecond / 1000;
    this.#burst = burst;
  }

  /** admit.lua for one request: [wait, reason, charged]. */
  admit(now: number, maxWaitMs: number): [number, number, number] {
    const tat = Math.max(this.#tat, now);
    const wait = Math.ceil(Math.max(0, tat - now - (this.#burst - 1) / this.#perMs));
    if (wait > maxWaitMs) return [wait, 0, 0];
    this.#tat = tat + 1 / this.#perMs;
    this.counted++;
    return [wait, 0, 1];
  }

  /** settle.lua: gives back `requests` (negative: charges more, into debt). */
  settle(now: number, requests: number): void {
    this.#tat = Math.max(this.#tat, now) - requests / this.#perMs;
    this.counted -= requests;
  }
}

/** One replica's view of the store: decides at once, or (stalled) answers after the wait budget. */
class LateStore implements RateLimitStore {
  available = true;
  /** The next admission's answer is read after the caller's wait budget. */
  stallNext = false;
  late = 0;
  /** Calls charged when the store answered again. */
  chargedLater = 0;

  readonly redis: SharedRequests;
  readonly clock: ManualClock;
  readonly lateMs: number;
  /** As redisStore.ts keeps them; undefined: the calls decided without asking are lost. */
  readonly unasked: UnaskedCalls | undefined;

  constructor(redis: SharedRequests, clock: ManualClock, lateMs: number, chargeUnasked: boolean) {
    this.redis = redis;
    this.clock = clock;
    this.lateMs = lateMs;
    this.unasked = chargeUnasked ? new UnaskedCalls() : undefined;
  }

  admit(request: StoreAdmitRequest): Promise<StoreAdmission | undefined> {
    // Redis runs the script when it gets it; only reading its answer is late.
    const reply = this.redis.admit(this.clock.now(), request.maxWaitMs);
    if (!this.stallNext) return Promise.resolve(admission(reply));
    this.stallNext = false;
    // As redisStore.ts: fall back until a probe answers, and put right what the answer did.
    this.available = false;
    this.unasked?.late(request);
    this.clock.setTimeout(() => {
      this.available = true;
      // The store answers again: what the share let go meanwhile is charged (#chargeUnasked).
      for (const count of this.unasked?.take() ?? []) {
        this.chargedLater -= count.amounts.requests;
        this.settle(count.amounts);
      }
    }, PROBE_MS);
    this.clock.setTimeout(() => {
      this.late++;
      const undo = lateAdmissionUndo(request, reply);
      if (undo.limits !== undefined) this.settle(undo.limits);
    }, this.lateMs);
    return Promise.resolve(undefined);
  }
  letGoOnShare(call: StoreShareCall): void {
    this.unasked?.keep(KEYS, ['0.01', '0', '0'], call);
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

interface Run {
  readonly served: number;
  readonly allowed: number;
  readonly late: number;
  readonly chargedLater: number;
  readonly counted: number;
  readonly replicas: readonly Replica[];
}

/** 20 s of calls every `everyMs` (one list entry per replica), each replica stalled every 500 ms. */
async function run(
  everyMs: readonly number[],
  options: {
    /** false: the stores lose the calls decided without asking, as before the mend. */
    readonly chargeUnasked?: boolean;
    readonly lateMs?: number;
    readonly perSecond?: number;
  } = {},
): Promise<Run> {
  const clock = new ManualClock(1_000);
  const perSecond = options.perSecond ?? PER_SECOND;
  // A limit of its own has a second's worth of burst, as BURST is to PER_SECOND.
  const burst = options.perSecond ?? BURST;
  const redis = new SharedRequests(perSecond, burst);
  const share = limiterSettings({
    requests: { perSecond: perSecond / REPLICAS, burst: Math.ceil(burst / REPLICAS) },
  });
  const replicas: Replica[] = everyMs.map((every, i) => {
    const limiter = new RateLimiter({ name: `replica-${String(i)}`, clock, options: share });
    const lateMs = options.lateMs ?? LATE_MS;
    const store = new LateStore(redis, clock, lateMs, options.chargeUnasked ?? true);
    limiter.useStore(store);
    return { limiter, store, everyMs: every, served: 0 };
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
  clock.advance(Math.max(PROBE_MS, options.lateMs ?? LATE_MS));
  const sum = (f: (r: Replica) => number) => replicas.reduce((n, r) => n + f(r), 0);
  return {
    served: sum((r) => r.served),
    allowed: (perSecond * windowMs) / 1000 + burst,
    late: sum((r) => r.store.late),
    chargedLater: sum((r) => r.store.chargedLater),
    counted: redis.counted,
    replicas,
  };
}

describe('RateLimiter with a store that answers late now and then', () => {
  it('serves no more than the limit and one burst, whichever replica the late answers hit', async () => {
    // Two replicas take more than their shares through the store; the third less than its own.
    const r = await run([100, 200, 500]);
    expect(r.late).toBeGreaterThan(0);
    // The light replica's calls went, on the store or its share.
    expect(r.replicas[2]?.served).toBe(20_000 / 500);
    expect(r.served).toBeLessThanOrEqual(r.allowed);
  });

  it('charges the store, once it answers again, with what the shares let go without asking', async () => {
    // Busy enough to call within each spell on the shares: 239 served of 210 when those calls
    // were never charged to the store.
    const r = await run([20, 50, 500]);
    expect(r.late).toBeGreaterThan(0);
    expect(r.chargedLater).toBeGreaterThan(0);
    expect(r.replicas[2]?.served).toBe(20_000 / 500);
    expect(r.served).toBeLessThanOrEqual(r.allowed);
    // The same mix with those calls lost is past the limit and one burst: what this test is for.
    const lost = await run([20, 50, 500], { chargeUnasked: false });
    expect(lost.served).toBeGreaterThan(lost.allowed);
  });

  it.each([
    ['before', LATE_MS],
    ['after', PROBE_MS + 50],
  ])(
    'counts each call the shares let go once, its late answer read %s the store answers again',
    async (_when, lateMs) => {
      // A limit no replica reaches: every call goes, and the store must count each exactly once.
      const r = await run([20, 50, 500], { lateMs, perSecond: 1_000 });
      expect(r.late).toBeGreaterThan(0);
      expect(r.chargedLater).toBeGreaterThan(0);
      expect(r.served).toBe(1000 + 400 + 40);
      expect(r.counted).toBe(r.served);
    },
  );
});
