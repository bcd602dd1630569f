/**
 * Whether the override on-call set is in force on every replica: CircuitBreakerPolicy
 * `status.override` (the override and how many replicas of each agent apply it) and the
 * `OverrideApplied` condition, from what each replica says in its `breakwater.dev/runtime`
 * annotation. Pure; the reconciler writes it and records the Events `overrideEvent` names.
 *
 * A replica applies the override when it reports the same state, reason and until as the
 * spec: content, not generation, so that an unrelated edit of the policy does not make every
 * replica look behind until it reloads. With no override in the spec, OverrideApplied says
 * whether every replica has dropped the last one (reason NoOverride), so that a reset can be
 * waited on as a trip is.
 */
import type { CircuitBreakerPolicy } from '../../../contract/src/api/resources.ts';
import type {
  OverrideAgentStatus,
  OverrideStatus,
} from '../../../contract/src/api/v1alpha1/index.ts';
import {
  RUNTIME_ANNOTATION,
  decodeRuntimeReport,
  type AppliedOverride,
} from '../../../contract/src/reporting/runtimeReport.ts';
import { runningPods } from './agentStatus.ts';
import type { Condition, ConditionUpdate } from './conditions.ts';
import type { PodView } from './views.ts';

export const OVERRIDE_APPLIED = 'OverrideApplied';
/** `status.override.agents` holds at most this many (its maxItems in crds/schemas). */
const MAX_OVERRIDE_AGENTS = 256;

export interface OverrideUser {
  readonly name: string;
  readonly pods: readonly PodView[];
}

export interface OverrideEvaluation {
  /** `status.override`; undefined while the spec has no override. */
  readonly override: OverrideStatus | undefined;
  readonly condition: ConditionUpdate;
  /** When the outcome changes by itself (the override's `until`): reconcile again then. */
  readonly changesAtMs: number | undefined;
}

type SpecOverride = NonNullable<CircuitBreakerPolicy['spec']['override']>;

const applying = (report: AppliedOverride | undefined, spec: SpecOverride | undefined): boolean => {
  if (spec === undefined || spec.state === undefined || spec.state === 'Auto')
    return report === undefined;
  return (
    report !== undefined &&
    report.state === spec.state &&
    (report.reason ?? '') === (spec.reason ?? '') &&
    sameInstant(report.until, spec.until)
  );
};

function sameInstant(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return Date.parse(a) === Date.parse(b);
}

export function evaluateOverride(
  policy: CircuitBreakerPolicy,
  users: readonly OverrideUser[],
  nowMs: number,
): OverrideEvaluation {
  const spec = policy.spec.override;
  const forced = spec?.state === 'ForcedOpen' || spec?.state === 'ForcedClosed' ? spec : undefined;
  const agents: OverrideAgentStatus[] = users
    .map(({ name, pods }) => {
      const running = runningPods(pods);
      const applied = running.filter((p) =>
        applying(
          decodeRuntimeReport(p.metadata?.annotations?.[RUNTIME_ANNOTATION])?.override,
          forced,
        ),
      ).length;
      return { name, applied, replicas: running.length };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
  const applied = agents.reduce((n, a) => n + a.applied, 0);
  const replicas = agents.reduce((n, a) => n + a.replicas, 0);
  const count = `${String(applied)}/${String(replicas)}`;

  if (forced === undefined || forced.state === undefined || forced.state === 'Auto') {
    return {
      override: undefined,
      changesAtMs: undefined,
      condition:
        applied === replicas
          ? {
              type: OVERRIDE_APPLIED,
              status: 'True',
              reason: 'NoOverride',
              message: `no override; ${count} replicas apply none`,
            }
          : {
              type: OVERRIDE_APPLIED,
              status: 'False',
              reason: 'Pending',
              message: `no override; ${count} replicas have dropped the last one`,
            },
    };
  }
  const state = forced.state;
  const untilMs = forced.until === undefined ? undefined : Date.parse(forced.until);
  const expired = untilMs !== undefined && nowMs >= untilMs;
  const override: OverrideStatus = {
    state,
    ...(forced.reason === undefined ? {} : { reason: forced.reason }),
    ...(forced.until === undefined ? {} : { until: forced.until }),
    observedGeneration: policy.metadata.generation ?? 0,
    applied: count,
    summary: expired ? `${state} expired` : `${state} ${count}`,
    agents: behindFirst(agents),
  };
  const condition: ConditionUpdate = expired
    ? {
        type: OVERRIDE_APPLIED,
        status: 'False',
        reason: 'Expired',
        message: `${state} ended at ${forced.until ?? ''}; the breakers decide again`,
      }
    : applied === replicas
      ? {
          type: OVERRIDE_APPLIED,
          status: 'True',
          reason: 'Applied',
          message: `${count} replicas apply ${state}`,
        }
      : {
          type: OVERRIDE_APPLIED,
          status: 'False',
          reason: 'Pending',
          message: `${count} replicas apply ${state}`,
        };
  return { override, condition, changesAtMs: expired ? undefined : untilMs };
}

/** All agents while they fit; beyond the limit, the ones with replicas behind first. */
function behindFirst(agents: readonly OverrideAgentStatus[]): OverrideAgentStatus[] {
  if (agents.length <= MAX_OVERRIDE_AGENTS) return [...agents];
  const behind = (a: OverrideAgentStatus): number => (a.applied < a.replicas ? 0 : 1);
  return [...agents]
    .sort((a, b) => behind(a) - behind(b) || a.name.localeCompare(b.name))
    .slice(0, MAX_OVERRIDE_AGENTS)
    .sort((a, b) => a.name.localeCompare(b.name));
}

export interface OverrideEvent {
  readonly reason: 'OverrideApplied' | 'OverrideExpired';
  readonly message: string;
}

/**
 * The Event to record when this status is written over `previous`: once when every replica
 * has applied an override (again when a different override is applied), once when its
 * `until` passes. Computed from the stored status, so an operator that restarts records
 * nothing twice.
 */
export function overrideEvent(
  previous: { override?: OverrideStatus; conditions?: readonly Condition[] } | undefined,
  next: { override?: OverrideStatus; conditions?: readonly Condition[] },
): OverrideEvent | undefined {
  const before = previous?.conditions?.find((c) => c.type === OVERRIDE_APPLIED);
  const after = next.conditions?.find((c) => c.type === OVERRIDE_APPLIED);
  const o = next.override;
  if (o === undefined || after === undefined) return undefined;
  const same =
    previous?.override !== undefined &&
    previous.override.state === o.state &&
    previous.override.reason === o.reason &&
    previous.override.until === o.until;
  if (same && before?.reason === after.reason) return undefined;
  const why = o.reason === undefined ? '' : `: ${o.reason}`;
  if (after.reason === 'Applied')
    return {
      reason: 'OverrideApplied',
      message: `${o.state} applied by ${o.applied} replicas${why}`,
    };
  if (after.reason === 'Expired')
    return { reason: 'OverrideExpired', message: `${o.state} ended at ${o.until ?? ''}${why}` };
  return undefined;
}
