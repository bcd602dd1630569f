/** The operator's own metrics: what on-call needs to tell a slow operator from a stuck one. */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export type ReconcileResult = 'success' | 'error';

/** A team budget's series: its RateLimitPolicy (not the operator's own namespace) and name. */
type TeamLabel = 'policy_namespace' | 'policy' | 'budget';
const TEAM_LABELS: TeamLabel[] = ['policy_namespace', 'policy', 'budget'];

export class OperatorMetrics {
  readonly registry: Registry;
  readonly reconciles: Counter<'kind' | 'result'>;
  readonly reconcileDuration: Histogram<'kind'>;
  readonly queueDepth: Gauge<'kind'>;
  readonly watchRestarts: Counter<'kind' | 'reason'>;
  readonly statusWrites: Counter<'kind'>;
  readonly applies: Counter<'kind'>;
  readonly leader: Gauge;
  readonly teamBudgetSpent: Gauge<TeamLabel>;
  readonly teamBudgetWarn: Gauge<TeamLabel>;
  /** The team budgets each policy (`namespace/name`) has series for. */
  readonly #teams = new Map<string, readonly string[]>();

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
    this.teamBudgetSpent = new Gauge({
      name: 'breakwater_operator_team_budget_spent_ratio',
      help: "The part of a team's budget (RateLimitPolicy budgets[].per: Policy) every agent on the policy has spent together this period, by the tighter limit (1 is spent), as the policy's status.budgets[] has it. The leader's only.",
      labelNames: TEAM_LABELS,
      registers: [registry],
    });
    this.teamBudgetWarn = new Gauge({
      name: 'breakwater_operator_team_budget_warn_ratio',
      help: "A team's budget's warnAtPercent as a ratio (0.8 for 80).",
      labelNames: TEAM_LABELS,
      registers: [registry],
    });
  }

  /**
   * A policy's team budgets as its status shows them now; none (no team budget, or the policy
   * gone) removes its series.
   */
  showTeamBudgets(
    namespace: string,
    policy: string,
    budgets: readonly { name: string; percent: number; warnAtPercent: number }[],
  ): void {
    const key = `${namespace}/${policy}`;
    const now = new Set(budgets.map((b) => b.name));
    for (const budget of this.#teams.get(key) ?? [])
      if (!now.has(budget)) {
        const labels = { policy_namespace: namespace, policy, budget };
        this.teamBudgetSpent.remove(labels);
        this.teamBudgetWarn.remove(labels);
      }
    for (const b of budgets) {
      const labels = { policy_namespace: namespace, policy, budget: b.name };
      this.teamBudgetSpent.set(labels, b.percent / 100);
      this.teamBudgetWarn.set(labels, b.warnAtPercent / 100);
    }
    if (now.size === 0) this.#teams.delete(key);
    else this.#teams.set(key, [...now]);
  }
}
