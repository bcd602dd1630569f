/**
 * A reference model of budget accounting, small and pure, for the property tests to compare
 * the real ledgers and the store with: one replica's accounts for one dollar budget, per Agent
 * or per ClientKey, in calendar Days of a time zone.
 *
 * - A call reserves its worst case: it fits when spent + held + worst ≤ the limit; otherwise
 *   the refusal is `busy` when spent + worst ≤ the limit (only holds block it), else
 *   `exhausted`.
 * - A call settles its real cost (≤ its worst case) into the period it reserved in, and its hold
 *   goes. After its lease lapsed, the settlement corrects the lapse's charge to that cost.
 * - A hold lapses when its lease ends: first `min(bound, cap)`, renewed to `min(bound, now +
 *   cap)` while its call runs, never brought back once lapsed. A lapsed hold is charged at its
 *   worst case (its call may have been billed in full) until its call settles, if ever.
 * - A Day is the time zone's calendar date: two instants are in one period when the zone's
 *   wall clock shows the same date (`Intl`, not the code's calendarPeriod), so a Berlin day of
 *   23 or 25 hours is whatever the zone says it is.
 *
 * Money is bigint picodollars, as in the code.
 */

export const MODEL_LEASE_CAP_MS = 5 * 60_000;

export type Refusal = 'busy' | 'exhausted';

interface Hold {
  readonly account: string;
  readonly worst: bigint;
  endsAt: number;
  readonly boundAt: number;
}

interface ModelAccount {
  spent: bigint;
}

export interface ModelOptions {
  readonly limitPico: bigint;
  readonly timeZone: string;
  readonly per: 'Agent' | 'ClientKey';
  /** The longest a call may take: its lease's bound. */
  readonly boundMs: number;
}

/** The zone's calendar date at `ms`: the Day period's name. */
export function dayOf(ms: number, timeZone: string): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, dateStyle: 'short' }).format(ms);
}

export class BudgetModel {
  readonly #o: ModelOptions;
  readonly #accounts = new Map<string, ModelAccount>();
  readonly #holds = new Map<string, Hold>();
  /** Holds that lapsed unsettled: what the lapse charged, and to which account. */
  readonly #lapsed = new Map<string, { readonly account: string; readonly worst: bigint }>();

  constructor(options: ModelOptions) {
    this.#o = options;
  }

  /** The account a call of `who` at `now` draws from. */
  accountOf(now: number, who: string | undefined): string {
    const whose = this.#o.per === 'Agent' ? '' : (who ?? 'no-key');
    return `${dayOf(now, this.#o.timeZone)}/${whose}`;
  }

  reserve(now: number, id: string, who: string | undefined, worst: bigint): Refusal | undefined {
    this.lapse(now);
    const key = this.accountOf(now, who);
    const spent = this.#accounts.get(key)?.spent ?? 0n;
    const held = this.held(now, who);
    const limit = this.#o.limitPico;
    if (spent + held + worst <= limit) {
      const boundAt = now + this.#o.boundMs;
      this.#holds.set(id, {
        account: key,
        worst,
        endsAt: now + Math.min(this.#o.boundMs, MODEL_LEASE_CAP_MS),
        boundAt,
      });
      return undefined;
    }
    return spent + worst <= limit ? 'busy' : 'exhausted';
  }

  /** The call `id` ends having cost `cost` (≤ its worst case). */
  settle(id: string, account: string, cost: bigint): void {
    const lapsed = this.#lapsed.get(id);
    this.#lapsed.delete(id);
    this.#charge(account, cost - (lapsed?.worst ?? 0n));
    this.#holds.delete(id);
  }

  #charge(account: string, pico: bigint): void {
    const a = this.#accounts.get(account) ?? { spent: 0n };
    a.spent += pico;
    this.#accounts.set(account, a);
  }

  /** The calls `ids` still run at `now`. */
  renew(now: number, ids: Iterable<string>): void {
    this.lapse(now);
    for (const id of ids) {
      const h = this.#holds.get(id);
      if (h === undefined) continue;
      h.endsAt = Math.max(h.endsAt, Math.min(h.boundAt, now + MODEL_LEASE_CAP_MS));
    }
  }

  lapse(now: number): void {
    for (const [id, h] of this.#holds) {
      if (h.endsAt > now) continue;
      this.#holds.delete(id);
      this.#lapsed.set(id, { account: h.account, worst: h.worst });
      this.#charge(h.account, h.worst);
    }
  }

  spent(now: number, who: string | undefined): bigint {
    this.lapse(now);
    return this.#accounts.get(this.accountOf(now, who))?.spent ?? 0n;
  }

  held(now: number, who: string | undefined): bigint {
    this.lapse(now);
    const key = this.accountOf(now, who);
    let sum = 0n;
    for (const h of this.#holds.values()) if (h.account === key) sum += h.worst;
    return sum;
  }

  /** Whether `id` still holds its worst case. */
  holds(id: string): boolean {
    return this.#holds.has(id);
  }

  /** When `id`'s hold lapses; undefined once it is gone. */
  endsAt(id: string): number | undefined {
    return this.#holds.get(id)?.endsAt;
  }
}
