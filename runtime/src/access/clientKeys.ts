/**
 * Inbound access control: the keys a caller may present (callerIdentity.ts reads which one it
 * did, from `x-api-key` or `Authorization: Bearer <key>`). Each accepted key is kept as its
 * SHA-256 digest, and a presented key is hashed and looked up among them: the time a lookup
 * takes depends on the presented key's digest, which tells an attacker nothing about an
 * accepted key (finding a key whose digest shares a prefix with an accepted one is a preimage
 * search), and it does not grow with the number of keys: 3–6 µs of CPU a lookup with 1 to
 * 10,000 keys, where comparing the presented key itself with every accepted key in constant
 * time, as this did before, took 4 µs with 10 keys and 377 µs with 2,000 (one loaded run,
 * 20,000 lookups each; bench-memory-soak found it, issue 53).
 *
 * Beside them, a pod running the team's own agent (`spec.agent`) has a per-pod key that the
 * agent container is given: accepted only from a loopback peer, so only from inside the pod,
 * because it is made of the pod's uid, which is no secret.
 */
import { hash, timingSafeEqual } from 'node:crypto';

import {
  clientKeyCaller,
  POD_CALLER,
  type CallerIdentity,
  type KeyJudge,
  type Peer,
} from './callerIdentity.ts';

/** The pod's own key: its bytes and length. */
interface PodKey {
  readonly padded: Buffer;
  readonly length: number;
}

export class ClientKeys implements KeyJudge {
  /** The caller each accepted key names, by the key's SHA-256 digest (base64). */
  #accepted = new Map<string, CallerIdentity>();
  /** Presented keys' digests, so that a caller's repeated key is hashed once (digestOf). */
  readonly #digests = new Map<string, string>();
  #enforced = false;
  #podKey: PodKey | undefined;

  /** `undefined` switches access control off (no `access.clientKeysSecret`). */
  set(keys: readonly string[] | undefined): void {
    this.#enforced = keys !== undefined;
    this.#digests.clear();
    this.#accepted = new Map(
      (keys ?? []).filter((k) => k !== '').map((k) => [digest(k), clientKeyCaller(k)]),
    );
  }

  /** The pod's own key (`BREAKWATER_POD_CLIENT_KEY`), accepted from loopback peers only. */
  setPodKey(key: string | undefined): void {
    const bytes = key === undefined || key.trim() === '' ? undefined : Buffer.from(key.trim());
    this.#podKey = bytes === undefined ? undefined : { padded: bytes, length: bytes.length };
  }

  /** How many presented keys' digests are held (at most DIGEST_CACHE_SIZE). */
  get digestsHeld(): number {
    return this.#digests.size;
  }

  get enforced(): boolean {
    return this.#enforced;
  }

  get count(): number {
    return this.#accepted.size;
  }

  /**
   * The caller `presented` names: one of the accepted keys, or this pod's own key from a
   * loopback peer; undefined for any other key. Call only while access control is on.
   */
  identify(presented: string, peer: Peer): CallerIdentity | undefined {
    if (peer.loopback && this.#podKey !== undefined && isPodKey(presented, this.#podKey))
      return POD_CALLER;
    return this.#accepted.get(this.#digestOf(presented));
  }

  /**
   * The presented key's digest, from the last DIGEST_CACHE_SIZE keys presented (oldest out
   * first). A pod's callers present a few keys over and over, and hashing one cost about 4 µs
   * of a relayed call's CPU (bench/results/runtime-hotpath-profile.md). The cache keeps at
   * most that many key strings (and their digests) past their calls; they are cleared when
   * the accepted keys change. Its lookup compares the presented key's text with a cached one
   * only when V8's seeded 30-bit string hashes of the two are equal, so it tells an attacker
   * no more than a random guess's digest lookup does.
   */
  #digestOf(presented: string): string {
    let d = this.#digests.get(presented);
    if (d !== undefined) return d;
    d = digest(presented);
    if (this.#digests.size >= DIGEST_CACHE_SIZE) {
      const oldest = this.#digests.keys().next().value;
      if (oldest !== undefined) this.#digests.delete(oldest);
    }
    this.#digests.set(presented, d);
    return d;
  }
}

/** How many presented keys' digests are kept (about 150 bytes each for a 100-character key). */
export const DIGEST_CACHE_SIZE = 256;

/** One-shot: no Hash object per lookup (about half the CPU of createHash().update().digest()). */
const digest = (key: string): string => hash('sha256', key, 'base64');

function isPodKey(presented: string, podKey: PodKey): boolean {
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
