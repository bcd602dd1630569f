/**
 * How long a budget reservation holds its worst case unsettled, and the ledger's reservations
 * not yet settled or released.
 *
 * A lease is the call's own bound (every attempt's timeout and backoff, and for a stream the
 * longest stream too) but never more than LEASE_CAP_MS: a replica killed mid-call, whose calls never
 * settle, leaves its worst cases behind for at most that long, not for the longest stream a
 * policy allows (24 hours by default, past the end of a Day budget's period). A call that runs
 * longer than the cap (a long stream) is renewed while it runs, every RENEW_EVERY_MS, by one
 * timer per replica (GuardSet), and never past its own bound.
 *
 * The cap: five minutes. Short enough that a dead replica's holds are gone well inside any
 * period (a Day is 23 to 25 hours) and long before an operator would look; long enough that a
 * renewal every minute leaves four missed renewals (a store slow or away for minutes) before
 * a live call's hold lapses. Calls that end within a minute, nearly all of them, are never
 * renewed: renewal costs nothing on their path.
 *
 * A reservation that lapses unsettled is charged at its worst case and released the next time
 * the ledger is asked, so the ledger owns no timer, and asking costs nothing until the soonest
 * lease can have ended. Charged, not only released: its call may have been billed in full (a
 * replica killed mid-call); a settlement that still comes corrects the charge to the call's cost.
 */
import type { StoreBudgetRenewal } from '../guard/rateLimitStore.ts';
import { BudgetClaim, type BudgetHold } from './budgetClaim.ts';
import type { ClaimContext } from './budgetStoreAccounts.ts';
import { BudgetTicket } from './budgetTicket.ts';

/** The longest a reservation holds without being renewed. */
export const LEASE_CAP_MS = 5 * 60_000;
/** How often a replica renews the leases of its calls still running. */
export const RENEW_EVERY_MS = 60_000;

/** A reservation's first lease, for a call that may take `callBoundMs`. */
export function firstLeaseMs(callBoundMs: number): number {
  return Math.max(1, Math.min(callBoundMs, LEASE_CAP_MS));
}

/** The lease a call still running renews to at `now`: the cap, or what is left of its bound. */
export function renewedLeaseMs(now: number, boundAt: number): number {
  return Math.max(0, Math.min(LEASE_CAP_MS, boundAt - now));
}

interface Lease {
  endsAt: number;
  /** The call's own bound: no renewal goes past it. */
  readonly boundAt: number;
}

export class OpenReservations {
  readonly #open = new Map<BudgetTicket, Lease>();
  #nextLapse = Infinity;

  add(ticket: BudgetTicket, boundAt: number): void {
    this.#open.set(ticket, { endsAt: ticket.expiresAt, boundAt });
    if (ticket.expiresAt < this.#nextLapse) this.#nextLapse = ticket.expiresAt;
  }

  /** A ticket settled or released. */
  closed(ticket: BudgetTicket): void {
    this.#open.delete(ticket);
  }

  /** The call holding `ticket` still runs at `now`: its lease goes on, within its bound. */
  renew(ticket: BudgetTicket, now: number): void {
    const lease = this.#open.get(ticket);
    if (lease === undefined || lease.endsAt <= now) return;
    const endsAt = now + renewedLeaseMs(now, lease.boundAt);
    if (endsAt > lease.endsAt) lease.endsAt = endsAt;
  }

  /** When `ticket`'s lease ends; undefined once it is settled or released. */
  endsAt(ticket: BudgetTicket): number | undefined {
    return this.#open.get(ticket)?.endsAt;
  }

  /** Charges at its worst case, and releases, every reservation whose lease lapsed by `now`. */
  lapse(now: number): void {
    if (now < this.#nextLapse) return;
    let next = Infinity;
    for (const [ticket, lease] of [...this.#open]) {
      if (lease.endsAt <= now) ticket.lapse();
      else if (lease.endsAt < next) next = lease.endsAt;
    }
    this.#nextLapse = next;
  }

  get size(): number {
    return this.#open.size;
  }
}

/**
 * Renews the leases of calls still running (BudgetLedger.renew): a reservation held here goes
 * on at once; those the store holds are answered, for one renewal script call for them all.
 * None goes past its call's own bound.
 */
export function renewals(
  open: OpenReservations,
  holds: Iterable<BudgetHold>,
  now: number,
): StoreBudgetRenewal[] {
  open.lapse(now);
  const inStore: StoreBudgetRenewal[] = [];
  for (const hold of holds) {
    if (hold instanceof BudgetTicket) {
      open.renew(hold, now);
      continue;
    }
    if (!(hold instanceof BudgetClaim)) continue;
    const claim = hold as BudgetClaim<ClaimContext>;
    const local = claim.localTicket;
    if (local !== undefined) open.renew(local, now);
    else if (claim.decision === 'store') {
      const leaseMs = renewedLeaseMs(now, claim.context.boundAt);
      if (leaseMs > 0)
        for (const held of claim.inStore)
          inStore.push({ accounts: held.accounts, reservationId: held.reservationId, leaseMs });
    }
  }
  return inStore;
}
