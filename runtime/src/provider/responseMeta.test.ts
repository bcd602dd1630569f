import { describe, expect, it } from '@jest/globals';
import { responseMetaOfAnswer } from './responseMeta.ts';
import { SseUsageTap, StreamEvents } from './sseUsage.ts';

describe("a model answer's id, model and stop reason", () => {
  it('are read from a plain answer in the API’s member order', () => {
    const text = JSON.stringify({
      id: 'msg_01',
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-5-20250929',
      content: [
        { type: 'text', text: 'a "model":"fake" and "stop_reason":"fake" inside a string' },
        { type: 'tool_use', id: 'toolu_9', name: 'x', input: { model: 'nested' } },
      ],
      stop_reason: 'tool_use',
      stop_sequence: null,
      usage: { input_tokens: 1, output_tokens: 2 },
    });
    expect(responseMetaOfAnswer(text)).toEqual({
      id: 'msg_01',
      model: 'claude-sonnet-4-5-20250929',
      finishReason: 'tool_use',
    });
  });

  it('leave out what the answer does not say (a null stop reason, no id)', () => {
    expect(responseMetaOfAnswer('{"model":"m","stop_reason":null}')).toEqual({ model: 'm' });
    expect(responseMetaOfAnswer('not json')).toEqual({});
  });

  const start =
    'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_s","type":"message","role":"assistant","model":"claude-haiku","content":[],"stop_reason":null,"usage":{"input_tokens":5,"output_tokens":1}}}\n\n';
  const delta =
    'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"max_tokens","stop_sequence":null},"usage":{"output_tokens":9}}\n\n';

  it('are read from a stream’s message_start and message_delta as the bytes pass', () => {
    const tap = new SseUsageTap();
    // Cut mid-line, as a network read may.
    const bytes = Buffer.from(start + delta);
    tap.push(bytes.subarray(0, 40));
    tap.push(bytes.subarray(40));
    expect(tap.response).toEqual({
      id: 'msg_s',
      model: 'claude-haiku',
      finishReason: 'max_tokens',
    });
    expect(tap.usage.output_tokens).toBe(9);
  });

  it('are noted from the events a transcoder writes', () => {
    const events = new StreamEvents();
    events.noted(
      'message_start',
      '{"type":"message_start","message":{"id":"msg_t","model":"anthropic.claude-v2","usage":{"input_tokens":3}}}',
    );
    events.noted('message_delta', '{"type":"message_delta","delta":{"stop_reason":"end_turn"}}');
    expect(events.response).toEqual({
      id: 'msg_t',
      model: 'anthropic.claude-v2',
      finishReason: 'end_turn',
    });
  });
});
