/**
 * A planned reply as the Messages API's server-sent events: `message_start`, a `ping`, then
 * per content block `content_block_start`, deltas (`text_delta`, `input_json_delta`, or
 * `thinking_delta` and then one `signature_delta`) and `content_block_stop`, then
 * `message_delta` (stop reason, usage) and `message_stop`.
 */
import type { StreamPoint } from './faultSpec.ts';
import { wireBlock, wireUsage } from './messageBody.ts';
import type { Reply, ReplyBlock } from './replyPlan.ts';

/** `message_start` and `ping` open every stream. */
export const OPENING_EVENTS = 2;
/** `message_delta` and `message_stop` close every stream. */
const CLOSING_EVENTS = 2;

/** Characters per delta: a few tokens, as the real API sends. */
export const DELTA_CHARS = 16;

export function encodeSseEvent(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** One event of a stream before encoding: its name and its JSON data (which names it again). */
export interface StreamEvent {
  readonly event: string;
  readonly data: Readonly<Record<string, unknown>>;
}

/** Each event of the stream, already encoded as server-sent events, in order. */
export function messageStreamEvents(reply: Reply): string[] {
  return streamEventData(reply).map(({ event, data }) => encodeSseEvent(event, data));
}

/** Each event of the stream, in order, for any wire encoding (SSE, Bedrock's event stream). */
export function streamEventData(reply: Reply): StreamEvent[] {
  const event = (name: string, data: Readonly<Record<string, unknown>>): StreamEvent => ({
    event: name,
    data,
  });
  const events = [
    event('message_start', {
      type: 'message_start',
      message: {
        id: reply.id,
        type: 'message',
        role: 'assistant',
        model: reply.model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: startUsage(reply),
      },
    }),
    event('ping', { type: 'ping' }),
  ];
  reply.content.forEach((block, index) => {
    events.push(
      event('content_block_start', {
        type: 'content_block_start',
        index,
        content_block: blockStart(block),
      }),
    );
    const { whole, delta } = blockDeltas(block);
    for (const piece of splitIntoPieces(whole, DELTA_CHARS)) {
      events.push(
        event('content_block_delta', {
          type: 'content_block_delta',
          index,
          delta: delta(piece),
        }),
      );
    }
    // A thinking block's signature comes whole, after its thinking.
    if (block.type === 'thinking')
      events.push(
        event('content_block_delta', {
          type: 'content_block_delta',
          index,
          delta: { type: 'signature_delta', signature: block.signature },
        }),
      );
    events.push(event('content_block_stop', { type: 'content_block_stop', index }));
  });
  events.push(
    event('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: reply.stopReason, stop_sequence: reply.stopSequence },
      usage: deltaUsage(reply),
    }),
    event('message_stop', { type: 'message_stop' }),
  );
  return events;
}

/** A block as its `content_block_start` opens it: empty, its deltas to come. */
function blockStart(block: ReplyBlock): Readonly<Record<string, unknown>> {
  switch (block.type) {
    case 'text':
      return { type: 'text', text: '' };
    case 'tool_use':
      return { ...wireBlock(block), input: {} };
    case 'thinking':
      return { type: 'thinking', thinking: '' };
  }
}

/** What a block's deltas carry, and the delta that carries a piece of it. */
function blockDeltas(block: ReplyBlock): {
  readonly whole: string;
  readonly delta: (piece: string) => Readonly<Record<string, unknown>>;
} {
  switch (block.type) {
    case 'text':
      return { whole: block.text, delta: (text) => ({ type: 'text_delta', text }) };
    case 'tool_use':
      return {
        whole: JSON.stringify(block.input),
        delta: (json) => ({ type: 'input_json_delta', partial_json: json }),
      };
    case 'thinking':
      return {
        whole: block.thinking,
        delta: (thinking) => ({ type: 'thinking_delta', thinking }),
      };
  }
}

/**
 * How many of a stream's events go out before an `inStream` fault at `point`: for
 * `before-content`, `message_start` and `ping`; for `after-content`, every event up to and
 * including the delta that ends the first half of the deltas (at least one), or all the
 * content when there is no delta.
 */
export function eventsBeforeFault(
  events: readonly (string | StreamEvent)[],
  point: StreamPoint,
): number {
  if (point === 'before-content') return OPENING_EVENTS;
  const deltas = events.flatMap((event, index) =>
    (typeof event === 'string' ? isDeltaEvent(event) : event.event === 'content_block_delta')
      ? [index]
      : [],
  );
  const lastSent = deltas[Math.ceil(deltas.length / 2) - 1];
  return lastSent === undefined ? events.length - CLOSING_EVENTS : lastSent + 1;
}

/** Whether an encoded event is a `content_block_delta`. */
export function isDeltaEvent(encoded: string): boolean {
  return encoded.startsWith('event: content_block_delta\n');
}

/** Pieces of about `size` characters that never split a surrogate pair. */
export function splitIntoPieces(text: string, size: number): string[] {
  const pieces: string[] = [];
  let start = 0;
  while (start < text.length) {
    let end = Math.min(start + size, text.length);
    const last = text.charCodeAt(end - 1);
    if (end < text.length && end - 1 > start && last >= 0xd800 && last <= 0xdbff) end -= 1;
    pieces.push(text.slice(start, end));
    start = end;
  }
  return pieces;
}

/** `message_delta`'s usage: the totals, cache counts included, as the API repeats them there. */
function deltaUsage(reply: Reply): Readonly<Record<string, unknown>> {
  const usage = wireUsage(reply, reply.outputTokens);
  return {
    input_tokens: usage.input_tokens,
    cache_creation_input_tokens: usage.cache_creation_input_tokens,
    cache_read_input_tokens: usage.cache_read_input_tokens,
    output_tokens: usage.output_tokens,
    ...(usage.server_tool_use === undefined ? {} : { server_tool_use: usage.server_tool_use }),
  };
}

/** `message_start`'s usage: one output token so far, and no server tool used yet (nor its results). */
function startUsage(reply: Reply): object {
  return wireUsage(reply, 1, false);
}
