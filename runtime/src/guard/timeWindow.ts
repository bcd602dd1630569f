import type { CallWindow, WindowSnapshot } from './callWindow.ts';

/** Buckets the window is cut into: the window's edge moves in steps of sizeMs / BUCKETS. */
const BUCKETS = 10;

/** The calls of the last `sizeMs`, in ten buckets that age out as the clock moves. */
export class TimeWindow implements CallWindow {
  readonly options: { readonly type: 'Time'; readonly sizeMs: number };
  readonly #bucketMs: number;
  /** [calls, failures, slow] per bucket, ring-indexed by absolute bucket number. */
  #counts: Float64Array | undefined;
  #head = 0;
  #calls = 0;
  #failures = 0;
  #slow = 0;

  constructor(sizeMs: number) {
    this.options = { type: 'Time', sizeMs };
    this.#bucketMs = Math.max(1, Math.ceil(sizeMs / BUCKETS));
  }

  get calls(): number {
    return this.#calls;
  }
  get failures(): number {
    return this.#failures;
  }
  get slow(): number {
    return this.#slow;
  }

  add(failed: boolean, slow: boolean, now: number): void {
    const counts = (this.#counts ??= new Float64Array(BUCKETS * 3));
    this.#advance(counts, Math.floor(now / this.#bucketMs));
    const at = (this.#head % BUCKETS) * 3;
    counts[at] = (counts[at] ?? 0) + 1;
    this.#calls++;
    if (failed) {
      counts[at + 1] = (counts[at + 1] ?? 0) + 1;
      this.#failures++;
    }
    if (slow) {
      counts[at + 2] = (counts[at + 2] ?? 0) + 1;
      this.#slow++;
    }
  }

  /** Drops the buckets that fell out of the window by `bucket`. */
  #advance(counts: Float64Array, bucket: number): void {
    if (bucket <= this.#head) return;
    const steps = Math.min(BUCKETS, bucket - this.#head);
    for (let i = 1; i <= steps; i++) {
      const at = ((this.#head + i) % BUCKETS) * 3;
      this.#calls -= counts[at] ?? 0;
      this.#failures -= counts[at + 1] ?? 0;
      this.#slow -= counts[at + 2] ?? 0;
      counts[at] = 0;
      counts[at + 1] = 0;
      counts[at + 2] = 0;
    }
    this.#head = bucket;
  }

  reset(): void {
    this.#counts = undefined;
    this.#head = 0;
    this.#calls = 0;
    this.#failures = 0;
    this.#slow = 0;
  }

  snapshot(): WindowSnapshot {
    const buckets: [number, number, number][] = [];
    const counts = this.#counts;
    for (let i = BUCKETS - 1; i >= 0; i--) {
      const at = ((((this.#head - i) % BUCKETS) + BUCKETS) % BUCKETS) * 3;
      buckets.push(
        counts === undefined
          ? [0, 0, 0]
          : [counts[at] ?? 0, counts[at + 1] ?? 0, counts[at + 2] ?? 0],
      );
    }
    return { type: 'Time', sizeMs: this.options.sizeMs, head: this.#head, buckets };
  }

  restore(snapshot: WindowSnapshot): boolean {
    if (snapshot.type !== 'Time' || snapshot.sizeMs !== this.options.sizeMs) return false;
    if (snapshot.buckets.length !== BUCKETS) return false;
    this.reset();
    const counts = (this.#counts = new Float64Array(BUCKETS * 3));
    this.#head = snapshot.head;
    snapshot.buckets.forEach(([calls, failures, slow], i) => {
      const at = ((((snapshot.head - (BUCKETS - 1 - i)) % BUCKETS) + BUCKETS) % BUCKETS) * 3;
      counts[at] = calls;
      counts[at + 1] = failures;
      counts[at + 2] = slow;
      this.#calls += calls;
      this.#failures += failures;
      this.#slow += slow;
    });
    return true;
  }
}
