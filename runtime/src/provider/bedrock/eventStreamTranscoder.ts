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
 * where node:zlib's native `crc32`, reading only the string headers and decoding in place take
 * 0.6 µs — for a 500-token answer of about 100 frames, 66 µs of CPU per stream
 * (docs/decisions/0023-bedrock-signing-and-frames-by-hand.md). As it writes the events it notes what they said
 * (`events`), so the relay need not read them again.
 */
import { crc32 } from 'node:zlib';
import { sseErrorEvent } from '../cloudErrors.ts';
import type { StreamTranscoder } from '../exchange.ts';
import { StreamEvents } from '../sseUsage.ts';
import { breaksLine, decodeBase64, NEWLINE, QUOTE, sameBytes, startsWith } from './frameBytes.ts';
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

export class EventStreamTranscoder implements StreamTranscoder {
  /** What the events written so far said: the relay reads this, not the bytes again. */
  readonly events = new StreamEvents();
  /** The bytes of a frame not yet complete; empty between frames. */
  #pending: Buffer = EMPTY;
  /**
   * The last headers block read, and what it said: every `chunk` frame of a stream carries the
   * same three headers, so they are read once and then only compared, byte for byte.
   */
  #headers: { readonly bytes: Buffer; readonly read: FrameHeaders } | undefined;
  /** The event types seen, each with its `event: <type>\ndata: ` line start. */
  readonly #prefixes: EventPrefix[] = [];
  /** The type of the frame before, looked at first. */
  #lastPrefix: EventPrefix | undefined;
  /** The events of the read in progress. */
  #out: Buffer = EMPTY;
  #written = 0;

  /** The server-sent events of the frames `chunk` completes; empty when it completes none. */
  push(chunk: Buffer): Buffer {
    const buffer = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    // A chunk frame's event is smaller than the frame (base64, headers and checksums around
    // it), so the read's size is room enough but for error events, which grow it.
    this.#out = Buffer.allocUnsafe(buffer.length);
    this.#written = 0;
    let at = 0;
    while (buffer.length - at >= 4) {
      const length = buffer.readUInt32BE(at);
      if (length < PRELUDE + TRAILER || length > MAX_FRAME)
        throw new EventStreamCorrupt(`a frame of ${length} bytes`);
      if (buffer.length - at < length) {
        // Waiting for the rest: the length it waits for must be the one that was sent.
        if (buffer.length - at >= PRELUDE) checkPrelude(buffer, at);
        break;
      }
      this.#event(buffer, at, at + length);
      at += length;
    }
    // Kept as a copy: the chunk's memory belongs to the connection's next read.
    this.#pending = at === buffer.length ? EMPTY : Buffer.from(buffer.subarray(at));
    const out = this.#out.subarray(0, this.#written);
    this.#out = EMPTY;
    return out;
  }

