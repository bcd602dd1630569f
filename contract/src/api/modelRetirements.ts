/**
 * Models the provider has deprecated, with the day each reaches its end of life: from that day
 * on the provider refuses calls to it. The operator's ModelRetiring condition and the runtime's
 * warning and `breakwater_model_end_of_life_timestamp_seconds` gauge read this table.
 *
 * Source: `DEPRECATED_MODELS` of @anthropic-ai/sdk 1.12.0 (resources/messages/messages.js;
 * claude-mythos-preview only in its internal/data/deprecated-models.js) and
 * https://docs.anthropic.com/en/docs/resources/model-deprecations. Checked on 2026-11-22.
 * modelRetirements.test.ts fails when the installed SDK deprecates a model missing here.
 */

/** A calendar day, YYYY-MM-DD. */
export type CalendarDay = string;

export const MODEL_END_OF_LIFE: ReadonlyMap<string, CalendarDay> = new Map([
  ['claude-mythos-preview', '2026-06-30'],
  ['claude-sonnet-4-5', '2026-11-30'],
  ['claude-sonnet-4-5-20250929', '2026-11-30'],
]);

/** An agent's models, as AgentDeployment `spec.model` and the policy document name them. */
export interface AgentModels {
  readonly name: string;
  readonly fallbacks?: readonly string[] | undefined;
}

export interface ModelRetirement {
  readonly model: string;
  /** Which field names it: `model` (the primary) or `fallback`. */
  readonly role: 'model' | 'fallback';
  readonly endOfLife: CalendarDay;
  /** The start of that day, UTC, in milliseconds since the epoch. */
  readonly endOfLifeMs: number;
}

/** The agent's deprecated models, the primary first, then the fallbacks in order. */
export function retiringModels(models: AgentModels): ModelRetirement[] {
  const named = [
    { model: models.name, role: 'model' as const },
    ...(models.fallbacks ?? []).map((model) => ({ model, role: 'fallback' as const })),
  ];
  return named.flatMap(({ model, role }) => {
    const endOfLife = MODEL_END_OF_LIFE.get(model);
    return endOfLife === undefined
      ? []
      : [{ model, role, endOfLife, endOfLifeMs: Date.parse(`${endOfLife}T00:00:00Z`) }];
  });
}

export function isPastEndOfLife(retirement: ModelRetirement, nowMs: number): boolean {
  return nowMs >= retirement.endOfLifeMs;
}

/** "model claude-sonnet-4-5 is deprecated and retires on 2026-11-30", or "… retired on …". */
export function describeRetirement(retirement: ModelRetirement, nowMs: number): string {
  const { role, model, endOfLife } = retirement;
  return isPastEndOfLife(retirement, nowMs)
    ? `${role} ${model} retired on ${endOfLife}: the provider refuses calls to it`
    : `${role} ${model} is deprecated and retires on ${endOfLife}`;
}
