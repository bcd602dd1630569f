/**
 * The real kubectl, as the demo's reader would type it: every command the demo shows is
 * one it ran. The kubeconfig travels in KUBECONFIG, so what is printed is what to type.
 */
import { spawn } from 'node:child_process';

export interface KubectlResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
}

export interface KubectlRunOptions {
  /** Written to standard input (for `apply -f -`). */
  readonly input?: string;
  /** Resolve with the exit code instead of rejecting when kubectl fails. */
  readonly allowFailure?: boolean;
  readonly timeoutMs?: number;
}

export interface Kubectl {
  (args: readonly string[], options?: KubectlRunOptions): Promise<KubectlResult>;
  /** The command line a reader would type (after `export KUBECONFIG=…`). */
  readonly display: (args: readonly string[]) => string;
}

export function kubectlFor(binary: string, kubeconfig: string): Kubectl {
  const run = (args: readonly string[], options: KubectlRunOptions = {}): Promise<KubectlResult> =>
    new Promise((resolve, reject) => {
      const child = spawn(binary, args, {
        stdio: ['pipe', 'pipe', 'pipe'],
        env: { ...process.env, KUBECONFIG: kubeconfig },
        timeout: options.timeoutMs ?? 60_000,
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk;
      });
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        stderr += chunk;
      });
      child.on('error', reject);
      child.on('close', (exitCode, signal) => {
        const code = exitCode ?? 128;
        if (code !== 0 && options.allowFailure !== true) {
          const how = signal === null ? `exited with ${code}` : `was killed by ${signal}`;
          reject(new Error(`kubectl ${args.join(' ')} ${how}: ${stderr.trim() || stdout.trim()}`));
          return;
        }
        resolve({ stdout, stderr, code });
      });
      child.stdin.end(options.input ?? '');
    });
  return Object.assign(run, {
    display: (args: readonly string[]) => `kubectl ${args.map(shellWord).join(' ')}`,
  });
}

function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
