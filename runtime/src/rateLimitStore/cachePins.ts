/**
 * Prompt-cache pins shared by every replica through the rate-limit store (RateLimitPolicy
 * `spec.store`), so that a conversation stays on one backend whichever replica serves its
 * next turn. Plain commands on the store's connection: one MGET for the keys a call may be
 * pinned under, answered within the store's wait budget or not at all (the replica's own
 * pins decide), and a SET with PX after a call, in the background. Keys are
 * `<keyPrefix>pin:<hash>`; values name a backend and times, never any prompt text.
 */
import type { StoreCommands } from './storeCommands.ts';
import type { Cancel, Clock } from '../../../platform/src/time/clock.ts';
import type { StoreSettings } from '../../../contract/src/policy/policyDocument.ts';
import type { SharedPins } from '../provider/cacheAffinity/cacheAffinity.ts';

/** What the pins need of the store: its connection while it is up, and its settings. */
export interface PinConnection {
  connection(): StoreCommands | undefined;
  readonly settings: StoreSettings;
}

export class StorePins implements SharedPins {
  readonly #store: () => PinConnection | undefined;
  readonly #clock: Clock;

  constructor(store: () => PinConnection | undefined, clock: Clock) {
    this.#store = store;
    this.#clock = clock;
  }

  get available(): boolean {
    return this.#store()?.connection() !== undefined;
  }

  async find(keys: readonly number[]): Promise<readonly (string | null)[] | undefined> {
    const store = this.#store();
    const client = store?.connection();
    if (store === undefined || client === undefined || keys.length === 0) return undefined;
    const prefix = `${store.settings.keyPrefix}pin:`;
    let cancel: Cancel | undefined;
    const timedOut = new Promise<undefined>((resolve) => {
      cancel = this.#clock.setTimeout(() => {
        resolve(undefined);
      }, store.settings.waitBudgetMs);
    });
    try {
      const reply = await Promise.race([
        client.mGet(keys.map((k) => prefix + k.toString(36))),
        timedOut,
      ]);
      return reply;
    } catch {
      return undefined;
    } finally {
      cancel?.();
    }
  }

  save(key: number, value: string, ttlMs: number): void {
    const store = this.#store();
    const client = store?.connection();
    if (store === undefined || client === undefined) return;
    client
      .set(`${store.settings.keyPrefix}pin:${key.toString(36)}`, value, {
        expiration: { type: 'PX', value: Math.max(1, Math.ceil(ttlMs)) },
      })
      .catch(() => undefined);
  }
}
