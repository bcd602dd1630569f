/**
 * Inbound access control: callers present a client key as `x-api-key` or
 * `Authorization: Bearer <key>` (what the official SDKs send). The presented key is copied
 * into a buffer as wide as the longest accepted key and compared with `timingSafeEqual`
 * against every accepted key, padded alike, without stopping at the first match; lengths are
 * compared as numbers alongside. So the time taken depends on the accepted keys only: it says
 * nothing about which key, how much of one, or what length was right. (Hashing both sides
 * first would do the same at about four times the cost per request.)
 *
 * Beside them, a pod running the team's own agent (`spec.agent`) has a per-pod key that the
 * agent container is given: accepted only from a loopback peer, so only from inside the pod,
 * because it is made of the pod's uid, which is no secret.
 */
import { timingSafeEqual } from 'node:crypto';

/** Who is calling: only a loopback peer may present the pod key. */
export interface Peer {
  readonly loopback: boolean;
}

export type AccessDecision =
  { readonly ok: true } | { readonly ok: false; readonly reason: 'missing' | 'invalid' };

const ALLOW: AccessDecision = Object.freeze({ ok: true });
const MISSING: AccessDecision = Object.freeze({ ok: false, reason: 'missing' });
const INVALID: AccessDecision = Object.freeze({ ok: false, reason: 'invalid' });

interface AcceptedKey {
  /** The key's bytes, zero-padded to the common width. */
  readonly padded: Buffer;
  readonly length: number;
}

export class ClientKeys {
  #accepted: readonly AcceptedKey[] = [];
  /** Bytes every comparison covers: the longest accepted key. */
  #width = 1;
  #enforced = false;
  #podKey: AcceptedKey | undefined;

  /** `undefined` switches access control off (no `access.clientKeysSecret`). */
  set(keys: readonly string[] | undefined): void {
    this.#enforced = keys !== undefined;
    const bytes = (keys ?? []).filter((k) => k !== '').map((k) => Buffer.from(k, 'utf8'));
    const width = Math.max(1, ...bytes.map((b) => b.length));
    this.#width = width;
    this.#accepted = bytes.map((b) => {
      const padded = Buffer.alloc(width);
      b.copy(padded);
      return { padded, length: b.length };
    });
  }

  /** The pod's own key (`BREAKWATER_POD_CLIENT_KEY`), accepted from loopback peers only. */
  setPodKey(key: string | undefined): void {
    const bytes = key === undefined || key.trim() === '' ? undefined : Buffer.from(key.trim());
    this.#podKey = bytes === undefined ? undefined : { padded: bytes, length: bytes.length };
  }

  get enforced(): boolean {
    return this.#enforced;
  }

  get count(): number {
    return this.#accepted.length;
  }

  /**
   * Whether `presented` is this pod's own key (durable runs treat every pod of the agent as one
   * owner: a run survives its pod, and the next pod has a key of its own).
   */
  isPodKey(presented: string | undefined, peer: Peer): boolean {
    return (
      presented !== undefined &&
      peer.loopback &&
      this.#podKey !== undefined &&
      isPodKey(presented, this.#podKey)
    );
  }

  check(
    headers: Readonly<Record<string, string | string[] | undefined>>,
    peer: Peer = { loopback: false },
  ): AccessDecision {
    if (!this.#enforced) return ALLOW;
    const presented = presentedKey(headers);
    if (presented === undefined) return MISSING;
    if (peer.loopback && this.#podKey !== undefined && isPodKey(presented, this.#podKey))
      return ALLOW;
    const candidate = Buffer.alloc(this.#width);
    // Truncated to the width: a longer key differs in length, and is refused below.
    candidate.write(presented, 'utf8');
    const length = Buffer.byteLength(presented, 'utf8');
    let match = 0;
    for (const accepted of this.#accepted) {
      // Both comparisons run for every key, every time; no branch on their outcome.
      match |=
        Number(timingSafeEqual(candidate, accepted.padded)) & Number(length === accepted.length);
    }
    return match === 1 ? ALLOW : INVALID;
  }
}

function isPodKey(presented: string, podKey: AcceptedKey): boolean {
  const candidate = Buffer.from(presented, 'utf8');
  return candidate.length === podKey.length && timingSafeEqual(candidate, podKey.padded);
}

/** Whether a socket's remote address is this host's loopback (IPv4, IPv6 or IPv4-mapped). */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  return address === '::1' || /^(::ffff:)?127\./.test(address);
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
