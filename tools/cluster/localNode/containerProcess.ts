/**
 * A container as a local process: its own process group (so a signal reaches everything it
 * started and nothing leaks), output appended to a log file, and an exit status shaped like
 * a container runtime's (a signal death is 128 + the signal number, as with SIGKILL → 137).
 */
import { spawn } from 'node:child_process';
import { mkdir, open } from 'node:fs/promises';
import { constants } from 'node:os';
import { dirname } from 'node:path';

export interface LaunchSpec {
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
  readonly logPath: string;
  /** Set in container mode: the process is `podman run` of this container (containerRuntime.ts). */
  readonly containerName?: string | undefined;
}

export interface ExitStatus {
  readonly exitCode: number;
  /** The signal that ended the process, if one did. */
  readonly signal: NodeJS.Signals | undefined;
}

export interface ContainerProcess {
  readonly pid: number;
  /** Resolves when the process has exited and its group has been swept. */
  readonly exited: Promise<ExitStatus>;
  /** Signals the whole process group. */
  signal(signal: NodeJS.Signals): void;
}

export interface ProcessLauncher {
  /** Starts the process; rejects when it cannot start (no such command, bad cwd). */
  launch(spec: LaunchSpec): Promise<ContainerProcess>;
}

export const localLauncher: ProcessLauncher = { launch: launchProcess };

async function launchProcess(spec: LaunchSpec): Promise<ContainerProcess> {
  const [file, ...args] = spec.argv;
  if (file === undefined) throw new Error('empty command');
  await mkdir(dirname(spec.logPath), { recursive: true });
  const log = await open(spec.logPath, 'a');
  try {
    const child = spawn(file, args, {
      cwd: spec.cwd,
      env: spec.env,
      // Its own process group: the container's processes are signalled together.
      detached: true,
      stdio: ['ignore', log.fd, log.fd],
    });
    const exited = new Promise<ExitStatus>((resolve) => {
      child.once('exit', (code, signal) => {
        // Like a container's PID 1 exiting: nothing else in the group survives it.
        signalGroup(child.pid, 'SIGKILL');
        resolve({ exitCode: exitCodeOf(code, signal), signal: signal ?? undefined });
      });
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    const pid = child.pid;
    if (pid === undefined) throw new Error(`${file} did not start`);
    return {
      pid,
      exited,
      signal: (signal) => {
        signalGroup(pid, signal);
      },
    };
  } finally {
    await log.close();
  }
}

/** A runtime's exit code: the process's own, or 128 + the signal that killed it. */
export function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  if (signal === null) return 0;
  return 128 + ((constants.signals[signal] as number | undefined) ?? 0);
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
