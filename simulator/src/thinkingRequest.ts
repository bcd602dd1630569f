/**
 * A request's `thinking` field, read as the Messages API reads it: `{type: "disabled"}` or
 * absent, no thinking; `{type: "enabled", budget_tokens}`, extended thinking of at most
 * `budget_tokens` (1024 or more), which must be less than `max_tokens` since thinking counts
 * toward it; `adaptive` and `between_tools` (newer SDKs), thinking the model sizes itself,
 * within `max_tokens`. A refusal carries the API's message and the field it names.
 */

/** Extended thinking a request asked for. */
export interface ThinkingRequest {
  readonly budgetTokens: number;
}

export type ThinkingRead =
  | { readonly ok: true; readonly thinking: ThinkingRequest | undefined }
  | { readonly ok: false; readonly field: string; readonly message: string };

/** The least `budget_tokens` the API accepts. */
export const MIN_THINKING_BUDGET_TOKENS = 1024;

const refuse = (field: string, problem: string): ThinkingRead => ({
  ok: false,
  field,
  message: `${field}: ${problem}`,
});

export function readThinking(value: unknown, maxTokens: number): ThinkingRead {
  if (value === undefined) return { ok: true, thinking: undefined };
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return refuse('thinking', 'Input should be an object');
  const fields = value as Readonly<Record<string, unknown>>;
  const type = fields['type'];
  if (type === 'disabled') return { ok: true, thinking: undefined };
  if (type === 'adaptive' || type === 'between_tools')
    // settings-check: the request's own max_tokens, not a policy setting.
    return { ok: true, thinking: { budgetTokens: Math.max(0, maxTokens - 1) } };
  if (type !== 'enabled')
    return refuse(
      'thinking',
      `Input tag ${JSON.stringify(type ?? null)} found using 'type' does not match any of the expected tags: 'enabled', 'disabled', 'adaptive', 'between_tools'`,
    );
  const budget = fields['budget_tokens'];
  const field = 'thinking.enabled.budget_tokens';
  if (budget === undefined) return refuse(field, 'Field required');
  if (!Number.isSafeInteger(budget)) return refuse(field, 'Input should be a valid integer');
  if ((budget as number) < MIN_THINKING_BUDGET_TOKENS)
    return refuse(
      field,
      `Input should be greater than or equal to ${String(MIN_THINKING_BUDGET_TOKENS)}`,
    );
  if ((budget as number) >= maxTokens)
    return {
      ok: false,
      field: 'max_tokens',
      message:
        '`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size',
    };
  return { ok: true, thinking: { budgetTokens: budget as number } };
}
