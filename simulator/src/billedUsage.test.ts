import { describe, expect, it } from '@jest/globals';
import { generatedUsage, traceIdOf } from './billedUsage.ts';
import type { Reply } from './replyPlan.ts';
import { streamEventData } from './sseEncoding.ts';

const reply: Reply = {
  id: 'msg_1',
  model: 'claude-sim',
  // 40 characters: two deltas of 16 and one of 8
  content: [{ type: 'text', text: 'a'.repeat(40) }],
  stopReason: 'end_turn',
  stopSequence: null,
  inputTokens: 100,
  outputTokens: 10,
  webSearches: 2,
  // Two searches' results, 300 input tokens each
  searchResultTokens: 600,
};
const events = streamEventData(reply);
const at = (name: string) => events.findIndex((e) => e.event === name);

describe('what a stream cut after its first events is billed', () => {
  it.each([
    ['nothing generated: its input alone', 0, 100, 0, 0],
    ['message_start and ping: no output yet', 2, 100, 0, 0],
    [
      'the first delta: its four tokens, and the searches made before it with their results as input',
      at('content_block_delta') + 1,
      700,
      4,
      2,
    ],
    ['up to content_block_stop: all of its output', at('content_block_stop') + 1, 700, 10, 2],
    ['every event', events.length, 700, 10, 2],
  ])('%s', (_name, generated, input, output, searches) => {
    const usage = generatedUsage(reply, events, generated);
    expect({
      input: usage.input_tokens,
      output: usage.output_tokens,
      searches: usage.server_tool_use?.web_search_requests,
    }).toEqual({ input, output, searches });
  });
});

describe('what a stream that thinks is billed when cut', () => {
  // A summary of 32 characters (8 tokens) standing for 80 tokens of thinking, then 4 of text.
  const thinking = {
    type: 'thinking' as const,
    thinking: 'b'.repeat(32),
    signature: 'sig',
    billedTokens: 80,
  };
  const thinker: Reply = {
    ...reply,
    content: [thinking, { type: 'text', text: 'a'.repeat(16) }],
    outputTokens: 84,
  };
  const thinkerEvents = streamEventData(thinker);
  const after = (type: string) =>
    thinkerEvents.findIndex(
      (e) => (e.data['delta'] as { type?: string } | undefined)?.type === type,
    ) + 1;
  it.each([
    ['the first half of the summary: half the thinking', after('thinking_delta'), 40],
    ['its signature: all the thinking', after('signature_delta'), 80],
    ['the text: all the thinking and the text', after('text_delta'), 84],
  ])('after %s', (_name, generated, output) => {
    expect(generatedUsage(thinker, thinkerEvents, generated).output_tokens).toBe(output);
  });
});

describe('the trace a bill names', () => {
  it.each([
    [
      'a W3C traceparent: its trace id',
      '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01',
      '4bf92f3577b34da6a3ce929d0e0e4736',
    ],
    ['none', undefined, undefined],
    ['a header not in the format', 'trace-me', undefined],
    [
      'the header twice',
      ['00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', 'x'],
      undefined,
    ],
  ])('%s', (_name, header, traceId) => {
    expect(traceIdOf(header)).toBe(traceId);
  });
});
