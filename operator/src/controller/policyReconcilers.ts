/**
 * CircuitBreakerPolicy and RateLimitPolicy: aggregate what the agents using them report and
 * write status once, only when it changed.
 */
import type { AgentDeployment } from '../../../contract/src/api/resources.ts';
import {
  computeBreakerPolicyStatus,
  computeRateLimitPolicyStatus,
  type PolicyUser,
} from '../status/policyStatus.ts';
import type { Outcome } from '../machinery/workQueue.ts';
import { podsOfAgent } from './agentReconciler.ts';
import type { OperatorContext } from './operatorContext.ts';
import { writeStatusIfChanged } from './statusWrite.ts';

type PolicyRef = 'circuitBreakerPolicyRef' | 'rateLimitPolicyRef';

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

function users(
  ctx: OperatorContext,
  namespace: string,
  name: string,
  ref: PolicyRef,
): PolicyUser[] {
  return agentsUsing(ctx, namespace, name, ref).map((agent) => ({
    agent,
    pods: podsOfAgent(ctx, namespace, agent.metadata.name ?? ''),
  }));
}

const now = (ctx: OperatorContext): string => new Date(ctx.clock.now()).toISOString();

export async function reconcileBreakerPolicy(key: string, ctx: OperatorContext): Promise<Outcome> {
  const policy = ctx.caches.breakerPolicies.get(key);
  if (policy === undefined || policy.metadata.deletionTimestamp !== undefined) return {};
  const namespace = policy.metadata.namespace ?? 'default';
  const status = computeBreakerPolicyStatus(
    policy,
    users(ctx, namespace, policy.metadata.name ?? '', 'circuitBreakerPolicyRef'),
    now(ctx),
  );
  await writeStatusIfChanged(ctx, policy, status);
  return {};
}

export async function reconcileRateLimitPolicy(
  key: string,
  ctx: OperatorContext,
): Promise<Outcome> {
  const policy = ctx.caches.rateLimitPolicies.get(key);
  if (policy === undefined || policy.metadata.deletionTimestamp !== undefined) return {};
  const namespace = policy.metadata.namespace ?? 'default';
  const status = computeRateLimitPolicyStatus(
    policy,
    users(ctx, namespace, policy.metadata.name ?? '', 'rateLimitPolicyRef'),
    now(ctx),
  );
  await writeStatusIfChanged(ctx, policy, status);
  return {};
}
