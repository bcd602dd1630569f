/**
 * `InvokeModelWithResponseStream`'s `application/vnd.amazon.eventstream` body, re-encoded as
 * the Anthropic API's server-sent events, chunk by chunk as it arrives: each `chunk` frame's
 * payload `{"bytes": "<base64>"}` holds one Anthropic stream event's JSON, written out as
 * `event: <type>\ndata: <json>\n\n`; an exception frame (`throttlingException`,
 * `modelStreamErrorException`, …) becomes the `event: error` the Anthropic API would have sent
 * (bedrockErrors.ts), which the relay then treats as it treats the Anthropic API's own: before
 * content the attempt fails over, after content the caller's stream ends with it.
 *
 * Frames are decoded (headers, both CRCs) by `@smithy/eventstream-codec`, the AWS SDK's own
 * codec. Splitting the bytes into frames is done here: a frame is its 4-byte length and that
 * many bytes, and a network read ends anywhere, inside the length prefix included. The AWS
 * SDK's splitter (`getChunkedStream`) reads an async iterable, one promise per chunk; this
 * one is pushed to from undici's handler and keeps at most one partial frame.
 */
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import { sseErrorEvent } from '../cloudErrors.ts';
import { bedrockErrorType } from './bedrockErrors.ts';

const codec = new EventStreamCodec(toUtf8, fromUtf8);

/** The prelude (total length, headers length, prelude CRC) and the message CRC. */
const PRELUDE = 12;
const TRAILER = 4;
/** Bedrock's frames are far smaller; a length beyond this is a corrupt stream, not a frame. */
const MAX_FRAME = 16 * 1024 * 1024;

/** A stream whose bytes are not event-stream frames: the exchange is broken. */
export class EventStreamCorrupt extends Error {
  constructor(what: string) {
    super(`Bedrock's event stream is corrupt: ${what}`);
    this.name = 'EventStreamCorrupt';
  }
}

export class EventStreamTranscoder {
  /** The bytes of a frame not yet complete; empty between frames. */
  #pending: Buffer = Buffer.alloc(0);

  /** The server-sent events of the frames `chunk` completes; empty when it completes none. */
  push(chunk: Buffer): string {
    let buffer = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    let out = '';
    while (buffer.length >= 4) {
      const length = buffer.readUInt32BE(0);
      if (length < PRELUDE + TRAILER || length > MAX_FRAME)
        throw new EventStreamCorrupt(`a frame of ${length} bytes`);
      if (buffer.length < length) break;
      out += this.#event(buffer.subarray(0, length));
      buffer = buffer.subarray(length);
    }
    // Kept as a copy: the chunk's memory belongs to the connection's next read.
    this.#pending = buffer.length === 0 ? EMPTY : Buffer.from(buffer);
    return out;
  }

  /** Bytes of a frame cut off by the stream's end (the relay reports the cut itself). */
  get partial(): number {
    return this.#pending.length;
  }

  #event(frame: Buffer): string {
    let message;
    try {
      message = codec.decode(frame);
    } catch (err) {
      throw new EventStreamCorrupt(err instanceof Error ? err.message : String(err));
    }
    const header = (name: string): string | undefined => {
      const h = message.headers[name];
      return h?.type === 'string' ? h.value : undefined;
    };
    const kind = header(':message-type');
    const payload = toUtf8(message.body);
    if (kind === 'event') {
      if (header(':event-type') !== 'chunk') return '';
      return sseOf(chunkBytes(payload));
    }
    if (kind === 'exception') {
      const exception = header(':exception-type');
      return sseErrorEvent(
        bedrockErrorType(exception, 500),
        `Bedrock ${exception ?? 'exception'}: ${exceptionMessage(payload)}`,
      );
    }
    // `:message-type: error`: the service's own failure, with its code and message headers.
    return sseErrorEvent(
      'api_error',
      `Bedrock ${header(':error-code') ?? 'error'}: ${header(':error-message') ?? payload}`,
    );
  }
}

const EMPTY = Buffer.alloc(0);

/** The Anthropic event JSON a `chunk` frame carries (its payload also holds padding). */
function chunkBytes(payload: string): string {
  const parsed = JSON.parse(payload) as { bytes?: unknown };
  if (typeof parsed.bytes !== 'string') throw new EventStreamCorrupt('a chunk without bytes');
  return Buffer.from(parsed.bytes, 'base64').toString('utf8');
}

/** `{"type":"content_block_delta", …}`: its type names the event, as the Anthropic API does. */
const LEADING_TYPE = /^\s*\{\s*"type"\s*:\s*"([a-z_]+)"/;

function sseOf(json: string): string {
  const leading = LEADING_TYPE.exec(json)?.[1];
  if (leading !== undefined && !json.includes('\n')) return `event: ${leading}\ndata: ${json}\n\n`;
  // Not in the shape Bedrock sends: parsed, and written on one line as SSE needs.
  const event = JSON.parse(json) as { type?: unknown };
  const type = typeof event.type === 'string' ? event.type : 'unknown';
  return `event: ${type}\ndata: ${JSON.stringify(event)}\n\n`;
}

function exceptionMessage(payload: string): string {
  try {
    const body = JSON.parse(payload) as { message?: unknown };
    return typeof body.message === 'string' ? body.message : payload;
  } catch {
    return payload;
  }
}
