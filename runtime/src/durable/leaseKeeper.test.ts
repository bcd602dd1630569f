import { describe, expect, it } from '@jest/globals';
import { ManualClock } from '../../../test/support/manualClock.ts';
import { LeaseKeeper, type LeaseEvents, type LeaseStore } from './leaseKeeper.ts';

const LEASE_MS = 3_000;

/** lease.lua's rules in memory, timed by the store's own clock (Redis TIME). */
class MemoryLeases {
  readonly ends = new Map<string, { holder: string; ends: number }>();
  down = false;
  /** Answers nothing at all (a frozen server: the connection open, no reply). */
  frozen = false;
  readonly time: ManualClock;
  constructor(time: ManualClock) {
    this.time = time;
  }

  as(replica: string): LeaseStore {
    const check = () => {
      if (this.down) return Promise.reject(new Error('connection refused'));
      if (this.frozen) return new Promise<void>(() => undefined);
      return Promise.resolve();
    };
    const grant = (run: string) => {
      this.ends.set(run, { holder: replica, ends: this.time.now() + LEASE_MS });
    };
    return {
      acquire: async (run) => {
        await check();
        const lease = this.ends.get(run);
        if (lease !== undefined && lease.ends >= this.time.now() && lease.holder !== replica)
          return false;
        grant(run);
        return true;
      },
      renew: async (run) => {
        await check();
        if (this.ends.get(run)?.holder !== replica) return false;
        grant(run);
        return true;
      },
      takeOver: async (run) => {
        await check();
        const lease = this.ends.get(run);
        if (lease === undefined || lease.ends >= this.time.now()) return undefined;
        grant(run);
        return lease.holder;
      },
      release: async (run) => {
        await check();
        if (this.ends.get(run)?.holder === replica) this.ends.delete(run);
      },
      handOver: async (run) => {
        await check();
        const lease = this.ends.get(run);
        if (lease?.holder === replica) lease.ends = this.time.now() - 1;
      },
      lapsed: async (limit) => {
        await check();
        return [...this.ends]
          .filter(([, l]) => l.ends < this.time.now())
          .map(([run]) => run)
          .slice(0, limit);
      },
    };
  }
}

interface Heard {
  lost: string[];
  tookOver: string[];
  failures: number;
}

function keeper(clock: ManualClock, store: LeaseStore): { keeper: LeaseKeeper; heard: Heard } {
  const heard: Heard = { lost: [], tookOver: [], failures: 0 };
  const events: LeaseEvents = {
    lost: (run, why) => heard.lost.push(`${run}:${why}`),
    tookOver: (run, from) => heard.tookOver.push(`${run}<-${from}`),
    failed: () => {
      heard.failures++;
    },
  };
  return { keeper: new LeaseKeeper({ clock, store, leaseMs: LEASE_MS, events }), heard };
}

/** Lets the store's answers (resolved promises) reach the keeper. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

/** Moves the store's clock and the replicas' clocks together, in steps of `step` ms. */
async function pass(ms: number, clocks: ManualClock[], step = 100): Promise<void> {
  for (let gone = 0; gone < ms; gone += step) {
    for (const clock of clocks) clock.advance(step);
    await settle();
  }
}

describe('a lease this replica holds', () => {
  it('is renewed every third of its length, so it never lapses in the store', async () => {
    const time = new ManualClock(1_000_000);
    const store = new MemoryLeases(time);
    const clock = new ManualClock(0);
    const { keeper: a, heard } = keeper(clock, store.as('a'));
    expect(await a.hold('run-1')).toBe(true);

    await pass(LEASE_MS * 5, [time, clock]);

    expect(store.ends.get('run-1')?.ends).toBeGreaterThanOrEqual(time.now());
    expect(heard.lost).toEqual([]);
    expect(a.held).toEqual(['run-1']);
  });

  it('is not granted while another replica holds it', async () => {
    const time = new ManualClock(1_000_000);
    const store = new MemoryLeases(time);
    const clock = new ManualClock(0);
    await keeper(clock, store.as('a')).keeper.hold('run-1');
    expect(await keeper(clock, store.as('b')).keeper.hold('run-1')).toBe(false);
  });

  it('is lost at the next renewal once another replica took it over', async () => {
    const time = new ManualClock(1_000_000);
    const store = new MemoryLeases(time);
    const clock = new ManualClock(0);
    const { keeper: a, heard } = keeper(clock, store.as('a'));
    await a.hold('run-1');
    // A pause longer than the lease (a stopped process): b takes it over meanwhile.
    time.advance(LEASE_MS + 1);
    expect(await store.as('b').takeOver('run-1')).toBe('a');

    await pass(a.renewEveryMs, [time, clock]);

    expect(heard.lost).toEqual(['run-1:taken']);
    expect(a.held).toEqual([]);
  });

  it('is given up before it can lapse when the store stops answering', async () => {
    const time = new ManualClock(1_000_000);
    const store = new MemoryLeases(time);
    const clock = new ManualClock(0);
    const { keeper: a, heard } = keeper(clock, store.as('a'));
    await a.hold('run-1');
    store.down = true;

    await pass(a.renewEveryMs * 2, [time, clock]);
    expect(heard.lost).toEqual([]);
    await pass(LEASE_MS - a.renewEveryMs * 2, [time, clock]);

    expect(heard.lost).toEqual(['run-1:unrenewed']);
    expect(heard.failures).toBeGreaterThanOrEqual(2);
    // Given up while the store still counted it held: no one could have taken it yet.
    expect(store.ends.get('run-1')?.ends).toBeGreaterThanOrEqual(time.now());
  });

  it('is given up before it can lapse when the store stops answering and hangs every renewal', async () => {
    const time = new ManualClock(1_000_000);
    const store = new MemoryLeases(time);
    const clock = new ManualClock(0);
    const { keeper: a, heard } = keeper(clock, store.as('a'));
    await a.hold('run-1');
    store.frozen = true;

    await pass(Math.ceil((LEASE_MS * 5) / 6) + 10, [time, clock]);

    expect(heard.lost).toEqual(['run-1:unrenewed']);
    expect(store.ends.get('run-1')?.ends).toBeGreaterThanOrEqual(time.now());
  });

  it('goes when the run is let go, and is not taken over after', async () => {
    const time = new ManualClock(1_000_000);
    const store = new MemoryLeases(time);
    const clock = new ManualClock(0);
    const { keeper: a } = keeper(clock, store.as('a'));
    await a.hold('run-1');
    await a.letGo('run-1');
    time.advance(LEASE_MS * 2);
    expect(await store.as('b').lapsed(10)).toEqual([]);
  });
});

