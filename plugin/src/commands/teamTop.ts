/**
 * `kubectl breakwater top`, by team: each team budget (RateLimitPolicy `budgets[].per:
 * Policy`, one account for every agent on the policy) with what the agents spent together and
 * each agent's part, from the policy's status (`status.budgets[]`, which the operator keeps
 * from the agents' pod reports), and where the spend comes from (`FROM`: Store, the team's
 * account as a pod last read it; Parts, the sum of the agents' parts). A policy list the plugin may not read is a note, not a failure.
 */
import type { BudgetStatus, RateLimitPolicy } from '../../../contract/src/api/resources.ts';
import { isKubeApiError } from '../../../platform/src/kube/kubeClient.ts';
import { Kinds } from '../../../platform/src/kube/resourceKinds.ts';
import type { PluginKube } from '../cluster/pluginKube.ts';
import { renderTable } from '../output/table.ts';

export interface TeamTop {
  readonly namespace: string;
  /** The RateLimitPolicy's name. */
  readonly policy: string;
  /** The team budget's entry in the policy's status. */
  readonly budget: BudgetStatus;
}

export interface TeamsRead {
  readonly teams: readonly TeamTop[];
  /** Why the policies could not be read; absent when they were. */
  readonly unread?: string;
}

export async function teamsIn(kube: PluginKube, namespace: string | undefined): Promise<TeamsRead> {
  let policies: RateLimitPolicy[];
  try {
    policies = (await kube.list<RateLimitPolicy>(Kinds.RateLimitPolicy, { namespace })).items;
  } catch (err) {
    if (!isKubeApiError(err)) throw err;
    return {
      teams: [],
      unread:
        err.status === 403
          ? `team budgets not shown: listing ratelimitpolicies is forbidden in ${namespace ?? 'every namespace'}`
          : `team budgets not shown: listing ratelimitpolicies answered ${String(err.status)}: ${err.message}`,
    };
  }
  return { teams: teamsOf(policies) };
}

/** Every team budget of the policies, by namespace, policy and budget. */
export function teamsOf(policies: readonly RateLimitPolicy[]): TeamTop[] {
  return policies
    .flatMap((p) =>
      (p.status?.budgets ?? [])
        .filter((b) => b.per === 'Policy')
        .map((budget) => ({
          namespace: p.metadata.namespace ?? 'default',
          policy: p.metadata.name ?? '',
          budget,
        })),
    )
    .sort(
      (a, b) =>
        a.namespace.localeCompare(b.namespace) ||
        a.policy.localeCompare(b.policy) ||
        a.budget.name.localeCompare(b.budget.name),
    );
}

type Amount = { usd?: string; tokens?: number } | undefined;

/**
 * The teams' table and, under it, each agent's part; `amount` writes a figure as the agents'
 * budget table does. Nothing without team budgets.
 */
export function teamTables(
  teams: readonly TeamTop[],
  allNamespaces: boolean,
  amount: (a: Amount, dollars: boolean) => string,
): string {
  if (teams.length === 0) return '';
  const ns = (t: TeamTop) => (allNamespaces ? [t.namespace] : []);
  const nsHeader = allNamespaces ? ['namespace'] : [];
  const rows = teams.map((t) => {
    const dollars = t.budget.limit?.usd !== undefined;
    return [
      ...ns(t),
      t.policy,
      t.budget.name,
      amount(t.budget.spent, dollars),
      amount(t.budget.limit, dollars),
      `${String(t.budget.percent ?? 0)}%`,
      t.budget.resetsAt ?? '-',
      t.budget.projection?.exhaustsAt ?? '-',
      String(t.budget.agents ?? 0),
      // Parts when the status predates the field: the sum was all it ever showed.
      t.budget.source ?? 'Parts',
    ];
  });
  const parts = teams.flatMap((t) => {
    const dollars = t.budget.limit?.usd !== undefined;
    const others = t.budget.otherParts;
    return [
      ...(t.budget.parts ?? []).map((p) => [
        ...ns(t),
        t.policy,
        t.budget.name,
        p.agent,
        amount(p, dollars),
      ]),
      ...(others === undefined
        ? []
        : [
            [
              ...ns(t),
              t.policy,
              t.budget.name,
              `(${String(others.agents ?? 0)} more)`,
              amount(others, dollars),
            ],
          ]),
    ];
  });
  return (
    `\n${renderTable(
      [
        ...nsHeader,
        'team (policy)',
        'budget',
        'spent',
        'limit',
        '%',
        'resets',
        'exhausts',
        'agents',
        'from',
      ],
      rows,
    )}` +
    (parts.length === 0
      ? ''
      : `\n${renderTable([...nsHeader, 'team (policy)', 'budget', 'agent', 'part'], parts)}`)
  );
}
