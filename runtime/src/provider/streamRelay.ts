/**
 * Relays one attempt's event stream from the provider to the caller, and decides the
 * attempt's outcome at the stream's end rather than at its headers:
 *
 * - `message_stop` → success, with the usage the stream reported;
 * - an `event: error` → the error as the SDK raises it (an APIError without status, which
 *   the guard classifies by its type: `overloaded_error` → Overloaded, `api_error` →
 *   ServerError, …);
 * - the connection dropped, or the stream ended without `message_stop` → ConnectionError;
 * - a stall past the idle timeout (undici's body timeout) or past `maxDurationMs` → Timeout;
 * - the caller gone → CancelledError (from the source), never counted against the provider.
 *
 * Nothing reaches the caller until content begins: the response head, `message_start` and
 * any `ping` are held back, so a provider that fails before its first content block leaves
 * the caller untouched and the guard may retry or fall back. The first content event
 * commits the attempt (`commit`): from then on a failure is final, and the caller's stream
 * is ended with an error event (the provider's own, relayed, or the route's).
 *
 * Only whole events are written, so that an error event the route appends after a cut never
 * lands inside a half-written one. A provider sends whole events in almost every read, and
 * then nothing is copied.
 */
import type { Readable } from 'node:stream';
import { APIConnectionError, APIError } from '@anthropic-ai/sdk/core/error';
import { TimeoutError } from '../guard/errors.ts';
import { readHeader, type HeaderSource } from '../guard/headers.ts';
import type { Cancel, Clock } from '../../../platform/src/time/clock.ts';
import type { ResponseMeta } from './responseMeta.ts';
import { SseUsageTap, settledUsage, type StreamTap } from './sseUsage.ts';
import type { Usage } from './usage.ts';

/**
 * A provider's event stream as the relay reads it: chunks handed to a listener as they
 * arrive, with pause and resume for a slower caller. The forwarder implements it on undici's
 * handler directly (no Readable per stream); `readableSource` adapts a Readable (the SDK path).
 */
export interface StreamSource {
  /** Starts handing over what arrived and arrives; called once. */
  start(listener: SourceListener): void;
  pause(): void;
  resume(): void;
  /** Stops the exchange underneath; nothing more is handed over. */
  cancel(reason: Error): void;
  /**
   * What the events said, where the source wrote them itself (a transcoder): then the relay
   * does not read the bytes again. Undefined: the relay reads them (SseUsageTap).
   */
  readonly tap?: StreamTap | undefined;
}

/** Callbacks, not methods: a source may hand them on to an event emitter as they are. */
export interface SourceListener {
  readonly data: (chunk: Buffer) => void;
  readonly end: () => void;
  readonly error: (err: Error) => void;
}

/** A Readable as an StreamSource; one closed before its end is a ConnectionError. */
export function readableSource(readable: Readable): StreamSource {
  return {
    start(listener) {
      readable.on('data', listener.data);
      readable.once('end', listener.end);
      readable.once('error', listener.error);
      readable.once('close', () => {
        if (!readable.readableEnded)
          listener.error(
            new APIConnectionError({ message: 'the provider stream closed before its end' }),
          );
      });
    },
    pause: () => readable.pause(),
    resume: () => readable.resume(),
    cancel: (reason) => readable.destroy(reason),
  };
}

/** Where a relayed stream goes: the caller's response. */
export interface StreamSink {
  /** Sends the response head; called once, right before the first content is written. */
  begin(status: number): void;
  /**
   * Writes whole events; false when the caller is slower and `onDrain` should be awaited.
   * `last`: the stream's last events (its `message_stop` or error event): its end follows in
   * this turn of the loop, and may leave with them.
   */
  write(chunk: Buffer, last?: boolean): boolean;
  onDrain(resume: () => void): void;
  /** Set when content has begun to reach the caller: the call can no longer be retried. */
  committed: boolean;
  /** The backend of the attempt being relayed, set by the router before it starts. */
  servedBy: string | undefined;
  /** Set by the router when a budget's `onExhausted: Fallback` chose the model being relayed. */
  budgetFallback?: boolean;
  /** Set by the relay when the provider's own `event: error` went to the caller. */
  errorEventSent: boolean;
}

