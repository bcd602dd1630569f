/**
 * SHA-256 and HMAC-SHA-256 for `@smithy/signature-v4`, on node:crypto. The AWS SDK's
 * browser-safe default (`@aws-crypto/sha256-js`) hashes in JavaScript; a request body hashed
 * here costs a native call.
 */
import { createHash, createHmac } from 'node:crypto';
import type { Checksum, SourceData } from '@smithy/types';

/** What a Hash and an Hmac have in common. */
type Digest = ReturnType<typeof createHash> | ReturnType<typeof createHmac>;

export class NodeSha256 implements Checksum {
  readonly #secret: SourceData | undefined;
  #hash: Digest;

  constructor(secret?: SourceData) {
    this.#secret = secret;
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
    const secret = this.#secret;
    if (secret === undefined) return createHash('sha256');
    return createHmac(
      'sha256',
      typeof secret === 'string'
        ? secret
        : ArrayBuffer.isView(secret)
          ? Buffer.from(secret.buffer, secret.byteOffset, secret.byteLength)
          : Buffer.from(secret),
    );
  }
}
