/**
 * The way a call's budget settlement reaches the store, and reaches it again after a failover
 * (RedisStore's part for budgets' settlements; docs/guarantees.md B3, B4, B10):
 * - queued to ride with the replica's next admission, or sent alone (settlementQueue.ts);
 * - kept when the store could not take it, and sent again once it answers
 *   (unsentSettlements.ts);
 * - remembered once answered, and sent again to every connection made ready, which may reach
 *   a server that lacks it (recentSettlements.ts); one answered after a newer connection was
 *   made ready than when it was sent is sent again at once.
 * Sending one twice is safe: budget.lua's `settled` marker makes the second change nothing.
 */
import type { Clock } from '../../../platform/src/time/clock.ts';
import type { StoreBudgetSettlement } from '../guard/rateLimitStore.ts';
import { RecentSettlements, RESEND_BATCH } from './recentSettlements.ts';
import { SettlementQueue } from './settlementQueue.ts';
import { SettlementResend } from './unsentSettlements.ts';

export interface BudgetSettlementsOptions {
  readonly clock: Clock;
  /** The store was closed: nothing is sent or kept any more. */
  readonly closed: () => boolean;
  /**
   * Runs settle.lua for `list` alone in the background: `unsent` if it did not reach the store
   * or failed there, `answered` once the store answered.
   */
  readonly send: (
    list: readonly StoreBudgetSettlement[],
    unsent: () => void,
    answered: () => void,
  ) => void;
  /** Counts the settlements sent again to a connection made ready (the store's counters). */
  readonly resent: (n: number) => void;
}

export class BudgetSettlements {
  readonly #clock: Clock;
  readonly #closed: () => boolean;
  readonly #sendScript: BudgetSettlementsOptions['send'];
  readonly #countResent: (n: number) => void;
  /** Waiting to ride with the next admission, or to go alone. */
  readonly #queue: SettlementQueue;
  /** The store could not take them: sent again once it answers. */
  readonly #unsent: SettlementResend;
  /** The store answered them lately: sent again to every connection made ready. */
  readonly #recent = new RecentSettlements();
  /**
   * Connections made ready so far. A settlement answered after a newer one was made ready than
   * when it was sent may have been answered by the server left behind (a WAIT that outlasted
   * the switch, a lane still on the old primary): it is sent again, to the connection in use.
   */
  #readyCount = 0;

  constructor(options: BudgetSettlementsOptions) {
    this.#clock = options.clock;
    this.#closed = options.closed;
    this.#sendScript = options.send;
    this.#countResent = options.resent;
    this.#unsent = new SettlementResend(options.clock, options.closed);
    this.#queue = new SettlementQueue(options.clock, (list) => {
      this.#send(list);
    });
  }

  /**
   * Rides with the next admission, or goes alone: on the next turn of the event loop when
   * `idle` says then that no admission is waiting for the store, else within SETTLE_WITHIN_MS.
   */
  push(s: StoreBudgetSettlement, idle: () => boolean): void {
    this.#queue.push(s);
    this.#queue.flushWhenIdle(idle);
  }

  /** The settlements an admission takes along; `ridden` must hear of its script. */
  take(): readonly StoreBudgetSettlement[] {
    return this.#queue.take();
  }

  /** Settlements that rode with an admission: remembered once it is answered, kept if it fails. */
  ridden(script: Promise<unknown>, riding: readonly StoreBudgetSettlement[]): void {
    const sentAt = this.#readyCount;
    script.then(
      () => {
        this.#answered(riding, sentAt);
      },
      () => {
        this.#unsent.keep(riding);
      },
    );
  }

  /** Every settlement waiting goes now (the store is closing). */
  flush(): void {
    this.#queue.flush();
  }

  /** The store answers again after falling back: what it could not take is sent again. */
  answering(): void {
    this.#unsent.resendTo(this.#send);
  }

  /**
   * A connection was made ready: every settlement answered within RECENT_KEPT_MS goes to it
   * again, in batches of RESEND_BATCH; one it already holds changes nothing (budget.lua's
   * marker). Not through the queue: they must not crowd the calls' own.
   */
  ready(): void {
    this.#readyCount++;
    if (this.#closed()) return;
    // And those kept unsent: one sent alone while the connection was being made anew (the
    // client not ready, the store still Shared) fell back nowhere, so no probe's answer
    // would send it.
    this.#unsent.resendTo(this.#send);
    const list = this.#recent.since(this.#clock.now());
    this.#countResent(list.length);
    this.#resendFrom(list, 0, this.#readyCount);
  }

  /**
   * Sends `list` alone: kept when the store does not take it, remembered when answered;
   * `then` once it is one or the other.
   */
  readonly #send = (list: StoreBudgetSettlement[], then?: (answered: boolean) => void): void => {
    const sentAt = this.#readyCount;
    this.#sendScript(
      list,
      () => {
        this.#unsent.keep(list);
        then?.(false);
      },
      () => {
        this.#answered(list, sentAt);
        then?.(true);
      },
    );
  };

  /**
   * Settlements the store answered, sent when `sentAt` connections had been made ready:
   * remembered, or sent again when a connection was made ready since (the answer may be the
   * server's left behind, and the resend of that connection did not have them yet).
   */
  #answered(list: readonly StoreBudgetSettlement[], sentAt: number): void {
    if (sentAt === this.#readyCount) this.#recent.remember(list, this.#clock.now());
    else if (!this.#closed()) this.#send([...list]);
  }

  /**
   * One batch of a resend at a time, the next once the last is answered or kept. Redis runs a
   * connection's pipelined scripts back to back before it reads another's: 20,000 settlements
   * written at once held it about 55 ms, and ten runtimes' at a failover about 500 ms, while
   * every other command waited up to 450 ms (bench/runtime/resendBurst.ts). A newer connection
   * made ready resends them all itself, so this one stops.
   */
  #resendFrom(list: readonly StoreBudgetSettlement[], from: number, readyAt: number): void {
    if (from >= list.length || readyAt !== this.#readyCount || this.#closed()) return;
    this.#send(list.slice(from, from + RESEND_BATCH), () => {
      this.#resendFrom(list, from + RESEND_BATCH, readyAt);
    });
  }
}
