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
import type { RedisClientType } from '@redis/client';
import type { StoreSettings } from '../../../contract/src/policy/policyDocument.ts';
import type {
  StoreFallbackReason,
  StoreReport,
} from '../../../contract/src/reporting/storeReport.ts';
import type { Clock, Cancel } from '../../../platform/src/time/clock.ts';
import type {
  StoreAdmission,
  StoreAdmitRequest,
  RateLimitStore,
  StoreBudgetRenewal,
  StoreBudgetSettlement,
  StoreSettlement,
} from '../guard/rateLimitStore.ts';
import {
  ADMIT_SCRIPT,
  PAUSE_SCRIPT,
  RENEW_SCRIPT,
  SETTLE_SCRIPT,
  runScript,
  type LuaScript,
} from './luaScripts.ts';
import { connectionKey, messageOf, readSecrets, reasonOf, redisClient } from './storeConnection.ts';
import {
  admission,
  keysOf,
  limitArgs,
  lateAdmissionUndo,
  pushBudgetAdmit,
  pushSettlements,
  renewalCall,
  settleRates,
} from './storeScriptCalls.ts';
import { StoreTally, type StoreCounters } from './storeCounters.ts';
import { SettlementQueue } from './settlementQueue.ts';
import { BUDGET_ANSWER_AT_MOST_MS, SlowStoreWait, TIMED_OUT } from './slowStoreWait.ts';
import { UnsentSettlements } from './unsentSettlements.ts';

/**
 * Admissions waiting for the store at once. Beyond this a call without budgets decides on the
 * share at once; a call with budgets waits for a slot, first come first served, within the
 * BUDGET_ANSWER_AT_MOST_MS it may wait for the store in all (decided on the share, no other
 * replica would see its hold).
 */
export const MAX_IN_FLIGHT = 256;
const PROBE_FIRST_MS = 100;
const PROBE_MAX_MS = 2000;

export interface StoreLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface RedisStoreOptions {
  readonly name: string;
  readonly settings: StoreSettings;
  readonly clock: Clock;
  /** The mounted password and CA files (read only when the settings name their Secrets). */
  readonly secretFiles: { readonly password: string; readonly ca: string };
  readonly logger?: StoreLogger;
  /** Called when the store falls back or comes back (the pod report). */
  readonly onStateChange?: () => void;
}

interface Status {
  readonly shared: boolean;
  readonly reason?: StoreFallbackReason;
  readonly message?: string;
  readonly since: number;
}

export class RedisStore implements RateLimitStore {
  readonly name: string;
  readonly #clock: Clock;
  readonly #logger: StoreLogger | undefined;
  readonly #onStateChange: (() => void) | undefined;
  readonly #connection: string;
  #settings: StoreSettings;
  #keys: string[];
  #limitArgs: string[];
  #settleRates: string[];
  #client: RedisClientType | undefined;
  readonly #secretFiles: { readonly password: string; readonly ca: string };
  /** The password and CA the client was made with, to notice a rotated Secret. */
  #secrets = '';
  #status: Status;
  #inFlight = 0;
  /** Calls with budgets waiting for an admission slot (`#slot`), first come first served. */
  readonly #slotQueue: (() => void)[] = [];
  #probe: Cancel | undefined;
  #probeDelay = PROBE_FIRST_MS;
  #closed = false;
  /** How long a call with budgets waits on a slow store, and whether budgets stalled. */
  readonly #slow: SlowStoreWait;
  readonly #tally = new StoreTally();
  /** Budget settlements waiting to ride with the next admission. */
  readonly #settlements: SettlementQueue;
  /** A flush of the settlements is due on the next turn if no admission takes them first. */
  #idleFlush = false;
  /** Background scripts not yet answered (settlements, renewals): close waits for them. */
  readonly #background = new Set<Promise<unknown>>();
  /** Budget settlements the store could not take: sent again once it answers (`#resend`). */
  readonly #unsent = new UnsentSettlements();

