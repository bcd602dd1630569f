/**
 * The rate limiter's store: exact counters in Redis (or Valkey): RateLimitPolicy spec.store.
 *
 * One connection per process (node-redis pipelines concurrent commands on it), one EVALSHA
 * per call on the hot path (admit.lua), settlements and provider pauses in the background.
 * Redis is never a new way to fail:
 * - a call waits at most `waitBudgetMs` for the answer; past that, or on any error, the store
 *   falls back: `admit` answers undefined (the limiter decides on the replica's own share) and
 *   `available` turns false, so the following calls do not even ask;
 * - except a call with budgets while the store is only slow: it waits on for the answer, up to
 *   2 s in all, and uses it (a call decided on the share is not seen by the other replicas);
 *   after one gets no answer in that time, calls with budgets fall back too until a probe
 *   answers (decision 0059);
 * - while fallen back, a probe (PING within the same budget) runs with backoff, 100 ms
 *   doubling to 2 s, and the store goes back to deciding as soon as one answers in time; after
 *   an error from the server itself (a script or command refused, StoreError) the probe is a
 *   decision that charges nothing, since a PING proves nothing about the scripts;
 * - commands are never queued while disconnected (`disableOfflineQueue`), the client's queue
 *   is bounded, and so are the admissions in flight.
 */
import type { StoreSettings } from '../../../contract/src/policy/policyDocument.ts';
import type { StoreReport } from '../../../contract/src/reporting/storeReport.ts';
import type { Clock, Cancel } from '../../../platform/src/time/clock.ts';
import type {
  StoreAdmission,
  StoreAdmitRequest,
  RateLimitStore,
  StoreBudgetRenewal,
  StoreBudgetSettlement,
  StoreSettlement,
  StoreShareCall,
} from '../guard/rateLimitStore.ts';
import { acceptUnacknowledged, logShortfall } from './replicaAcknowledged.ts';
import {
  ADMIT_SCRIPT,
  PAUSE_SCRIPT,
  RENEW_SCRIPT,
  SETTLE_SCRIPT,
  runScript,
  type LuaScript,
} from './luaScripts.ts';
import { AdmissionSlots } from './admissionSlots.ts';
import { EvictionWatch } from './evictionPolicy.ts';
import {
  StoreClient,
  connectionKey,
  messageOf,
  reasonOf,
  type StoreSecretFiles,
} from './storeConnection.ts';
import type { StoreCommands } from './storeCommands.ts';
import { StoreFallback, type StoreLogger } from './storeFallback.ts';
import {
  admission,
  keysOf,
  limitArgs,
  lateAdmissionUndo,
  limitSettlement,
  LIMITS_UNTOUCHED,
  releaseOf,
  pushBudgetAdmit,
  pushSettlements,
  renewalCall,
  settlementCall,
  settleRates,
} from './storeScriptCalls.ts';
import { StoreTally, type StoreCounters } from './storeCounters.ts';
import { SlowStoreWait, TIMED_OUT } from './slowStoreWait.ts';
import { BudgetSettlements } from './budgetSettlements.ts';
import { UnaskedCalls, type UnaskedCount } from './unaskedCalls.ts';

export type { StoreLogger } from './storeFallback.ts';

export interface RedisStoreOptions {
  readonly name: string;
  readonly settings: StoreSettings;
  readonly clock: Clock;
  /** The mounted password, CA and sentinels' password (read only when the settings name them). */
  readonly secretFiles: StoreSecretFiles;
  readonly logger?: StoreLogger;
  /** Called when the store falls back or comes back (the pod report). */
  readonly onStateChange?: () => void;
}

export class RedisStore implements RateLimitStore {
  readonly name: string;
  readonly #clock: Clock;
  readonly #connection: string;
  #settings: StoreSettings;
  #keys: string[];
  #limitArgs: string[];
  #settleRates: string[];
  /** The client, made again when the mounted Secrets change (storeConnection.ts). */
  readonly #client: StoreClient;
  /** Shared or fallen back, and the probe that brings the store back (storeFallback.ts). */
  readonly #fallback: StoreFallback;
  readonly #slots: AdmissionSlots;
  /** How long a call with budgets waits on a slow store, and whether budgets stalled. */
  readonly #slow: SlowStoreWait;
  readonly #tally = new StoreTally();
  /** A write no replica confirmed (`acknowledge: Replicas`): decided on the primary, counted. */
  readonly #shortfall: () => void;
  /**
   * Budget settlements: riding with admissions or sent alone, kept when the store cannot take
   * them, sent again to every connection made ready (budgetSettlements.ts).
   */
  readonly #settlements: BudgetSettlements;
  /** Calls the share let go that the store never saw: charged when it answers again (R3). */
  readonly #unasked = new UnaskedCalls();
  /** The server's maxmemory-policy when it may evict Breakwater's keys (evictionPolicy.ts). */
  readonly #eviction: EvictionWatch;
  /** Background scripts not yet answered (settlements, renewals): close waits for them. */
  readonly #background = new Set<Promise<unknown>>();

