/**
 * What `acknowledge: Replicas` waits for (decision 0062), and the error a write gets when no
 * replica confirmed it in time: the write happened on the primary, which may lose it in a
 * failover. Shared by the lane (acknowledgingLane.ts) and the client that routes to it
 * (replicaAcknowledged.ts).
 */

/** Replicas that must hold a write, and how long the primary waits for them. */
export const ACKNOWLEDGING_REPLICAS = 1;
export const ACKNOWLEDGE_TIMEOUT_MS = 500;
/** While no replica confirms, how often a batch still goes on the lane to ask again. */
export const PROBE_EVERY_MS = 250;

/** A write the primary took and no replica confirmed within ACKNOWLEDGE_TIMEOUT_MS. */
export class UnacknowledgedWriteError extends Error {
  readonly code = 'STORE_UNACKNOWLEDGED';
  /** What the primary answered: the write happened there. */
  readonly reply: unknown;
  /** Replicas that confirmed it (fewer than ACKNOWLEDGING_REPLICAS). */
  readonly replicas: number;

  constructor(reply: unknown, replicas: number, cause?: unknown) {
    super(
      cause instanceof Error && cause.message.startsWith('NOPERM')
        ? `no replica confirmed the write: the store's ACL user may not run WAIT, which acknowledge: Replicas sends after each write; add +wait to its rule (${cause.message})`
        : `no replica confirmed the write within ${String(ACKNOWLEDGE_TIMEOUT_MS)}ms (${String(replicas)} of ${String(ACKNOWLEDGING_REPLICAS)})`,
      cause === undefined ? undefined : { cause },
    );
    this.name = 'UnacknowledgedWriteError';
    this.reply = reply;
    this.replicas = replicas;
  }
}

export function isUnacknowledged(err: unknown): err is UnacknowledgedWriteError {
  return err instanceof UnacknowledgedWriteError;
}
