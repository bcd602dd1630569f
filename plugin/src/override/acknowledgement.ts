/**
 * Whether every replica has applied a CircuitBreakerPolicy's override, from the policy's
 * status as the operator writes it:
 *
 *   status.override: {state, reason, until, observedGeneration, applied: "3/3",
 *                     agents: [{name, applied, replicas}]}   (present while spec.override is not Auto)
 *   status.conditions: [{type: OverrideApplied, status, reason, message}]
 *
 * Pure, on a status object: `trip` and `reset` poll the policy and ask this each time.
 */
import type {
  CircuitBreakerPolicy,
  CircuitBreakerPolicyStatus,
} from '../../../contract/src/api/resources.ts';
import type { OverrideStatus } from '../../../contract/src/api/v1alpha1/circuitbreakerpolicy.ts';

export type WantedOverride = 'ForcedOpen' | 'ForcedClosed' | 'Auto';

/** The override as the operator reports it (`status.override`), the generated type. */
export type { OverrideStatus };

export interface Acknowledgement {
  readonly done: boolean;
  /** Replicas that apply the wanted state, over those that use the policy. */
  readonly applied: number;
  readonly replicas: number;
  readonly agents: readonly {
    readonly name: string;
    readonly applied: number;
    readonly replicas: number;
  }[];
  /** What the status says now, for a message while waiting or on timeout. */
  readonly detail: string;
}

const OVERRIDE_APPLIED = 'OverrideApplied';

/**
 * What one replica of an agent that uses the policy reports on its own pod: whether any of
 * its breakers is still forced. Only a reset reads these (see resetAcknowledgement).
 */
export interface ReplicaReport {
  readonly agent: string;
  readonly forced: boolean;
}

export function overrideAcknowledgement(
  policy: Readonly<CircuitBreakerPolicy>,
  wanted: WantedOverride,
  generation: number,
  reports?: readonly ReplicaReport[],
): Acknowledgement {
  // status.override is the operator's acknowledgement; older operators do not write it.
  const status: CircuitBreakerPolicyStatus | undefined = policy.status;
  const override = status?.override;
  const condition = status?.conditions?.find((c) => c.type === OVERRIDE_APPLIED);
  const conditionCurrent =
    condition !== undefined && (condition.observedGeneration ?? 0) >= generation;
  if (wanted === 'Auto')
    return resetAcknowledgement(
      status,
      generation,
      reports ?? [],
      conditionCurrent && condition.status !== 'True' ? condition.message : undefined,
    );
  const [applied, replicas] = fraction(override?.applied);
  const agents = override?.agents ?? [];
  if (override === undefined || (override.observedGeneration ?? 0) < generation)
    return {
      done: false,
      applied: 0,
      replicas,
      agents,
      detail: `the operator has not yet acknowledged generation ${String(generation)}`,
    };
  if (override.state !== wanted)
    return {
      done: false,
      applied,
      replicas,
      agents,
      detail: `status.override.state is ${override.state}`,
    };
  const allApplied = applied === replicas;
  const conditionAgrees = !conditionCurrent || condition.status === 'True';
  return {
    done: allApplied && conditionAgrees,
    applied,
    replicas,
    agents,
    detail: conditionCurrent
      ? `${OVERRIDE_APPLIED} ${condition.status}: ${condition.message}`
      : `applied on ${String(applied)}/${String(replicas)} replicas`,
  };
}

/**
 * A reset is done when the operator has seen it (status.observedGeneration), no longer
 * reports an override in force, does not say OverrideApplied=False for this generation (it
 * says so while replicas still hold the last override), and no replica of the agents that
 * use the policy reports a forced breaker on its own pod any more: the replicas' own reports
 * are the last word, whatever the operator's version.
 */
function resetAcknowledgement(
  status: CircuitBreakerPolicyStatus | undefined,
  generation: number,
  replicas: readonly ReplicaReport[],
  /** The message of a current OverrideApplied=False condition. */
  pendingCondition: string | undefined,
): Acknowledgement {
  const override = status?.override;
  const observed = (status?.observedGeneration ?? 0) >= generation;
  // status.override is there only while an override is in force.
  const stillForced = override !== undefined;
  const byAgent = new Map<string, { applied: number; replicas: number }>();
  for (const r of replicas) {
    const counts = byAgent.get(r.agent) ?? { applied: 0, replicas: 0 };
    counts.replicas++;
    if (!r.forced) counts.applied++;
    byAgent.set(r.agent, counts);
  }
  const applied = replicas.filter((r) => !r.forced).length;
  const done =
    observed && !stillForced && pendingCondition === undefined && applied === replicas.length;
  return {
    done,
    applied,
    replicas: replicas.length,
    agents: [...byAgent].map(([name, c]) => ({ name, ...c })),
    detail: !observed
      ? `the operator has not yet seen generation ${String(generation)}`
      : stillForced
        ? `status.override still says ${override.state}`
        : pendingCondition !== undefined
          ? `OverrideApplied is False: ${pendingCondition}`
          : `${String(applied)}/${String(replicas.length)} replicas report no forced breaker`,
  };
}

/** "3/3" → [3, 3]; anything else → [0, 0]. */
function fraction(text: string | undefined): [number, number] {
  const match = /^(\d+)\/(\d+)$/.exec(text ?? '');
  return match === null ? [0, 0] : [Number(match[1]), Number(match[2])];
}
