/**
 * The ledger's reservations not yet settled or released, and the soonest lease end among
 * them: a reservation that lapses unsettled (a call that never ends) is released the next
 * time the ledger is asked, so the ledger owns no timer, and asking costs nothing until the
 * soonest lease can have ended.
 */
import type { BudgetTicket } from './budgetTicket.ts';

export class OpenReservations {
  readonly #open = new Set<BudgetTicket>();
  #nextLapse = Infinity;

  add(ticket: BudgetTicket): void {
    this.#open.add(ticket);
    if (ticket.expiresAt < this.#nextLapse) this.#nextLapse = ticket.expiresAt;
  }

  /** A ticket settled or released. */
  closed(ticket: BudgetTicket): void {
    this.#open.delete(ticket);
  }

  /** Releases every reservation whose lease has lapsed by `now`. */
  lapse(now: number): void {
    if (now < this.#nextLapse) return;
    let next = Infinity;
    for (const ticket of [...this.#open]) {
      if (ticket.expiresAt <= now) ticket.release();
      else if (ticket.expiresAt < next) next = ticket.expiresAt;
    }
    this.#nextLapse = next;
  }

  get size(): number {
    return this.#open.size;
  }
}
