/**
 * A reference model of one run's journal and lease, pure and small enough to read at a glance,
 * for the property tests (test/durable/journal.property.test.ts) to hold the real scripts
 * (runtime/src/durable/claim.lua, complete.lua, lease.lua) against. It says what each claim
 * must answer and what the journal must hold afterwards; the lease part says who may hold the
 * run. No clock: a lease lapses when the test makes it lapse (by Redis's clock, in the real
 * store), and the model is told.
 */
import { stepHeader, type StepKind } from '../../runtime/src/durable/journalEntry.ts';
import type { Debt } from '../../runtime/src/durable/runDebts.ts';

/** One step as the journal holds it: its header, and the answer once done. */
export interface ModelStep {
  readonly kind: StepKind;
  readonly match: string;
  readonly entry: string;
}

export type ModelClaim =
  | { readonly verdict: 'superseded' }
  | { readonly verdict: 'replay'; readonly position: number; readonly entry: string }
  | { readonly verdict: 'live'; readonly position: number; readonly diverged: boolean };

/** Tool calls made in parallel may come in another order: this many later steps are looked at. */
const SWAP_WINDOW = 16;

export class JournalModel {
  steps: ModelStep[] = [];
  #cursor = 0;
  #attempt = '';
  readonly #attempts = new Set<string>();

  /**
   * What claim.lua answers the call `kind`/`match` of `attempt` (every call names one), after
   * what the attempt owes (runDebts.ts): a refused claim of its own taken back, then the calls
   * it made without the journal each put in its own place.
   */
  claim(kind: StepKind, match: string, attempt: string, debt?: Debt): ModelClaim {
    const debtor = debt?.attempt ?? attempt;
    const fresh = attempt !== this.#attempt;
    if (fresh) {
      if (this.#attempts.has(attempt)) return { verdict: 'superseded' };
      this.#attempts.add(attempt);
    }
    const state = { cursor: this.#cursor, diverged: false };
    const back = debt?.takeBack;
    if (debtor === this.#attempt && back !== undefined && state.cursor === back.position + 1) {
      const step = this.steps[back.position];
      if (step !== undefined && header(step) === back.header) {
        if (back.live && back.position === this.steps.length - 1) this.steps.pop();
        state.cursor = back.position;
      }
    }
    // An attempt that ended owing is paid by the next one, while the run is still its.
    if (fresh && debt !== undefined && debtor === this.#attempt) this.#pay(state, debt);
    if (fresh) {
      this.#attempt = attempt;
      state.cursor = 0;
    }
    state.cursor = Math.min(state.cursor, this.steps.length);
    if (debt !== undefined && debtor === attempt) this.#pay(state, debt);
    const { cursor } = state;
    let { diverged } = state;
    const same = (step: ModelStep | undefined) => step?.kind === kind && step.match === match;
    if (cursor < this.steps.length) {
      const here = this.steps[cursor];
      if (same(here) && here !== undefined) {
        this.#cursor = cursor + 1;
        return { verdict: 'replay', position: cursor, entry: here.entry };
      }
      if (kind === 'tool' && here?.kind === 'tool') {
        const last = Math.min(this.steps.length - 1, cursor + SWAP_WINDOW);
        for (let at = cursor + 1; at <= last; at++) {
          const later = this.steps[at];
          if (later === undefined || later.kind !== 'tool') break;
          if (same(later)) {
            this.steps[at] = here;
            this.steps[cursor] = later;
            this.#cursor = cursor + 1;
            return { verdict: 'replay', position: cursor, entry: later.entry };
          }
        }
      }
    }
    if (cursor < this.steps.length) diverged = true;
    this.steps = this.steps.slice(0, cursor);
    this.steps.push({ kind, match, entry: stepHeader(kind, 'started', match) });
    this.#cursor = this.steps.length;
    return { verdict: 'live', position: this.steps.length - 1, diverged };
  }

  /**
   * The calls `debt` owes, each in its own place from `state.cursor`: passed over where the
   * journal holds that call, else written started (the rest dropped, diverged). Calls whose claim
   * may have landed (first) are passed over where the journal just before the cursor is (the
   * longest start of) them.
   */
  #pay(state: { cursor: number; diverged: boolean }, debt: Debt): void {
    state.cursor = Math.min(state.cursor, this.steps.length);
    const owed = [...debt.owed];
    const maybe = owed.findIndex((o) => !o.maybeLanded);
    const ofMaybe = Math.min(maybe === -1 ? owed.length : maybe, state.cursor, 16);
    for (let placed = ofMaybe; placed > 0; placed--) {
      const before = this.steps.slice(state.cursor - placed, state.cursor);
      if (before.every((step, i) => sameCall(step, owed[i]?.header ?? ''))) {
        owed.splice(0, placed);
        break;
      }
    }
    for (const { header: started } of owed) {
      const here = this.steps[state.cursor];
      if (here !== undefined && sameCall(here, started)) {
        state.cursor++;
        continue;
      }
      if (state.cursor < this.steps.length) state.diverged = true;
      this.steps = this.steps.slice(0, state.cursor);
      this.steps.push({
        kind: started[0] === 't' ? 'tool' : 'model',
        match: started.slice(2),
        entry: started,
      });
      state.cursor = this.steps.length;
    }
  }

  /**
   * A failed live call's marker dropped (complete.lua with no answer): only while it is the
   * journal's last step and the cursor is still this attempt's, just past it — a marker another
   * attempt has since reached is left for that attempt to answer.
   */
  abandon(position: number, kind: StepKind, match: string, attempt: string): void {
    const step = this.steps[position];
    if (step?.entry !== stepHeader(kind, 'started', match)) return;
    if (position !== this.steps.length - 1) return;
    if (this.#attempt !== attempt || this.#cursor !== position + 1) return;
    this.steps.pop();
    this.#cursor = position;
  }

  /** What complete.lua does: the answer over the step's started marker, if it is still there. */
  complete(position: number, kind: StepKind, match: string, entry: string): boolean {
    const step = this.steps[position];
    if (step?.entry !== stepHeader(kind, 'started', match)) return false;
    this.steps[position] = { kind, match, entry };
    return true;
  }
}

/** A step's header as the journal holds it (kind, state, match). */
const header = (step: ModelStep): string => step.entry.slice(0, 66);

/** Whether `step` is the call whose started header is `started`, in whatever state. */
const sameCall = (step: ModelStep, started: string): boolean =>
  step.entry[0] === started[0] && step.entry.slice(2, 66) === started.slice(2);

/** Who holds a run's lease, by the model: lapsed only when the test made it lapse. */
export class LeaseModel {
  holder: string | undefined;
  lapsed = false;

  /** lease.lua's acquire: granted unless another replica holds it unlapsed. */
  acquire(replica: string): boolean {
    if (this.holder !== undefined && this.holder !== replica && !this.lapsed) return false;
    this.holder = replica;
    this.lapsed = false;
    return true;
  }

  /** lease.lua's renew: the holder's, lapsed or not. */
  renew(replica: string): boolean {
    if (this.holder !== replica) return false;
    this.lapsed = false;
    return true;
  }

  release(replica: string): void {
    if (this.holder !== replica) return;
    this.holder = undefined;
    this.lapsed = false;
  }
}
