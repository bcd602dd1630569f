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

/**
 * What went wrong, in words. Under jest's module VM an error from Node's own realm (fetch's
 * TypeError, AbortSignal.timeout's DOMException) is not `instanceof Error` there, so anything
 * with a string `message` counts as an error; fetch says only "fetch failed", and what failed
 * (ECONNREFUSED, a reset, DNS) is its cause.
 */
export function errorText(error: unknown): string {
  if (error === undefined) return 'no answer';
  if (typeof error === 'string') return error;
  const message = messageOf(error);
  if (message === undefined) return JSON.stringify(error);
  const cause = messageOf((error as { cause?: unknown }).cause);
  return cause === undefined ? message : `${message}: ${cause}`;
}

function messageOf(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || !('message' in value)) return undefined;
  const { message } = value;
  if (typeof message !== 'string') return undefined;
  const name = (value as { name?: unknown }).name;
  // A DOMException's message alone ("The operation was aborted due to timeout") hides its kind.
  return typeof name === 'string' &&
    name !== 'Error' &&
    name !== 'TypeError' &&
    !message.includes(name)
    ? `${name}: ${message}`
    : message;
}
