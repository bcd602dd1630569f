/**
 * The TLS material of a kubeconfig — CA, client certificate and key — as it is on disk now.
 * Rotated files (cert-manager, kubelet client rotation, a Secret volume's atomic swap) are
 * noticed when a connection is made: each file is stat'ed then, and read again only when its
 * identity (inode, size, modification and change times) moved. Requests on open keep-alive
 * connections read nothing. Inline `*-data` never changes.
 *
 * A certificate and its key are seldom replaced in one step. A new set that does not make a
 * TLS context (the key no longer matches, a file half written) is not taken: connections go
 * on with the last good set, and the files are looked at again for the next connection.
 */
import { readFileSync, statSync } from 'node:fs';
import { createSecureContext } from 'node:tls';

export interface TlsMaterial {
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly rejectUnauthorized?: boolean;
  readonly servername?: string;
}

/** One part of the material: a file to follow, or inline data. */
export type TlsPart = { readonly file: string } | { readonly data: Buffer } | undefined;

type PartName = 'ca' | 'cert' | 'key';
const PART_NAMES: readonly PartName[] = ['ca', 'cert', 'key'];

export class TlsFiles {
  readonly #parts: Readonly<Record<PartName, TlsPart>>;
  readonly #fixed: Pick<TlsMaterial, 'rejectUnauthorized' | 'servername'>;
  #material: TlsMaterial;
  /** Identity of each followed file when it was last read. */
  #seen = new Map<string, string>();
  #rotations = 0;

  constructor(
    parts: Readonly<Record<PartName, TlsPart>>,
    fixed: Pick<TlsMaterial, 'rejectUnauthorized' | 'servername'> = {},
  ) {
    this.#parts = parts;
    this.#fixed = fixed;
    // The first read is not checked: a broken file fails the first connection with TLS's own
    // error, which says more than a refusal here would.
    this.#material = this.#read();
  }

  /** The material last read, without looking at the files (per request). */
  get current(): TlsMaterial {
    return this.#material;
  }

  /** How many times rotated files have been taken in. */
  get rotations(): number {
    return this.#rotations;
  }

  /** The material for a new connection: files that changed since they were read are read again. */
  forConnection(): TlsMaterial {
    const changed = this.#followed().some((file) => identity(file) !== this.#seen.get(file));
    if (!changed) return this.#material;
    const previous = this.#seen;
    let next: TlsMaterial;
    try {
      next = this.#read();
      createSecureContext(next);
    } catch {
      // Keep the last good set, and look again next time.
      this.#seen = previous;
      return this.#material;
    }
    this.#material = next;
    this.#rotations++;
    return next;
  }

  #followed(): string[] {
    const files: string[] = [];
    for (const name of PART_NAMES) {
      const part = this.#parts[name];
      if (part !== undefined && 'file' in part) files.push(part.file);
    }
    return files;
  }

  #read(): TlsMaterial {
    const seen = new Map<string, string>();
    const material: { -readonly [K in keyof TlsMaterial]: TlsMaterial[K] } = { ...this.#fixed };
    for (const name of PART_NAMES) {
      const part = this.#parts[name];
      if (part === undefined) continue;
      if ('data' in part) {
        material[name] = part.data;
        continue;
      }
      // Identity first: a write landing between the two is seen as a change next time.
      seen.set(part.file, identity(part.file));
      material[name] = readFileSync(part.file);
    }
    this.#seen = seen;
    return material;
  }
}

/** What changes when a file is replaced or rewritten; '' when it cannot be stat'ed. */
function identity(file: string): string {
  try {
    const s = statSync(file, { bigint: true });
    return `${String(s.ino)}:${String(s.size)}:${String(s.mtimeNs)}:${String(s.ctimeNs)}`;
  } catch {
    return '';
  }
}
