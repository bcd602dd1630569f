/**
 * One kind's work queue: reconciles timed and counted by result, failures logged and retried
 * with the queue's backoff.
 */
import type { Logger } from 'pino';
import type { Clock } from '../../../platform/src/time/clock.ts';
import { WorkQueue, type Outcome } from '../machinery/workQueue.ts';
import type { OperatorMetrics } from './operatorMetrics.ts';

export interface ReconcileQueueOptions {
  readonly kind: string;
  readonly reconcile: (key: string) => Promise<Outcome>;
  readonly metrics: OperatorMetrics;
  readonly log: Logger;
  readonly clock: Clock;
  /** Keys reconciled at once. */
  readonly concurrency: number;
}

export function reconcileQueue(o: ReconcileQueueOptions): WorkQueue {
  const { kind, metrics } = o;
  const q = new WorkQueue(
    async (key) => {
      const end = metrics.reconcileDuration.startTimer({ kind });
      try {
        const outcome = await o.reconcile(key);
        metrics.reconciles.inc({ kind, result: 'success' });
        return outcome;
      } catch (err) {
        metrics.reconciles.inc({ kind, result: 'error' });
        throw err;
      } finally {
        end();
      }
    },
    // Paused until every cache holds its first list: a reconcile must not read a cache that
    // is still filling (a policy or a child not seen yet), and the full pass in start() then
    // finds the keys the first lists queued already waiting, not running.
    { concurrency: o.concurrency, clock: o.clock, paused: true },
  );
  q.onError = (key, err, failures) => {
    o.log.warn({ kind, key, failures, err }, 'reconcile failed; retrying with backoff');
  };
  return q;
}
