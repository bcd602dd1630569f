/**
 * What `bench/runtime.ts` reads about the processes under test from /proc (Linux): CPU time
 * used, and the TCP connections each holds to the simulator, to show that both paths keep
 * their upstream connections alive and reuse them.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** User + system CPU time of a process, in milliseconds. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1000) / TICKS_PER_SECOND;
}

/**
 * The same to the microsecond: the scheduler's nanoseconds on a CPU (schedstat), summed over
 * the process's threads. /proc/<pid>/stat counts in 10 ms ticks, 50 µs per call over a round
 * of 200 calls: coarser than the differences a per-call figure is read for.
 */
export function cpuUs(pid: number): number {
  let ns = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'latin1').split(' ')[0]);
    } catch {
      // The thread ended between the listing and the read: its time is no longer counted.
    }
  }
  return ns / 1000;
}

/** CPU time of this process (the load generator), in milliseconds. */
export function ownCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

interface TcpEntry {
  readonly localPort: number;
  readonly remotePort: number;
  readonly state: string;
  readonly inode: string;
}

function tcpTable(): TcpEntry[] {
  const out: TcpEntry[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'latin1');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const local = f[1] ?? '';
      const remote = f[2] ?? '';
      out.push({
        localPort: Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16),
        remotePort: Number.parseInt(remote.slice(remote.lastIndexOf(':') + 1), 16),
        state: f[3] ?? '',
        inode: f[9] ?? '',
      });
    }
  }
  return out;
}

function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (link.startsWith('socket:[')) inodes.add(link.slice(8, -1));
    } catch {
      // closed meanwhile
    }
  }
  return inodes;
}

const ESTABLISHED = '01';
const TIME_WAIT = '06';

export interface UpstreamSockets {
  /** Local ports of the process's established connections to `port`. */
  readonly ports: readonly number[];
  /** Connections to `port` in TIME_WAIT, from any process: closed ones linger there. */
  readonly timeWait: number;
}

/** The connections `pid` holds open to `port`. */
export function upstreamSockets(pid: number, port: number): UpstreamSockets {
  const table = tcpTable();
  const mine = socketInodes(pid);
  return {
    ports: table
      .filter((e) => e.remotePort === port && e.state === ESTABLISHED && mine.has(e.inode))
      .map((e) => e.localPort)
      .sort((a, b) => a - b),
    timeWait: table.filter(
      (e) => (e.remotePort === port || e.localPort === port) && e.state === TIME_WAIT,
    ).length,
  };
}