  /** The frame at `start`..`end` of `buffer`, whole. */
  #event(buffer: Buffer, start: number, end: number): void {
    const headersEnd = checkedFrame(buffer, start, end);
    const from = start + PRELUDE;
    const kept = this.#headers;
    let headers: FrameHeaders;
    if (kept !== undefined && sameBytes(buffer, from, headersEnd, kept.bytes)) headers = kept.read;
    else {
      headers = readHeaders(buffer, from, headersEnd);
      this.#headers = { bytes: Buffer.from(buffer.subarray(from, headersEnd)), read: headers };
    }
    const payloadEnd = end - TRAILER;
    const { messageType, eventType, exceptionType, errorCode, errorMessage } = headers;
    if (messageType === 'event') {
      if (eventType === 'chunk') this.#chunk(buffer, headersEnd, payloadEnd);
      return;
    }
    const payload = buffer.toString('utf8', headersEnd, payloadEnd);
    const event =
      messageType === 'exception'
        ? sseErrorEvent(
            bedrockErrorType(exceptionType, 500),
            `Bedrock ${exceptionType ?? 'exception'}: ${exceptionMessage(payload)}`,
          )
        : // `:message-type: error`: the service's own failure, with its code and message headers.
          sseErrorEvent('api_error', `Bedrock ${errorCode ?? 'error'}: ${errorMessage ?? payload}`);
    this.events.noted('error', event.slice(event.indexOf('data: ') + 6, -2));
    this.#write(Buffer.from(event, 'utf8'), 0, Buffer.byteLength(event, 'utf8'));
  }

  /**
   * A `chunk` frame's payload, `{"bytes":"<base64>"}` (with padding beside it), written as the
   * Anthropic event its base64 holds: `event: <type>\ndata: <json>\n\n`, the JSON's bytes as
   * they came. The base64 is read straight from the frame when `bytes` comes first, as Bedrock
   * writes it, and from the parsed payload otherwise.
   */
  #chunk(buffer: Buffer, start: number, end: number): void {
    if (startsWith(buffer, start, end, BYTES_FIRST) && this.#chunkInPlace(buffer, start, end))
      return;
    // Not in the shape Bedrock sends: parsed, and written on one line as SSE needs.
    const json = Buffer.from(parsedBytes(buffer.toString('utf8', start, end)), 'base64');
    let event: { type?: unknown };
    try {
      event = JSON.parse(json.toString('utf8')) as { type?: unknown };
    } catch {
      throw new EventStreamCorrupt('a chunk whose bytes are not JSON');
    }
    const type = typeof event.type === 'string' ? event.type : 'unknown';
    const data = JSON.stringify(event);
    this.events.noted(type, data, Buffer.byteLength(data));
    const sse = Buffer.from(`event: ${type}\ndata: ${data}\n\n`, 'utf8');
    this.#write(sse, 0, sse.length);
  }

  /**
   * The common case, a few hundred bytes a frame: the base64 after `{"bytes":"` decoded
   * straight into the events, after room for the event line the previous frame had (most
   * frames are deltas, one after another), and moved only when this one's differs. No string
   * is made and nothing is called outside JavaScript but for that rare move: at this size each
   * such call costs more than the bytes it handles. False, with nothing written, when the
   * chunk is not as Bedrock writes it (then the caller parses it).
   */
  #chunkInPlace(buffer: Buffer, start: number, end: number): boolean {
    const from = start + BYTES_FIRST.length;
    const room = this.#lastPrefix?.prefix.length ?? 0;
    this.#reserve(MAX_PREFIX + Math.ceil(((end - from) * 3) / 4) + 2);
    const out = this.#out;
    const at = this.#written;
    const length = decodeBase64(buffer, from, end, out, at + room);
    if (length < 0) return false;
    const known = this.#prefixOf(out, at + room, length);
    if (known === undefined || breaksLine(out, at + room, length)) return false;
    this.events.noted(
      known.name,
      known.wantsJson ? out.toString('utf8', at + room, at + room + length) : undefined,
      length,
    );
    const prefix = known.prefix;
    if (prefix.length !== room) out.copyWithin(at + prefix.length, at + room, at + room + length);
    for (let i = 0; i < prefix.length; i++) out[at + i] = prefix[i] as number;
    let next = at + prefix.length + length;
    out[next++] = NEWLINE;
    out[next++] = NEWLINE;
    this.#written = next;
    return true;
  }

  /**
   * `event: <type>\ndata: ` for the event JSON at `json[from..from+length)`, when it starts as
   * the API writes one (`{"type":"<lower case and underscores>"`); undefined otherwise. Made
   * once per type (a stream has half a dozen) and found again by its bytes.
   */
  #prefixOf(json: Buffer, from: number, length: number): EventPrefix | undefined {
    const end = from + length;
    if (!startsWith(json, from, end, TYPE_FIRST)) return undefined;
    const typeStart = from + TYPE_FIRST.length;
    let close = typeStart;
    for (; close < end && json[close] !== QUOTE; close++) {
      const c = json[close] as number;
      if (!((c >= 0x61 && c <= 0x7a) || c === 0x5f) || close - typeStart >= MAX_TYPE)
        return undefined;
    }
    if (close === typeStart || close >= end) return undefined;
    const last = this.#lastPrefix;
    if (last !== undefined && sameBytes(json, typeStart, close, last.type)) return last;
    let known = this.#prefixes.find((p) => sameBytes(json, typeStart, close, p.type));
    if (known === undefined) {
      const type = json.toString('latin1', typeStart, close);
      known = {
        name: type,
        type: Buffer.from(type, 'latin1'),
        prefix: eventPrefix(type),
        wantsJson: StreamEvents.wantsJson(type),
      };
      if (this.#prefixes.length < 64) this.#prefixes.push(known);
    }
    this.#lastPrefix = known;
    return known;
  }

  /** Appends `bytes[from..to)` to the read's events, making room when an error event needs it. */
  #write(bytes: Buffer, from: number, to: number): void {
    this.#reserve(to - from);
    this.#written += bytes.copy(this.#out, this.#written, from, to);
  }

  /** Room for `size` more bytes of events. */
  #reserve(size: number): void {
    const needed = this.#written + size;
    if (needed > this.#out.length) {
      const larger = Buffer.allocUnsafe(Math.max(needed, this.#out.length * 2));
      this.#out.copy(larger, 0, 0, this.#written);
      this.#out = larger;
    }
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

/**
 * Checks a whole frame's checksum and lengths; the end of its headers. The message checksum
 * covers the prelude and its own checksum, so a whole frame needs no second pass over its
 * first eight bytes; a frame still arriving has its prelude checked (checkPrelude) before its
 * length is waited for.
 */
function checkedFrame(buffer: Buffer, start: number, end: number): number {
  if (crc32(buffer.subarray(start, end - TRAILER)) !== buffer.readUInt32BE(end - TRAILER))
    throw new EventStreamCorrupt('the message checksum does not match');
  const headersEnd = start + PRELUDE + buffer.readUInt32BE(start + 4);
  if (headersEnd > end - TRAILER) throw new EventStreamCorrupt('headers longer than the frame');
  return headersEnd;
}

function checkPrelude(buffer: Buffer, start: number): void {
  if (crc32(buffer.subarray(start, start + 8)) !== buffer.readUInt32BE(start + 8))
    throw new EventStreamCorrupt('the prelude checksum does not match');
}

/** The string headers this reader needs; the others are skipped by their type's size. */
function readHeaders(frame: Buffer, start: number, end: number): FrameHeaders {
  const read: Record<string, string> = {};
  let at = start;
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

/** `{"bytes":"`: how Bedrock starts a chunk's payload. */
const BYTES_FIRST = Buffer.from('{"bytes":"', 'latin1');

/** The base64 of a chunk's payload that is JSON of another shape than Bedrock's own. */
function parsedBytes(payload: string): string {
  let parsed: { bytes?: unknown };
  try {
    parsed = JSON.parse(payload) as { bytes?: unknown };
  } catch {
    throw new EventStreamCorrupt('a chunk that is not JSON');
  }
  if (typeof parsed.bytes !== 'string') throw new EventStreamCorrupt('a chunk without bytes');
  return parsed.bytes;
}

/** `{"type":"`: how an Anthropic event's JSON starts; its type names the SSE event. */
const TYPE_FIRST = Buffer.from('{"type":"', 'latin1');
/** Longer than any event type the API has. */
const MAX_TYPE = 48;

interface EventPrefix {
  readonly name: string;
  readonly type: Buffer;
  readonly prefix: Buffer;
  /** The event carries usage or an error: its JSON goes to `events`. */
  readonly wantsJson: boolean;
}

/** Longer than any `event: <type>\ndata: ` (the type is at most MAX_TYPE letters). */
const MAX_PREFIX = MAX_TYPE + 'event: \ndata: '.length;

function eventPrefix(type: string): Buffer {
  return Buffer.from(`event: ${type}\ndata: `, 'latin1');
}

function exceptionMessage(payload: string): string {
  try {
    const body = JSON.parse(payload) as { message?: unknown };
    return typeof body.message === 'string' ? body.message : payload;
  } catch {
    return payload;
  }
}
