/**
 * Polls a CircuitBreakerPolicy until its status acknowledges the override on every replica,
 * or the timeout passes. The clock is injected, so the loop is a unit test.
 */
import type { CircuitBreakerPolicy } from '../../../contract/src/api/resources.ts';
import type { Clock } from '../../../platform/src/time/clock.ts';
import { sleep } from '../../../platform/src/time/sleep.ts';
import {
  overrideAcknowledgement,
  type Acknowledgement,
  type ReplicaReport,
  type WantedOverride,
} from './acknowledgement.ts';

export interface WaitOptions {
  /** The policy now, and for a reset what the replicas of its agents report. */
  readonly read: () => Promise<{
    readonly policy: CircuitBreakerPolicy;
    readonly replicas?: readonly ReplicaReport[];
  }>;
  readonly wanted: WantedOverride;
  /** The policy generation the patch produced. */
  readonly generation: number;
  readonly timeoutMs: number;
  readonly clock: Clock;
  /** @default 250 */
  readonly intervalMs?: number;
}

export type WaitOutcome =
  | { readonly acknowledged: true; readonly ack: Acknowledgement; readonly waitedMs: number }
  | { readonly acknowledged: false; readonly ack: Acknowledgement; readonly waitedMs: number };

export async function waitForAcknowledgement(options: WaitOptions): Promise<WaitOutcome> {
  const { clock } = options;
  const started = clock.now();
  const interval = options.intervalMs ?? 250;
  for (;;) {
    const { policy, replicas } = await options.read();
    const ack = overrideAcknowledgement(policy, options.wanted, options.generation, replicas);
    const waitedMs = clock.now() - started;
    if (ack.done) return { acknowledged: true, ack, waitedMs };
    if (waitedMs >= options.timeoutMs) return { acknowledged: false, ack, waitedMs };
    await sleep(clock, Math.min(interval, options.timeoutMs - waitedMs));
  }
}
