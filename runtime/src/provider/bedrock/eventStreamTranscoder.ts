/**
 * `InvokeModelWithResponseStream`'s `application/vnd.amazon.eventstream` body, re-encoded as
 * the Anthropic API's server-sent events, chunk by chunk as it arrives: each `chunk` frame's
 * payload `{"bytes": "<base64>"}` holds one Anthropic stream event's JSON, written out as
 * `event: <type>\ndata: <json>\n\n`; an exception frame (`throttlingException`,
 * `modelStreamErrorException`, …) becomes the `event: error` the Anthropic API would have sent
 * (bedrockErrors.ts), which the relay then treats as it treats the Anthropic API's own: before
 * content the attempt fails over, after content the caller's stream ends with it.
 *
 * A frame is its prelude (total length, headers length, the prelude's CRC-32), its headers,
 * its payload and the message's CRC-32; a network read ends anywhere, inside the prelude
 * included, so at most one partial frame is kept between reads. The frames are read here
 * rather than by `@smithy/eventstream-codec`'s decoder (which the tests use to build frames):
 * that decoder computes both checksums in JavaScript and copies each header, 1.8 µs a frame,
 * where node:zlib's native `crc32` and reading only the string headers take 0.9 µs — for a
 * 500-token answer of about 100 frames, a tenth of a millisecond of CPU per stream
 * (docs/design.md, "Bedrock and Vertex").
 */
import { crc32 } from 'node:zlib';
import { sseErrorEvent } from '../cloudErrors.ts';
import { bedrockErrorType } from './bedrockErrors.ts';

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
  #pending: Buffer = EMPTY;
  /**
   * The last headers block read, and what it said: every `chunk` frame of a stream carries the
   * same three headers, so they are read once and then only compared, byte for byte.
   */
  #headers: { readonly bytes: Buffer; readonly read: FrameHeaders } | undefined;

  /** The server-sent events of the frames `chunk` completes; empty when it completes none. */
  push(chunk: Buffer): Buffer {
    let buffer = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    const out: Buffer[] = [];
    while (buffer.length >= 4) {
      const length = buffer.readUInt32BE(0);
      if (length < PRELUDE + TRAILER || length > MAX_FRAME)
        throw new EventStreamCorrupt(`a frame of ${length} bytes`);
      if (buffer.length < length) break;
      this.#event(buffer.subarray(0, length), out);
      buffer = buffer.subarray(length);
    }
    // Kept as a copy: the chunk's memory belongs to the connection's next read.
    this.#pending = buffer.length === 0 ? EMPTY : Buffer.from(buffer);
    return out.length === 0 ? EMPTY : out.length === 1 ? (out[0] as Buffer) : Buffer.concat(out);
  }

  #event(frame: Buffer, out: Buffer[]): void {
    const end = checkedFrame(frame);
    const block = frame.subarray(PRELUDE, end);
    const kept = this.#headers;
    let headers: FrameHeaders;
    if (kept !== undefined && kept.bytes.equals(block)) headers = kept.read;
    else {
      headers = readHeaders(frame, end);
      this.#headers = { bytes: Buffer.from(block), read: headers };
    }
    eventOf(frame, end, headers, out);
  }

  /** Bytes of a frame cut off by the stream's end (the relay reports the cut itself). */
  get partial(): number {
    return this.#pending.length;
  }
}

const EMPTY = Buffer.alloc(0);

/** Header value types (the event-stream encoding); only strings are read, the rest skipped. */
const STRING = 7;
const FIXED_SIZE: Readonly<Record<number, number>> = {
  0: 0,
  1: 0,
  2: 1,
  3: 2,
  4: 4,
  5: 8,
  8: 8,
  9: 16,
};

interface FrameHeaders {
  readonly messageType?: string;
  readonly eventType?: string;
  readonly exceptionType?: string;
  readonly errorCode?: string;
  readonly errorMessage?: string;
}

/** Checks a whole frame's checksums and lengths; the end of its headers. */
function checkedFrame(frame: Buffer): number {
  const total = frame.length;
  if (crc32(frame.subarray(0, 8)) !== frame.readUInt32BE(8))
    throw new EventStreamCorrupt('the prelude checksum does not match');
  if (crc32(frame.subarray(0, total - TRAILER)) !== frame.readUInt32BE(total - TRAILER))
    throw new EventStreamCorrupt('the message checksum does not match');
  const end = PRELUDE + frame.readUInt32BE(4);
  if (end > total - TRAILER) throw new EventStreamCorrupt('headers longer than the frame');
  return end;
}

