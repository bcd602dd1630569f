/**
 * A Secret mounted as files, read again when it may have changed: at most once a second, on
 * use. The kubelet swaps a rotated Secret in atomically, so the next call after the swap (and
 * at most a second's worth of calls) sees the new files without a restart, a watch or a
 * timer. Concurrent readers share one read.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../../../platform/src/time/clock.ts';

const RECHECK_MS = 1_000;

export class MountedFiles {
  readonly #dir: string;
  readonly #names: readonly string[];
  readonly #clock: Clock;
  #read: Promise<ReadonlyMap<string, string>> | undefined;
  #readAt = -Infinity;

  constructor(dir: string, names: readonly string[], clock: Clock) {
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
    await Promise.all(
      this.#names.map(async (name) => {
        try {
          out.set(name, (await readFile(join(this.#dir, name), 'utf8')).trim());
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        }
      }),
    );
    return out;
  }
}
