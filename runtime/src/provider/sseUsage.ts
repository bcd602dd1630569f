import { lastMemberObject, mergeUsage, type Usage } from './usage.ts';
import { readStartMembers, readStopReason, type ResponseMeta } from './responseMeta.ts';
/**
 * Reads a Messages API event stream as the bytes pass through, without holding it: the token
 * usage (`message_start`, `message_delta`), whether content has begun, whether the stream
 * ended as the API ends one (`message_stop`) and any `error` event. Only lines holding one
 * of those are decoded, and only a partial line is kept between chunks.
 */

/**
 * Output tokens a stream cut before its final usage settles beyond the content the runtime
 * read: the provider bills what it generated until it noticed the cut, the event whose line
 * had not come whole yet and those it wrote between the runtime's close and noticing it.
 * Sixteen tokens are several of the API's deltas (a few tokens each) and four of the
 * simulator's (16 characters, 4 tokens): the event half read and three more. At $15 per
 * million output tokens, $0.00024 a cut stream; capped, with the rest, at `max_tokens`.
 */
export const CUT_STREAM_OUTPUT_MARGIN = 16;

/**
 * What an attempt that ended is settled at: the usage its stream reported when the final
 * usage (`message_delta`) came; otherwise its input from `message_start`, no fewer output
 * tokens than bytes of content were read from the provider (no token is shorter than a byte)
 * and CUT_STREAM_OUTPUT_MARGIN more, its server tools' uses unknown; and all of it unknown
 * when not even `message_start` came (unless the provider's error event came instead).
 */
export function settledUsage(tap: StreamTap): Usage {
  if (tap.final) return tap.usage;
  // An error event before message_start is the provider's refusal: nothing was billed.
  if (!tap.started)
    return tap.errorEvent === undefined ? { ...tap.usage, unknown: 'all' } : tap.usage;
  return {
    ...tap.usage,
    output_tokens: Math.max(tap.usage.output_tokens, tap.outputAtMost) + CUT_STREAM_OUTPUT_MARGIN,
    unknown: tap.thinking ? 'output' : 'fees',
  };
}

/** Looked for only until content begins, when nothing but `message_start` and `ping` came. */
const CONTENT_MARKER = 'content_block_';
/**
 * The markers of the output the model generates, in one pattern:
 * - the members whose strings the model generates as output: a delta's text, tool input JSON
 *   and thinking, and a tool call's name. The bytes from one to the end of its line bound the
 *   output tokens it carries from above (a token is at least a byte; JSON escapes only add);
 * - a thinking block (`"type":"thinking"` or `"type":"redacted_thinking"`): what the API bills
 *   of it may be more than it relays (summarised thinking).
 * None of them can occur inside a JSON string, where its quotes would be escaped; but a string
 * may end in `thinking` (a text delta's "I am thinking", a tool named `deep_thinking`), so a
 * thinking block's `"thinking"` counts only as a value, after a colon (thinkingValueAt). What
 * each match is comes from its last two characters: `:"` an output marker, `g"` thinking.
 */
const OUTPUT_MARKERS = /"(?:text|partial_json|thinking|name)":"|"(?:redacted_)?thinking"/g;
const UNDERSCORE = 0x5f;

/**
 * Whether the `"thinking"` or `"redacted_thinking"` that ends at `after` is a JSON value (a
 * block's type): its opening quote follows a colon. The closing quote of a string that ends in
 * `thinking` after an escaped quote (`say \"thinking"`) follows a backslash instead.
 */
function thinkingValueAt(text: string, after: number): boolean {
  const open = text.charCodeAt(after - 10) === UNDERSCORE ? after - 19 : after - 10;
  return text.charCodeAt(open - 1) === COLON;
}

