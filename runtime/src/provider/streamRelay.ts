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
 * - the caller gone → CancelledError, never counted against the provider.
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
import { APIConnectionError, APIError } from '@anthropic-ai/sdk';
import { CancelledError, TimeoutError } from '../guard/errors.ts';
import { readHeader, type HeaderSource } from '../guard/headers.ts';
import type { Cancel, Clock } from '../time/clock.ts';
import { SseUsageTap, type Usage } from './sseUsage.ts';

/** Where a relayed stream goes: the caller's response. */
export interface StreamSink {
  /** Sends the response head; called once, right before the first content is written. */
  begin(status: number): void;
  /** Writes whole events; false when the caller is slower and `onDrain` should be awaited. */
  write(chunk: Buffer): boolean;
  onDrain(resume: () => void): void;
  /** Set when content has begun to reach the caller: the call can no longer be retried. */
  committed: boolean;
  /** Set by the relay when the provider's own `event: error` went to the caller. */
  errorEventSent: boolean;
}

export interface RelayOptions {
  readonly status: number;
  readonly headers: HeaderSource;
  readonly sink: StreamSink;
  /** The attempt's signal: its deadline (TimeoutError) and the caller going away. */
  readonly signal: AbortSignal;
  readonly clock: Clock;
  /** Limit on the whole stream from its first event; Infinity for none. */
  readonly maxDurationMs: number;
  /** The first bytes arrived (the guard stops the attempt's deadline). */
  readonly firstEvent: () => void;
  /** Content is about to reach the caller: a failure from now on is final. */
  readonly commit: () => void;
  /** Usage the stream reported, at its end, whatever the outcome. */
  readonly reportUsage: (usage: Usage) => void;
}

const EVENT_END = Buffer.from('\n\n');
const EVENT_END_CRLF = Buffer.from('\r\n\r\n');

/** Reads `source` to its end; resolves with the usage on `message_stop`, rejects on any failure. */
export function relayStream(source: Readable, options: RelayOptions): Promise<Usage> {
  return new Promise<Usage>((resolve, reject) => {
    const { sink, signal } = options;
    const tap = new SseUsageTap();
    /** Held until content begins: the prelude (`message_start`, `ping`) as it came. */
    let held: Buffer[] | undefined = [];
    /** Bytes after the last whole event written. */
    let pending: Buffer | undefined;
    let first = true;
    let settled = false;
    let stopTimer: Cancel | undefined;

    const finish = (err: Error | undefined) => {
      if (settled) return;
      settled = true;
      stopTimer?.();
      signal.removeEventListener('abort', onAbort);
      source.off('data', onData);
      source.off('end', onEnd);
      source.off('error', onError);
      source.off('close', onClose);
      options.reportUsage(tap.usage);
      if (err === undefined) {
        resolve(tap.usage);
        return;
      }
      if (!source.destroyed) source.destroy();
      reject(err);
    };

    const onAbort = () => {
      const reason: unknown = signal.reason;
      finish(reason instanceof TimeoutError ? reason : new CancelledError(reason));
    };

    const writeWhole = (bytes: Buffer) => {
      const end = lastEventEnd(bytes);
      if (end < bytes.length) pending = Buffer.from(bytes.subarray(end));
      if (end > 0 && !sink.write(end === bytes.length ? bytes : bytes.subarray(0, end))) {
        source.pause();
        sink.onDrain(() => {
          if (!settled) source.resume();
        });
      }
    };

    const onData = (chunk: Buffer) => {
      if (first) {
        first = false;
        options.firstEvent();
        if (Number.isFinite(options.maxDurationMs)) {
          stopTimer = options.clock.setTimeout(() => {
            finish(new TimeoutError(options.maxDurationMs));
          }, options.maxDurationMs);
        }
      }
      tap.push(chunk);
      if (held !== undefined) {
        held.push(chunk);
        if (!tap.contentStarted) {
          // An error before any content: the caller has seen nothing, so the guard may
          // retry or fall back; the stream is not read any further.
          if (tap.errorEvent !== undefined) finish(streamError(tap, options.headers));
          return;
        }
        options.commit();
        sink.begin(options.status);
        const prelude = held.length === 1 ? chunk : Buffer.concat(held);
        held = undefined;
        writeWhole(prelude);
      } else if (pending === undefined) {
        writeWhole(chunk);
      } else {
        const joined = Buffer.concat([pending, chunk]);
        pending = undefined;
        writeWhole(joined);
      }
      if (tap.errorEvent !== undefined) {
        // The provider's error event goes to the caller as it is, then the stream is over.
        if (pending !== undefined) sink.write(Buffer.concat([pending, EVENT_END]));
        pending = undefined;
        sink.errorEventSent = true;
        finish(streamError(tap, options.headers));
      }
    };

    const onEnd = () => {
      if (pending !== undefined && held === undefined) {
        // A last event without its blank line: whole as far as the caller's parser goes.
        sink.write(Buffer.concat([pending, EVENT_END]));
        pending = undefined;
      }
      if (tap.errorEvent !== undefined) finish(streamError(tap, options.headers));
      else if (tap.stopped) finish(undefined);
      else
        finish(
          new APIConnectionError({
            message: 'the provider ended the stream before message_stop',
          }),
        );
    };

    const onError = (err: Error) => {
      finish(err);
    };

    // Destroyed without an error and without an end (the exchange was cut under it).
    const onClose = () => {
      finish(new APIConnectionError({ message: 'the provider stream closed before its end' }));
    };

    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    source.on('data', onData);
    source.once('end', onEnd);
    source.once('error', onError);
    source.once('close', onClose);
  });
}

/** The stream's error event as the SDK raises it: an APIError without status. */
function streamError(tap: SseUsageTap, headers: HeaderSource): APIError {
  const h = new Headers();
  const requestId = readHeader(headers, 'request-id');
  if (requestId !== undefined) h.set('request-id', requestId);
  return new APIError(undefined, tap.errorEvent, undefined, h);
}

/** Index just past the last whole event in `bytes` (0 when none ends there). */
function lastEventEnd(bytes: Buffer): number {
  const lf = bytes.lastIndexOf(EVENT_END);
  const crlf = bytes.lastIndexOf(EVENT_END_CRLF);
  return Math.max(lf < 0 ? 0 : lf + 2, crlf < 0 ? 0 : crlf + 4);
}
