/**
 * Condition setters as kstatus and cert-manager read them: a condition keeps its
 * lastTransitionTime unless its status flips, and always carries the generation it was
 * computed from. Pure: the caller passes the time.
 */
import type { Condition } from '../../../contract/src/api/v1alpha1/common.ts';

export type { Condition };
export type ConditionStatus = Condition['status'];

export interface ConditionUpdate {
  readonly type: string;
  readonly status: ConditionStatus;
  readonly reason: string;
  readonly message: string;
}

/** Returns `conditions` with `update` set; other conditions are kept as they are, in order. */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  update: ConditionUpdate,
  observedGeneration: number,
  now: string,
): Condition[] {
  const list = conditions ?? [];
  const previous = list.find((c) => c.type === update.type);
  const next: Condition = {
    type: update.type,
    status: update.status,
    reason: update.reason,
    message: update.message,
    lastTransitionTime:
      previous !== undefined && previous.status === update.status
        ? previous.lastTransitionTime
        : now,
    observedGeneration,
  };
  return previous === undefined
    ? [...list, next]
    : list.map((c) => (c.type === update.type ? next : c));
}

/** Sets every update in turn. */
export function setConditions(
  conditions: readonly Condition[] | undefined,
  updates: readonly ConditionUpdate[],
  observedGeneration: number,
  now: string,
): Condition[] {
  return updates.reduce<Condition[]>(
    (list, update) => setCondition(list, update, observedGeneration, now),
    [...(conditions ?? [])],
  );
}

export function findCondition(
  conditions: readonly Condition[] | undefined,
  type: string,
): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}
