/**
 * Team budgets (RateLimitPolicy `budgets[].per: Policy`) without a store: every ready replica
 * of every agent in the namespace on the policy holds an equal share, so each agent's part is
 * in proportion to its replicas. An agent's document carries the count (`teamShareOf`); it
 * changes when any agent on the policy is added, removed or scaled, so such a change queues
 * every agent on the policy, not only the one whose pods moved. The same queueing carries the
 * team's spend to every agent's budget conditions (teamBudgetRows).
 */
import type { AgentDeployment, RateLimitPolicy } from '../../../contract/src/api/resources.ts';
import type { PodView } from '../status/views.ts';
import { policyBudgets } from '../spend/policyBudgets.ts';
import type { BudgetRow } from '../spend/spendStatus.ts';
import type { OperatorContext } from './operatorContext.ts';

type TeamCaches = Pick<OperatorContext, 'caches'>;

/** Whether `policy` has a team budget. */
export function hasTeamBudget(policy: RateLimitPolicy | undefined): boolean {
  return policy?.spec.budgets?.some((b) => b.per === 'Policy') === true;
}

/** The agents in `namespace` whose spec names RateLimitPolicy `name`, not being deleted. */
function agentsOn(ctx: TeamCaches, namespace: string, name: string): AgentDeployment[] {
  return ctx.caches.agents
    .list()
    .filter(
      (a) =>
        a.metadata.namespace === namespace &&
        a.spec.rateLimitPolicyRef?.name === name &&
        a.metadata.deletionTimestamp === undefined,
    );
}

/** Pods of an agent that are Ready and not being deleted (what `readyReplicas` counts). */
export function readyPods(pods: readonly PodView[]): number {
  return pods.filter(
    (p) =>
      p.metadata?.deletionTimestamp === undefined &&
      p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true,
  ).length;
}

/**
 * Ready replicas of every agent on `policy` in `namespace`, the team's budgets' divisor;
 * undefined when the policy has no team budget (its documents stay as they were).
 */
export function teamReadyReplicas(
  ctx: TeamCaches,
  namespace: string,
  policy: RateLimitPolicy | undefined,
): number | undefined {
  if (policy === undefined || !hasTeamBudget(policy)) return undefined;
  return agentsOn(ctx, namespace, policy.metadata.name ?? '').reduce(
    (sum, a) => sum + readyPods(ctx.caches.pods.byIndex(`${namespace}/${a.metadata.name ?? ''}`)),
    0,
  );
}

/**
 * The keys of the agents whose team share a change of `agent` (its pods, its spec, its going)
 * alters: every agent on its RateLimitPolicy when that has a team budget; none otherwise.
 */
export function teammates(ctx: TeamCaches, agent: AgentDeployment): string[] {
  const namespace = agent.metadata.namespace ?? 'default';
  const name = agent.spec.rateLimitPolicyRef?.name;
  if (name === undefined) return [];
  if (!hasTeamBudget(ctx.caches.rateLimitPolicies.get(`${namespace}/${name}`))) return [];
  return agentsOn(ctx, namespace, name).map((a) => `${namespace}/${a.metadata.name ?? ''}`);
}

/**
 * The rows of `policy`'s team budgets (per Policy), counted as the policy's status counts them
 * (every agent on it, as its reconcile reads them: policyReconcilers.ts): an agent on the
 * policy is refused once the team's is spent, so its conditions judge the team's figure too.
 * Empty when the policy has no team budget.
 */
export function teamBudgetRows(
  ctx: TeamCaches,
  namespace: string,
  policy: RateLimitPolicy | undefined,
  nowMs: number,
): readonly BudgetRow[] {
  if (policy === undefined || !hasTeamBudget(policy)) return [];
  const name = policy.metadata.name ?? '';
  const users = ctx.caches.agents
    .list()
    .filter((a) => a.metadata.namespace === namespace && a.spec.rateLimitPolicyRef?.name === name)
    .map((agent) => {
      const presentPods = ctx.caches.pods.byIndex(`${namespace}/${agent.metadata.name ?? ''}`);
      return {
        agent,
        pods: presentPods.filter((p) => p.metadata?.deletionTimestamp === undefined),
        presentPods,
      };
    });
  return policyBudgets(policy, users, nowMs).teamRows;
}
