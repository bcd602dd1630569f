import { errorText, pollUntil } from '../tools/cluster/polling.ts';
import { EnvironmentError } from './environmentError.ts';
import { checkAborted } from './interrupts.ts';

export interface WaitOptions {
  readonly what: string;
  readonly timeoutMs: number;
  readonly intervalMs?: number;
  readonly signal?: AbortSignal | undefined;
  /** Errors of this class end the wait at once instead of counting as "not yet". */
  readonly fatal?: new (...args: never[]) => Error;
}

/**
 * Polls until `probe` is true (the cluster tool's pollUntil); says what it waited for when it
 * gives up, and stops at once on an interrupt or a fatal error.
 */
export async function waitFor(probe: () => Promise<boolean>, options: WaitOptions): Promise<void> {
  let fatal: Error | undefined;
  const outcome = await pollUntil(
    async () => {
      checkAborted(options.signal);
      try {
        return await probe();
      } catch (err) {
        if (options.fatal !== undefined && err instanceof options.fatal) fatal = err;
        throw err;
      }
    },
    {
      timeoutMs: options.timeoutMs,
      intervalMs: options.intervalMs ?? 500,
      abortIf: () => (fatal !== undefined || options.signal?.aborted === true ? 'stop' : undefined),
    },
  );
  if (outcome.kind === 'done') return;
  if (fatal !== undefined) throw fatal;
  checkAborted(options.signal);
  const why =
    outcome.kind === 'timeout' && outcome.lastError instanceof Error
      ? ` (last error: ${errorText(outcome.lastError)})`
      : '';
  throw new EnvironmentError(
    `timed out after ${Math.round(options.timeoutMs / 1000)}s waiting for ${options.what}${why}`,
  );
}