/** A block's start whose type is thinking (`"type":"thinking"`, `"type":"redacted_thinking"`). */
function startsThinking(json: string): boolean {
  return json.includes(':"thinking"') || json.includes(':"redacted_thinking"');
}
/**
 * A line holding `"message_` (`"message_start"`, `"message_delta"`, `"message_stop"`) or
 * `"error"` is read for its event. Every alternative opening on a quote, V8 skips through the
 * text to the candidates instead of trying each quote: a few times faster than OUTPUT_MARKERS.
 */
const LINE_MARKERS = /"(?:message_|error")/g;
/** How the API's own data line of a `message_*` event begins: its type is its first member. */
const MESSAGE_DATA = 'data: {"type":"message_';
const COLON = 0x3a;
const LOWER_G = 0x67;
const QUOTE = 0x22;
const THINKING_BIT = 4;

/**
 * Which output marker ends at `after`, one bit each, told by its name's last character (the
 * fourth from the end): `"text":"` t, `"partial_json":"` n, `"thinking":"` g, `"name":"` e.
 */
function outputMarkerBit(text: string, after: number): number {
  switch (text.charCodeAt(after - 4)) {
    case 0x74:
      return 1;
    case 0x6e:
      return 2;
    case LOWER_G:
      return THINKING_BIT;
    default:
      return 8;
  }
}
const NEWLINE = 0x0a;
const NEWLINE_CHAR = '\n';

/**
 * What a stream's events said so far, as the relay needs it to settle the attempt: read from
 * the bytes by SseUsageTap, or noted by a transcoder as it writes the events (StreamEvents).
 */
export interface StreamTap {
  readonly usage: Usage;
  /** A `content_block_*` event has been seen: the answer's content has begun. */
  readonly contentStarted: boolean;
  /** `message_stop` has been seen: the stream ended as the API ends a complete answer. */
  readonly stopped: boolean;
  /** The body of an `event: error` seen in the stream. */
  readonly errorEvent: StreamErrorEvent | undefined;
  /** `message_start` has been seen: the input is known. */
  readonly started: boolean;
  /** `message_delta` has been seen: the usage is the provider's final count. */
  readonly final: boolean;
  /** Never fewer than the output tokens the content read so far carries (settledUsage). */
  readonly outputAtMost: number;
  /** A thinking block was relayed: its billed output may pass what was read (settledUsage). */
  readonly thinking: boolean;
  /** The message's id and model (`message_start`) and its stop reason (`message_delta`). */
  readonly response: ResponseMeta;
}

export type StreamErrorEvent = { readonly error?: { readonly type?: string } };

/**
 * A StreamTap kept by whoever writes the events (a transcoder), one event at a time: no
 * bytes are read again. Only the events that carry usage or an error are given with their
 * JSON.
 */
export class StreamEvents implements StreamTap {
  readonly usage: Usage = { input_tokens: 0, output_tokens: 0 };
  contentStarted = false;
  stopped = false;
  errorEvent: StreamErrorEvent | undefined;
  started = false;
  final = false;
  /** Every content event's JSON length: a looser bound than the bytes tap's, as cheap. */
  outputAtMost = 0;
  thinking = false;
  readonly response: ResponseMeta = {};

  /** Whether `noted` wants the event's JSON: the usage events, errors, and a block's start. */
  static wantsJson(type: string): boolean {
    return (
      type === 'message_start' ||
      type === 'message_delta' ||
      type === 'error' ||
      type === 'content_block_start'
    );
  }

  /** An event written: its type, its JSON when wantsJson said so, and the JSON's length. */
  noted(type: string, json?: string, length = 0): void {
    if (type.startsWith('content_block_')) {
      this.contentStarted = true;
      this.outputAtMost += length;
      if (type === 'content_block_start' && json !== undefined && startsThinking(json))
        this.thinking = true;
    } else if (type === 'message_stop') this.stopped = true;
    else if (json !== undefined) {
      let event: StreamEvent;
      try {
        event = JSON.parse(json) as StreamEvent;
      } catch {
        return;
      }
      if (type === 'message_start') {
        this.started = true;
        mergeUsage(this.usage, event.message?.usage);
        noteStart(this.response, event.message);
      } else if (type === 'message_delta') {
        this.final = true;
        mergeUsage(this.usage, event.usage);
        noteStop(this.response, event.delta);
      } else if (type === 'error') this.errorEvent = event;
    }
  }
}

