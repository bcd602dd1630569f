/**
 * Budget settlements the store answered lately, sent again each time the store's client
 * connects anew: the server it reaches may not be the one that answered them.
 *
 * A primary frozen (a paused VM, a stalled host) and thawed after the sentinels promoted a
 * replica, but before the runtime heard of it, still answers as a primary: it takes the
 * settlements sent to it, answers OK, and drops them when the sentinels make it a replica of
 * the promoted one (docs/guarantees.md B4). The same goes for the settlements a primary that
 * died had not yet passed to its replica, and for the last second of a restart with
 * `appendfsync everysec`. The runtime cannot tell such a server from one that kept what it
 * answered: its identity (`INFO`'s run_id) may be refused by the user's ACL, and its address
 * says nothing of a restart. So every connection made ready (the first, a reconnect, a
 * sentinel's switch to a new primary, a hung connection made anew) gets every settlement
 * answered within RECENT_KEPT_MS again. budget.lua's `settled` marker, written in the same
 * script call as the settlement's effect and replicated with it, makes a settlement the
 * server already has change nothing; one it lacks counts once (a held call's hold released at
 * its cost, a lapsed one corrected, a call it never held charged its cost).
 *
 * Bounded twice: by age, RECENT_KEPT_MS, and by count, RECENT_AT_MOST (the oldest dropped
 * first). A settlement sent again is sent within RECENT_KEPT_MS of its answer, or kept unsent
 * (unsentSettlements.ts) at most UNSENT_KEPT_MS more: inside the hour the marker is kept.
 */
import type { StoreBudgetSettlement } from '../guard/rateLimitStore.ts';

/**
 * How long an answered settlement is remembered. It must cover what a failover takes from
 * the last write the promoted replica received to the moment the runtime is connected to it:
 * the sentinels' `down-after-milliseconds` (30 s by default), their election and the
 * promotion (a few seconds), and the runtime's hung connection given up (STALL_MS, 5 s) or
 * the switch announced. Two minutes covers `down-after-milliseconds` up to about a minute and
 * a half.
 */
export const RECENT_KEPT_MS = 120_000;

/**
 * Settlements remembered at most: two minutes at 160 budgeted calls a second on one replica.
 * Past it the oldest go first (a failover then resends the last RECENT_AT_MOST only).
 */
export const RECENT_AT_MOST = 20_000;

/** Settlements per script call when they are sent again (settle.lua, one round trip each). */
export const RESEND_BATCH = 128;

/** A settlement and when the store answered it. */
interface Entry {
  readonly s: StoreBudgetSettlement;
  readonly at: number;
}

export class RecentSettlements {
  /** Oldest first; `#head` is the first still remembered. */
  #list: Entry[] = [];
  #head = 0;
  /** The settlements in the list: one answered again (it was sent again) is not added twice. */
  readonly #known = new WeakSet<StoreBudgetSettlement>();

  /** `list` was answered by the store at `now`. */
  remember(list: readonly StoreBudgetSettlement[], now: number): void {
    for (const s of list) {
      if (this.#known.has(s)) continue;
      this.#known.add(s);
      this.#list.push({ s, at: now });
    }
    this.#drop(now);
  }

  /** Every settlement answered within RECENT_KEPT_MS of `now`, oldest first; they stay. */
  since(now: number): StoreBudgetSettlement[] {
    this.#drop(now);
    const out: StoreBudgetSettlement[] = [];
    for (let i = this.#head; i < this.#list.length; i++) out.push((this.#list[i] as Entry).s);
    return out;
  }

  get size(): number {
    return this.#list.length - this.#head;
  }

  #drop(now: number): void {
    const list = this.#list;
    let head = this.#head;
    while (
      head < list.length &&
      (list.length - head > RECENT_AT_MOST || now - (list[head] as Entry).at > RECENT_KEPT_MS)
    ) {
      this.#known.delete((list[head] as Entry).s);
      head++;
    }
    // Compacted once half of it is dropped: amortised, each entry is copied at most once more.
    if (head > 1024 && head * 2 > list.length) {
      this.#list = list.slice(head);
      head = 0;
    }
    this.#head = head;
  }
}
