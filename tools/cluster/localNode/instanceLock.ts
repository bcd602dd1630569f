/**
 * One local node per state directory. Two would each run every pod, fight over ports and
 * kill each other's processes; the second one refuses to start instead.
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export interface InstanceLock {
  release(): void;
}

export function acquireInstanceLock(stateDir: string): InstanceLock {
  mkdirSync(stateDir, { recursive: true });
  const path = join(stateDir, 'local-node.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return {
        release: () => {
          if (holder(path) === process.pid) rmSync(path, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = holder(path);
      if (pid !== undefined && pid !== process.pid && isLocalNode(pid)) {
        throw new Error(`another local node (pid ${pid}) already runs with state dir ${stateDir}`);
      }
      rmSync(path, { force: true }); // left by a local node that is gone
    }
  }
  throw new Error(`cannot take ${path}`);
}

function holder(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function isLocalNode(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('localNode/main.ts');
  } catch {
    return false;
  }
}
