/**
 * CircuitBreakerPolicy and RateLimitPolicy status from the agents that use them and those
 * agents' pods. Pure; the reconcilers gather and write.
 */
import type {
  AgentDeployment,
  CircuitBreakerPolicy,
  CircuitBreakerPolicyStatus,
  RateLimitPolicy,
  RateLimitPolicyStatus,
} from '../../../runtime/src/api/resources.ts';
import { effectiveShare, resolveRateLimit } from '../../../runtime/src/policy/policyResolution.ts';
import {
  BREAKERS_ANNOTATION,
  decodeBreakerReport,
} from '../../../runtime/src/reporting/breakerAnnotation.ts';
import { aggregateReplicas, summarizeReplica, type ReplicaSummary } from './breakerAggregation.ts';
import { setCondition } from './conditions.ts';
import type { PodView } from './views.ts';
import { isPodReady } from './agentStatus.ts';

export interface PolicyUser {
  readonly agent: AgentDeployment;
  readonly pods: readonly PodView[];
}

const running = (pods: readonly PodView[]): PodView[] =>
  pods.filter((p) => p.status?.phase === 'Running');

export function computeBreakerPolicyStatus(
  policy: CircuitBreakerPolicy,
  users: readonly PolicyUser[],
  now: string,
): CircuitBreakerPolicyStatus {
  const generation = policy.metadata.generation ?? 0;
  const all: ReplicaSummary[] = [];
  const targets = users
    .map(({ agent, pods }) => {
      const replicas = running(pods).map((p) =>
        summarizeReplica(decodeBreakerReport(p.metadata?.annotations?.[BREAKERS_ANNOTATION])),
      );
      all.push(...replicas);
      const aggregate = aggregateReplicas(replicas);
      return {
        name: agent.metadata.name ?? '',
        state: aggregate.state,
        open: aggregate.open,
        total: aggregate.total,
      };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
  const aggregate = aggregateReplicas(all);
  const previous = policy.status;
  const conditions = setCondition(
    previous?.conditions,
    {
      type: 'Ready',
      status: 'True',
      reason: 'Aggregated',
      message: `${targets.length} agents, ${aggregate.total} replicas, ${aggregate.open} open`,
    },
    generation,
    now,
  );
  return {
    observedGeneration: generation,
    conditions,
    state: aggregate.state,
    openSummary: `${aggregate.open}/${aggregate.total}`,
    replicas: {
      total: aggregate.total,
      closed: aggregate.closed,
      open: aggregate.open,
      halfOpen: aggregate.halfOpen,
    },
    trips: aggregate.trips,
    ...(aggregate.lastTripTime === undefined ? {} : { lastTripTime: aggregate.lastTripTime }),
    lastTransitionTime:
      previous?.state === aggregate.state && previous.lastTransitionTime !== undefined
        ? previous.lastTransitionTime
        : now,
    targets,
  };
}

export function computeRateLimitPolicyStatus(
  policy: RateLimitPolicy,
  users: readonly PolicyUser[],
  now: string,
): RateLimitPolicyStatus {
  const generation = policy.metadata.generation ?? 0;
  const targets = users
    .map(({ agent, pods }) => ({
      name: agent.metadata.name ?? '',
      effective: effectiveShare(resolveRateLimit(policy, pods.filter(isPodReady).length)),
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
  const conditions = setCondition(
    policy.status?.conditions,
    {
      type: 'Ready',
      status: 'True',
      reason: 'Resolved',
      message: `used by ${targets.length} agents`,
    },
    generation,
    now,
  );
  // With one user (the common case) `effective` is its share; with none it is what one replica gets.
  const effective = targets[0]?.effective ?? effectiveShare(resolveRateLimit(policy, 1));
  return { observedGeneration: generation, conditions, effective, targets };
}
