import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ClusterError } from './clusterError.ts';
import { pollUntil } from './polling.ts';

/**
 * Process supervision without a supervisor process (the demo's simulator, operator and
 * Prometheus): each runs detached in its own
 * session and process group, with stdio in its log file, and a pid file tells later commands
 * (`down`, `status`, another `up`) where it is. Every process carries a marker variable so that
 * whatever it leaves behind can still be found.
 */

/**
 * The environment variable every demo process carries; its value is the state directory.
 */
export const markerVariable = 'BREAKWATER_STATE_DIR';

/** A pid plus the kernel's start time of the process, so that a reused pid is not mistaken for it. */
export interface ProcessIdentity {
  readonly pid: number;
  readonly startTicks: number | undefined;
}

export interface ProcessRecord extends ProcessIdentity {
  readonly component: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly logFile: string;
  readonly startedAt: string;
}

export interface StartSpec {
  readonly component: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  readonly logFile: string;
  readonly pidFile: string;
}

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface StartedProcess {
  readonly record: ProcessRecord;
  /** How it ended, once it has; known only to the process that started it. */
  exitStatus(): ExitStatus | undefined;
}

export async function startDetached(spec: StartSpec): Promise<StartedProcess> {
  await mkdir(dirname(spec.logFile), { recursive: true });
  await mkdir(dirname(spec.pidFile), { recursive: true });
  const log = openSync(spec.logFile, 'w');
  writeSync(log, `# ${new Date().toISOString()} ${spec.command} ${spec.args.join(' ')}\n`);
  let exit: ExitStatus | undefined;
  let spawnError: Error | undefined;
  try {
    const child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: spec.env,
      detached: true,
      stdio: ['ignore', log, log],
    });
    child.on('error', (error) => {
      spawnError = error;
    });
    child.on('exit', (code, signal) => {
      exit = { code, signal };
    });
    child.unref();
    const pid = child.pid;
    if (pid === undefined) {
      await new Promise((resolve) => setImmediate(resolve));
      throw new ClusterError(
        'ExitedEarly',
        `could not run ${spec.command}: ${spawnError?.message ?? 'spawn failed'}`,
        { component: spec.component },
      );
    }
    const record: ProcessRecord = {
      component: spec.component,
      pid,
      startTicks: startTicksOf(pid),
      command: spec.command,
      args: spec.args,
      logFile: spec.logFile,
      startedAt: new Date().toISOString(),
    };
    await writeRecord(spec.pidFile, record);
    return { record, exitStatus: () => exit };
  } finally {
    closeSync(log);
  }
}

async function writeRecord(path: string, record: ProcessRecord): Promise<void> {
  const partial = `${path}.partial`;
  await writeFile(partial, `${JSON.stringify(record, null, 2)}\n`);
  await rename(partial, path);
}

export async function readRecord(pidFile: string): Promise<ProcessRecord | undefined> {
  try {
    return JSON.parse(await readFile(pidFile, 'utf8')) as ProcessRecord;
  } catch {
    return undefined;
  }
}

export async function removeRecord(pidFile: string): Promise<void> {
  await rm(pidFile, { force: true });
}

interface ProcStat {
  readonly state: string;
  readonly pgrp: number;
  readonly session: number;
  readonly startTicks: number;
}

const hasProc = existsSync('/proc/self/stat');

function procStat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may hold spaces; the fields after it are fixed.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return {
      state: fields[0] ?? '?',
      pgrp: Number(fields[2]),
      session: Number(fields[3]),
      startTicks: Number(fields[19]),
    };
  } catch {
    return undefined;
  }
}

function startTicksOf(pid: number): number | undefined {
  return procStat(pid)?.startTicks;
}

export function identityOf(pid: number): ProcessIdentity {
  return { pid, startTicks: startTicksOf(pid) };
}

function isLiving(stat: ProcStat | undefined): stat is ProcStat {
  return stat !== undefined && stat.state !== 'Z' && stat.state !== 'X';
}

/** Alive, not a zombie, and the same process the record describes (not a reused pid). */
export function isAlive(record: ProcessIdentity): boolean {
  if (!hasProc) return signalReaches(record.pid);
  const stat = procStat(record.pid);
  if (!isLiving(stat)) return false;
  return record.startTicks === undefined || stat.startTicks === record.startTicks;
}

