/**
 * Whether the store decides (shared) or has fallen back to the replicas' shares, why and
 * since when, and the probe that brings it back: PING (or after a StoreError or a FailingOver
 * a decision that charges nothing) with backoff, 100 ms doubling to 2 s; a stalled budget goes
 * back to a slow store that answers a probe within 2 s (slowStoreWait.ts).
 */
import type { StoreSettings } from '../../../contract/src/policy/policyDocument.ts';
import type { StoreFallbackReason } from '../../../contract/src/reporting/storeReport.ts';
import type { Clock, Cancel } from '../../../platform/src/time/clock.ts';
import { acceptUnacknowledged } from './replicaAcknowledged.ts';
import { ADMIT_SCRIPT, runScript } from './luaScripts.ts';
import type { StoreClient } from './storeConnection.ts';
import type { StoreTally } from './storeCounters.ts';
import { TIMED_OUT, type SlowStoreWait } from './slowStoreWait.ts';

const PROBE_FIRST_MS = 100;
const PROBE_MAX_MS = 2000;

export interface StoreLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface StoreStatus {
  readonly shared: boolean;
  readonly reason?: StoreFallbackReason;
  readonly message?: string;
  readonly since: number;
}

export interface StoreFallbackOptions {
  /** The limiter's name, in the log lines. */
  readonly name: string;
  readonly clock: Clock;
  readonly logger: StoreLogger | undefined;
  /** Called when the store falls back or comes back (the pod report). */
  readonly onStateChange: (() => void) | undefined;
  readonly tally: StoreTally;
  readonly slow: SlowStoreWait;
  readonly connection: StoreClient;
  /** The settings in force, and admit.lua's keys and limits for them (a probe after a StoreError). */
  readonly settings: () => StoreSettings;
  readonly admitCall: () => { readonly keys: string[]; readonly limitArgs: string[] };
  /** The store answers again (the settlements it could not take go first). */
  readonly answering: () => void;
}

export class StoreFallback {
  readonly name: string;
  readonly #clock: Clock;
  readonly #logger: StoreLogger | undefined;
  readonly #onStateChange: (() => void) | undefined;
  readonly #tally: StoreTally;
  readonly #slow: SlowStoreWait;
  readonly #connection: StoreClient;
  readonly #settings: () => StoreSettings;
  readonly #admitCall: () => { readonly keys: string[]; readonly limitArgs: string[] };
  readonly #answering: () => void;
  #status: StoreStatus;
  #probe: Cancel | undefined;
  #probeDelay = PROBE_FIRST_MS;
  #closed = false;

  constructor(options: StoreFallbackOptions) {
    this.name = options.name;
    this.#clock = options.clock;
    this.#logger = options.logger;
    this.#onStateChange = options.onStateChange;
    this.#tally = options.tally;
    this.#slow = options.slow;
    this.#connection = options.connection;
    this.#settings = options.settings;
    this.#admitCall = options.admitCall;
    this.#answering = options.answering;
    this.#status = { shared: false, reason: 'Connecting', since: options.clock.now() };
  }

  get status(): StoreStatus {
    return this.#status;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * No more probes or fallbacks; a store that connected reads Unreachable (closed) from now,
   * one that never did keeps its reason.
   */
  close(connected: boolean): void {
    this.#closed = true;
    this.#probe?.();
    this.#probe = undefined;
    if (!connected) return;
    this.#status = {
      shared: false,
      reason: 'Unreachable',
      message: 'closed',
      since: this.#clock.now(),
    };
  }

  fallBack(reason: StoreFallbackReason, message: string): void {
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
    this.probeSoon(this.#probeDelay);
  }

  probeSoon(ms: number): void {
    if (this.#closed) return;
    this.#probe?.();
    this.#probe = this.#clock.setTimeout(() => {
      this.#probe = undefined;
      void this.#probeOnce();
    }, ms);
  }

  /** Read afresh after an await (a narrowed `#closed` would not be). */
  #isClosed(): boolean {
    return this.#closed;
  }

  /**
   * Goes back to the store when a probe is answered within the wait budget: a PING, or after
   * the server refused a script (an ACL user without a command the scripts run, a full
   * memory), admit.lua with every cost zero, which reads the provider's pause and charges
   * nothing.
   */
  async #probeOnce(): Promise<void> {
    const reason = this.#status.reason;
    if (reason === 'AuthenticationFailed' || reason === 'SecretMissing')
      this.#connection.reconnectWithSecrets(this.#settings());
    const client = this.#connection.current;
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
        }, this.#settings().waitBudgetMs * 10);
      });
      try {
        const { keys, limitArgs } = this.#admitCall();
        const probe =
          // A replica answers PING: only a script shows the server takes writes again.
          reason === 'StoreError' || reason === 'FailingOver'
            ? acceptUnacknowledged(
                runScript(client, ADMIT_SCRIPT, keys, [...limitArgs, '0', '0']),
                // A primary with no replica confirming still takes writes.
                () => undefined,
              )
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
      this.#answering();
      return;
    }
    // Budgets wait up to 2 s for a slow store (slowStoreWait.ts): one that answers the probe
    // within that takes them back, though the limits stay on the share until it answers within
    // ten wait budgets. Otherwise a store that froze once and then answered steadily in a
    // second would keep the budgets on shares for good.
    if (late !== undefined && reason === 'Slow' && this.#slow.stalled && !this.#isClosed()) {
      const waited = this.#settings().waitBudgetMs * 10;
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
    this.probeSoon(this.#probeDelay);
  }
}
