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

export type WantedOverride = 'ForcedOpen' | 'ForcedClosed' | 'Auto';

export interface OverrideStatus {
  readonly state?: string;
  readonly reason?: string;
  readonly until?: string;
  readonly observedGeneration?: number;
  readonly applied?: string;
  readonly agents?: readonly {
    readonly name: string;
    readonly applied: number;
    readonly replicas: number;
  }[];
}

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

export function overrideAcknowledgement(
  policy: Readonly<CircuitBreakerPolicy>,
  wanted: WantedOverride,
  generation: number,
): Acknowledgement {
  // status.override is the operator's acknowledgement; older operators do not write it.
  const status: (CircuitBreakerPolicyStatus & { override?: OverrideStatus }) | undefined =
    policy.status;
  const override = status?.override;
  const condition = status?.conditions?.find((c) => c.type === OVERRIDE_APPLIED);
  const conditionCurrent =
    condition !== undefined && (condition.observedGeneration ?? 0) >= generation;
  if (wanted === 'Auto') {
    // The override is gone from status once the operator has seen the reset; the replicas
    // then report their own breakers again, none of them forced.
    const total = status?.replicas?.total ?? 0;
    const observed = (status?.observedGeneration ?? 0) >= generation;
    const stillForced = override !== undefined && override.state !== 'Auto';
    const conditionDenies = conditionCurrent && condition.status !== 'True';
    const done = observed && !stillForced && !conditionDenies;
    return {
      done,
      applied: done ? total : 0,
      replicas: total,
      agents: (status?.targets ?? []).map((t) => ({
        name: t.name,
        applied: done ? (t.total ?? 0) : 0,
        replicas: t.total ?? 0,
      })),
      detail: !observed
        ? `the operator has not yet seen generation ${String(generation)}`
        : stillForced
          ? `status.override still says ${String(override.state)} on ${override.applied ?? '?'} replicas`
          : conditionDenies
            ? `${OVERRIDE_APPLIED} is ${condition.status}: ${condition.message}`
            : `state ${status?.state ?? 'unknown'} on ${String(total)} replicas`,
    };
  }
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
      detail: `status.override.state is ${String(override.state)}`,
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

/** "3/3" → [3, 3]; anything else → [0, 0]. */
function fraction(text: string | undefined): [number, number] {
  const match = /^(\d+)\/(\d+)$/.exec(text ?? '');
  return match === null ? [0, 0] : [Number(match[1]), Number(match[2])];
}
