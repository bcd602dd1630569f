import { FAILED, SLOW, type CallWindow, type WindowSnapshot } from './callWindow.ts';

/** The last `size` calls, as a ring of bit flags. */
export class CountWindow implements CallWindow {
  readonly options: { readonly type: 'Count'; readonly size: number };
  #ring: Uint8Array | undefined;
  #next = 0;
  #filled = 0;
  #failures = 0;
  #slow = 0;

  constructor(size: number) {
    this.options = { type: 'Count', size };
  }

  get calls(): number {
    return this.#filled;
  }
  get failures(): number {
    return this.#failures;
  }
  get slow(): number {
    return this.#slow;
  }

  add(failed: boolean, slow: boolean): void {
    const size = this.options.size;
    const ring = (this.#ring ??= new Uint8Array(size));
    if (this.#filled === size) {
      const old = ring[this.#next] ?? 0;
      this.#failures -= old & FAILED;
      this.#slow -= (old & SLOW) >> 1;
    } else {
      this.#filled++;
    }
    const flags = (failed ? FAILED : 0) | (slow ? SLOW : 0);
    ring[this.#next] = flags;
    this.#failures += flags & FAILED;
    this.#slow += (flags & SLOW) >> 1;
    this.#next = this.#next + 1 === size ? 0 : this.#next + 1;
  }

  reset(): void {
    this.#ring = undefined;
    this.#next = 0;
    this.#filled = 0;
    this.#failures = 0;
    this.#slow = 0;
  }

  /** Outcomes oldest first, each FAILED | SLOW flags. */
  outcomes(): number[] {
    const ring = this.#ring;
    if (ring === undefined) return [];
    const size = this.options.size;
    const out: number[] = [];
    const start = this.#filled === size ? this.#next : 0;
    for (let i = 0; i < this.#filled; i++) out.push(ring[(start + i) % size] ?? 0);
    return out;
  }

  snapshot(): WindowSnapshot {
    return { type: 'Count', size: this.options.size, outcomes: this.outcomes() };
  }

  restore(snapshot: WindowSnapshot): boolean {
    if (snapshot.type !== 'Count') return false;
    this.replay(snapshot.outcomes);
    return true;
  }

  /** Refills from outcomes (oldest first); only the newest `size` are kept. */
  replay(outcomes: readonly number[]): void {
    this.reset();
    const from = Math.max(0, outcomes.length - this.options.size);
    for (let i = from; i < outcomes.length; i++) {
      const flags = outcomes[i] ?? 0;
      this.add((flags & FAILED) !== 0, (flags & SLOW) !== 0);
    }
  }
}
