/**
 * A Secret mounted as files, read again when it may have changed: at most once a second, on
 * use. The kubelet swaps a rotated Secret in atomically, so the next call after the swap (and
 * at most a second's worth of calls) sees the new files without a restart, a watch or a
 * timer. Concurrent readers share one read. Either the named files, or every file the
 * directory holds (but the kubelet's own `..data`, `..<time>`).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../../../platform/src/time/clock.ts';

const RECHECK_MS = 1_000;

export class MountedFiles {
  readonly #dir: string;
  /** Undefined: every file in the directory. */
  readonly #names: readonly string[] | undefined;
  readonly #clock: Clock;
  #read: Promise<ReadonlyMap<string, string>> | undefined;
  #readAt = -Infinity;

  constructor(dir: string, names: readonly string[] | undefined, clock: Clock) {
    this.#dir = dir;
    this.#names = names;
    this.#clock = clock;
  }

  get dir(): string {
    return this.#dir;
  }

  /** The files' contents (trimmed), absent ones left out. */
  contents(): Promise<ReadonlyMap<string, string>> {
    const now = this.#clock.now();
    if (this.#read === undefined || now - this.#readAt >= RECHECK_MS) {
      this.#readAt = now;
      const previous = this.#read;
      this.#read = this.#readAll().catch((err: unknown) => {
        // A read that fails leaves the last good contents in use, and is tried again.
        this.#readAt = -Infinity;
        if (previous !== undefined) return previous;
        throw err;
      });
    }
    return this.#read;
  }

  async #readAll(): Promise<ReadonlyMap<string, string>> {
    const out = new Map<string, string>();
    const names =
      this.#names ?? (await readdir(this.#dir)).filter((name) => !name.startsWith('..')).sort();
    await Promise.all(
      names.map(async (name) => {
        try {
          out.set(name, (await readFile(join(this.#dir, name), 'utf8')).trim());
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          // Gone, or a directory among the files: not one of them.
          if (code !== 'ENOENT' && code !== 'EISDIR') throw err;
        }
      }),
    );
    return out;
  }
}
