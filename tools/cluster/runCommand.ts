/** Runs a program to completion and collects what it printed: kubectl, helm, build scripts. */
import { spawn } from 'node:child_process';

export interface RunResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
}

export interface RunOptions {
  /** Written to standard input (for `apply -f -`). */
  readonly input?: string;
  /** Resolve with the exit code instead of rejecting when the program fails. */
  readonly allowFailure?: boolean;
  readonly timeoutMs?: number;
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Copy the program's standard error to ours as it arrives (for long builds). */
  readonly streamStderr?: boolean;
}

/**
 * Rejects, naming the command line and what the program said, when it exits non-zero (unless
 * `allowFailure`) or runs past `timeoutMs` (default 120 s).
 */
export function runCommand(
  command: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      ...(options.env === undefined ? {} : { env: options.env }),
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 120_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      if (options.streamStderr === true) process.stderr.write(chunk);
    });
    child.on('error', reject);
    child.on('close', (exitCode, signal) => {
      const code = exitCode ?? 128;
      if (code !== 0 && options.allowFailure !== true) {
        const how = signal === null ? `exited with ${code}` : `was killed by ${signal}`;
        const shown = [command.split('/').pop() ?? command, ...args].join(' ');
        // Standard error already streamed is not repeated whole: its closing error lines say why.
        const said = options.streamStderr === true ? closingError(stderr) : stderr.trim();
        reject(new Error(`${shown} ${how}: ${said || stdout.trim()}`));
        return;
      }
      resolve({ stdout, stderr, code });
    });
    // A program that exits without reading its input (iptables-save) closes the pipe first.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

/** From the last line that starts with `error` to the end, or the last three lines. */
export function closingError(stderr: string): string {
  const lines = stderr.trim().split('\n');
  const last = lines.findLastIndex((line) => /^error\b/i.test(line));
  return lines.slice(last === -1 ? -3 : last).join('\n');
}
