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
} from '../../../contract/src/api/resources.ts';
import { effectiveShare, resolveRateLimit } from '../../../contract/src/policy/policyResolution.ts';
import {
  aggregateReplicas,
  latest,
  podBreakerReport,
  summarizeReplica,
  type ReplicaSummary,
} from './breakerAggregation.ts';
import { setCondition, setConditions } from './conditions.ts';
import { evaluateOverride } from './overrideStatus.ts';
import { foldTrips, ledgerPod, tripTotals } from './tripLedger.ts';
import { STORE_CONDITION, storeCondition } from './storeCondition.ts';
import { newestLoop } from './lastLoop.ts';
import type { PodView } from './views.ts';
import { isPodReady, runningPods } from './agentStatus.ts';
import { policyBudgets } from '../spend/policyBudgets.ts';

/** `status.targets` holds at most this many entries (its maxItems in crds/schemas). */
export const MAX_STATUS_TARGETS = 256;

export interface PolicyUser {
  readonly agent: AgentDeployment;
  /** Its pods that are not terminating. */
  readonly pods: readonly PodView[];
  /** Every pod the API server holds for it, terminating ones included (for the trip ledger). */
  readonly presentPods?: readonly PodView[];
}

export interface BreakerPolicyEvaluation {
  readonly status: CircuitBreakerPolicyStatus;
  /** When the status changes by itself (an override's `until`): reconcile again then. */
  readonly changesAtMs: number | undefined;
}

/**
 * Trips are each agent's ledger (its status, written by the agent's reconcile) folded with
 * its pods as they are now: the same pure fold the agent's next status write will store, so
 * the policy's count is current even before that write, and never below it.
 */
export function computeBreakerPolicyStatus(
  policy: CircuitBreakerPolicy,
  users: readonly PolicyUser[],
  now: string,
): BreakerPolicyEvaluation {
  const generation = policy.metadata.generation ?? 0;
  const all: ReplicaSummary[] = [];
  let trips = 0;
  let lastTripTime: string | undefined;
  const targets = users
    .map(({ agent, pods, presentPods }) => {
      const replicas = runningPods(pods).map((p) => summarizeReplica(podBreakerReport(p)));
      all.push(...replicas);
      const totals = tripTotals(
        foldTrips(agent.status?.breaker?.tripLedger, (presentPods ?? pods).map(ledgerPod)),
      );
      trips += totals.trips;
      lastTripTime = latest(lastTripTime, totals.lastTripTime);
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
  const listed = mostTelling(targets);
  const previous = policy.status;
  const lastLoop = newestLoop(
    previous?.lastLoop,
    users.map(({ agent, pods, presentPods }) => ({
      agent: `${agent.metadata.namespace ?? 'default'}/${agent.metadata.name ?? ''}`,
      pods: presentPods ?? pods,
    })),
  );
  const override = evaluateOverride(
    policy,
    users.map(({ agent, pods }) => ({ name: agent.metadata.name ?? '', pods })),
    Date.parse(now),
  );
  const conditions = setConditions(
    previous?.conditions,
    [
      {
        type: 'Ready',
        status: 'True',
        reason: 'Aggregated',
        message:
          `${targets.length} agents, ${aggregate.total} replicas, ${aggregate.open} open` +
          (listed.length < targets.length
            ? `; targets lists ${listed.length}, those not Closed first`
            : ''),
      },
      override.condition,
    ],
    generation,
    now,
  );
  const status: CircuitBreakerPolicyStatus = {
    observedGeneration: generation,
    conditions,
    ...(override.override === undefined ? {} : { override: override.override }),
    state: aggregate.state,
    openSummary: `${aggregate.open}/${aggregate.total}`,
    replicas: {
      total: aggregate.total,
      closed: aggregate.closed,
      open: aggregate.open,
      halfOpen: aggregate.halfOpen,
      unknown: aggregate.unknown,
    },
    trips,
    ...(lastTripTime === undefined ? {} : { lastTripTime }),
    lastTransitionTime:
      previous?.state === aggregate.state && previous.lastTransitionTime !== undefined
        ? previous.lastTransitionTime
        : now,
    targets: listed,
    ...(lastLoop === undefined ? {} : { lastLoop }),
  };
  return { status, changesAtMs: override.changesAtMs };
}

const attention: Readonly<Record<string, number>> = { Open: 0, Degraded: 1, HalfOpen: 2 };

/**
 * All targets while they fit; beyond MAX_STATUS_TARGETS (a write the API server would refuse),
 * the ones on-call needs to see, not Closed first, then by name, still listed by name.
 */
function mostTelling<T extends { name: string; state: string }>(targets: readonly T[]): T[] {
  if (targets.length <= MAX_STATUS_TARGETS) return [...targets];
  const rank = (t: T): number => attention[t.state] ?? 3;
  return [...targets]
    .sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name))
    .slice(0, MAX_STATUS_TARGETS)
    .sort((a, b) => a.name.localeCompare(b.name));
}

export interface RateLimitPolicyEvaluation {
  readonly status: RateLimitPolicyStatus;
  /** When the status changes by itself (a budget's period ends): reconcile again then. */
  readonly changesAtMs: number | undefined;
}

export function computeRateLimitPolicyStatus(
  policy: RateLimitPolicy,
  users: readonly PolicyUser[],
  now: string,
): RateLimitPolicyEvaluation {
  const generation = policy.metadata.generation ?? 0;
  const targets = users
    .map(({ agent, pods }) => ({
      name: agent.metadata.name ?? '',
      effective: effectiveShare(resolveRateLimit(policy, pods.filter(isPodReady).length)),
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
  const listed = targets.slice(0, MAX_STATUS_TARGETS);
  const store = storeCondition(
    policy,
    users.flatMap((u) => u.pods),
  );
  const budgets = policyBudgets(policy, users, Date.parse(now));
  const kept = policy.status?.conditions?.filter(
    (c) =>
      (c.type !== STORE_CONDITION || store !== undefined) &&
      !budgets.dropConditions.includes(c.type),
  );
  const ready = setCondition(
    kept,
    budgets.invalid === undefined
      ? {
          type: 'Ready',
          status: 'True',
          reason: 'Resolved',
          message:
            `used by ${targets.length} agents` +
            (listed.length < targets.length ? `; targets lists the first ${listed.length}` : ''),
        }
      : { type: 'Ready', status: 'False', reason: 'Invalid', message: budgets.invalid },
    generation,
    now,
  );
  const conditions = setConditions(
    ready,
    [...(store === undefined ? [] : [store]), ...budgets.conditions],
    generation,
    now,
  );
  // The smallest share in force, as the schema promises: the user with the most replicas
  // (with one user, the common case, its share); with none, what one replica would get.
  const smallest = targets.reduce<(typeof targets)[number] | undefined>(
    (min, t) =>
      min === undefined || (t.effective.replicas ?? 1) > (min.effective.replicas ?? 1) ? t : min,
    undefined,
  );
  const effective = smallest?.effective ?? effectiveShare(resolveRateLimit(policy, 1));
  return {
    status: {
      observedGeneration: generation,
      conditions,
      effective,
      targets: listed,
      ...budgets.fields,
    },
    changesAtMs: budgets.changesAtMs,
  };
}
