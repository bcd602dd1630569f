/** The operator's own metrics: what on-call needs to tell a slow operator from a stuck one. */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export type ReconcileResult = 'success' | 'error';

export class OperatorMetrics {
  readonly registry: Registry;
  readonly reconciles: Counter<'kind' | 'result'>;
  readonly reconcileDuration: Histogram<'kind'>;
  readonly queueDepth: Gauge<'kind'>;
  readonly watchRestarts: Counter<'kind' | 'reason'>;
  readonly statusWrites: Counter<'kind'>;
  readonly applies: Counter<'kind'>;
  readonly leader: Gauge;

  constructor(registry = new Registry()) {
    this.registry = registry;
    this.reconciles = new Counter({
      name: 'breakwater_operator_reconciles_total',
      help: 'Reconciles by kind and result.',
      labelNames: ['kind', 'result'],
      registers: [registry],
    });
    this.reconcileDuration = new Histogram({
      name: 'breakwater_operator_reconcile_duration_seconds',
      help: 'Time one reconcile took, by kind.',
      labelNames: ['kind'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    });
    this.queueDepth = new Gauge({
      name: 'breakwater_operator_workqueue_depth',
      help: 'Keys waiting in the work queue, by kind.',
      labelNames: ['kind'],
      registers: [registry],
    });
    this.watchRestarts = new Counter({
      name: 'breakwater_operator_watch_restarts_total',
      help: 'Watch restarts by kind and reason (gone, error, stalled, ended).',
      labelNames: ['kind', 'reason'],
      registers: [registry],
    });
    this.statusWrites = new Counter({
      name: 'breakwater_operator_status_writes_total',
      help: 'Status subresource writes, by kind (written only when status changed).',
      labelNames: ['kind'],
      registers: [registry],
    });
    this.applies = new Counter({
      name: 'breakwater_operator_applies_total',
      help: 'Server-side applies of owned objects, by kind.',
      labelNames: ['kind'],
      registers: [registry],
    });
    this.leader = new Gauge({
      name: 'breakwater_operator_leader',
      help: '1 while this process holds the leader lease.',
      registers: [registry],
    });
  }
}
