/**
 * The one way tests wait for something to become true: a bounded poll whose timeout says what
 * was awaited and what it last saw.
 */
import { errorText, pollUntil } from '../../tools/cluster/polling.ts';

export interface WaitForOptions {
  readonly timeoutMs: number;
  readonly intervalMs?: number;
  /** What is awaited, for the error: "Deployment demo to have 2 ready replicas". */
  readonly description: string;
}

/**
 * Polls `probe` until it returns something other than `undefined` or `false`, and returns that.
 * A probe that throws counts as "not yet"; on timeout the error names what was awaited and
 * what the probe last said: the error it threw, or that it returned false or undefined. A
 * probe that throws "not yet" with what it saw makes the best failure.
 */
export async function waitFor<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  options: WaitForOptions,
): Promise<T> {
  let last = 'no answer';
  const outcome = await pollUntil(
    async () => {
      try {
        const value = await probe();
        last = `returned ${String(value)}`;
        return value;
      } catch (error: unknown) {
        last = errorText(error);
        throw error;
      }
    },
    { timeoutMs: options.timeoutMs, intervalMs: options.intervalMs ?? 250 },
  );
  if (outcome.kind === 'done') return outcome.value;
  if (outcome.kind === 'aborted') last = outcome.reason;
  throw new Error(
    `timed out after ${(outcome.elapsedMs / 1000).toFixed(1)}s waiting for ${options.description}` +
      ` (last: ${last})`,
  );
}