/** The string headers this reader needs; the others are skipped by their type's size. */
function readHeaders(frame: Buffer, end: number): FrameHeaders {
  const read: Record<string, string> = {};
  let at = PRELUDE;
  while (at < end) {
    const nameLength = frame.readUInt8(at);
    const name = frame.toString('latin1', at + 1, at + 1 + nameLength);
    at += 1 + nameLength;
    const type = frame.readUInt8(at);
    at += 1;
    if (type === STRING || type === 6) {
      const length = frame.readUInt16BE(at);
      if (type === STRING) read[name] = frame.toString('utf8', at + 2, at + 2 + length);
      at += 2 + length;
    } else {
      const size = FIXED_SIZE[type];
      if (size === undefined) throw new EventStreamCorrupt(`a header of type ${type}`);
      at += size;
    }
  }
  if (at !== end) throw new EventStreamCorrupt('headers that overrun their length');
  return {
    ...(read[':message-type'] === undefined ? {} : { messageType: read[':message-type'] }),
    ...(read[':event-type'] === undefined ? {} : { eventType: read[':event-type'] }),
    ...(read[':exception-type'] === undefined ? {} : { exceptionType: read[':exception-type'] }),
    ...(read[':error-code'] === undefined ? {} : { errorCode: read[':error-code'] }),
    ...(read[':error-message'] === undefined ? {} : { errorMessage: read[':error-message'] }),
  };
}

/** Appends the frame's server-sent event, if it makes one, to `out`. */
function eventOf(frame: Buffer, end: number, headers: FrameHeaders, out: Buffer[]): void {
  const total = frame.length;
  const { messageType, eventType, exceptionType, errorCode, errorMessage } = headers;
  if (messageType === 'event') {
    if (eventType === 'chunk') sseOf(chunkBytes(frame, end, total - TRAILER), out);
    return;
  }
  const payload = frame.toString('utf8', end, total - TRAILER);
  const event =
    messageType === 'exception'
      ? sseErrorEvent(
          bedrockErrorType(exceptionType, 500),
          `Bedrock ${exceptionType ?? 'exception'}: ${exceptionMessage(payload)}`,
        )
      : // `:message-type: error`: the service's own failure, with its code and message headers.
        sseErrorEvent('api_error', `Bedrock ${errorCode ?? 'error'}: ${errorMessage ?? payload}`);
  out.push(Buffer.from(event, 'utf8'));
}

/** `{"bytes":"`: how Bedrock starts a chunk's payload. */
const BYTES_FIRST = Buffer.from('{"bytes":"', 'latin1');
const QUOTE = 0x22;

/**
 * The Anthropic event JSON a `chunk` frame's payload carries (with padding beside it): the
 * base64 is read straight from the frame's bytes when `bytes` comes first, as Bedrock writes
 * it, and from the parsed payload otherwise.
 */
function chunkBytes(frame: Buffer, start: number, end: number): Buffer {
  const from = start + BYTES_FIRST.length;
  if (frame.compare(BYTES_FIRST, 0, BYTES_FIRST.length, start, from) === 0) {
    const close = frame.indexOf(QUOTE, from);
    if (close !== -1 && close < end)
      return Buffer.from(frame.toString('latin1', from, close), 'base64');
  }
  let parsed: { bytes?: unknown };
  try {
    parsed = JSON.parse(frame.toString('utf8', start, end)) as { bytes?: unknown };
  } catch {
    throw new EventStreamCorrupt('a chunk that is not JSON');
  }
  if (typeof parsed.bytes !== 'string') throw new EventStreamCorrupt('a chunk without bytes');
  return Buffer.from(parsed.bytes, 'base64');
}

/** `{"type":"content_block_delta", …}`: its type names the event, as the Anthropic API does. */
const LEADING_TYPE = /^\{"type":"([a-z_]+)"/;
const NEWLINE = 0x0a;
/** `event: <type>\ndata: ` per event type, made once (a stream has half a dozen types). */
const PREFIXES = new Map<string, Buffer>();
function eventPrefix(type: string): Buffer {
  let prefix = PREFIXES.get(type);
  if (prefix === undefined) {
    prefix = Buffer.from(`event: ${type}\ndata: `, 'latin1');
    if (PREFIXES.size < 64) PREFIXES.set(type, prefix);
  }
  return prefix;
}
const END = Buffer.from('\n\n', 'latin1');

/** `event: <type>\ndata: <json>\n\n`, the JSON's bytes as they came. */
function sseOf(json: Buffer, out: Buffer[]): void {
  const leading = LEADING_TYPE.exec(json.toString('latin1', 0, 48))?.[1];
  if (leading !== undefined && !json.includes(NEWLINE)) {
    out.push(eventPrefix(leading), json, END);
    return;
  }
  // Not in the shape Bedrock sends: parsed, and written on one line as SSE needs.
  let event: { type?: unknown };
  try {
    event = JSON.parse(json.toString('utf8')) as { type?: unknown };
  } catch {
    throw new EventStreamCorrupt('a chunk whose bytes are not JSON');
  }
  const type = typeof event.type === 'string' ? event.type : 'unknown';
  out.push(Buffer.from(`event: ${type}\ndata: ${JSON.stringify(event)}\n\n`, 'utf8'));
}

function exceptionMessage(payload: string): string {
  try {
    const body = JSON.parse(payload) as { message?: unknown };
    return typeof body.message === 'string' ? body.message : payload;
  } catch {
    return payload;
  }
}
