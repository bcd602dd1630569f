/**
 * What runs where, on disk: `<state-dir>/pods/<ns>_<pod>/state.json` lists the process group
 * of each running container. When the local node starts, every group still recorded there
 * belongs to a local node that died without cleaning up; it is stopped before pods are
 * started again, so nothing holds their ports and nothing runs twice.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { signalGroup } from './containerProcess.ts';
import type { Logger } from './log.ts';

interface ProcessEntry {
  readonly pid: number;
  /** /proc start time of the group leader, so a reused pid is never mistaken for ours. */
  readonly startTicks: string | undefined;
}

interface PodRecord {
  readonly uid: string;
  readonly processes: Record<string, ProcessEntry>;
}

export interface PodIdentity {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

export class ProcessRecords {
  readonly #root: string;

  constructor(stateDir: string) {
    this.#root = join(stateDir, 'pods');
  }

  /** The pod's directory: container logs, state.json, service-account credentials. */
  podDir(pod: Pick<PodIdentity, 'namespace' | 'name'>): string {
    return join(this.#root, `${pod.namespace}_${pod.name}`);
  }

  /** Records (or, with undefined, forgets) the process group of one container. */
  setProcess(pod: PodIdentity, container: string, pid: number | undefined): void {
    const record = this.#read(this.podDir(pod));
    const others = Object.entries(record?.uid === pod.uid ? record.processes : {}).filter(
      ([name]) => name !== container,
    );
    const processes: Record<string, ProcessEntry> = Object.fromEntries(others);
    if (pid !== undefined) processes[container] = { pid, startTicks: startTicks(pid) };
    mkdirSync(this.podDir(pod), { recursive: true });
    writeFileSync(this.#file(this.podDir(pod)), JSON.stringify({ uid: pod.uid, processes }));
  }

  /** Forgets the pod (its logs stay for debugging). Another pod of the same name is left alone. */
  forget(pod: PodIdentity): void {
    const dir = this.podDir(pod);
    if (this.#read(dir)?.uid === pod.uid) rmSync(this.#file(dir), { force: true });
  }

  /** Stops every recorded process group: SIGTERM, then SIGKILL after `graceMs`. Returns how many. */
  async reapStale(log: Logger, graceMs = 3_000): Promise<number> {
    let dirs: string[];
    try {
      dirs = readdirSync(this.#root);
    } catch {
      return 0;
    }
    const groups: number[] = [];
    for (const entry of dirs) {
      const dir = join(this.#root, entry);
      for (const [container, proc] of Object.entries(this.#read(dir)?.processes ?? {})) {
        const leaderTicks = startTicks(proc.pid);
        if (leaderTicks !== undefined && leaderTicks !== proc.startTicks) continue; // pid reused
        if (signalGroup(proc.pid, 'SIGTERM')) {
          log.info('stopping a process left by an earlier local node', {
            pod: entry,
            container,
            pid: proc.pid,
          });
          groups.push(proc.pid);
        }
      }
      rmSync(this.#file(dir), { force: true });
    }
    for (let waited = 0; waited < graceMs && groups.some(groupAlive); waited += 100) {
      await sleep(100);
    }
    for (const pid of groups) signalGroup(pid, 'SIGKILL');
    return groups.length;
  }

  #file(dir: string): string {
    return join(dir, 'state.json');
  }

  #read(dir: string): PodRecord | undefined {
    try {
      return JSON.parse(readFileSync(this.#file(dir), 'utf8')) as PodRecord;
    } catch {
      return undefined;
    }
  }
}

/** Field 22 of /proc/<pid>/stat (after the parenthesised command, which may hold spaces). */
function startTicks(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function groupAlive(pgid: number): boolean {
  return signalGroup(pgid, 0);
}
