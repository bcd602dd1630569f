/**
 * Client keys from the client-keys Secret mounted as a volume: each file in the directory is
 * one accepted key (the Secret's values; its key names are for the people who rotate them).
 * The kubelet reads the Secret, not the runtime and not the operator, and swaps a changed one
 * in atomically (`..data` re-pointed), so the directory is watched and read again after every
 * change, and every `resyncMs` in case a change went unseen: a rotated key reaches the running
 * process within the kubelet's sync period, without a restart. Until the first read, and while
 * the directory cannot be read at all, nobody gets in.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClientKeySource } from '../policy/sourceDeps.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Cancel, Clock } from '../../../platform/src/time/clock.ts';
import type { ClientKeys } from './clientKeys.ts';
import { CLIENT_KEYS_DIR_ENV } from '../../../contract/src/pod/runtimeEnvironment.ts';

const SETTLE_MS = 50;
const RETRY_MS = 1_000;

/** The keys the directory holds: every regular file but the kubelet's own (`..data`, `..<time>`). */
export async function readKeyDirectory(dir: string): Promise<string[]> {
  const keys: string[] = [];
  for (const name of (await readdir(dir)).sort()) {
    if (name.startsWith('..')) continue;
    const path = join(dir, name);
    // stat follows the kubelet's symlinks (`key -> ..data/key`) to the file itself.
    if (!(await stat(path)).isFile()) continue;
    const key = (await readFile(path, 'utf8')).trim();
    if (key !== '') keys.push(key);
  }
  return keys;
}

export interface ClientKeyDirectoryOptions {
  /** The mounted directory; undefined when the pod mounts none. */
  readonly dir: string | undefined;
  readonly keys: Pick<ClientKeys, 'set'>;
  readonly clock: Clock;
  readonly logger: Logger;
  /** @default 60000 */
  readonly resyncMs?: number;
}

export class ClientKeyDirectory implements ClientKeySource {
  readonly #o: ClientKeyDirectoryOptions;
  readonly #resyncMs: number;
  #following = false;
  #watcher: FSWatcher | undefined;
  #pending: Cancel | undefined;
  #resync: Cancel | undefined;
  /** The keys last set, sorted and joined, so only a change is logged. */
  #loaded: string | undefined;

  constructor(options: ClientKeyDirectoryOptions) {
    this.#o = options;
    this.#resyncMs = options.resyncMs ?? 60_000;
  }

  /** Any Secret name switches keys on: the pod mounts the one its Deployment names. */
  follow(secretName: string | undefined): void {
    if (secretName === undefined) {
      this.stop();
      this.#o.keys.set(undefined);
      return;
    }
    if (this.#following) return;
    this.#following = true;
    this.#o.keys.set([]);
    const { dir } = this.#o;
    if (dir === undefined) {
      this.#o.logger.warn(
        { secret: secretName },
        `access.clientKeysSecret is set but ${CLIENT_KEYS_DIR_ENV} names no mounted Secret: every call will get 401`,
      );
      return;
    }
    this.#watch(dir);
    void this.reload();
  }

  /** Reads the directory now; on failure keeps the keys in force and tries again shortly. */
  async reload(): Promise<void> {
    const { dir } = this.#o;
    if (!this.#following || dir === undefined) return;
    this.#resync?.();
    try {
      const keys = await readKeyDirectory(dir);
      if (!this.#isFollowing()) return; // switched off while it read
      this.#o.keys.set(keys);
      const fingerprint = [...keys].sort().join('\n');
      if (fingerprint !== this.#loaded) {
        this.#loaded = fingerprint;
        this.#o.logger.info({ dir, keys: keys.length }, 'client keys loaded');
      }
      this.#schedule(this.#resyncMs);
    } catch (err) {
      // A rotation may swap files between the listing and the reads: the next read settles it.
      this.#o.logger.warn({ dir, err: String(err) }, 'cannot read the client keys; retrying');
      this.#schedule(RETRY_MS);
    }
  }

  // A method, not a field read, so flow analysis does not assume it is unchanged across awaits.
  #isFollowing(): boolean {
    return this.#following;
  }

  stop(): void {
    this.#following = false;
    this.#loaded = undefined;
    this.#watcher?.close();
    this.#watcher = undefined;
    this.#pending?.();
    this.#pending = undefined;
    this.#resync?.();
    this.#resync = undefined;
  }

  #watch(dir: string): void {
    try {
      const watcher = watch(dir, () => {
        this.#pending?.();
        this.#pending = this.#o.clock.setTimeout(() => void this.reload(), SETTLE_MS);
      });
      // The directory went away: read on the resync, and watch again once it is back.
      watcher.on('error', () => {
        watcher.close();
        if (this.#watcher === watcher) this.#watcher = undefined;
      });
      this.#watcher = watcher;
    } catch {
      // Not there (yet): the periodic read still finds it.
      this.#watcher = undefined;
    }
  }

  #schedule(ms: number): void {
    this.#resync?.();
    this.#resync = this.#o.clock.setTimeout(() => {
      if (this.#watcher === undefined && this.#o.dir !== undefined) this.#watch(this.#o.dir);
      void this.reload();
    }, ms);
  }
}