export interface RelayOptions {
  readonly status: number;
  readonly headers: HeaderSource;
  readonly sink: StreamSink;
  /**
   * Registers what to do when the attempt's deadline passes (before the first event). The
   * caller going away needs no hook: the exchange underneath is cancelled, and the source
   * fails with a CancelledError (or the SDK's abort, for a Readable).
   */
  readonly whenExpired: (fn: (err: Error) => void) => void;
  readonly clock: Clock;
  /** Limit on the whole stream from its first event; Infinity for none. */
  readonly maxDurationMs: number;
  /** The first bytes arrived (the guard stops the attempt's deadline). */
  readonly firstEvent: () => void;
  /** Content is about to reach the caller: a failure from now on is final. */
  readonly commit: () => void;
  /**
   * Usage at the stream's end, whatever the outcome: what it reported, or when its final usage
   * never came, no less than the provider billed (sseUsage.ts `settledUsage`).
   */
  readonly reportUsage: (usage: Usage) => void;
  /** The message's id, model and stop reason, when the stream ended whole. */
  readonly reportResponse?: (response: ResponseMeta) => void;
}

const EVENT_END = Buffer.from('\n\n');
const EVENT_END_CRLF = Buffer.from('\r\n\r\n');
const LF = 0x0a;
const CR = 0x0d;

/** Reads `source` to its end; resolves with the usage on `message_stop`, rejects on any failure. */
export function relayStream(source: StreamSource, options: RelayOptions): Promise<Usage> {
  return new Promise<Usage>((resolve, reject) => {
    new Relay(source, options, resolve, reject).start();
  });
}

/** One stream being relayed: a listener on its source, settled once. */
class Relay implements SourceListener {
  readonly #source: StreamSource;
  readonly #options: RelayOptions;
  readonly #resolve: (usage: Usage) => void;
  readonly #reject: (err: Error) => void;
  readonly #tap: StreamTap;
  /** Reads the events from the bytes, when the source does not say what they were. */
  readonly #reader: SseUsageTap | undefined;
  /** Held until content begins: the prelude (`message_start`, `ping`) as it came. */
  #held: Buffer[] | undefined = [];
  /** Bytes after the last whole event written. */
  #pending: Buffer | undefined;
  #first = true;
  #settled = false;
  /**
   * The source is paused until a slow caller drains: the provider may meanwhile write, and bill,
   * more than is read, so a stream cut now has output past what its bytes say.
   */
  #heldBack = false;
  #stopTimer: Cancel | undefined;

  constructor(
    source: StreamSource,
    options: RelayOptions,
    resolve: (usage: Usage) => void,
    reject: (err: Error) => void,
  ) {
    this.#source = source;
    this.#reader = source.tap === undefined ? new SseUsageTap() : undefined;
    this.#tap = source.tap ?? (this.#reader as SseUsageTap);
    this.#options = options;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  start(): void {
    this.#options.whenExpired(this.error);
    this.#source.start(this);
  }

