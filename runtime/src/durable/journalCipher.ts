/**
 * The journal's encryption: AES-256-GCM under the mounted 32-byte key (AgentDeployment
 * `durability.encryptionKeySecretRef`), so that the journal in Redis holds no prompt, answer or
 * tool result in the clear, and an entry moved to another run or kind fails its tag. Requests
 * are matched by an HMAC-SHA-256 under a key derived from the same one: a plain hash of a
 * prompt would let whoever reads Redis confirm a guess of it.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createSecretKey,
  randomBytes,
  type KeyObject,
} from 'node:crypto';

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** IVs drawn at once. */
const IV_POOL = 256;

/** Thrown for a key that is not 32 bytes: names the field and the way to make one. */
export class JournalKeyError extends Error {
  readonly code = 'JOURNAL_KEY_INVALID';
}

/**
 * The key from the Secret's value: 32 raw bytes, or their base64 or hex spelling (what
 * `openssl rand -base64 32` and `-hex 32` print); a file's last newline is ignored.
 */
export function parseJournalKey(value: Buffer): Buffer {
  if (value.length === KEY_BYTES) return value;
  const text = value.toString('utf8').trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  if (/^[A-Za-z0-9+/]{43}=?$/.test(text)) {
    const decoded = Buffer.from(text, 'base64');
    if (decoded.length === KEY_BYTES) return decoded;
  }
  if (text.length === KEY_BYTES) return Buffer.from(text, 'utf8');
  throw new JournalKeyError(
    `durability.encryptionKeySecretRef: the key must be 32 bytes (raw, base64 or hex), got ${describeKey(text, value.length)}; make one with: openssl rand -base64 32`,
  );
}

/** What a key that is not 32 bytes holds: its bytes as hex or base64 spell them, else raw. */
function describeKey(text: string, raw: number): string {
  if (/^(?:[0-9a-fA-F]{2})+$/.test(text))
    return `${String(text.length / 2)} bytes (hex, ${String(text.length)} characters)`;
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(text) && text.length % 4 === 0)
    return `${String(Buffer.from(text, 'base64').length)} bytes (base64, ${String(text.length)} characters)`;
  return `${String(raw)} bytes`;
}

/**
 * The keys are KeyObjects made once: given a Buffer, every createHmac and createCipheriv
 * prepares a key of its own, which cost about 100 µs of a journaled call's CPU
 * (bench/results/runtime-durable.json).
 */
export class JournalCipher {
  /**
   * The key's id: 16 hex characters that tell one journal key from another, and nothing of it.
   * A run's owner carries it (owner.lua), so a run written under a key since rotated is known
   * as unreadable rather than as another client's.
   */
  readonly keyId: string;
  readonly #key: KeyObject;
  readonly #matchKey: KeyObject;
  #ivs = Buffer.alloc(0);
  #ivAt = 0;

  constructor(key: Buffer) {
    if (key.length !== KEY_BYTES) throw new JournalKeyError('the journal key must be 32 bytes');
    this.#key = createSecretKey(key);
    this.keyId = createHmac('sha256', key)
      .update('breakwater journal key id v1')
      .digest('hex')
      .slice(0, 16);
    this.#matchKey = createSecretKey(
      createHmac('sha256', key).update('breakwater journal match v1').digest(),
    );
  }

  /** 64 hex characters that say whether two requests are the same, and nothing else. */
  match(text: string): string {
    return createHmac('sha256', this.#matchKey).update(text).digest('hex');
  }

  /** iv ‖ tag ‖ ciphertext; `context` (the run and the entry's header) is authenticated too. */
  seal(plain: Buffer, context: string): Buffer {
    const iv = this.#nextIv();
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    cipher.setAAD(Buffer.from(context));
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]);
  }

  /**
   * A random IV, as randomBytes(12) gives one, cut from a pool drawn IV_POOL at a time: one
   * draw from the system's generator per 256 entries instead of one per entry.
   */
  #nextIv(): Buffer {
    if (this.#ivAt + IV_BYTES > this.#ivs.length) {
      this.#ivs = randomBytes(IV_POOL * IV_BYTES);
      this.#ivAt = 0;
    }
    const iv = this.#ivs.subarray(this.#ivAt, this.#ivAt + IV_BYTES);
    this.#ivAt += IV_BYTES;
    return iv;
  }

  /** The plain text of `sealed`; throws when the key, the context or a byte differs. */
  open(sealed: Buffer, context: string): Buffer {
    if (sealed.length < IV_BYTES + TAG_BYTES) throw new Error('journal entry too short');
    const decipher = createDecipheriv('aes-256-gcm', this.#key, sealed.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(context));
    decipher.setAuthTag(sealed.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    return Buffer.concat([
      decipher.update(sealed.subarray(IV_BYTES + TAG_BYTES)),
      decipher.final(),
    ]);
  }
}