describe('a lease given up while the store was away', () => {
  it('is taken back by the same replica once the store answers and the lease has lapsed', async () => {
    const time = new ManualClock(1_000_000);
    const store = new MemoryLeases(time);
    const clock = new ManualClock(0);
    const { keeper: a, heard } = keeper(clock, store.as('a'));
    a.start();
    await a.hold('run-1');
    store.down = true;
    await pass(LEASE_MS, [time, clock]);
    expect(heard.lost).toEqual(['run-1:unrenewed']);

    store.down = false;
    await pass(a.scanEveryMs + 100, [time, clock]);

    expect(heard.tookOver).toEqual(['run-1<-a']);
    expect(a.held).toEqual(['run-1']);
    a.stop();
  });
});

describe('a lease handed over on a graceful stop', () => {
  it('lapses at once, for another replica to take the run over at its next scan', async () => {
    const time = new ManualClock(1_000_000);
    const store = new MemoryLeases(time);
    const { keeper: a } = keeper(new ManualClock(0), store.as('a'));
    await a.hold('run-1');
    await a.handOverAll();
    const { keeper: b, heard } = keeper(new ManualClock(0), store.as('b'));

    await b.scan();

    expect(heard.tookOver).toEqual(['run-1<-a']);
    expect(a.held).toEqual([]);
  });
});

describe('a lapsed lease', () => {
  it('of a replica that died is taken over by one scan, and then renewed by its new holder', async () => {
    const time = new ManualClock(1_000_000);
    const store = new MemoryLeases(time);
    const clockB = new ManualClock(0);
    await store.as('a').acquire('run-1');
    const { keeper: b, heard } = keeper(clockB, store.as('b'));
    b.start();

    await pass(LEASE_MS, [time, clockB]);
    expect(heard.tookOver).toEqual([]);
    await pass(b.scanEveryMs + 100, [time, clockB]);

    expect(heard.tookOver).toEqual(['run-1<-a']);
    await pass(LEASE_MS * 3, [time, clockB]);
    expect(store.ends.get('run-1')).toMatchObject({ holder: 'b' });
    expect(store.ends.get('run-1')?.ends).toBeGreaterThanOrEqual(time.now());
    expect(heard.tookOver).toHaveLength(1);
    b.stop();
  });

  it('is taken over by one replica only when two look for it', async () => {
    const time = new ManualClock(1_000_000);
    const store = new MemoryLeases(time);
    await store.as('a').acquire('run-1');
    time.advance(LEASE_MS + 1);
    const { keeper: b, heard: heardB } = keeper(new ManualClock(0), store.as('b'));
    const { keeper: c, heard: heardC } = keeper(new ManualClock(0), store.as('c'));

    await Promise.all([b.scan(), c.scan()]);

    expect([...heardB.tookOver, ...heardC.tookOver]).toEqual(['run-1<-a']);
  });

  it("is judged by the store's clock: a replica whose clock runs an hour ahead takes nothing early", async () => {
    const time = new ManualClock(1_000_000);
    const store = new MemoryLeases(time);
    await store.as('a').acquire('run-1');
    const ahead = new ManualClock(3_600_000);
    const { keeper: b, heard } = keeper(ahead, store.as('b'));
    b.start();

    await pass(LEASE_MS - 200, [time, ahead]);

    expect(heard.tookOver).toEqual([]);
    b.stop();
  });
});
