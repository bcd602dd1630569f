/**
 * The leases of the runs this replica executes, kept alive, and the lapsed leases of other
 * replicas' runs, taken over. The store decides who holds a lease and when it lapses, by its
 * own clock (runLeases.ts); this replica's clock only paces the renewals and says when to stop
 * on its own: a lease it could not renew for most of its length may lapse any moment, and
 * another replica may then take the run over, so the run is given up here first (it resumes
 * there from the journal) rather than executed twice.
 */
import type { Cancel, Clock } from '../../../platform/src/time/clock.ts';

/** What a lease needs of the store. */
export interface LeaseStore {
  /** Takes the lease on a new run; false while another replica holds it. */
  acquire(run: string): Promise<boolean>;
  /** Extends this replica's lease; false when another replica took it. */
  renew(run: string): Promise<boolean>;
  /** Takes a lapsed lease; the replica it was taken from, or undefined when it was not. */
  takeOver(run: string): Promise<string | undefined>;
  release(run: string): Promise<void>;
  /** Ends this replica's lease now, the run unfinished: another replica takes it over. */
  handOver(run: string): Promise<void>;
  /** Runs whose lease lapsed, at most `limit`. */
  lapsed(limit: number): Promise<string[]>;
}

export interface LeaseEvents {
  /** The lease on `run` is no longer this replica's: stop executing it. */
  lost(run: string, why: 'taken' | 'unrenewed'): void;
  /** This replica took `run` over from `from`: resume it. */
  tookOver(run: string, from: string): void;
  /** The store failed a lease command (the lease logic carries on). */
  failed(err: unknown): void;
}

export interface LeaseKeeperDeps {
  readonly clock: Clock;
  readonly store: LeaseStore;
  /** How long a lease lasts from its last renewal. */
  readonly leaseMs: number;
  readonly events: LeaseEvents;
}

/** Renewals per lease length: two may fail before the lease is in danger. */
const RENEWALS_PER_LEASE = 3;
/** The part of a lease after which an unrenewed one is given up here. */
const GIVE_UP_AFTER = 5 / 6;
/** The longest wait between two looks for lapsed leases. */
const SCAN_AT_MOST_MS = 2_000;
/** Lapsed runs looked at per scan. */
const SCAN_LIMIT = 16;

export class LeaseKeeper {
  readonly #deps: LeaseKeeperDeps;
  /** Run → when this replica last sent a renewal that succeeded (its own clock). */
  readonly #held = new Map<string, number>();
  #renewTimer: Cancel | undefined;
  #scanTimer: Cancel | undefined;
  #giveUpTimer: Cancel | undefined;
  #renewing = false;
  #scanning = false;

  constructor(deps: LeaseKeeperDeps) {
    this.#deps = deps;
  }