export class SseUsageTap implements StreamTap {
  readonly usage: Usage = { input_tokens: 0, output_tokens: 0 };
  /** A `content_block_*` event has been seen: the answer's content has begun. */
  contentStarted = false;
  /** `message_stop` has been seen: the stream ended as the API ends a complete answer. */
  stopped = false;
  /** The body of an `event: error` seen in the stream (`{type: 'error', error: {type, message}}`). */
  errorEvent: StreamErrorEvent | undefined;
  started = false;
  final = false;
  outputAtMost = 0;
  thinking = false;
  readonly response: ResponseMeta = {};
  /** The bytes of a line that has not ended yet. */
  #partial: Buffer | undefined;

  /** The `error.type` of an `event: error` seen in the stream, if any. */
  get errorType(): string | undefined {
    return this.errorEvent === undefined ? undefined : (this.errorEvent.error?.type ?? 'api_error');
  }

  /**
   * Looks at the chunk's bytes as they are: only lines holding a marker are decoded. A
   * newline byte never occurs inside a multi-byte UTF-8 character, so a whole line always
   * decodes right, however the stream was cut. The markers are ASCII, so they are looked for
   * in the chunk's whole lines read as latin1 (one character a byte, the same offsets): one
   * copy, then a regular-expression scan for the lines to read (LINE_MARKERS) and one for the
   * output markers (OUTPUT_MARKERS). Each Buffer search was a call into C++ (two a content
   * event: 20 µs of a 100-event stream's CPU), and a string search per marker scanned the text
   * once a marker, stopping at every quote (the markers' first character, the commonest in
   * JSON). The output scan is the tap's largest cost, and what it counts is used only until
   * the final usage comes (settledUsage): so the lines are read first, and a chunk that
   * carries the final usage, or comes after it, is not scanned for output at all. A 2.8 KB
   * stream in one chunk: 3.8 µs against 7.8 when one scan looked for every marker; in two
   * chunks, the final usage in the second, 6.6 against 7.8 (a loop over its bytes).
   */
  push(chunk: Uint8Array): void {
    let bytes = Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.#partial !== undefined) {
      bytes = Buffer.concat([this.#partial, bytes]);
      this.#partial = undefined;
    }
    // A read of whole events ends with a newline: then it is not searched for one (a Buffer
    // search is a call into C++, and a provider's stream is read an event or a few at a time).
    const last = bytes.length - 1;
    const end = last >= 0 && bytes[last] === NEWLINE ? last : bytes.lastIndexOf(NEWLINE);
    if (end < bytes.length - 1) this.#partial = Buffer.from(bytes.subarray(end + 1));
    if (end < 0) return;
    const text = bytes.toString('latin1', 0, end + 1);
    if (!this.contentStarted && text.includes(CONTENT_MARKER)) this.contentStarted = true;
    this.#readLines(text, bytes);
    if (!this.final) this.#countOutput(text, this.contentStarted);
  }

  /**
   * Each line holding `"message_` or `"error"`, read once, in the order the lines came. The
   * text ends with a newline, so every marker's line has its end in it.
   */
  #readLines(text: string, bytes: Buffer): void {
    LINE_MARKERS.lastIndex = 0;
    while (LINE_MARKERS.test(text)) {
      const within = LINE_MARKERS.lastIndex - 1;
      const lineEnd = text.indexOf(NEWLINE_CHAR, within);
      this.#line(bytes.toString('utf8', text.lastIndexOf(NEWLINE_CHAR, within) + 1, lineEnd));
      LINE_MARKERS.lastIndex = lineEnd;
    }
  }

