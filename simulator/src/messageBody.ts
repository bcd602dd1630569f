/** A planned reply in the Messages API's wire shape. */
import { NO_CACHE_USAGE } from './promptCache.ts';
import type { Reply, ReplyBlock } from './replyPlan.ts';

export interface WireUsage {
  readonly input_tokens: number;
  readonly output_tokens: number;
  readonly cache_creation_input_tokens: number;
  readonly cache_read_input_tokens: number;
  readonly cache_creation: {
    readonly ephemeral_5m_input_tokens: number;
    readonly ephemeral_1h_input_tokens: number;
  };
  readonly service_tier: 'standard';
  readonly server_tool_use?: { readonly web_search_requests: number };
}

/**
 * The usage object of `reply`, with `outputTokens` so far (a stream's start says 1); before its
 * searches ran (`searched` false: a stream's start, or a cut before content), none of them and
 * none of their results' input.
 */
export function wireUsage(reply: Reply, outputTokens: number, searched = true): WireUsage {
  const cache = reply.cache ?? NO_CACHE_USAGE;
  return {
    input_tokens: reply.inputTokens + (searched ? (reply.searchResultTokens ?? 0) : 0),
    output_tokens: outputTokens,
    cache_creation_input_tokens: cache.write5mTokens + cache.write1hTokens,
    cache_read_input_tokens: cache.readTokens,
    cache_creation: {
      ephemeral_5m_input_tokens: cache.write5mTokens,
      ephemeral_1h_input_tokens: cache.write1hTokens,
    },
    service_tier: 'standard',
    ...(reply.webSearches === undefined
      ? {}
      : { server_tool_use: { web_search_requests: searched ? reply.webSearches : 0 } }),
  };
}

export function wireBlock(block: ReplyBlock): Readonly<Record<string, unknown>> {
  switch (block.type) {
    case 'text':
      return { type: 'text', text: block.text };
    case 'tool_use':
      return { type: 'tool_use', id: block.id, name: block.name, input: block.input };
    case 'thinking':
      return { type: 'thinking', thinking: block.thinking, signature: block.signature };
  }
}

/** The non-streaming response body. */
export function messageBody(reply: Reply): string {
  return JSON.stringify({
    id: reply.id,
    type: 'message',
    role: 'assistant',
    model: reply.model,
    content: reply.content.map(wireBlock),
    stop_reason: reply.stopReason,
    stop_sequence: reply.stopSequence,
    usage: wireUsage(reply, reply.outputTokens),
  });
}