  get renewEveryMs(): number {
    return Math.max(1, Math.floor(this.#deps.leaseMs / RENEWALS_PER_LEASE));
  }

  /**
   * How often lapsed leases are looked for: twice a lease, and at least every SCAN_AT_MOST_MS,
   * so that a run handed over on a graceful stop is taken over soon whatever the lease.
   */
  get scanEveryMs(): number {
    return Math.max(1, Math.min(SCAN_AT_MOST_MS, Math.floor(this.#deps.leaseMs / 2)));
  }

  /** The runs this replica holds. */
  get held(): readonly string[] {
    return [...this.#held.keys()];
  }

  /** Takes the lease on a run this replica starts; false when another holds it. */
  async hold(run: string): Promise<boolean> {
    const sent = this.#deps.clock.now();
    if (!(await this.#deps.store.acquire(run))) return false;
    this.#held.set(run, sent);
    this.#scheduleRenewals();
    this.#armGiveUp();
    return true;
  }

  /** The run finished (or failed for good): its lease goes. */
  async letGo(run: string): Promise<void> {
    this.#held.delete(run);
    await this.#deps.store.release(run);
  }

  /** Stops renewing and ends every held lease now (a graceful stop): others take the runs over. */
  async handOverAll(): Promise<void> {
    const runs = [...this.#held.keys()];
    this.stop();
    await Promise.all(runs.map((run) => this.#deps.store.handOver(run).catch(() => undefined)));
  }

  /** Starts looking for lapsed leases to take over. */
  start(): void {
    if (this.#scanTimer !== undefined) return;
    const tick = (): void => {
      this.#scanTimer = this.#deps.clock.setTimeout(tick, this.scanEveryMs);
      void this.scan();
    };
    this.#scanTimer = this.#deps.clock.setTimeout(tick, this.scanEveryMs);
  }

  /** Takes no more runs over (a stop begins); the leases held are still renewed. */
  stopScanning(): void {
    this.#scanTimer?.();
    this.#scanTimer = undefined;
  }

  /** Stops renewing and scanning; held leases lapse in the store (or were let go). */
  stop(): void {
    this.stopScanning();
    this.#renewTimer?.();
    this.#renewTimer = undefined;
    this.#giveUpTimer?.();
    this.#giveUpTimer = undefined;
    this.#held.clear();
  }

  /** One look for lapsed leases: each taken over is told to `tookOver`. */
  async scan(): Promise<void> {
    if (this.#scanning) return;
    this.#scanning = true;
    try {
      const lapsed = await this.#deps.store.lapsed(SCAN_LIMIT);
      for (const run of lapsed) {
        if (this.#held.has(run)) continue;
        const sent = this.#deps.clock.now();
        const from = await this.#deps.store.takeOver(run);
        if (from === undefined) continue;
        this.#held.set(run, sent);
        this.#scheduleRenewals();
        this.#armGiveUp();
        this.#deps.events.tookOver(run, from);
      }
    } catch (err) {
      this.#deps.events.failed(err);
    } finally {
      this.#scanning = false;
    }
  }

  /**
   * One round of renewals, side by side; a lease taken or left unrenewed too long is lost. A
   * renewal the store never answers fails by its deadline (JournalConnection.deadline), and
   * the give-up timer does not wait for the round.
   */
  async renew(): Promise<void> {
    if (this.#renewing) return;
    this.#renewing = true;
    try {
      await Promise.all(
        [...this.#held].map(async ([run, last]) => {
          const sent = this.#deps.clock.now();
          let kept: boolean | undefined;
          try {
            kept = await this.#deps.store.renew(run);
          } catch (err) {
            this.#deps.events.failed(err);
          }
          if (this.#held.get(run) !== last) return;
          if (kept === true) {
            this.#held.set(run, sent);
          } else if (kept === false) {
            this.#lose(run, 'taken');
          } else if (this.#stale(last)) {
            this.#lose(run, 'unrenewed');
          }
        }),
      );
    } finally {
      this.#renewing = false;
      this.#armGiveUp();
    }
  }

  #stale(lastRenewed: number): boolean {
    return this.#deps.clock.now() - lastRenewed >= this.#deps.leaseMs * GIVE_UP_AFTER;
  }

  /**
   * Gives up each lease left unrenewed for GIVE_UP_AFTER of its length, on time: at the
   * earliest such moment among the leases held, whatever a round of renewals is waiting on.
   */
  #armGiveUp(): void {
    this.#giveUpTimer?.();
    this.#giveUpTimer = undefined;
    if (this.#held.size === 0) return;
    const earliest = Math.min(...this.#held.values());
    const at = earliest + this.#deps.leaseMs * GIVE_UP_AFTER;
    this.#giveUpTimer = this.#deps.clock.setTimeout(
      () => {
        this.#giveUpTimer = undefined;
        for (const [run, last] of [...this.#held])
          if (this.#stale(last)) this.#lose(run, 'unrenewed');
        this.#armGiveUp();
      },
      Math.max(0, at - this.#deps.clock.now()),
    );
  }

  #lose(run: string, why: 'taken' | 'unrenewed'): void {
    this.#held.delete(run);
    this.#deps.events.lost(run, why);
  }

  #scheduleRenewals(): void {
    if (this.#renewTimer !== undefined) return;
    const tick = (): void => {
      this.#renewTimer = undefined;
      void this.renew().finally(() => {
        if (this.#held.size > 0) this.#scheduleRenewals();
      });
    };
    this.#renewTimer = this.#deps.clock.setTimeout(tick, this.renewEveryMs);
  }
}
