import { describe, expect, it } from '@jest/globals';
import type { Reply } from './replyPlan.ts';
import type { StreamPoint } from './faultSpec.ts';
import {
  encodeSseEvent,
  eventsBeforeFault,
  isDeltaEvent,
  messageStreamEvents,
  splitIntoPieces,
  streamEventData,
} from './sseEncoding.ts';

const textReply: Reply = {
  id: 'msg_1',
  model: 'claude-sim',
  content: [{ type: 'text', text: 'You said: a reply of several pieces' }],
  stopReason: 'end_turn',
  stopSequence: null,
  inputTokens: 3,
  outputTokens: 9,
};

const toolReply: Reply = {
  ...textReply,
  content: [
    { type: 'text', text: 'Calling f.' },
    { type: 'tool_use', id: 'toolu_1', name: 'f', input: { city: 'example city', days: 1 } },
  ],
  stopReason: 'tool_use',
};

interface Event {
  readonly event: string;
  readonly data: Record<string, unknown>;
}

/** Reads encoded events back the way an SSE client does. */
function decode(encoded: readonly string[]): Event[] {
  return encoded
    .join('')
    .split('\n\n')
    .filter(Boolean)
    .map((chunk) => {
      const [eventLine, dataLine, ...rest] = chunk.split('\n');
      expect(rest).toEqual([]);
      expect(eventLine).toMatch(/^event: /);
      expect(dataLine).toMatch(/^data: /);
      const data = JSON.parse(dataLine?.slice('data: '.length) ?? '') as Record<string, unknown>;
      const event = eventLine?.slice('event: '.length) ?? '';
      expect(data['type']).toBe(event);
      return { event, data };
    });
}

describe('encodeSseEvent', () => {
  it('writes one event line, one data line of JSON and a blank line', () => {
    expect(encodeSseEvent('ping', { type: 'ping' })).toBe('event: ping\ndata: {"type":"ping"}\n\n');
  });

  it('keeps newlines inside the data escaped, on a single data line', () => {
    expect(encodeSseEvent('x', { text: 'a\nb' })).toBe('event: x\ndata: {"text":"a\\nb"}\n\n');
  });
});

describe('messageStreamEvents', () => {
  it.each([
    [
      'a text reply',
      textReply,
      [
        'message_start',
        'ping',
        'content_block_start',
        'content_block_delta',
        'content_block_delta',
        'content_block_delta',
        'content_block_stop',
        'message_delta',
        'message_stop',
      ],
    ],
    [
      'a tool call after text',
      toolReply,
      [
        'message_start',
        'ping',
        'content_block_start',
        'content_block_delta',
        'content_block_stop',
        'content_block_start',
        'content_block_delta',
        'content_block_delta',
        'content_block_stop',
        'message_delta',
        'message_stop',
      ],
    ],
  ])('sends the events of %s in API order', (_name, reply, order) => {
    expect(decode(messageStreamEvents(reply)).map((e) => e.event)).toEqual(order);
  });

  it('opens with the message and no content, and closes with stop reason and usage', () => {
    const events = decode(messageStreamEvents(textReply));
    expect(events[0]?.data).toMatchObject({
      message: {
        id: 'msg_1',
        model: 'claude-sim',
        content: [],
        stop_reason: null,
        usage: { input_tokens: 3 },
      },
    });
    expect(events.at(-2)?.data).toEqual({
      type: 'message_delta',
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: {
        input_tokens: 3,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
        output_tokens: 9,
      },
    });
  });

  it('carries deltas that add up to the planned text and tool input', () => {
    const events = decode(messageStreamEvents(toolReply));
    const byIndex = new Map<number, string>();
    for (const { data } of events) {
      if (data['type'] !== 'content_block_delta') continue;
      const delta = data['delta'] as { text?: string; partial_json?: string };
      const index = data['index'] as number;
      byIndex.set(index, (byIndex.get(index) ?? '') + (delta.text ?? delta.partial_json ?? ''));
    }
    expect(byIndex.get(0)).toBe('Calling f.');
    expect(JSON.parse(byIndex.get(1) ?? '')).toEqual({ city: 'example city', days: 1 });
    expect(events.find((e) => e.data['index'] === 1)?.data).toEqual({
      type: 'content_block_start',
      index: 1,
      content_block: { type: 'tool_use', id: 'toolu_1', name: 'f', input: {} },
    });
  });
});

describe('eventsBeforeFault', () => {
  const shortReply: Reply = { ...textReply, content: [{ type: 'text', text: 'hi' }] };
  const emptyReply: Reply = { ...textReply, content: [] };
  const opening = ['message_start', 'ping'];

  it.each<[string, Reply, StreamPoint, string[]]>([
    ['only message_start and ping before content', textReply, 'before-content', opening],
    [
      'half the deltas of a text after content',
      textReply,
      'after-content',
      [...opening, 'content_block_start', 'content_block_delta', 'content_block_delta'],
    ],
    [
      'the one delta of a short text after content',
      shortReply,
      'after-content',
      [...opening, 'content_block_start', 'content_block_delta'],
    ],
    [
      'the text and part of a tool call after content',
      toolReply,
      'after-content',
      [
        ...opening,
        'content_block_start',
        'content_block_delta',
        'content_block_stop',
        'content_block_start',
        'content_block_delta',
      ],
    ],
    ['every content event when there is none', emptyReply, 'after-content', opening],
  ])('sends %s', (_name, reply, point, sent) => {
    const events = messageStreamEvents(reply);
    const before = events.slice(0, eventsBeforeFault(events, point));
    expect(decode(before).map((e) => e.event)).toEqual(sent);
  });
});

describe('isDeltaEvent', () => {
  it.each([
    ['a content delta', encodeSseEvent('content_block_delta', {}), true],
    ['a content block start', encodeSseEvent('content_block_start', {}), false],
    ['a message delta', encodeSseEvent('message_delta', {}), false],
  ])('tells %s apart', (_name, encoded, isDelta) => {
    expect(isDeltaEvent(encoded)).toBe(isDelta);
  });
});

describe('splitIntoPieces', () => {
  it.each([
    ['nothing into no pieces', '', 4, []],
    ['text into pieces of the given size', 'abcdefghij', 4, ['abcd', 'efgh', 'ij']],
    ['without splitting a surrogate pair', 'abc😀de', 4, ['abc', '😀de']],
  ])('splits %s', (_name, text, size, pieces) => {
    expect(splitIntoPieces(text, size)).toEqual(pieces);
  });
});

describe('a reply that thinks, streamed', () => {
  it('opens an empty thinking block, streams its summary, then its signature, then the text', () => {
    const reply = {
      id: 'msg_1',
      model: 'claude-sim',
      content: [
        { type: 'thinking' as const, thinking: 'c'.repeat(20), signature: 'sig', billedTokens: 40 },
        { type: 'text' as const, text: 'hi' },
      ],
      stopReason: 'end_turn' as const,
      stopSequence: null,
      inputTokens: 1,
      outputTokens: 41,
    };
    const shapes = streamEventData(reply).map(({ data }) => {
      const delta = data['delta'] as { type?: string } | undefined;
      const block = data['content_block'];
      return delta?.type ?? (block === undefined ? data['type'] : block);
    });
    expect(shapes).toEqual([
      'message_start',
      'ping',
      { type: 'thinking', thinking: '' },
      'thinking_delta',
      'thinking_delta',
      'signature_delta',
      'content_block_stop',
      { type: 'text', text: '' },
      'text_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
  });
});
