/**
 * The rules of a conversation's pin, as pure functions of the pin and the time: which backend
 * a pinned call should go to, and what the pin becomes once a backend has served it.
 *
 * - A live pin (not past `expiresAt`) keeps the conversation on its backend; every call
 *   served there renews it for the cache's lifetime.
 * - A call the pinned backend could not take (breaker open, or it failed inside the request)
 *   goes where the balancer sends it; the pin then moves there and remembers the backend it
 *   left (`home`) and when the prefix cached there expires (`failbackAt`).
 * - A moved conversation goes home only once `failbackAt` has passed: before that, the
 *   backend that just recovered would be tossed the conversation back while its copy is
 *   still live, and a recovery that fails again would move it twice more. An idle
 *   conversation (its pin expired) is balanced afresh, which sends it to the preferred one.
 */

export interface Pin {
  /** The backend that holds the conversation's cached prefix. */
  readonly backend: string;
  /** When the cache there lapses unless a call renews it (ms since the epoch). */
  readonly expiresAt: number;
  /** The backend a failover moved it from; absent when it never moved. */
  readonly home?: string;
  /** When the prefix cached at `home` expires: the conversation may go back from then. */
  readonly failbackAt?: number;
}

/** How a call relates to its conversation's pin (the `result` label of the metric). */
export type PinOutcome = 'new' | 'pinned' | 'moved' | 'failback';

/**
 * The backend a pinned call should try first, when `usable` lets it: home once its failback
 * time has passed, else the pinned one; undefined when neither may take it (the balancer
 * decides).
 */
export function pinnedChoice(
  pin: Pin | undefined,
  now: number,
  usable: (backend: string) => boolean,
): string | undefined {
  if (pin === undefined || pin.expiresAt <= now) return undefined;
  if (pin.home !== undefined && now >= (pin.failbackAt ?? 0) && usable(pin.home)) return pin.home;
  return usable(pin.backend) ? pin.backend : undefined;
}

/** The pin after `backend` served a call at `now`, and how the call related to the old one. */
export function pinAfter(
  previous: Pin | undefined,
  backend: string,
  now: number,
  ttlMs: number,
): { readonly pin: Pin; readonly outcome: PinOutcome } {
  const expiresAt = now + ttlMs;
  if (previous === undefined || previous.expiresAt <= now)
    return { pin: { backend, expiresAt }, outcome: 'new' };
  if (previous.backend === backend) return { pin: { ...previous, expiresAt }, outcome: 'pinned' };
  if (previous.home === backend) return { pin: { backend, expiresAt }, outcome: 'failback' };
  // Moved: the first move remembers where the cache was; later moves keep that home.
  const home = previous.home ?? previous.backend;
  const failbackAt = previous.home === undefined ? previous.expiresAt : (previous.failbackAt ?? 0);
  return { pin: { backend, expiresAt, home, failbackAt }, outcome: 'moved' };
}

/** A pin as the store keeps it: `backend|expiresAt|home|failbackAt` (names hold no `|`). */
export function encodePin(pin: Pin): string {
  return `${pin.backend}|${String(pin.expiresAt)}|${pin.home ?? ''}|${String(pin.failbackAt ?? '')}`;
}

export function decodePin(text: string | null | undefined): Pin | undefined {
  if (text === null || text === undefined) return undefined;
  const [backend = '', expires = '', home = '', failback = ''] = text.split('|');
  const expiresAt = Number(expires);
  if (backend === '' || !Number.isFinite(expiresAt)) return undefined;
  if (home === '') return { backend, expiresAt };
  const failbackAt = Number(failback);
  return { backend, expiresAt, home, failbackAt: Number.isFinite(failbackAt) ? failbackAt : 0 };
}
