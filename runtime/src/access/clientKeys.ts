/**
 * Inbound access control: the keys a caller may present (callerIdentity.ts reads which one it
 * did, from `x-api-key` or `Authorization: Bearer <key>`). The presented key is copied
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

import {
  clientKeyCaller,
  POD_CALLER,
  type CallerIdentity,
  type KeyJudge,
  type Peer,
} from './callerIdentity.ts';

interface AcceptedKey {
  /** The key's bytes, zero-padded to the common width. */
  readonly padded: Buffer;
  readonly length: number;
  /** The caller it names, made once when the keys are read. */
  readonly identity: CallerIdentity;
}

export class ClientKeys implements KeyJudge {
  #accepted: readonly AcceptedKey[] = [];
  /** Bytes every comparison covers: the longest accepted key. */
  #width = 1;
  #enforced = false;
  #podKey: Omit<AcceptedKey, 'identity'> | undefined;

  /** `undefined` switches access control off (no `access.clientKeysSecret`). */
  set(keys: readonly string[] | undefined): void {
    this.#enforced = keys !== undefined;
    const accepted = [...new Set((keys ?? []).filter((k) => k !== ''))];
    const bytes = accepted.map((k) => Buffer.from(k, 'utf8'));
    const width = Math.max(1, ...bytes.map((b) => b.length));
    this.#width = width;
    this.#accepted = bytes.map((b, i) => {
      const padded = Buffer.alloc(width);
      b.copy(padded);
      return { padded, length: b.length, identity: clientKeyCaller(accepted[i] ?? '') };
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
   * The caller `presented` names: one of the accepted keys, or this pod's own key from a
   * loopback peer; undefined for any other key. Call only while access control is on.
   */
  identify(presented: string, peer: Peer): CallerIdentity | undefined {
    if (peer.loopback && this.#podKey !== undefined && isPodKey(presented, this.#podKey))
      return POD_CALLER;
    const candidate = Buffer.alloc(this.#width);
    // Truncated to the width: a longer key differs in length, and is refused below.
    candidate.write(presented, 'utf8');
    const length = Buffer.byteLength(presented, 'utf8');
    // 1 + the index of the key that matched; 0 when none did. Accepted keys are distinct.
    let match = 0;
    this.#accepted.forEach((accepted, i) => {
      // Both comparisons run for every key, every time; no branch on their outcome.
      match +=
        (Number(timingSafeEqual(candidate, accepted.padded)) & Number(length === accepted.length)) *
        (i + 1);
    });
    return this.#accepted[match - 1]?.identity;
  }
}

function isPodKey(presented: string, podKey: Omit<AcceptedKey, 'identity'>): boolean {
  const candidate = Buffer.from(presented, 'utf8');
  return candidate.length === podKey.length && timingSafeEqual(candidate, podKey.padded);
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
