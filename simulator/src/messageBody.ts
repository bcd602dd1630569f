/** A planned reply in the Messages API's wire shape. */
import type { Reply, ReplyBlock } from './replyPlan.ts';

export interface WireUsage {
  readonly input_tokens: number;
  readonly output_tokens: number;
  readonly cache_creation_input_tokens: number;
  readonly cache_read_input_tokens: number;
  readonly service_tier: 'standard';
}

export function wireUsage(inputTokens: number, outputTokens: number): WireUsage {
  return {
    input_tokens: inputTokens,
    output_tokens: outputTokens,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    service_tier: 'standard',
  };
}

export function wireBlock(block: ReplyBlock): Readonly<Record<string, unknown>> {
  return block.type === 'text'
    ? { type: 'text', text: block.text }
    : { type: 'tool_use', id: block.id, name: block.name, input: block.input };
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
    usage: wireUsage(reply.inputTokens, reply.outputTokens),
  });
}
