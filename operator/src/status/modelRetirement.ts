/**
 * Whether an agent's model or one of its fallbacks is deprecated or past its end of life, from
 * the contract's retirement table: the ModelRetiring condition, the day for the RETIRES column,
 * and when the answer next changes by itself. Pure: the caller passes the time.
 */
import {
  describeRetirement,
  isPastEndOfLife,
  retiringModels,
  type AgentModels,
  type CalendarDay,
} from '../../../contract/src/api/modelRetirements.ts';
import type { ConditionUpdate } from './conditions.ts';

export const MODEL_RETIRING = 'ModelRetiring';

export interface ModelRetirementStatus {
  readonly condition: ConditionUpdate;
  /** The earliest end-of-life day among the agent's deprecated models (`status.modelEndOfLife`). */
  readonly endOfLife: CalendarDay | undefined;
  /** The next end of life still ahead, in ms since the epoch: the condition changes then. */
  readonly changesAtMs: number | undefined;
}

export function evaluateModelRetirement(models: AgentModels, nowMs: number): ModelRetirementStatus {
  // Earliest first: the day in the column, and retired models before retiring ones in the message.
  const retiring = retiringModels(models).sort((a, b) => a.endOfLifeMs - b.endOfLifeMs);
  const [earliest] = retiring;
  if (earliest === undefined) {
    return {
      condition: { type: MODEL_RETIRING, status: 'False', reason: 'NotDeprecated', message: '' },
      endOfLife: undefined,
      changesAtMs: undefined,
    };
  }
  return {
    condition: {
      type: MODEL_RETIRING,
      status: 'True',
      reason: isPastEndOfLife(earliest, nowMs) ? 'PastEndOfLife' : 'Deprecated',
      message: retiring.map((r) => describeRetirement(r, nowMs)).join('; '),
    },
    endOfLife: earliest.endOfLife,
    changesAtMs: retiring.find((r) => !isPastEndOfLife(r, nowMs))?.endOfLifeMs,
  };
}
