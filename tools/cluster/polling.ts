import { setTimeout as sleep } from 'node:timers/promises';

export interface PollOptions {
  readonly timeoutMs: number;
  readonly intervalMs: number;
  /** Called now and then while waiting with the time waited so far. */
  readonly onWaiting?: (elapsedMs: number) => void;
  readonly waitingEveryMs?: number;
  /** Checked before each attempt: a reason to give up at once (the process died). */
  readonly abortIf?: () => string | undefined;
}

export type PollOutcome<T> =
  | { readonly kind: 'done'; readonly value: T; readonly elapsedMs: number }
  | { readonly kind: 'timeout'; readonly lastError: unknown; readonly elapsedMs: number }
  | { readonly kind: 'aborted'; readonly reason: string; readonly elapsedMs: number };

/**
 * Calls `probe` until it returns something other than `undefined` or `false`. A probe that
 * throws counts as "not yet"; its last error is kept for the timeout report.
 */
export async function pollUntil<T>(
  probe: () => Promise<T | undefined | false>,
  options: PollOptions,
): Promise<PollOutcome<T>> {
  const started = Date.now();
  const waitingEveryMs = options.waitingEveryMs ?? 5000;
  let nextWaitingReport = started + waitingEveryMs;
  let lastError: unknown;
  for (;;) {
    const reason = options.abortIf?.();
    if (reason !== undefined) return { kind: 'aborted', reason, elapsedMs: Date.now() - started };
    try {
      const value = await probe();
      if (value !== undefined && value !== false) {
        return { kind: 'done', value, elapsedMs: Date.now() - started };
      }
    } catch (error: unknown) {
      lastError = error;
    }
    const now = Date.now();
    if (now - started >= options.timeoutMs) {
      return { kind: 'timeout', lastError, elapsedMs: now - started };
    }
    if (options.onWaiting !== undefined && now >= nextWaitingReport) {
      options.onWaiting(now - started);
      nextWaitingReport = now + waitingEveryMs;
    }
    await sleep(options.intervalMs);
  }
}

export function errorText(error: unknown): string {
  if (error instanceof Error) {
    // fetch says only "fetch failed"; what failed (ECONNREFUSED, a reset, DNS) is its cause.
    return error.cause instanceof Error
      ? `${error.message}: ${error.cause.message}`
      : error.message;
  }
  if (error === undefined) return 'no answer';
  return typeof error === 'string' ? error : JSON.stringify(error);
}
