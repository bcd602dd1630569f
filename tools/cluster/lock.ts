import { closeSync, openSync, writeSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ClusterError } from './clusterError.ts';
import type { Progress } from './progress.ts';
import { identityOf, isAlive, type ProcessIdentity } from './supervisor.ts';

/**
 * One demo environment's `up` or `down` at a time (a `make up` in one shell, a `make demo` in
 * another).
 * The lock file names its holder; a holder that died leaves a stale lock, which is taken over.
 */
export async function acquireLock(
  path: string,
  progress: Progress,
  timeoutMs: number,
): Promise<() => Promise<void>> {
  await mkdir(dirname(path), { recursive: true });
  const deadline = Date.now() + timeoutMs;
  let told = false;
  for (;;) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, JSON.stringify(identityOf(process.pid)));
      closeSync(fd);
      return () => rm(path, { force: true });
    } catch (error: unknown) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = await readHolder(path);
    if (holder === undefined || !isAlive(holder)) {
      await rm(path, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new ClusterError(
        'Busy',
        `another cluster command (pid ${holder.pid}) has held ${path} for too long`,
        { component: 'cluster' },
      );
    }
    if (!told) {
      progress(`waiting for another cluster command (pid ${holder.pid}) to finish`);
      told = true;
    }
    await sleep(500);
  }
}

async function readHolder(path: string): Promise<ProcessIdentity | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as ProcessIdentity;
  } catch {
    // Being written right now, or garbage: look again shortly.
    await sleep(50);
    try {
      return JSON.parse(await readFile(path, 'utf8')) as ProcessIdentity;
    } catch {
      return undefined;
    }
  }
}