  constructor(options: RedisStoreOptions) {
    this.name = options.name;
    this.#clock = options.clock;
    this.#logger = options.logger;
    this.#onStateChange = options.onStateChange;
    this.#settings = options.settings;
    this.#connection = connectionKey(options.settings);
    this.#keys = keysOf(options.settings);
    this.#limitArgs = limitArgs(options.settings);
    this.#settleRates = settleRates(options.settings);
    this.#status = { shared: false, reason: 'Connecting', since: options.clock.now() };
    this.#secretFiles = options.secretFiles;
    this.#slow = new SlowStoreWait(options.clock, () => this.#onStateChange?.());
    this.#settlements = new SettlementQueue(options.clock, (list) => {
      // settle.lua with its limits untouched (rate 0, amount 0), then the settlements.
      const keys = this.#keys.slice(0, 3);
      const args = ['0', '0', '0', '0', '0', '0'];
      pushSettlements(keys, args, this.#settings.keyPrefix, list);
      // Kept while the store cannot take them: a call's spend reaches it once it is back.
      this.#send(SETTLE_SCRIPT, keys, args, () => {
        this.#keepUnsent(list);
      });
    });
    this.#reconnectWithSecrets();
  }

  /**
   * (Re)reads the mounted password and CA and connects with them when they changed (or on the
   * first call). The kubelet rewrites a mounted Secret in place, so a rotated password, or a
   * wrong one corrected, reaches the store without a restart.
   */
  #reconnectWithSecrets(): void {
    let secrets: { password?: string; ca?: string };
    try {
      secrets = readSecrets(this.#settings, this.#secretFiles);
    } catch (err) {
      this.#fallBack('SecretMissing', `cannot read the store's Secret: ${messageOf(err)}`);
      return;
    }
    const fingerprint = JSON.stringify(secrets);
    if (this.#client !== undefined && fingerprint === this.#secrets) return;
    this.#secrets = fingerprint;
    const previous = this.#client;
    this.#client = this.#connect(this.#settings, secrets);
    if (previous?.isOpen === true) previous.destroy();
  }

  get available(): boolean {
    return this.#status.shared && this.#inFlight < MAX_IN_FLIGHT;
  }

  /**
   * Whether a call with budgets asks: also while the store is only slow (it answers, late),
   * and with MAX_IN_FLIGHT admissions waiting (it waits for a slot); not while the store is
   * unreachable, erring, or stalled (slowStoreWait.ts).
   */
  get availableForBudgets(): boolean {
    if (this.#status.shared) return true;
    return (
      this.#status.reason === 'Slow' &&
      !this.#slow.stalled &&
      !this.#closed &&
      this.#client?.isReady === true
    );
  }

  get settings(): StoreSettings {
    return this.#settings;
  }

  /**
   * The connection while the store is shared, for small side uses of the same server (the
   * prompt-cache pins, cachePins.ts); undefined while it is down or slow.
   */
  connection(): RedisClientType | undefined {
    return this.available ? this.#client : undefined;
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
    const client = this.#client;
    const budgets = request.budget;
    const asks = budgets === undefined ? this.available : this.availableForBudgets;
    if (client === undefined || !asks) return undefined;
    const started = performance.now();
    // A free slot is taken at once, without a turn of the event loop.
    if (budgets === undefined || this.#inFlight < MAX_IN_FLIGHT) this.#inFlight++;
    else if (!(await this.#slot())) {
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
    // round trip for both. Lost with the call when it fails (their leases release the worst
    // cases).
    const riding = this.#settlements.take();
    const prefix = this.#settings.keyPrefix;
    const keys = budgets === undefined && riding.length === 0 ? this.#keys : this.#keys.slice();
    if (budgets !== undefined)
      pushBudgetAdmit(args, budgets, request.limitsShadow === true, { list: keys, prefix });
    if (riding.length > 0) {
      if (budgets === undefined) args.push('0');
      pushSettlements(keys, args, prefix, riding);
    }
    const script = runScript(client, ADMIT_SCRIPT, keys, args);
    try {
      let reply = await Promise.race([script, deadline]);
      if (reply === TIMED_OUT) {
        this.#tally.timedOut++;
        this.#fallBack('Slow', `no answer within the ${String(budget)}ms wait budget`);
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
      this.#fallBack(reasonOf(err), messageOf(err));
      return undefined;
    } finally {
      cancel?.();
      this.#release();
      this.#tally.recordWait(performance.now() - started, this.#clock.now());
    }
  }

  /**
   * One of the MAX_IN_FLIGHT slots for a call with budgets when none is free: handed over by
   * an admission that ends, within BUDGET_ANSWER_AT_MOST_MS (false: none came).
   */
  #slot(): Promise<boolean> {
    return new Promise((resolve) => {
      const take = (): void => {
        stop();
        resolve(true);
      };
      const stop = this.#clock.setTimeout(() => {
        const at = this.#slotQueue.indexOf(take);
        if (at >= 0) this.#slotQueue.splice(at, 1);
        resolve(false);
      }, BUDGET_ANSWER_AT_MOST_MS);
      this.#slotQueue.push(take);
    });
  }

  /** An admission ended: its slot goes to the first call with budgets waiting, if any. */
  #release(): void {
    const next = this.#slotQueue.shift();
    if (next === undefined) this.#inFlight--;
    else next();
  }

  /**
   * An admission that timed out is still in Redis's queue and runs when the server catches
   * up; the call was decided on the local share meanwhile (or refused there), so what the late
   * admission charged and held is given back, as if it had been lost. Left alone, a budget's
   * worst case would stand until its lease lapsed (minutes), refusing calls on every replica.
   */
  #undoWhenLate(script: Promise<unknown>, request: StoreAdmitRequest): void {
    script.then(
      (reply) => {
        this.#tally.late++;
        const undo = lateAdmissionUndo(request, reply);
        if (undo.limits !== undefined) this.settle(undo.limits);
        if (undo.budget !== undefined) this.settleBudget(undo.budget);
      },
      // Never answered (the connection dropped): nothing was charged or held.
      () => undefined,
    );
  }

  settle(amounts: StoreSettlement): void {
    const rates = this.#settleRates;
    // A limit the store does not keep (rate 0) is left alone by settle.lua: nothing to send.
    const touches = (rate: string | undefined, amount: number) => rate !== '0' && amount !== 0;
    if (
      !touches(rates[0], amounts.requests) &&
      !touches(rates[1], amounts.inputTokens) &&
      !touches(rates[2], amounts.outputTokens)
    )
      return;
    this.#send(SETTLE_SCRIPT, this.#keys.slice(0, 3), [
      rates[0] ?? '0',
      String(amounts.requests),
      rates[1] ?? '0',
      String(amounts.inputTokens),
      rates[2] ?? '0',
      String(amounts.outputTokens),
    ]);
  }

  /**
   * Rides with this replica's next admission, or goes alone (settlementQueue.ts): on the next
   * turn of the event loop when no admission is waiting for the store then, else within
   * SETTLE_WITHIN_MS. A replica between calls settles while it is idle, off the next call's
   * path; a busy one sends its settlements with its admissions.
   */
  settleBudget(s: StoreBudgetSettlement): void {
    this.#settlements.push(s);
    if (this.#idleFlush) return;
    this.#idleFlush = true;
    setImmediate(() => {
      this.#idleFlush = false;
      if (this.#inFlight === 0 && !this.#closed) this.#settlements.flush();
    });
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
    const s = this.#status;
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
    const settling = [...this.#background];
    this.#closed = true;
    this.#probe?.();
    this.#probe = undefined;
    const client = this.#client;
    if (client === undefined) return;
    this.#status = {
      shared: false,
      reason: 'Unreachable',
      message: 'closed',
      since: this.#clock.now(),
    };
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

  #connect(settings: StoreSettings, secrets: { password?: string; ca?: string }): RedisClientType {
    const client = redisClient(settings.redis, secrets);
    // A replaced client's last words are not the store's state.
    const current = () => client === this.#client;
    client.on('error', (err: unknown) => {
      if (current()) this.#fallBack(reasonOf(err), messageOf(err));
    });
    client.on('ready', () => {
      if (current()) this.#probeSoon(0);
    });
    client.connect().catch((err: unknown) => {
      if (current()) this.#fallBack(reasonOf(err), messageOf(err));
    });
    return client;
  }

  /**
   * Runs `script` in the background. While the store is down a rate-limit settlement is lost
   * (the reservation it would true up expires with its key, within one window); `unsent` hears
   * of a script that did not reach the store, or failed there.
   */
  #send(script: LuaScript, keys: string[], args: string[], unsent?: () => void): void {
    const client = this.#client;
    if (client === undefined || !client.isReady) {
      unsent?.();
      return;
    }
    const sent = runScript(client, script, keys, args).catch((err: unknown) => {
      this.#tally.errors++;
      unsent?.();
      this.#fallBack(reasonOf(err), messageOf(err));
    });
    this.#background.add(sent);
    void sent.finally(() => this.#background.delete(sent));
  }

  #keepUnsent(list: readonly StoreBudgetSettlement[]): void {
    if (!this.#closed) this.#unsent.keep(list, this.#clock.now());
  }

  /** The store answers again: the settlements it could not take go first. */
  #resend(): void {
    const list = this.#unsent.take(this.#clock.now());
    if (list.length === 0) return;
    for (const s of list) this.#settlements.push(s);
    this.#settlements.flush();
  }

  #fallBack(reason: StoreFallbackReason, message: string): void {
    if (this.#closed) return;
    const was = this.#status;
    if (!was.shared && was.reason === reason && was.message === message) return;
    this.#status = { shared: false, reason, message, since: this.#clock.now() };
    if (was.shared) {
      this.#tally.fallbacks++;
      this.#probeDelay = PROBE_FIRST_MS;
    }
    this.#logger?.warn(
      { limiter: this.name, reason, error: message },
      "rate-limit store unavailable: deciding on this replica's share",
    );
    this.#onStateChange?.();
    this.#probeSoon(this.#probeDelay);
  }

  #probeSoon(ms: number): void {
    if (this.#closed) return;
    this.#probe?.();
    this.#probe = this.#clock.setTimeout(() => {
      this.#probe = undefined;
      void this.#probeOnce();
    }, ms);
  }

  /**
   * Goes back to the store when a probe is answered within the wait budget: a PING, or after
   * the server refused a script (an ACL user without a command the scripts run, a full
   * memory), admit.lua with every cost zero, which reads the provider's pause and charges
   * nothing.
   */
  /** Read afresh after an await (a narrowed `#closed` would not be). */
  #isClosed(): boolean {
    return this.#closed;
  }

  async #probeOnce(): Promise<void> {
    const reason = this.#status.reason;
    if (reason === 'AuthenticationFailed' || reason === 'SecretMissing')
      this.#reconnectWithSecrets();
    const client = this.#client;
    if (this.#closed || this.#status.shared) return;
    let answered = false;
    /** The probe's answer, or TIMED_OUT when it failed: what a stalled budget may wait on. */
    let late: Promise<unknown> | undefined;
    if (client?.isReady === true) {
      let cancel: Cancel | undefined;
      const deadline = new Promise<typeof TIMED_OUT>((resolve) => {
        // A connection just made is given ten budgets: its first answers are slower.
        cancel = this.#clock.setTimeout(() => {
          resolve(TIMED_OUT);
        }, this.#settings.waitBudgetMs * 10);
      });
      try {
        const probe =
          reason === 'StoreError'
            ? runScript(client, ADMIT_SCRIPT, this.#keys, [...this.#limitArgs, '0', '0'])
            : client.ping();
        late = probe.catch(() => TIMED_OUT);
        answered = (await Promise.race([probe, deadline])) !== TIMED_OUT;
      } catch {
        answered = false;
      } finally {
        cancel?.();
      }
    }
    // Closed meanwhile: the client is no longer open.
    if (answered && client?.isOpen === true) {
      this.#status = { shared: true, since: this.#clock.now() };
      this.#slow.reset();
      this.#probeDelay = PROBE_FIRST_MS;
      this.#logger?.info({ limiter: this.name }, 'rate-limit store answering: exact counters');
      this.#onStateChange?.();
      this.#resend();
      return;
    }
    // Budgets wait up to 2 s for a slow store (slowStoreWait.ts): one that answers the probe
    // within that takes them back, though the limits stay on the share until it answers within
    // ten wait budgets. Otherwise a store that froze once and then answered steadily in a
    // second would keep the budgets on shares for good.
    if (late !== undefined && reason === 'Slow' && this.#slow.stalled && !this.#isClosed()) {
      const waited = this.#settings.waitBudgetMs * 10;
      if ((await this.#slow.answer(late, waited)) !== TIMED_OUT && !this.#isClosed()) {
        this.#slow.reset();
        this.#logger?.info(
          { limiter: this.name },
          'rate-limit store slow but answering: budgets decided on it again',
        );
        this.#onStateChange?.();
      }
    }
    this.#probeDelay = Math.min(PROBE_MAX_MS, this.#probeDelay * 2);
    this.#probeSoon(this.#probeDelay);
  }
}
