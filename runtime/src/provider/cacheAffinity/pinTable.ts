/**
 * This replica's pins, by key: a Map kept in least-recently-used order and bounded at
 * `capacity` (the oldest go first), each entry dropped once its pin has expired. An entry
 * is a short key and a backend's name, about 150 bytes: the default bound of 50 000
 * conversations is under 10 MB.
 */
import type { Pin } from './pinRules.ts';

export const DEFAULT_MAX_PINS = 50_000;

export class PinTable {
  readonly #capacity: number;
  readonly #pins = new Map<number, Pin>();

  constructor(capacity = DEFAULT_MAX_PINS) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new Error(`capacity: ${String(capacity)} must be a positive integer`);
    this.#capacity = capacity;
  }

  get size(): number {
    return this.#pins.size;
  }

  /** The first live pin under `keys` (in their order), with the key it was found under. */
  find(keys: readonly number[], now: number): { key: number; pin: Pin } | undefined {
    for (const key of keys) {
      const pin = this.#pins.get(key);
      if (pin === undefined) continue;
      if (pin.expiresAt <= now) {
        this.#pins.delete(key);
        continue;
      }
      return { key, pin };
    }
    return undefined;
  }

  /** Keeps `pin` under `key`, the most recently used; `replaces` (the key it was found under) goes. */
  set(key: number, pin: Pin, replaces?: number): void {
    if (replaces !== undefined && replaces !== key) this.#pins.delete(replaces);
    this.#pins.delete(key);
    this.#pins.set(key, pin);
    while (this.#pins.size > this.#capacity) {
      const oldest = this.#pins.keys().next();
      if (oldest.done === true) return;
      this.#pins.delete(oldest.value);
    }
  }

  clear(): void {
    this.#pins.clear();
  }
}
