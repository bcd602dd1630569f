/**
 * What this replica owes a run's journal, so that every call of an attempt keeps its own place
 * (the N-th call of an attempt is step N, runJournal.ts) even when the journal missed some:
 *
 * - the calls that went on without the journal (the store down, full, or slow past its
 *   deadline; a cluster slot mid-move): each is written, with the attempt's next claim, as a
 *   started step in its own place — on resume an unknown outcome, never a later step's place
 *   taken by the step after the gap (which made every later step of the run repeat);
 * - a claim the store made but the runtime refused to act on (no replica confirmed it under
 *   `acknowledge: Replicas`): its call never ran, so the next claim takes it back.
 *
 * A claim that got no answer in time may have landed: the calls it carried (and its own) are
 * owed "maybe", and claim.lua passes over them where the journal already ends with them.
 * Bounded like RunTails: the oldest run is forgotten first, and at most MAX_OWED calls a run.
 */
import { MAX_RUNS } from './runTails.ts';

/** Unjournaled calls owed to one run: past this, later ones are not placed (the run may diverge). */
export const MAX_OWED = 256;

/** One call owed its place: its started header, and whether its claim may have landed. */
interface Owed {
  readonly header: string;
  readonly maybeLanded: boolean;
}

/** A claim to take back: where it is, whether it wrote a started step (live) or replayed one. */
export interface TakeBack {
  readonly position: number;
  readonly live: boolean;
  /** The header the step had when the claim answered (the marker, or the replayed entry's). */
  readonly header: string;
}

/** What one attempt owes, as its next claim sends it (claim.lua's ARGV 7 and 8). */
export interface Debt {
  readonly attempt: string;
  readonly takeBack?: TakeBack;
  readonly owed: readonly Owed[];
}

export class RunDebts {
  readonly #debts = new Map<string, Debt>();

  /** Whether anything is owed `run` (its calls are then claimed, never appended). */
  owes(run: string): boolean {
    return this.#debts.has(run);
  }

  /** A call of `attempt` went on without the journal; `maybeLanded`: its claim got no answer. */
  unjournaled(run: string, attempt: string, header: string, maybeLanded: boolean): void {
    const debt = this.#of(run, attempt);
    if (debt.owed.length >= MAX_OWED) return;
    this.#set(run, { ...debt, owed: [...debt.owed, { header, maybeLanded }] });
  }

  /** A claim of `attempt` was made but refused: the next claim takes it back. */
  refused(run: string, attempt: string, takeBack: TakeBack): void {
    this.#set(run, { ...this.#of(run, attempt), takeBack });
  }

  /**
   * What is owed `run`, handed to the next claim of any of its attempts here (and no other): an
   * attempt that ended owing (its agent started again) is paid by the next attempt's first
   * claim, while the run's cursor is still the old attempt's (claim.lua).
   */
  take(run: string): Debt | undefined {
    const debt = this.#debts.get(run);
    this.#debts.delete(run);
    return debt;
  }

  /**
   * The claim of the call `header` of `attempt` failed: what it carried is owed again, with the
   * call itself when it went on (`header`), ahead of anything owed since. `maybeLanded`: it got no answer in time, so it
   * may have run (then all of it is "maybe"); a reply the store gave (OOM…) ran nothing. What
   * another attempt owed, carried by this claim, is given up.
   */
  unanswered(
    run: string,
    attempt: string,
    debt: Debt | undefined,
    header: string | undefined,
    maybeLanded: boolean,
  ): void {
    const since = this.#debts.get(run);
    const later = since?.attempt === attempt ? since.owed : [];
    const own = debt?.attempt === attempt ? debt : undefined;
    const call = header === undefined ? [] : [{ header, maybeLanded }];
    const carried = [...(own?.owed ?? []), ...call].map((owed) => ({
      ...owed,
      maybeLanded: owed.maybeLanded || maybeLanded,
    }));
    const takeBack = own?.takeBack ?? (since?.attempt === attempt ? since.takeBack : undefined);
    this.#set(run, {
      attempt,
      ...(takeBack === undefined ? {} : { takeBack }),
      owed: [...carried, ...later].slice(0, MAX_OWED),
    });
  }

  #of(run: string, attempt: string): Debt {
    const debt = this.#debts.get(run);
    // Another attempt's debts end here: the run's cursor holds one attempt at a time.
    return debt?.attempt === attempt ? debt : { attempt, owed: [] };
  }

  #set(run: string, debt: Debt): void {
    this.#debts.delete(run);
    this.#debts.set(run, debt);
    if (this.#debts.size > MAX_RUNS) {
      const [oldest] = this.#debts.keys();
      if (oldest !== undefined) this.#debts.delete(oldest);
    }
  }
}

/**
 * `debt` as claim.lua reads it: ARGV 7 (the claim to take back), ARGV 8 (the calls owed) and
 * ARGV 9 (the attempt that owes them).
 */
export function debtArguments(debt: Debt | undefined): [string, string, string] {
  if (debt === undefined) return ['', '', ''];
  const { takeBack } = debt;
  const back =
    takeBack === undefined
      ? ''
      : `${String(takeBack.position)}:${takeBack.live ? 'L' : 'R'}:${takeBack.header}`;
  // The calls that may have landed first (claim.lua looks for them at the journal's end).
  const owed = debt.owed.map((o) => `${o.maybeLanded ? 'm' : 'n'}${o.header}`).join('');
  return [back, owed, debt.attempt];
}
