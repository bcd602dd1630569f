/**
 * `--policy <file>`: a policy.json on disk, read at start and again whenever it changes.
 * fs.watch events are coalesced (editors write in several steps) and the file is re-read;
 * the store decides whether the content is new, valid, or to be refused.
 */
import { readFile } from 'node:fs/promises';
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { Clock, Cancel } from '../../../platform/src/time/clock.ts';
import type { PolicyIntake } from './sourceDeps.ts';

const SETTLE_MS = 50;

export class PolicyFileSource {
  readonly #path: string;
  readonly #store: PolicyIntake['store'];
  readonly #clock: Clock;
  #watcher: FSWatcher | undefined;
  #pending: Cancel | undefined;

  constructor(path: string, store: PolicyIntake['store'], clock: Clock) {
    this.#path = resolve(path);
    this.#store = store;
    this.#clock = clock;
  }

  async start(): Promise<void> {
    await this.reload();
    // Watch the directory: editors and `kubectl cp` replace the file rather than write it.
    const name = basename(this.#path);
    this.#watcher = watch(dirname(this.#path), (_event, file) => {
      if (file !== null && file !== name) return;
      this.#pending?.();
      this.#pending = this.#clock.setTimeout(() => void this.reload(), SETTLE_MS);
    });
  }

  async reload(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.#path, 'utf8');
    } catch (err) {
      this.#store.reject(`cannot read ${this.#path}: ${(err as Error).message}`, this.source);
      return;
    }
    this.#store.offerText(text, this.source);
    // A policy that waits for its modules is in force when this returns (start() waits for it).
    await this.#store.settled();
  }

  get source(): string {
    return `file:${this.#path}`;
  }

  stop(): void {
    this.#pending?.();
    this.#watcher?.close();
  }
}
