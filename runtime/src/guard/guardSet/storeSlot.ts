/**
 * The rate-limit store a policy names (`spec.store`), kept as the policy changes: the
 * same server has its numbers changed in place; another server, credentials or TLS gets a new
 * connection and the old one is closed; no store leaves the limiter on its per-replica share.
 */
import type { StoreSettings } from '../../../../contract/src/policy/policyDocument.ts';
import type { StoreReport } from '../../../../contract/src/reporting/storeReport.ts';
import type { StoreCounters } from '../../rateLimitStore/storeCounters.ts';
import type { RateLimiter } from '../rateLimiter.ts';
import type { RateLimitStore } from '../rateLimitStore.ts';
import type { CommandSender } from '../../rateLimitStore/luaScripts.ts';

/** A store as the GuardSet keeps it (RedisStore is the one there is). */
export interface OpenStore extends RateLimitStore {
  /** Whether `settings` reach the same server the same way (then `update` applies them). */
  servesConnection(settings: StoreSettings): boolean;
  update(settings: StoreSettings): void;
  report(): StoreReport;
  counters(): StoreCounters;
  /** The connection while the store answers, for small reads beside the scripts. */
  connection?(): CommandSender | undefined;
  close(): void;
}

/**
 * Opens the store a policy names; `onStateChange` fires when it falls back or returns. Without
 * an opener such a policy runs on the per-replica share alone.
 */
export type StoreOpener = (settings: StoreSettings, onStateChange: () => void) => OpenStore;

export class StoreSlot {
  readonly #open: StoreOpener | undefined;
  readonly #limiter: RateLimiter;
  readonly #notify: () => void;
  #store: OpenStore | undefined;

  constructor(open: StoreOpener | undefined, limiter: RateLimiter, notify: () => void) {
    this.#open = open;
    this.#limiter = limiter;
    this.#notify = notify;
  }

  /** Opens, updates or closes the store as the policy says. */
  sync(settings: StoreSettings | undefined): void {
    const current = this.#store;
    if (settings !== undefined && current?.servesConnection(settings) === true) {
      current.update(settings);
      return;
    }
    current?.close();
    this.#store = settings === undefined ? undefined : this.#open?.(settings, this.#notify);
    this.#limiter.useStore(this.#store);
    if (current !== undefined || this.#store !== undefined) this.#notify();
  }

  /** The store's state for the pod report; undefined without one. */
  report(): StoreReport | undefined {
    return this.#store?.report();
  }

  /** The store's connection while it answers; undefined without one. */
  connection(): CommandSender | undefined {
    return this.#store?.connection?.();
  }

  /** The store's state and counters for /debug; undefined without one. */
  view(): { report: StoreReport; counters: StoreCounters } | undefined {
    const store = this.#store;
    return store === undefined ? undefined : { report: store.report(), counters: store.counters() };
  }

  /** Closes the connection (shutdown); the limiter goes back to its share. */
  close(): void {
    const store = this.#store;
    this.#store = undefined;
    this.#limiter.useStore(undefined);
    store?.close();
  }
}
