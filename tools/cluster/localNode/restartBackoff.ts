/**
 * Kubelet's crash-loop back-off: the first restart is immediate, then the wait starts at
 * `initialMs` (10 s) and doubles up to `maxMs` (5 min). A container that ran for
 * `resetAfterMs` (10 min, twice the cap) before it exited starts over.
 */
export interface BackoffPolicy {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly resetAfterMs: number;
}

export const kubeletBackoff: BackoffPolicy = {
  initialMs: 10_000,
  maxMs: 300_000,
  resetAfterMs: 600_000,
};

/** The kubelet curve scaled to another starting wait (tests use a short one). */
export function backoffFrom(initialMs: number): BackoffPolicy {
  const maxMs = initialMs * 30;
  return { initialMs, maxMs, resetAfterMs: maxMs * 2 };
}

/** How long to wait before the restart that follows the `crashes`-th consecutive crash (1-based). */
export function restartDelayMs(policy: BackoffPolicy, crashes: number): number {
  if (crashes <= 1) return 0;
  return Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(crashes - 2, 30));
}

/** Counts consecutive crashes, forgetting them after a long enough run. */
export class CrashCounter {
  readonly #policy: BackoffPolicy;
  #crashes = 0;

  constructor(policy: BackoffPolicy) {
    this.#policy = policy;
  }

  /** Records an exit after running `ranMs`; returns how long to wait before restarting. */
  crashed(ranMs: number): number {
    this.#crashes = ranMs >= this.#policy.resetAfterMs ? 1 : this.#crashes + 1;
    return restartDelayMs(this.#policy, this.#crashes);
  }

  get crashes(): number {
    return this.#crashes;
  }
}

/**
 * How long a container that cannot start yet (missing Secret, unknown image) waits before
 * the `failures`-th retry: 1 s doubling up to the first crash-loop wait, so a Secret created
 * a moment later is picked up quickly, as kubelet's pod resync would.
 */
export function configRetryDelayMs(policy: BackoffPolicy, failures: number): number {
  return Math.min(policy.initialMs, 1_000 * 2 ** Math.min(Math.max(failures - 1, 0), 20));
}