  constructor(options: RedisStoreOptions) {
    this.name = options.name;
    this.#shortfall = () => {
      logShortfall(options.logger, ++this.#tally.unacknowledged, options.name);
    };
    this.#clock = options.clock;
    this.#settings = options.settings;
    this.#connection = connectionKey(options.settings);
    this.#keys = keysOf(options.settings);
    this.#limitArgs = limitArgs(options.settings);
    this.#settleRates = settleRates(options.settings);
    this.#slots = new AdmissionSlots(options.clock);
    this.#slow = new SlowStoreWait(options.clock, () => options.onStateChange?.());
    this.#eviction = new EvictionWatch(
      options.logger,
      { store: options.name },
      'budget accounts mid-period and rate-limit buckets',
    );
    this.#client = new StoreClient(options.secretFiles, {
      fallBack: (reason, message) => {
        this.#fallback.fallBack(reason, message);
      },
      ready: () => {
        this.#fallback.probeSoon(0);
        this.#eviction.check(this.#client.current);
        this.#settlements.ready();
      },
    });
    this.#eviction.recheck(options.clock, () => this.#client.current);
    this.#fallback = new StoreFallback({
      name: options.name,
      clock: options.clock,
      logger: options.logger,
      onStateChange: options.onStateChange,
      tally: this.#tally,
      slow: this.#slow,
      connection: this.#client,
      settings: () => this.#settings,
      admitCall: () => ({ keys: this.#keys, limitArgs: this.#limitArgs }),
      answering: () => {
        this.#settlements.answering();
        this.#chargeUnasked();
      },
    });
    this.#settlements = new BudgetSettlements({
      clock: options.clock,
      closed: () => this.#fallback.closed,
      // settle.lua with its limits untouched, then the settlements.
      send: (list, unsent, answered) => {
        const call = settlementCall(this.#settings.keyPrefix, list, this.#keys.slice(0, 3));
        this.#send(SETTLE_SCRIPT, call.keys, [...LIMITS_UNTOUCHED, ...call.args], unsent, answered);
      },
      resent: (n) => {
        this.#tally.resent += n;
      },
    });
    this.#client.reconnectWithSecrets(this.#settings);
  }

  get available(): boolean {
    return this.#fallback.status.shared && this.#slots.free;
  }

  /**
   * Whether a call with budgets asks: also while the store is only slow (it answers, late),
   * and with MAX_IN_FLIGHT admissions waiting (it waits for a slot); not while the store is
   * unreachable, erring, or stalled (slowStoreWait.ts).
   */
  get availableForBudgets(): boolean {
    const status = this.#fallback.status;
    if (status.shared) return true;
    return (
      status.reason === 'Slow' &&
      !this.#slow.stalled &&
      !this.#fallback.closed &&
      this.#client.current?.isReady === true
    );
  }

  /** The server's maxmemory-policy while it may evict Breakwater's keys; undefined otherwise. */
  get evicting(): string | undefined {
    return this.#eviction.policy;
  }

  /** Keys the store's servers evicted since the runtime first read them (`evicted_keys`). */
  get evictedKeys(): number {
    return this.#eviction.evictedKeys;
  }

  get settings(): StoreSettings {
    return this.#settings;
  }

  /**
   * The connection while the store is shared, for small side uses of the same server (the
   * prompt-cache pins, cachePins.ts); undefined while it is down or slow.
   */
  connection(): StoreCommands | undefined {
    return this.available ? this.#client.current : undefined;
  }

  /** Whether `settings` can be served by this store's connection (then `update` applies it). */
  servesConnection(settings: StoreSettings): boolean {
    return connectionKey(settings) === this.#connection;
  }

  /** New numbers, budget or key prefix on the same connection. */
  update(settings: StoreSettings): void {
    this.#settings = settings;
    this.#keys = keysOf(settings);
    this.#limitArgs = limitArgs(settings);
    this.#settleRates = settleRates(settings);
  }

  async admit(request: StoreAdmitRequest): Promise<StoreAdmission | undefined> {
    const client = this.#client.current;
    const budgets = request.budget;
    const asks = budgets === undefined ? this.available : this.availableForBudgets;
    if (client === undefined || !asks) return undefined;
    const started = performance.now();
    // A free slot is taken at once, without a turn of the event loop.
    if (budgets === undefined || this.#slots.free) this.#slots.take();
    else if (!(await this.#slots.wait())) {
      this.#tally.timedOut++;
      return undefined;
    }
    const queued = performance.now() - started;
    let cancel: Cancel | undefined;
    const budget = this.#settings.waitBudgetMs;
    const deadline = new Promise<typeof TIMED_OUT>((resolve) => {
      cancel = this.#clock.setTimeout(() => {
        // After a stall of the event loop the timer runs before the socket is read: let an
        // answer that is already there win (I/O callbacks run before setImmediate's).
        setImmediate(() => {
          resolve(TIMED_OUT);
        });
      }, budget);
    });
    const { estimate } = request;
    const args = [...this.#limitArgs];
    args[2] = '1';
    args[5] = String(estimate.inputTokens);
    args[8] = String(estimate.outputTokens);
    args.push(String(Math.ceil(request.localWaitMs)), String(request.maxWaitMs));
    // Budgets ride in the same call: their accounts' keys after the limits', ARGV after 11.
    // Earlier calls' settlements ride along too, applied before this call is decided: one
    // round trip for both. Remembered once answered (however late); kept to be sent again
    // when the call fails (Redis may have run them: their markers make a second send count
    // once).
    const riding = this.#settlements.take();
    const prefix = this.#settings.keyPrefix;
    const keys = budgets === undefined && riding.length === 0 ? this.#keys : this.#keys.slice();
    if (budgets !== undefined)
      pushBudgetAdmit(args, budgets, request.limitsShadow === true, { list: keys, prefix });
    if (riding.length > 0) {
      if (budgets === undefined) args.push('0');
      pushSettlements(keys, args, prefix, riding);
    }
    const script = acceptUnacknowledged(
      runScript(client, ADMIT_SCRIPT, keys, args),
      this.#shortfall,
    );
    if (riding.length > 0) this.#settlements.ridden(script, riding);
    try {
      let reply = await Promise.race([script, deadline]);
      if (reply === TIMED_OUT) {
        this.#tally.timedOut++;
        this.#fallback.fallBack('Slow', `no answer within the ${String(budget)}ms wait budget`);
        // A call with budgets waits on for the answer: the store is slow, not away.
        if (budgets !== undefined) reply = await this.#slow.answer(script, queued + budget);
      }
      if (reply === TIMED_OUT) {
        this.#undoWhenLate(script, request);
        return undefined;
      }
      this.#tally.answered++;
      return admission(reply, budgets?.accounts.length ?? 0);
    } catch (err) {
      this.#tally.errors++;
      this.#fallback.fallBack(reasonOf(err), messageOf(err));
      if (budgets !== undefined) this.#releaseUnanswered(request);
      return undefined;
    } finally {
      cancel?.();
      this.#slots.release();
      this.#tally.recordWait(performance.now() - started, this.#clock.now());
    }
  }

  /**
   * An admission that timed out is still in Redis's queue and runs when the server catches
   * up; the call was decided on the local share meanwhile (or refused there). The late answer
   * is put right by that decision (lateAdmissionUndo): the limits keep or gain the call's
   * charge when the share let it go, and give it back when the share refused it; the budget's
   * worst case it held is released either way (left alone, it would stand until its lease
   * lapsed, minutes, refusing calls on every replica). The limiter decides on the share in the
   * same run of microtasks that hears `undefined`, before any socket is read again, so the
   * decision is there when the answer is.
   */
  #undoWhenLate(script: Promise<unknown>, request: StoreAdmitRequest): void {
    this.#unasked.late(request);
    script.then(
      (reply) => {
        this.#tally.late++;
        const undo = lateAdmissionUndo(request, reply);
        if (undo.limits !== undefined) this.settle(undo.limits);
        if (undo.budget !== undefined) this.settleBudget(undo.budget);
      },
      // Never answered (the connection dropped): Redis may have run it all the same.
      () => {
        this.#releaseUnanswered(request);
      },
    );
  }

  /**
   * An admission with budgets that failed without an answer: Redis may have run it before its
   * connection dropped (a failover, a hung connection made anew) and held the call's worst
   * case, and the call was decided on the share, or refused there, settling nothing. Its hold
   * is released at no cost, as a late answer's is (`lateRelease`, a marker of its own): where
   * nothing was held this changes nothing, and the call's own settlement, if it went, still
   * charges its cost once.
   */
  #releaseUnanswered(request: StoreAdmitRequest): void {
    if (request.budget !== undefined) this.settleBudget(releaseOf(request.budget));
  }

  settle(amounts: StoreSettlement): void {
    // Nothing to send when it touches no limit the store keeps.
    const args = limitSettlement(this.#settleRates, amounts);
    if (args !== undefined) this.#send(SETTLE_SCRIPT, this.#keys.slice(0, 3), args);
  }

  /**
   * A call the share let go that no admission of it ran for (not asked; asked while the store
   * could not send it, or failed it): counted, and charged when the store answers again, as
   * the budget settlements it could not take are sent then (unaskedCalls.ts). One whose
   * admission answers late is put right by that answer instead (#undoWhenLate). The store
   * shared all the same (an admission with budgets that found no slot in time): charged now.
   */
  letGoOnShare(call: StoreShareCall): void {
    if (this.#fallback.closed) return;
    this.#unasked.keep(this.#keys.slice(0, 3), this.#settleRates, call);
    if (this.#fallback.status.shared) this.#chargeUnasked();
  }

  /** Charges the calls the share let go meanwhile; a charge the store did not take is kept. */
  #chargeUnasked(): void {
    for (const count of this.#unasked.take()) {
      const args = limitSettlement(count.rates, count.amounts);
      if (args === undefined) continue;
      this.#send(SETTLE_SCRIPT, [...count.keys], args, () => {
        this.#unaskedUnsent(count);
      });
    }
  }

  #unaskedUnsent(count: UnaskedCount): void {
    if (!this.#fallback.closed) this.#unasked.unsent(count);
  }

  /**
   * Rides with this replica's next admission, or goes alone (settlementQueue.ts): on the next
   * turn of the event loop when no admission is waiting for the store then, else within
   * SETTLE_WITHIN_MS. A replica between calls settles while it is idle, off the next call's
   * path; a busy one sends its settlements with its admissions.
   */
  settleBudget(s: StoreBudgetSettlement): void {
    this.#settlements.push(s, () => this.#slots.inFlight === 0 && !this.#fallback.closed);
  }

  /** Renews the leases of calls still running, all in one renew.lua (budgetLeases.ts). */
  renewBudgets(renewals: readonly StoreBudgetRenewal[]): void {
    if (renewals.length === 0) return;
    const { keys, args } = renewalCall(this.#settings.keyPrefix, renewals);
    this.#send(RENEW_SCRIPT, keys, args);
  }

  pause(ms: number): void {
    if (ms > 0) this.#send(PAUSE_SCRIPT, [this.#keys[3] ?? ''], [String(Math.ceil(ms))]);
  }

  /** For the pod report and /debug/ratelimiter. */
  report(): StoreReport {
    const s = this.#fallback.status;
    return {
      state: s.shared ? 'Shared' : 'Fallback',
      ...(s.reason === undefined ? {} : { reason: s.reason }),
      ...(s.message === undefined ? {} : { message: s.message }),
      since: new Date(s.since).toISOString(),
      ...(!s.shared && this.availableForBudgets ? { budgets: 'Store' as const } : {}),
    };
  }

  counters(): StoreCounters {
    return this.#tally.counters();
  }

  /** Drops the connection at once; calls still asking get undefined (the local share). */
  close(): void {
    // The last calls' settlements go first, and the connection stays for their answer a while,
    // and for those already sent: a script the server has not seen takes a second round trip
    // (NOSCRIPT, then EVAL), which a connection closed in between would lose.
    this.#settlements.flush();
    this.#eviction.stop();
    const settling = [...this.#background];
    const client = this.#client.current;
    this.#fallback.close(client !== undefined);
    if (client === undefined) return;
    if (!client.isOpen) return;
    if (settling.length === 0) {
      client.destroy();
      return;
    }
    const stop = this.#clock.setTimeout(() => {
      client.destroy();
    }, this.#settings.waitBudgetMs * 10);
    void Promise.allSettled(settling)
      .then(() => client.close())
      .then(stop, () => {
        stop();
        client.destroy();
      });
  }

  /**
   * Runs `script` in the background. While the store is down a rate-limit settlement is lost
   * (the reservation it would true up expires with its key, within one window); `unsent` hears
   * of a script that did not reach the store, or failed there.
   */
  #send(
    script: LuaScript,
    keys: string[],
    args: string[],
    unsent?: () => void,
    answered?: () => void,
  ): void {
    const client = this.#client.current;
    if (client === undefined || !client.isReady) {
      unsent?.();
      return;
    }
    const written = acceptUnacknowledged(runScript(client, script, keys, args), this.#shortfall);
    const sent = written.then(answered, (err: unknown) => {
      this.#tally.errors++;
      unsent?.();
      this.#fallback.fallBack(reasonOf(err), messageOf(err));
    });
    this.#background.add(sent);
    void sent.finally(() => this.#background.delete(sent));
  }
}
