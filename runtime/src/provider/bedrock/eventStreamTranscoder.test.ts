import { describe, expect, it } from '@jest/globals';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import { SseUsageTap } from '../sseUsage.ts';
import { EventStreamCorrupt, EventStreamTranscoder } from './eventStreamTranscoder.ts';

const codec = new EventStreamCodec(toUtf8, fromUtf8);
const str = (value: string) => ({ type: 'string', value }) as const;

/** A `chunk` frame as Bedrock sends it: the event's JSON in base64, and padding. */
function chunk(event: object, padding = 'abcdefg'): Buffer {
  const bytes = Buffer.from(JSON.stringify(event)).toString('base64');
  return Buffer.from(
    codec.encode({
      headers: {
        ':event-type': str('chunk'),
        ':content-type': str('application/json'),
        ':message-type': str('event'),
      },
      body: fromUtf8(JSON.stringify({ bytes, p: padding })),
    }),
  );
}

function exception(type: string, message: string): Buffer {
  return Buffer.from(
    codec.encode({
      headers: {
        ':exception-type': str(type),
        ':content-type': str('application/json'),
        ':message-type': str('exception'),
      },
      body: fromUtf8(JSON.stringify({ message })),
    }),
  );
}

const events = [
  { type: 'message_start', message: { id: 'msg_1', usage: { input_tokens: 3, output_tokens: 1 } } },
  { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
  { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'héllo ✓' } },
  { type: 'message_stop', 'amazon-bedrock-invocationMetrics': { inputTokenCount: 3 } },
];
const sse = events.map((e) => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`).join('');

describe('EventStreamTranscoder', () => {
  it('writes each chunk frame as the Anthropic server-sent event it carries', () => {
    const t = new EventStreamTranscoder();
    expect(t.push(Buffer.concat(events.map((e) => chunk(e)))).toString()).toBe(sse);
    expect(t.partial).toBe(0);
  });

  it('reassembles the same events whichever byte a read ends at, the length prefix included', () => {
    const whole = Buffer.concat(events.map((e) => chunk(e)));
    for (let cut = 1; cut < whole.length; cut++) {
      const t = new EventStreamTranscoder();
      const out = `${t.push(whole.subarray(0, cut)).toString()}${t.push(whole.subarray(cut)).toString()}`;
      expect(out).toBe(sse);
    }
  });

  it('reassembles them from one-byte reads', () => {
    const whole = Buffer.concat(events.map((e) => chunk(e)));
    const t = new EventStreamTranscoder();
    let out = '';
    for (let i = 0; i < whole.length; i++) out += t.push(whole.subarray(i, i + 1)).toString();
    expect(out).toBe(sse);
  });

  it.each([
    ['throttlingException', 'rate_limit_error'],
    ['serviceUnavailableException', 'overloaded_error'],
    ['internalServerException', 'api_error'],
    ['modelStreamErrorException', 'api_error'],
    ['modelTimeoutException', 'timeout_error'],
    ['validationException', 'invalid_request_error'],
  ])('turns an exception frame %s into the Anthropic error event %s', (name, type) => {
    const t = new EventStreamTranscoder();
    const out = t
      .push(Buffer.concat([chunk(events[0] as object), exception(name, 'slow down')]))
      .toString();
    const [, error] = out.split('\n\n');
    expect(error).toBe(
      `event: error\ndata: ${JSON.stringify({ type: 'error', error: { type, message: `Bedrock ${name}: slow down` } })}`,
    );
  });

  it('refuses bytes that are not frames, and a frame whose checksum is wrong', () => {
    expect(() => new EventStreamTranscoder().push(Buffer.from('data: {}\n\n'))).toThrow(
      EventStreamCorrupt,
    );
    const frame = chunk(events[0] as object);
    frame.writeUInt8(frame.readUInt8(frame.length - 6) ^ 0xff, frame.length - 6);
    expect(() => new EventStreamTranscoder().push(frame)).toThrow(EventStreamCorrupt);
  });

  it('refuses a frame whose prelude checksum is wrong, whole or still arriving', () => {
    const frame = chunk(events[0] as object);
    // The prelude's checksum corrupted: the message checksum, which covers it, no longer matches.
    const whole = Buffer.from(frame);
    whole.writeUInt8(whole.readUInt8(9) ^ 0xff, 9);
    expect(() => new EventStreamTranscoder().push(whole)).toThrow(/message checksum/);
    // A length corrupted in a frame still arriving is refused before its bytes are waited for.
    const arriving = Buffer.from(frame.subarray(0, 16));
    arriving.writeUInt32BE(frame.length + 1000, 0);
    expect(() => new EventStreamTranscoder().push(arriving)).toThrow(/prelude checksum/);
  });

  it('writes the events of many reads, an exception among them, each read apart', () => {
    const frames = [
      ...events.map((e) => chunk(e)),
      exception('throttlingException', 'x'.repeat(400)),
    ];
    const t = new EventStreamTranscoder();
    const outs = frames.map((f) => t.push(f).toString());
    expect(outs.slice(0, events.length).join('')).toBe(sse);
    // An error event longer than the frame that carried it.
    expect(outs.at(-1)).toMatch(/^event: error\ndata: .*x{400}.*\n\n$/);
  });

  it('decodes base64 of every padding, and event types of every length in any order', () => {
    // Texts of 1 to 9 letters give JSON of every length modulo 3: no padding, `=` and `==`.
    const mixed = Array.from({ length: 9 }, (_, i) => [
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'é'.repeat(i) } },
      { type: 'ping' },
      { type: 'a_type_the_api_may_add_one_day', n: i },
    ]).flat();
    const t = new EventStreamTranscoder();
    const out = t.push(Buffer.concat(mixed.map((e) => chunk(e)))).toString();
    expect(out).toBe(mixed.map((e) => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`).join(''));
  });

  it('writes a chunk in another shape on one line: bytes not first, JSON over lines, no type first', () => {
    const frame = (payload: object) =>
      Buffer.from(
        codec.encode({
          headers: {
            ':event-type': str('chunk'),
            ':content-type': str('application/json'),
            ':message-type': str('event'),
          },
          body: fromUtf8(JSON.stringify(payload)),
        }),
      );
    const base64 = (text: string) => Buffer.from(text).toString('base64');
    const t = new EventStreamTranscoder();
    const out = t
      .push(
        Buffer.concat([
          frame({ p: 'pad', bytes: base64('{"type":"ping"}') }),
          frame({ bytes: base64('{\n  "type": "message_stop"\n}') }),
          frame({ bytes: base64('{"index":0,"type":"content_block_stop"}') }),
          frame({ bytes: base64('{"type":"ping"}').replace(/=+$/, '') }),
        ]),
      )
      .toString();
    expect(out).toBe(
      'event: ping\ndata: {"type":"ping"}\n\n' +
        'event: message_stop\ndata: {"type":"message_stop"}\n\n' +
        'event: content_block_stop\ndata: {"index":0,"type":"content_block_stop"}\n\n' +
        'event: ping\ndata: {"type":"ping"}\n\n',
    );
  });

  it('refuses a chunk whose bytes are not base64 of JSON', () => {
    const frame = Buffer.from(
      codec.encode({
        headers: {
          ':event-type': str('chunk'),
          ':content-type': str('application/json'),
          ':message-type': str('event'),
        },
        body: fromUtf8(JSON.stringify({ bytes: Buffer.from('not json').toString('base64') })),
      }),
    );
    expect(() => new EventStreamTranscoder().push(frame)).toThrow(/not JSON/);
  });

  it('says what its events said as the relay would read it from the bytes: usage, content, stop, error', () => {
    const stream = [
      { type: 'message_start', message: { usage: { input_tokens: 12, output_tokens: 1 } } },
      { type: 'ping' },
      ...events.slice(1, 3),
      { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 7 } },
      { type: 'message_stop' },
    ];
    for (const frames of [
      stream.slice(0, 2).map((e) => chunk(e)),
      stream.map((e) => chunk(e)),
      [...stream.slice(0, 3).map((e) => chunk(e)), exception('throttlingException', 'slow')],
    ]) {
      const t = new EventStreamTranscoder();
      const read = new SseUsageTap();
      for (const frame of frames) read.push(t.push(frame));
      const { usage, contentStarted, stopped, errorEvent } = t.events;
      expect({ usage, contentStarted, stopped, errorEvent }).toEqual({
        usage: read.usage,
        contentStarted: read.contentStarted,
        stopped: read.stopped,
        errorEvent: read.errorEvent,
      });
    }
  });

  it('keeps a frame cut off by the end as partial, for the relay to call a cut stream', () => {
    const frame = chunk(events[0] as object);
    const t = new EventStreamTranscoder();
    expect(t.push(frame.subarray(0, 20)).length).toBe(0);
    expect(t.partial).toBe(20);
  });
});