  readonly data = (chunk: Buffer): void => {
    if (this.#settled) return;
    const options = this.#options;
    const tap = this.#tap;
    if (this.#first) {
      this.#first = false;
      options.firstEvent();
      if (Number.isFinite(options.maxDurationMs)) {
        this.#stopTimer = options.clock.setTimeout(() => {
          this.#finish(new TimeoutError(options.maxDurationMs));
        }, options.maxDurationMs);
      }
    }
    this.#reader?.push(chunk);
    const last = tap.stopped || tap.errorEvent !== undefined;
    const held = this.#held;
    if (held !== undefined) {
      held.push(chunk);
      if (!tap.contentStarted) {
        // An error before any content: the caller has seen nothing, so the guard may retry
        // or fall back; the stream is not read any further.
        if (tap.errorEvent !== undefined) this.#finish(streamError(tap, options.headers));
        return;
      }
      options.commit();
      options.sink.begin(options.status);
      const prelude = held.length === 1 ? chunk : Buffer.concat(held);
      this.#held = undefined;
      this.#writeWhole(prelude, last);
    } else if (this.#pending === undefined) {
      this.#writeWhole(chunk, last);
    } else {
      const joined = Buffer.concat([this.#pending, chunk]);
      this.#pending = undefined;
      this.#writeWhole(joined, last);
    }
    if (tap.errorEvent !== undefined) {
      // The provider's error event goes to the caller as it is, then the stream is over.
      if (this.#pending !== undefined)
        options.sink.write(Buffer.concat([this.#pending, EVENT_END]), true);
      this.#pending = undefined;
      options.sink.errorEventSent = true;
      this.#finish(streamError(tap, options.headers));
    }
  };

  readonly end = (): void => {
    if (this.#settled) return;
    const tap = this.#tap;
    if (this.#pending !== undefined && this.#held === undefined) {
      // A last event without its blank line: whole as far as the caller's parser goes.
      this.#options.sink.write(Buffer.concat([this.#pending, EVENT_END]), true);
      this.#pending = undefined;
    }
    if (tap.errorEvent !== undefined) this.#finish(streamError(tap, this.#options.headers));
    else if (tap.stopped) this.#finish(undefined);
    else
      this.#finish(
        new APIConnectionError({ message: 'the provider ended the stream before message_stop' }),
      );
  };

  readonly error = (err: Error): void => {
    this.#finish(err);
  };

  #writeWhole(bytes: Buffer, last: boolean): void {
    const end = lastEventEnd(bytes);
    if (end < bytes.length) this.#pending = Buffer.from(bytes.subarray(end));
    const sink = this.#options.sink;
    if (end > 0 && !sink.write(end === bytes.length ? bytes : bytes.subarray(0, end), last)) {
      this.#heldBack = true;
      this.#source.pause();
      sink.onDrain(() => {
        this.#heldBack = false;
        if (!this.#settled) this.#source.resume();
      });
    }
  }

  #finish(err: Error | undefined): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#stopTimer?.();
    const options = this.#options;
    // Whatever ended the stream, the attempt settles at no less than the provider billed: held
    // back by its caller, at its worst case, for what was written and never read is unknown.
    const usage = settledUsage(this.#tap);
    options.reportUsage(this.#heldBack && !this.#tap.final ? { ...usage, unknown: 'all' } : usage);
    if (err === undefined) {
      options.reportResponse?.(this.#tap.response);
      this.#resolve(this.#tap.usage);
      return;
    }
    this.#source.cancel(err);
    this.#reject(err);
  }
}

/** The stream's error event as the SDK raises it: an APIError without status. */
function streamError(tap: StreamTap, headers: HeaderSource): APIError {
  const h = new Headers();
  const requestId = readHeader(headers, 'request-id');
  if (requestId !== undefined) h.set('request-id', requestId);
  return new APIError(undefined, tap.errorEvent, undefined, h);
}

/**
 * Index just past the last whole event in `bytes` (0 when none ends there), whichever line
 * ending the provider uses. A read mostly ends with an event: then nothing can end past it,
 * and no search is made (each Buffer search is a call into C++). Otherwise, a CRLF blank line
 * ends past the last LF one only if it begins at most one byte before it (`\r\n\r\n` holds
 * no `\n\n`), so past an LF blank line only the bytes from there are searched for one: a stream
 * in LF (the Messages API's) is not searched end to end a second time for a CRLF it never has.
 */
export function lastEventEnd(bytes: Buffer): number {
  const n = bytes.length;
  if (n >= 2 && bytes[n - 1] === LF && (bytes[n - 2] === LF || endsWithCrlfBlank(bytes))) return n;
  const lf = bytes.lastIndexOf(EVENT_END);
  let crlf = -1;
  if (lf < 0) crlf = bytes.lastIndexOf(EVENT_END_CRLF);
  else
    for (let at = bytes.indexOf(EVENT_END_CRLF, Math.max(0, lf - 1)); at >= 0;)
      at = bytes.indexOf(EVENT_END_CRLF, (crlf = at) + 1);
  return Math.max(lf < 0 ? 0 : lf + 2, crlf < 0 ? 0 : crlf + 4);
}

/** Whether `bytes` ends with `\r\n\r\n`. */
function endsWithCrlfBlank(bytes: Buffer): boolean {
  const n = bytes.length;
  return (
    n >= 4 &&
    bytes[n - 1] === LF &&
    bytes[n - 2] === CR &&
    bytes[n - 3] === LF &&
    bytes[n - 4] === CR
  );
}
