import { describe, expect, it } from '@jest/globals';
import { CUT_STREAM_OUTPUT_MARGIN, SseUsageTap, StreamEvents, settledUsage } from './sseUsage.ts';
import { usageOf, usageOfAnswer } from './usage.ts';

const event = (type: string, data: unknown) => `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;

const STREAM = [
  event('message_start', {
    type: 'message_start',
    message: { id: 'msg_1', usage: { input_tokens: 7, output_tokens: 1 } },
  }),
  event('ping', { type: 'ping' }),
  event('content_block_delta', {
    type: 'content_block_delta',
    index: 0,
    // Text that names the markers is escaped inside the JSON string, and never read.
    delta: { type: 'text_delta', text: 'a "message_delta" with "usage" and an "error"' },
  }),
  event('message_delta', {
    type: 'message_delta',
    delta: { stop_reason: 'end_turn' },
    usage: { output_tokens: 9 },
  }),
  event('message_stop', { type: 'message_stop' }),
].join('');

function tapped(chunks: readonly string[]): SseUsageTap {
  const tap = new SseUsageTap();
  const encoder = new TextEncoder();
  for (const chunk of chunks) tap.push(encoder.encode(chunk));
  return tap;
}

/** The stream cut into pieces of `size` bytes. */
function pieces(text: string, size: number): string[] {
  const bytes = new TextEncoder().encode(text);
  const out: string[] = [];
  const decoder = new TextDecoder();
  for (let i = 0; i < bytes.length; i += size) {
    out.push(decoder.decode(bytes.subarray(i, i + size), { stream: true }));
  }
  return out;
}

describe('SseUsageTap', () => {
  it.each([
    ['in one chunk', [STREAM]],
    ['a line at a time', STREAM.split(/(?<=\n)/)],
    ['cut every 7 bytes', pieces(STREAM, 7)],
    ['cut every byte', pieces(STREAM, 1)],
  ])(
    'reads input from message_start and output from the last message_delta, %s',
    (_name, chunks) => {
      const tap = tapped(chunks);
      expect(tap.usage).toEqual({ input_tokens: 7, output_tokens: 9 });
      expect(tap.errorType).toBeUndefined();
    },
  );

  it('keeps the usage seen before an error event, and names the error', () => {
    const tap = tapped([
      STREAM.slice(0, STREAM.indexOf('event: message_delta')),
      event('error', { type: 'error', error: { type: 'overloaded_error', message: 'busy' } }),
    ]);
    expect(tap.usage).toEqual({ input_tokens: 7, output_tokens: 1 });
    expect(tap.errorType).toBe('overloaded_error');
  });

  it('reads usage whatever bytes the stream was cut at, multi-byte characters and CRLF lines included', () => {
    const stream = [
      event('message_start', {
        type: 'message_start',
        message: { id: 'msg_é', content: [], usage: { input_tokens: 12, output_tokens: 1 } },
      }),
      event('content_block_delta', {
        type: 'content_block_delta',
        delta: { type: 'text_delta', text: 'naïve 🚦 "usage": {"output_tokens": 999}' },
      }),
      event('message_delta', { type: 'message_delta', usage: { output_tokens: 34 } }),
    ]
      .join('')
      .replace(/\n/g, '\r\n');
    const bytes = new TextEncoder().encode(stream);
    for (const size of [1, 2, 3, 5, 64]) {
      const tap = new SseUsageTap();
      for (let i = 0; i < bytes.length; i += size) tap.push(bytes.subarray(i, i + size));
      expect(tap.usage).toEqual({ input_tokens: 12, output_tokens: 34 });
    }
  });

  it('reads usage events in another key order or spacing by parsing them whole', () => {
    const tap = tapped([
      'event: message_start\ndata: {"message": {"usage": {"input_tokens": 5}, "id": "m"}, "type": "message_start"}\n\n',
      'event: message_delta\ndata: {"usage":{"output_tokens":6},"type":"message_delta","delta":{}}\n\n',
    ]);
    expect(tap.usage).toEqual({ input_tokens: 5, output_tokens: 6 });
  });

  it('keeps the last whole count when an event reports one that is not', () => {
    const tap = tapped([
      event('message_start', {
        type: 'message_start',
        message: { usage: { input_tokens: 7, output_tokens: 1, cache_read_input_tokens: 0.5 } },
      }),
      event('message_delta', { type: 'message_delta', usage: { output_tokens: 2.5 } }),
    ]);
    expect(tap.usage).toEqual({ input_tokens: 7, output_tokens: 1 });
  });

  it('merges nothing from a usage that is null, and reads on', () => {
    const tap = tapped([
      event('message_start', { type: 'message_start', message: { id: 'msg_1', usage: null } }),
      event('message_delta', { type: 'message_delta', delta: {}, usage: null }),
      event('message_stop', { type: 'message_stop' }),
    ]);
    expect(tap.usage).toEqual({ input_tokens: 0, output_tokens: 0 });
    expect(tap.final).toBe(true);
    expect(tap.stopped).toBe(true);
  });

  it('reads nothing from a line that has not ended yet', () => {
    const tap = tapped([STREAM.slice(0, STREAM.indexOf('\n', 20))]);
    expect(tap.usage).toEqual({ input_tokens: 0, output_tokens: 0 });
  });
});

describe('usageOf', () => {
  it.each([
    [
      'a message',
      { usage: { input_tokens: 3, output_tokens: 4 } },
      { input_tokens: 3, output_tokens: 4 },
    ],
    ['no usage', { type: 'message' }, { input_tokens: 0, output_tokens: 0 }],
    ['not JSON', undefined, { input_tokens: 0, output_tokens: 0 }],
    [
      'counts that are not whole numbers of zero or more as absent',
      {
        usage: {
          input_tokens: 1.5,
          output_tokens: -4,
          cache_creation_input_tokens: '7',
          cache_read_input_tokens: 2 ** 60,
          cache_creation: { ephemeral_1h_input_tokens: Number.NaN },
        },
      },
      { input_tokens: 0, output_tokens: 0 },
    ],
  ])('reads %s', (_name, message, expected) => {
    expect(usageOf(message)).toEqual(expected);
  });
});

describe('usageOfAnswer', () => {
  const usage = { input_tokens: 11, output_tokens: 22 };
  it.each<[string, string, { input_tokens: number; output_tokens: number }]>([
    [
      'an answer in the API’s order, usage last',
      JSON.stringify({ id: 'm', content: [{ type: 'text', text: 'hi' }], usage }),
      usage,
    ],
    [
      'usage with nested objects and strings holding braces',
      JSON.stringify({
        id: 'm',
        usage: { ...usage, cache_creation: { e: 1 }, service_tier: 'st}a{nd"ard' },
      }),
      usage,
    ],
    ['pretty-printed JSON', JSON.stringify({ id: 'm', usage }, null, 2), usage],
    [
      'usage before the content, which holds a tool input named usage',
      JSON.stringify({
        usage,
        content: [
          { type: 'tool_use', input: { usage: { input_tokens: 999, output_tokens: 999 } } },
        ],
      }),
      usage,
    ],
    [
      'a usage key only inside the content’s text',
      JSON.stringify({ content: [{ type: 'text', text: '"usage": {"input_tokens": 5}}' }] }),
      { input_tokens: 0, output_tokens: 0 },
    ],
    ['no usage at all', JSON.stringify({ id: 'm' }), { input_tokens: 0, output_tokens: 0 }],
    ['not JSON', 'upstream said no', { input_tokens: 0, output_tokens: 0 }],
    [
      'a cut-off answer',
      '{"id":"m","usage":{"input_tokens":3',
      { input_tokens: 0, output_tokens: 0 },
    ],
  ])('reads %s', (_name, text, expected) => {
    expect(usageOfAnswer(text)).toEqual(expected);
  });
});

describe('what a stream settles at when it ends before its final usage', () => {
  const start = event('message_start', {
    type: 'message_start',
    message: { id: 'msg_2', usage: { input_tokens: 40, output_tokens: 1 } },
  });
  const toolStart = event('content_block_start', {
    type: 'content_block_start',
    index: 1,
    content_block: { type: 'tool_use', id: 'toolu_1', name: 'lookup', input: {} },
  });
  const text = (piece: string) =>
    event('content_block_delta', {
      type: 'content_block_delta',
      index: 0,
      delta: { type: 'text_delta', text: piece },
    });
  const json = (piece: string) =>
    event('content_block_delta', {
      type: 'content_block_delta',
      index: 1,
      delta: { type: 'input_json_delta', partial_json: piece },
    });
  const delta = event('message_delta', {
    type: 'message_delta',
    delta: { stop_reason: 'tool_use' },
    usage: { output_tokens: 12, server_tool_use: { web_search_requests: 2 } },
  });
  // Each marker's bytes to its line's end: the piece, and the closing quote and braces.
  const bytesAfter = (piece: string, closers: number) => Buffer.byteLength(piece) + 1 + closers;

  it.each([
    [
      'nothing at all: everything unknown',
      [],
      { input_tokens: 0, output_tokens: 0, unknown: 'all' },
    ],
    [
      'message_start alone: its input, the margin, and server tools unknown',
      [start],
      { input_tokens: 40, output_tokens: 1 + CUT_STREAM_OUTPUT_MARGIN, unknown: 'fees' },
    ],
    [
      'text read: no fewer output tokens than its bytes, and the margin',
      [start, text('Hello, wörld'), text(' and "more"')],
      {
        input_tokens: 40,
        output_tokens:
          bytesAfter('Hello, wörld', 2) +
          bytesAfter(' and \\"more\\"', 2) +
          CUT_STREAM_OUTPUT_MARGIN,
        unknown: 'fees',
      },
    ],
    [
      'a tool call: its name and input JSON',
      [start, toolStart, json('{"q":')],
      {
        input_tokens: 40,
        output_tokens:
          Buffer.byteLength('lookup","input":{}}}') +
          bytesAfter('{\\"q\\":', 2) +
          CUT_STREAM_OUTPUT_MARGIN,
        unknown: 'fees',
      },
    ],
    [
      'the final usage: the provider count, server tools included',
      [start, text('Hi'), delta],
      { input_tokens: 40, output_tokens: 12, server_tool_use: { web_search_requests: 2 } },
    ],
  ])('%s', (_name, events, usage) => {
    expect(settledUsage(tapped(events))).toEqual(usage);
  });

  it('counts each kind of output marker once a line, and reads a line whose marker opens on the quote closing another', () => {
    const lines = [
      'data: {"type":"message_start","message":{"usage":{"input_tokens":5,"output_tokens":1}}}\n',
      'data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n',
      // The first of each kind counts, to the line's end.
      'data: {"delta":{"text":"a","name":"b","text":"cc","thinking":"d","partial_json":"e"}}\n',
      // `"error"` and `"message_` open on the quote that closes `"name":"`: each line is read
      // for its event (its type spelt with an escape, so that no other marker names it).
      'data: {"name":"error","type":"\\u0065rror"}\n',
    ];
    const final =
      'data: {"name":"message_delta","type":"message_d\\u0065lta","usage":{"output_tokens":7}}\n';
    const markers = ['"text":"', '"partial_json":"', '"thinking":"', '"name":"'];
    let bound = 0;
    for (const line of lines)
      for (const m of markers)
        if (line.includes(m)) bound += line.length - 1 - (line.indexOf(m) + m.length);
    for (const chunks of [lines, [lines.join('')], pieces(lines.join(''), 7)]) {
      const tap = tapped(chunks);
      expect(tap.outputAtMost).toBe(bound);
      expect(tap.errorType).toBe('api_error');
      expect(tap.final).toBe(false);
      expect(tap.thinking).toBe(true);
      // The final usage read from a line whose `"message_` opens on a closing quote; the bound
      // is not counted past it (settledUsage has the provider's count).
      tap.push(new TextEncoder().encode(final));
      expect(tap.final).toBe(true);
      expect(tap.usage.output_tokens).toBe(7);
      expect(tap.outputAtMost).toBe(bound);
    }
  });

  it('does not scan a chunk that carries the final usage for output, nor any after it', () => {
    const whole = [start, text('Hello'), delta].join('');
    const tap = tapped([whole]);
    expect(tap.final).toBe(true);
    expect(tap.outputAtMost).toBe(0);
    tap.push(new TextEncoder().encode(text('more')));
    expect(tap.outputAtMost).toBe(0);
    // Cut before its final usage, the same content is counted.
    expect(tapped([start, text('Hello')]).outputAtMost).toBeGreaterThan(0);
    // Its settlement is the provider's count.
    expect(settledUsage(tap).output_tokens).toBe(12);
  });

  it('counts the same however the stream is cut into chunks', () => {
    const whole = [start, text('Hello, wörld'), toolStart, json('{"q":"ebb"}')].join('');
    const bytes = Buffer.from(whole);
    const byByte = new SseUsageTap();
    for (let i = 0; i < bytes.length; i++) byByte.push(bytes.subarray(i, i + 1));
    expect(byByte.outputAtMost).toBe(tapped([whole]).outputAtMost);
    expect(byByte.outputAtMost).toBeGreaterThan(0);
  });

  it('leaves the output unknown for a stream that relayed thinking: the API may bill more than it relays', () => {
    const thinkingStart = event('content_block_start', {
      type: 'content_block_start',
      index: 0,
      content_block: { type: 'thinking', thinking: '', signature: '' },
    });
    const thought = event('content_block_delta', {
      type: 'content_block_delta',
      index: 0,
      delta: { type: 'thinking_delta', thinking: 'Let me see' },
    });
    const redacted = event('content_block_start', {
      type: 'content_block_start',
      index: 0,
      content_block: { type: 'redacted_thinking', data: 'EmwKAhgBEgy3' },
    });
    expect(settledUsage(tapped([start, thinkingStart, thought])).unknown).toBe('output');
    expect(settledUsage(tapped([start, redacted])).unknown).toBe('output');
    // Byte by byte, the same.
    const bytes = Buffer.from([start, thinkingStart].join(''));
    const byByte = new SseUsageTap();
    for (let i = 0; i < bytes.length; i++) byByte.push(bytes.subarray(i, i + 1));
    expect(byByte.thinking).toBe(true);
    // Text that speaks of thinking, quotes and all, is not thinking.
    expect(settledUsage(tapped([start, text('I was "thinking" of it')])).unknown).toBe('fees');
    // Nor text that ends in it, after a quote or not, nor a tool whose name does.
    expect(settledUsage(tapped([start, text('I am thinking')])).unknown).toBe('fees');
    expect(settledUsage(tapped([start, text('say "thinking')])).unknown).toBe('fees');
    const thinkingTool = event('content_block_start', {
      type: 'content_block_start',
      index: 1,
      content_block: { type: 'tool_use', id: 'toolu_1', name: 'deep_thinking', input: {} },
    });
    expect(settledUsage(tapped([start, thinkingTool])).unknown).toBe('fees');
    // With its final usage, the provider's count stands.
    expect(settledUsage(tapped([start, thinkingStart, thought, delta])).unknown).toBeUndefined();
    // The events a transcoder writes (Bedrock) say the same.
    const written = new StreamEvents();
    const json = (e: string) => e.slice(e.indexOf('data: ') + 6).trim();
    for (const [type, e] of [
      ['message_start', start],
      ['content_block_start', thinkingStart],
      ['content_block_delta', thought],
    ] as const)
      written.noted(type, StreamEvents.wantsJson(type) ? json(e) : undefined, json(e).length);
    expect(settledUsage(written).unknown).toBe('output');
    const tool = new StreamEvents();
    tool.noted('message_start', json(start), json(start).length);
    tool.noted('content_block_start', json(thinkingTool), json(thinkingTool).length);
    expect(settledUsage(tool).unknown).toBe('fees');
  });

  it('settles nothing for a provider error event before message_start', () => {
    const error = event('error', { type: 'error', error: { type: 'overloaded_error' } });
    expect(settledUsage(tapped([error]))).toEqual({ input_tokens: 0, output_tokens: 0 });
  });
});
