/**
 * SHA-256 and HMAC-SHA-256 for `@smithy/signature-v4`, on node:crypto. The AWS SDK's
 * browser-safe default (`@aws-crypto/sha256-js`) hashes in JavaScript; a request body hashed
 * here costs a native call.
 *
 * HMAC keys are turned into KeyObjects once and kept (the last few): SigV4 keys two or three
 * HMACs per request with the same secrets (the day's signing key, the credentials' cache
 * key), and node:crypto imports a raw key anew on every `createHmac` — 10 µs an HMAC on this
 * machine, against 2 µs with the key object kept.
 */
import { createHash, createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import type { Checksum, SourceData } from '@smithy/types';

/** What a Hash and an Hmac have in common. */
type Digest = ReturnType<typeof createHash> | ReturnType<typeof createHmac>;

/** Key objects by their bytes; a handful at most (a signer uses two or three secrets a day). */
const KEPT_KEYS = 8;
const keys = new Map<string, KeyObject>();

function keyObject(secret: SourceData): KeyObject {
  const bytes =
    typeof secret === 'string'
      ? Buffer.from(secret, 'utf8')
      : ArrayBuffer.isView(secret)
        ? Buffer.from(secret.buffer, secret.byteOffset, secret.byteLength)
        : Buffer.from(secret);
  const id = bytes.toString('latin1');
  let key = keys.get(id);
  if (key === undefined) {
    if (keys.size >= KEPT_KEYS) keys.clear();
    key = createSecretKey(Buffer.from(bytes));
    keys.set(id, key);
  }
  return key;
}

export class NodeSha256 implements Checksum {
  readonly #key: KeyObject | undefined;
  #hash: Digest;

  constructor(secret?: SourceData) {
    this.#key = secret === undefined ? undefined : keyObject(secret);
    this.#hash = this.#fresh();
  }

  update(data: Uint8Array): void {
    this.#hash.update(data);
  }

  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.#hash.digest()));
  }

  reset(): void {
    this.#hash = this.#fresh();
  }

  #fresh(): Digest {
    return this.#key === undefined ? createHash('sha256') : createHmac('sha256', this.#key);
  }
}