function signalReaches(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Living processes of a process group (or of a session, with `by: 'session'`). */
function membersOf(id: number, by: 'group' | 'session'): number[] {
  if (!hasProc) return signalReaches(-id) ? [id] : [];
  return livingPids().filter((pid) => {
    const stat = procStat(pid);
    return isLiving(stat) && (by === 'group' ? stat.pgrp : stat.session) === id;
  });
}

function livingPids(): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number);
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}

/**
 * True when `record.pid` now belongs to another process. While a group or session of ours has
 * members, the kernel keeps its id from being reused; so when no such stranger exists, the
 * processes in group or session `record.pid` are ours even though the leader is gone.
 */
function pidReused(record: ProcessIdentity): boolean {
  const stat = procStat(record.pid);
  return (
    stat !== undefined && record.startTicks !== undefined && stat.startTicks !== record.startTicks
  );
}

export type StopOutcome = 'not-running' | 'stopped' | 'killed';

export interface StopOptions {
  /** How long the process may take over SIGTERM before SIGKILL. */
  readonly graceMs: number;
}

/** SIGTERM, then SIGKILL after the grace period, until no process of the group is left. */
export async function stopProcess(
  record: ProcessRecord,
  options: StopOptions,
): Promise<StopOutcome> {
  if (pidReused(record)) return 'not-running';
  if (!isAlive(record) && membersOf(record.pid, 'group').length === 0) return 'not-running';
  // The group, not a list of its members: a child forked after the listing would miss the
  // signal, while the kernel delivers a group signal to every member, forks in progress too.
  signalGroup(record.pid, 'SIGTERM');
  if (await waitUntil(() => membersOf(record.pid, 'group').length === 0, options.graceMs)) {
    return 'stopped';
  }
  signalGroup(record.pid, 'SIGKILL');
  await waitUntil(() => membersOf(record.pid, 'group').length === 0, 5000);
  return 'killed';
}

/** Signals a process group (0 only checks it exists); a group that is already gone is not an error. */
export function signalGroup(pgid: number | undefined, signal: NodeJS.Signals | 0): boolean {
  if (pgid === undefined || pgid <= 1) return false;
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const outcome = await pollUntil(() => Promise.resolve(condition()), {
    timeoutMs,
    intervalMs: 100,
  });
  return outcome.kind === 'done';
}

/**
 * Processes left behind: any that carries the marker for this state directory, or that lives
 * in the session of a component that was started. Never this process or its ancestors.
 */
export function findLeftovers(stateDir: string, started: readonly ProcessIdentity[]): number[] {
  const sessions = started.filter((record) => !pidReused(record)).map((record) => record.pid);
  if (!hasProc) return sessions.flatMap((session) => membersOf(session, 'session'));
  const exempt = new Set(ancestry(process.pid));
  const marker = `${markerVariable}=${stateDir}\0`;
  return livingPids().filter((pid) => {
    if (exempt.has(pid)) return false;
    const stat = procStat(pid);
    if (!isLiving(stat)) return false;
    if (sessions.includes(stat.session)) return true;
    try {
      return readFileSync(`/proc/${pid}/environ`, 'utf8').includes(marker);
    } catch {
      return false;
    }
  });
}

function ancestry(pid: number): number[] {
  const chain: number[] = [];
  let current = pid;
  while (current > 1 && chain.length < 64) {
    chain.push(current);
    try {
      const text = readFileSync(`/proc/${current}/stat`, 'utf8');
      current = Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[1]);
    } catch {
      break;
    }
  }
  return chain;
}

/**
 * Stops what `find` lists: SIGTERM, a short wait, then SIGKILL. `find` is asked again while
 * waiting, so a process that a leftover forks after the first listing is stopped as well.
 */
export async function killLeftovers(find: () => readonly number[], graceMs: number): Promise<void> {
  const terminated = new Set<number>();
  const terminateNewcomers = (): boolean => {
    const pids = find();
    for (const pid of pids) {
      if (terminated.has(pid)) continue;
      terminated.add(pid);
      signal(pid, 'SIGTERM');
    }
    return pids.length === 0;
  };
  if (await waitUntil(terminateNewcomers, graceMs)) return;
  const killAll = (): boolean => {
    const pids = find();
    for (const pid of pids) signal(pid, 'SIGKILL');
    return pids.length === 0;
  };
  await waitUntil(killAll, 5000);
}

/** The last `lines` lines of a log file, or undefined when there is none. */
export function logTail(path: string, lines = 25): string | undefined {
  try {
    const text = readFileSync(path, 'utf8');
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return undefined;
  }
}
