/**
 * Keeps each conversation on the backend that holds its prompt cache (AgentDeployment
 * `cacheAffinity: Sticky`): looks up a call's pin before the router picks a backend, and
 * records where the call was served after. Pins live in this replica's bounded table
 * (pinTable.ts) and, with a rate-limit store, in the store as well, so that every replica
 * sees the same pin; a store that is down or slow leaves the replica on its own table.
 * The rules of a pin (renew, move on failure, go home after the moved prefix expired) are in
 * pinRules.ts.
 */
import type { Clock } from '../../../../platform/src/time/clock.ts';
import { PinTable } from './pinTable.ts';
import {
  decodePin,
  encodePin,
  pinAfter,
  pinnedChoice,
  type Pin,
  type PinOutcome,
} from './pinRules.ts';
import { prefixKeys, type PrefixKeys } from './prefixKeys.ts';

/** Pins kept where every replica reads them (cachePins.ts); values are encoded pins. */
export interface SharedPins {
  readonly available: boolean;
  /** One value per key (null where none), or undefined when the store did not answer in time. */
  find(keys: readonly number[]): Promise<readonly (string | null)[] | undefined>;
  /** Keeps `value` under `key` for `ttlMs`, in the background. */
  save(key: number, value: string, ttlMs: number): void;
}

/** A call's keys and the pin found under them, if any. */
export interface PinLookup {
  readonly keys: PrefixKeys;
  readonly found: { readonly key: number; readonly pin: Pin } | undefined;
}

export class CacheAffinity {
  readonly #clock: Clock;
  readonly #table: PinTable;
  readonly #shared: SharedPins | undefined;
  readonly #onOutcome: ((outcome: PinOutcome) => void) | undefined;
  readonly #fiveMinuteTtlMs: number | undefined;

  /** `fiveMinuteTtlMs`: how long the provider keeps a five-minute cache (default five minutes). */
  constructor(options: {
    clock: Clock;
    table?: PinTable;
    shared?: SharedPins;
    onOutcome?: (outcome: PinOutcome) => void;
    fiveMinuteTtlMs?: number | undefined;
  }) {
    this.#clock = options.clock;
    this.#fiveMinuteTtlMs = options.fiveMinuteTtlMs;
    this.#table = options.table ?? new PinTable();
    this.#shared = options.shared;
    this.#onOutcome = options.onOutcome;
  }

  /** Pins this replica holds now. */
  get size(): number {
    return this.#table.size;
  }

  /** The pin of a Messages request; undefined when it has no breakpoint and names no session. */
  lookupRequest(
    body: Readonly<Record<string, unknown>>,
    session: string | undefined,
  ): PinLookup | Promise<PinLookup> | undefined {
    const keys = prefixKeys(body, session, this.#fiveMinuteTtlMs);
    return keys === undefined ? undefined : this.lookup(keys);
  }

  /**
   * The pin under `keys`: from the store when it is up (every replica's latest), else from
   * this replica's table. Synchronous without a store, so the common path adds no await.
   */
  lookup(keys: PrefixKeys): PinLookup | Promise<PinLookup> {
    const shared = this.#shared;
    if (shared?.available !== true) return this.#local(keys);
    return shared.find(keys.lookup).then((values) => {
      if (values === undefined) return this.#local(keys);
      const now = this.#clock.now();
      for (let i = 0; i < keys.lookup.length; i++) {
        const pin = decodePin(values[i]);
        if (pin !== undefined && pin.expiresAt > now)
          return { keys, found: { key: keys.lookup[i] as number, pin } };
      }
      return this.#local(keys);
    });
  }

  #local(keys: PrefixKeys): PinLookup {
    return { keys, found: this.#table.find(keys.lookup, this.#clock.now()) };
  }

  /** `backend` served the call: the pin is renewed, moved or made, here and in the store. */
  record(lookup: PinLookup, backend: string): PinOutcome {
    const now = this.#clock.now();
    const { keys, found } = lookup;
    const { pin, outcome } = pinAfter(found?.pin, backend, now, keys.ttlMs);
    this.#table.set(keys.pin, pin, found?.key);
    this.#shared?.save(keys.pin, encodePin(pin), keys.ttlMs);
    this.#onOutcome?.(outcome);
    return outcome;
  }

  clear(): void {
    this.#table.clear();
  }
}

/**
 * The backend a pinned call goes to (pinRules.ts's choice among `backends` that are `usable`
 * for it); undefined without a live pin, or when neither it nor home may take the call.
 */
export function pinnedBackend<B extends { readonly name: string }>(
  lookup: PinLookup | undefined,
  now: number,
  backends: readonly B[],
  usable: (backend: B) => boolean,
): B | undefined {
  if (lookup?.found === undefined) return undefined;
  const named = (name: string) => backends.find((b) => b.name === name);
  const choice = pinnedChoice(lookup.found.pin, now, (name) => {
    const b = named(name);
    return b !== undefined && usable(b);
  });
  return choice === undefined ? undefined : named(choice);
}
