/**
 * Inbound access control: callers present a client key as `x-api-key` or
 * `Authorization: Bearer <key>` (what the official SDKs send). Keys are compared as SHA-256
 * digests with `timingSafeEqual`, against every accepted key without stopping at the first
 * match, so the time taken says nothing about which key, or how much of one, was right.
 */
import { hash, timingSafeEqual } from 'node:crypto';

export type AccessDecision =
  { readonly ok: true } | { readonly ok: false; readonly reason: 'missing' | 'invalid' };

const ALLOW: AccessDecision = Object.freeze({ ok: true });
const MISSING: AccessDecision = Object.freeze({ ok: false, reason: 'missing' });
const INVALID: AccessDecision = Object.freeze({ ok: false, reason: 'invalid' });

/** One-shot hashing: no Hash object per request. */
const digest = (key: string): Buffer => hash('sha256', key, 'buffer');

export class ClientKeys {
  #digests: readonly Buffer[] = [];
  #enforced = false;

  /** `undefined` switches access control off (no `access.clientKeysSecret`). */
  set(keys: readonly string[] | undefined): void {
    this.#enforced = keys !== undefined;
    this.#digests = (keys ?? []).filter((k) => k !== '').map(digest);
  }

  get enforced(): boolean {
    return this.#enforced;
  }

  get count(): number {
    return this.#digests.length;
  }

  check(headers: Readonly<Record<string, string | string[] | undefined>>): AccessDecision {
    if (!this.#enforced) return ALLOW;
    const presented = presentedKey(headers);
    if (presented === undefined) return MISSING;
    const candidate = digest(presented);
    let match = false;
    for (const accepted of this.#digests) {
      // timingSafeEqual runs before `||` reads `match`: every key is compared, every time.
      match = timingSafeEqual(candidate, accepted) || match;
    }
    return match ? ALLOW : INVALID;
  }
}

function presentedKey(
  headers: Readonly<Record<string, string | string[] | undefined>>,
): string | undefined {
  const apiKey = headers['x-api-key'];
  if (typeof apiKey === 'string' && apiKey !== '') return apiKey;
  const auth = headers.authorization;
  if (typeof auth === 'string') {
    const match = /^Bearer\s+(.+)$/i.exec(auth.trim());
    if (match?.[1] !== undefined) return match[1];
  }
  return undefined;
}

/** Every value of a Secret's `data` (base64) and `stringData`, as accepted keys. */
export function keysFromSecret(secret: {
  data?: Readonly<Record<string, string>>;
  stringData?: Readonly<Record<string, string>>;
}): string[] {
  const keys: string[] = [];
  for (const value of Object.values(secret.data ?? {})) {
    keys.push(Buffer.from(value, 'base64').toString('utf8').trim());
  }
  for (const value of Object.values(secret.stringData ?? {})) keys.push(value.trim());
  return keys.filter((k) => k !== '');
}
