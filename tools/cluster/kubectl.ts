/**
 * The real kubectl, as the demo's reader would type it: every command the demo shows is
 * one it ran. The kubeconfig travels in KUBECONFIG, so what is printed is what to type.
 */
import { runCommand, type RunResult } from './runCommand.ts';

export type KubectlResult = RunResult;

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
    runCommand(binary, args, {
      ...options,
      env: { ...process.env, KUBECONFIG: kubeconfig },
      timeoutMs: options.timeoutMs ?? 60_000,
    });
  return Object.assign(run, {
    display: (args: readonly string[]) => `kubectl ${args.map(shellWord).join(' ')}`,
  });
}

function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
