/**
 * CircuitBreakerPolicy and RateLimitPolicy: aggregate what the agents using them report and
 * write status once, only when it changed.
 */
import type {
  AgentDeployment,
  RateLimitPolicy,
  RateLimitPolicyStatus,
} from '../../../contract/src/api/resources.ts';
import { resolveRateLimit } from '../../../contract/src/policy/policyResolution.ts';
import {
  computeBreakerPolicyStatus,
  computeRateLimitPolicyStatus,
  type PolicyUser,
} from '../status/policyStatus.ts';
import { overrideEvent } from '../status/overrideStatus.ts';
import { recordEvent } from './objectEvents.ts';
import type { Outcome } from '../machinery/workQueue.ts';
import { presentPodsOfAgent, RESYNC_MS } from './agentReconciler.ts';
import { refersTo } from '../../../contract/src/policy/policyGather.ts';
import type { OperatorContext } from './operatorContext.ts';
import { STALE_STATUS_RETRY, writeStatusIfChanged } from './statusWrite.ts';

type PolicyRef = 'circuitBreakerPolicyRef' | 'rateLimitPolicyRef';

/**
 * The agents whose own `ref` names the policy: those its status is about. An agent that names
 * a CircuitBreakerPolicy only for its MCP servers' tools is not among them — the policy's
 * status aggregates provider breakers and the agent's loops, both governed by the agent's own
 * policy — but it is reconciled when the policy changes (agentsResolving).
 */
export function agentsUsing(
  ctx: OperatorContext,
  namespace: string,
  name: string,
  ref: PolicyRef,
): AgentDeployment[] {
  return ctx.caches.agents
    .list()
    .filter((a) => a.metadata.namespace === namespace && a.spec[ref]?.name === name);
}

/**
 * The agents whose policy document a change of the policy alters: every agent whose spec refers
 * to it anywhere (agentReferences: its own ref, its MCP servers' for a CircuitBreakerPolicy).
 */
export function agentsResolving(
  ctx: OperatorContext,
  namespace: string,
  name: string,
  ref: PolicyRef,
): AgentDeployment[] {
  const kind = ref === 'circuitBreakerPolicyRef' ? 'CircuitBreakerPolicy' : 'RateLimitPolicy';
  return ctx.caches.agents
    .list()
    .filter((a) => a.metadata.namespace === namespace && refersTo(a, kind, name));
}

function users(
  ctx: OperatorContext,
  namespace: string,
  name: string,
  ref: PolicyRef,
): PolicyUser[] {
  return agentsUsing(ctx, namespace, name, ref).map((agent) => {
    const presentPods = presentPodsOfAgent(ctx, namespace, agent.metadata.name ?? '');
    return {
      agent,
      pods: presentPods.filter((p) => p.metadata?.deletionTimestamp === undefined),
      presentPods,
    };
  });
}

const now = (ctx: OperatorContext): string => new Date(ctx.clock.now()).toISOString();

/** The team budgets (per Policy) of the status, with the warnAtPercent each warns at. */
function teamGauges(
  policy: RateLimitPolicy,
  status: RateLimitPolicyStatus,
): { name: string; percent: number; warnAtPercent: number }[] {
  const spend = resolveRateLimit(policy, 1).spend;
  return (status.budgets ?? []).flatMap((b) => {
    const settings = spend?.budgets.find((s) => s.name === b.name);
    return b.per !== 'Policy' || settings === undefined
      ? []
      : [{ name: b.name, percent: b.percent ?? 0, warnAtPercent: settings.warnAtPercent }];
  });
}

export async function reconcileBreakerPolicy(key: string, ctx: OperatorContext): Promise<Outcome> {
  const policy = ctx.caches.breakerPolicies.get(key);
  if (policy === undefined || policy.metadata.deletionTimestamp !== undefined) return {};
  const namespace = policy.metadata.namespace ?? 'default';
  const { status, changesAtMs } = computeBreakerPolicyStatus(
    policy,
    users(ctx, namespace, policy.metadata.name ?? '', 'circuitBreakerPolicyRef'),
    now(ctx),
  );
  // Events are decided against the stored status: a write from a stale copy could record one
  // twice, so it is refused and tried again.
  if ((await writeStatusIfChanged(ctx, policy, status, { precondition: true })) === 'stale')
    return STALE_STATUS_RETRY;
  // After the write: an Event is about status the API server holds.
  const event = overrideEvent(policy.status, status);
  if (event !== undefined) await recordEvent(ctx, policy, { type: 'Normal', ...event });
  // An override's `until` changes status with no event to say so. It may be years away: the
  // wait is capped (a timer of more than 24.8 days fires at once).
  return changesAtMs === undefined
    ? {}
    : { requeueAfterMs: Math.min(RESYNC_MS, Math.max(0, changesAtMs - ctx.clock.now())) };
}

export async function reconcileRateLimitPolicy(
  key: string,
  ctx: OperatorContext,
): Promise<Outcome> {
  const policy = ctx.caches.rateLimitPolicies.get(key);
  if (policy === undefined || policy.metadata.deletionTimestamp !== undefined) {
    const [namespace = '', name = ''] = key.split('/');
    ctx.metrics.showTeamBudgets(namespace, name, []);
    return {};
  }
  const namespace = policy.metadata.namespace ?? 'default';
  const { status, changesAtMs } = computeRateLimitPolicyStatus(
    policy,
    users(ctx, namespace, policy.metadata.name ?? '', 'rateLimitPolicyRef'),
    now(ctx),
  );
  await writeStatusIfChanged(ctx, policy, status);
  ctx.metrics.showTeamBudgets(namespace, policy.metadata.name ?? '', teamGauges(policy, status));
  // A budget's period ending starts its spend from zero with no event to say so.
  return changesAtMs === undefined
    ? {}
    : { requeueAfterMs: Math.min(RESYNC_MS, Math.max(0, changesAtMs - ctx.clock.now())) };
}