  /**
   * The output bound and thinking (settledUsage) of the text's lines: each kind of output
   * marker counted from its first occurrence on a line to the line's end, once the content
   * has begun.
   */
  #countOutput(text: string, content: boolean): void {
    // Per line: the output markers already counted (one bit each).
    let lineEnd = -1;
    let counted = 0;
    OUTPUT_MARKERS.lastIndex = 0;
    while (OUTPUT_MARKERS.test(text)) {
      const after = OUTPUT_MARKERS.lastIndex;
      if (after - 1 > lineEnd) {
        lineEnd = text.indexOf(NEWLINE_CHAR, after - 1);
        counted = 0;
      }
      if (text.charCodeAt(after - 2) === COLON) {
        // An output marker: from its end to the line's end, the first of its kind on a line.
        const bit = outputMarkerBit(text, after);
        if (content && (counted & bit) === 0) {
          counted |= bit;
          this.outputAtMost += lineEnd - after;
          if (bit === THINKING_BIT) this.thinking = true;
        }
      } else if (content && thinkingValueAt(text, after)) this.thinking = true;
      // A marker's closing quote may open the next one.
      if (text.charCodeAt(after - 1) === QUOTE) OUTPUT_MARKERS.lastIndex = after - 1;
    }
  }

  #line(line: string): void {
    if (!line.startsWith('data:')) return;
    // The API's own data lines name their type first: which event one is comes from the
    // characters after `message_`, where a search for each type would read the line end to end.
    const own = line.startsWith(MESSAGE_DATA);
    if (
      own ? line.startsWith('stop"', MESSAGE_DATA.length) : line.includes('"type":"message_stop"')
    ) {
      this.stopped = true;
      return;
    }
    // The usage events in the API's own shape: only their usage object is parsed.
    if (
      own ? line.startsWith('delta"', MESSAGE_DATA.length) : line.includes('"type":"message_delta"')
    ) {
      readStopReason(line, this.response);
      const usage = lastMemberObject(line, '"usage"', 1);
      if (usage !== undefined && this.#merge(usage)) {
        this.final = true;
        return;
      }
    } else if (
      own ? line.startsWith('start"', MESSAGE_DATA.length) : line.includes('"type":"message_start"')
    ) {
      readStartMembers(line, this.response);
      const usage = lastMemberObject(line, '"usage"', 2);
      if (usage !== undefined && this.#merge(usage)) {
        this.started = true;
        return;
      }
    }
    // Cheap pre-filter: most events are content deltas that carry no usage.
    if (
      !line.includes('"message_start"') &&
      !line.includes('"message_delta"') &&
      !line.includes('"message_stop"') &&
      !line.includes('"error"')
    )
      return;
    let event: StreamEvent;
    try {
      event = JSON.parse(line.slice(5)) as StreamEvent;
    } catch {
      return;
    }
    if (event.type === 'message_start') {
      this.started = true;
      mergeUsage(this.usage, event.message?.usage);
      noteStart(this.response, event.message);
    } else if (event.type === 'message_delta') {
      this.final = true;
      mergeUsage(this.usage, event.usage);
      noteStop(this.response, event.delta);
    } else if (event.type === 'message_stop') this.stopped = true;
    else if (event.type === 'error') this.errorEvent = event;
  }

  /** Merges a usage object's text; false when it does not parse. */
  #merge(text: string): boolean {
    try {
      mergeUsage(this.usage, JSON.parse(text) as Partial<Usage>);
      return true;
    } catch {
      return false;
    }
  }
}

interface StreamEvent {
  type?: string;
  message?: { usage?: Partial<Usage>; id?: unknown; model?: unknown };
  usage?: Partial<Usage>;
  delta?: { stop_reason?: unknown };
  error?: { type?: string };
}

function noteStart(into: ResponseMeta, message: StreamEvent['message']): void {
  if (typeof message?.id === 'string') into.id = message.id;
  if (typeof message?.model === 'string') into.model = message.model;
}

function noteStop(into: ResponseMeta, delta: StreamEvent['delta']): void {
  if (typeof delta?.stop_reason === 'string') into.finishReason = delta.stop_reason;
}
