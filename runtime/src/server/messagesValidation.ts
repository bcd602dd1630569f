/**
 * Checks a `POST /v1/messages` body before anything is spent on it. The checks follow the
 * Messages API: required fields and their types, roles, and no unknown top-level fields (the
 * API refuses those too, and a typo should not silently change the request).
 */
export type MessagesCheck =
  | {
      readonly ok: true;
      readonly body: Readonly<Record<string, unknown>>;
      /** `max_tokens` was absent and the agent's default filled in: the raw body is stale. */
      readonly defaulted: boolean;
    }
  | { readonly ok: false; readonly message: string };

export interface MessagesCheckOptions {
  /** The agent's `model.maxTokens`, for a call that names none. */
  readonly defaultMaxTokens?: number;
  /** `POST /v1/messages/count_tokens`: no `max_tokens`, no `stream`. */
  readonly countTokens?: boolean;
}

const KNOWN_FIELDS = new Set([
  'model',
  'messages',
  'max_tokens',
  'system',
  'temperature',
  'top_p',
  'top_k',
  'stop_sequences',
  'stream',
  'metadata',
  'tools',
  'tool_choice',
  'thinking',
  'service_tier',
  'container',
  'mcp_servers',
  'context_management',
]);

/** What `count_tokens` takes: the parts of a Messages request that make up its input. */
const COUNT_TOKENS_FIELDS = new Set([
  'model',
  'messages',
  'system',
  'tools',
  'tool_choice',
  'thinking',
  'mcp_servers',
  'context_management',
]);

const fail = (message: string): MessagesCheck => ({ ok: false, message });

export function checkMessagesBody(
  body: unknown,
  options: MessagesCheckOptions = {},
): MessagesCheck {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return fail('request body must be a JSON object');
  }
  let b = body as Record<string, unknown>;
  const known = options.countTokens === true ? COUNT_TOKENS_FIELDS : KNOWN_FIELDS;
  for (const key of Object.keys(b)) {
    if (!known.has(key)) return fail(`${key}: Extra inputs are not permitted`);
  }
  if (typeof b.model !== 'string' || b.model === '')
    return fail('model: Field required (a model name)');
  if (b.model.length > 256) return fail('model: must be at most 256 characters');
  let defaulted = false;
  if (b.max_tokens === undefined && options.defaultMaxTokens !== undefined) {
    b = { ...b, max_tokens: options.defaultMaxTokens };
    defaulted = true;
  }
  if (
    options.countTokens !== true &&
    (typeof b.max_tokens !== 'number' || !Number.isSafeInteger(b.max_tokens) || b.max_tokens < 1)
  ) {
    // Safe: 1e40 is an integer to JavaScript, and a worst case priced from it is noise.
    return fail(`max_tokens: must be a whole number from 1 to ${String(Number.MAX_SAFE_INTEGER)}`);
  }
  if (!Array.isArray(b.messages) || b.messages.length === 0) {
    return fail('messages: must be a non-empty list');
  }
  for (const [i, m] of (b.messages as unknown[]).entries()) {
    if (typeof m !== 'object' || m === null) return fail(`messages.${i}: must be an object`);
    const message = m as Record<string, unknown>;
    if (message.role !== 'user' && message.role !== 'assistant') {
      return fail(`messages.${i}.role: must be "user" or "assistant"`);
    }
    if (typeof message.content !== 'string' && !Array.isArray(message.content)) {
      return fail(`messages.${i}.content: must be a string or a list of content blocks`);
    }
  }
  if (b.system !== undefined && typeof b.system !== 'string' && !Array.isArray(b.system)) {
    return fail('system: must be a string or a list of text blocks');
  }
  if (
    b.temperature !== undefined &&
    // settings-check: the Messages API's own range for a request, not the policy's.
    !(typeof b.temperature === 'number' && b.temperature >= 0 && b.temperature <= 1)
  ) {
    return fail('temperature: must be a number from 0 to 1');
  }
  if (b.stream !== undefined && typeof b.stream !== 'boolean')
    return fail('stream: must be true or false');
  if (b.tools !== undefined && !Array.isArray(b.tools)) return fail('tools: must be a list');
  if (b.stop_sequences !== undefined && !Array.isArray(b.stop_sequences)) {
    return fail('stop_sequences: must be a list of strings');
  }
  return { ok: true, body: b, defaulted };
}

export type InvokeCheck =
  | {
      readonly ok: true;
      readonly input: string;
      readonly sessionId: string | undefined;
      readonly history: readonly unknown[];
      /** Answer as an event stream: text as it comes, tool calls and results, then `done`. */
      readonly stream: boolean;
    }
  | { readonly ok: false; readonly message: string };

/** `POST /v1/agent/invoke` `{input, sessionId?, history?, stream?}`. */
export function checkInvokeBody(body: unknown): InvokeCheck {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, message: 'request body must be a JSON object' };
  }
  const b = body as Record<string, unknown>;
  for (const key of Object.keys(b)) {
    if (key !== 'input' && key !== 'sessionId' && key !== 'history' && key !== 'stream') {
      return { ok: false, message: `${key}: Extra inputs are not permitted` };
    }
  }
  if (typeof b.input !== 'string' || b.input === '') {
    return { ok: false, message: 'input: must be a non-empty string' };
  }
  if (b.sessionId !== undefined && (typeof b.sessionId !== 'string' || b.sessionId.length > 256)) {
    return { ok: false, message: 'sessionId: must be a string of at most 256 characters' };
  }
  if (b.history !== undefined && !Array.isArray(b.history)) {
    return { ok: false, message: 'history: must be a list of messages' };
  }
  if (b.stream !== undefined && typeof b.stream !== 'boolean') {
    return { ok: false, message: 'stream: must be true or false' };
  }
  return {
    ok: true,
    input: b.input,
    sessionId: b.sessionId,
    history: (b.history as unknown[] | undefined) ?? [],
    stream: b.stream === true,
  };
}
