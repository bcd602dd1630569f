/**
 * One exchange with a provider on undici's dispatch API, shared by every wire format: the
 * Anthropic API's (messagesForwarder.ts), Bedrock's and Vertex AI's. What differs between
 * them is a dialect: the content type of a streamed answer, how its bytes become the Anthropic
 * API's server-sent events (as they are, or decoded from Bedrock's event stream), and how a
 * failed answer becomes the SDK's error.
 */
import {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
} from '@anthropic-ai/sdk/core/error';
import type { Dispatcher } from 'undici';
import { errors as undiciErrors } from './undiciParts.ts';
import { unwatchAbort, watchAbort } from './abortWatch.ts';
import { CancelledError, TimeoutError } from '../guard/errors.ts';
import type { HeaderSource } from '../guard/headers.ts';
import type { StreamTap } from './sseUsage.ts';
import type { StreamSource, SourceListener } from './streamRelay.ts';

export type ForwardedAnswer =
  | {
      readonly kind: 'plain';
      readonly status: number;
      readonly headers: HeaderSource;
      readonly text: string;
    }
  | {
      readonly kind: 'stream';
      readonly status: number;
      readonly headers: HeaderSource;
      /** The events as they arrive; `cancel` stops the exchange. */
      readonly body: StreamSource;
    };

/** Bytes in, server-sent events out, across reads that end anywhere. */
export interface StreamTranscoder {
  /** The events `chunk` completes; empty when it completes none. */
  push(chunk: Buffer): Buffer;
  /** What the events written so far said, so the relay need not read them again. */
  readonly events: StreamTap;
}

export interface ExchangeDialect {
  /** The content type (its start) of a streamed answer. */
  readonly streamType: string;
  /** A fresh transcoder per streamed answer; absent: the bytes are the events already. */
  readonly transcoder?: () => StreamTranscoder;
  /** A failed answer as the SDK's error (APIError.generate or its equivalent). */
  error(status: number, text: string, headers: Headers): Error;
}

/** The Anthropic API's own: events as sent, errors as the SDK generates them. */
export const ANTHROPIC_DIALECT: ExchangeDialect = {
  streamType: 'text/event-stream',
  error: anthropicStatusError,
};

type RawHeaders = Record<string, string | string[] | undefined>;

/**
 * The guard's word that it gave up on the attempt (its deadline passed). The exchange stops
 * there and then, instead of at undici's own headers or body timeout, which its coarse timers
 * fire up to a second late: until then the attempt would hold its connection and its place in
 * the backend's count, and its outcome would reach the metrics after the retry's answer.
 */
export interface AttemptExpiry {
  whenExpired(fn: (err: Error) => void): void;
}

/**
 * One exchange, on undici's dispatch API: a plain answer is gathered as its chunks arrive
 * and settles the promise at its end; an event stream settles it at its headers, the handler
 * itself being the stream's StreamSource: chunks go straight to the relay's listener (held
 * until it starts), and pausing pauses the connection. This is what `pool.request()` does,
 * without its async resource, body mixin, Readable and promise per stage.
 */
export class ForwardHandler implements Dispatcher.DispatchHandler, StreamSource {
  readonly #dialect: ExchangeDialect;
  /** Turns a streamed answer's bytes into server-sent events (Bedrock's event stream). */
  #transcoder: StreamTranscoder | undefined;
  readonly #stream: boolean;
  readonly #signal: AbortSignal | undefined;
  readonly #resolve: (answer: ForwardedAnswer) => void;
  readonly #reject: (err: Error) => void;
  #controller: Dispatcher.DispatchController | undefined;
  #status = 0;
  #raw: RawHeaders = {};
  #chunks: Buffer[] = [];
  /** Set when the answer is a stream handed over. */
  #streaming = false;
  #listener: SourceListener | undefined;
  /** A stream's failure that came before its listener started. */
  #failure: Error | undefined;
  #ended = false;
  #settled = false;
  /** The guard's deadline passed before the request started. */
  #expired: Error | undefined;
  /** Until the exchange ends, fails or is cancelled: the caller's going away stops it. */
  #watching = true;

  constructor(
    dialect: ExchangeDialect,
    stream: boolean,
    signal: AbortSignal | undefined,
    resolve: (answer: ForwardedAnswer) => void,
    reject: (err: Error) => void,
    expiry?: AttemptExpiry,
  ) {
    this.#dialect = dialect;
    this.#stream = stream;
    this.#signal = signal;
    this.#resolve = resolve;
    this.#reject = reject;
    if (signal !== undefined) watchAbort(signal, this.#onAbort);
    // A stream's relay takes the hook over when it starts (streamRelay.ts).
    expiry?.whenExpired(this.#onExpired);
  }

  /**
   * The caller went away. A stream is stopped on the loop's check phase, not at once: a
   * runtime the scheduler starved hears the hang-up in the same turn as the provider's bytes
   * that arrived meanwhile, and stopped at once, it would close the connection with them
   * unread and settle the stream short of what the provider billed for them (M3). This turn's
   * I/O callbacks run before setImmediate's, so whatever sat in the socket is read and counted.
   */
  readonly #onAbort = (): void => {
    if (!this.#streaming) {
      this.#abort();
      return;
    }
    setImmediate(() => {
      if (this.#watching) this.#abort();
    });
  };

  readonly #abort = (): void => {
    this.#controller?.abort(new CancelledError(this.#signal?.reason));
  };

  readonly #onExpired = (err: Error): void => {
    if (this.#ended) return;
    if (this.#controller === undefined) this.#expired = err;
    else this.#controller.abort(err);
  };

  // StreamSource, for a streamed answer.
  get tap(): StreamTap | undefined {
    return this.#transcoder?.events;
  }

  start(listener: SourceListener): void {
    this.#listener = listener;
    const chunks = this.#chunks;
    this.#chunks = [];
    for (const chunk of chunks) {
      if (this.#listener !== listener) return; // cancelled on the way
      this.#deliver(chunk);
    }
    if (this.#failure !== undefined) listener.error(this.#failure);
    else if (this.#ended) listener.end();
  }

  pause(): void {
    this.#controller?.pause();
  }

  resume(): void {
    this.#controller?.resume();
  }

  cancel(reason: Error): void {
    this.#listener = undefined;
    if (!this.#ended) this.#controller?.abort(reason);
    this.#unlink();
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#expired !== undefined) controller.abort(this.#expired);
    else if (this.#signal?.aborted === true) this.#abort();
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: RawHeaders,
  ): void {
    if (statusCode < 200) return; // 1xx: the answer is still to come
    this.#status = statusCode;
    this.#raw = headers;
    const type = headers['content-type'];
    if (
      this.#stream &&
      statusCode < 400 &&
      typeof type === 'string' &&
      type.startsWith(this.#dialect.streamType)
    ) {
      this.#streaming = true;
      this.#transcoder = this.#dialect.transcoder?.();
      this.#settle({
        kind: 'stream',
        status: statusCode,
        headers: lowerCaseHeaders(headers),
        body: this,
      });
    }
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    // Held as it came until the relay starts: a transcoder's account of the events
    // (its `events`) must never run ahead of the events the relay has been given.
    if (this.#listener !== undefined) this.#deliver(chunk);
    else this.#chunks.push(chunk);
  }

  /** A streamed chunk to the relay, as events (transcoded when the dialect has a transcoder). */
  #deliver(chunk: Buffer): void {
    let data = chunk;
    if (this.#transcoder !== undefined) {
      try {
        data = this.#transcoder.push(chunk);
      } catch (err) {
        // Bytes that are not the stream they claim to be: the exchange is broken.
        this.#controller?.abort(new APIConnectionError({ cause: err as Error }));
        return;
      }
      if (data.length === 0) return;
    }
    this.#listener?.data(data);
  }

  onResponseEnd(): void {
    this.#ended = true;
    if (this.#streaming) {
      this.#unlink();
      this.#listener?.end();
      return;
    }
    this.#unlink();
    const chunks = this.#chunks;
    const text =
      chunks.length === 1
        ? (chunks[0] as Buffer).toString('utf8')
        : Buffer.concat(chunks).toString('utf8');
    if (this.#status >= 400) {
      this.#fail(this.#dialect.error(this.#status, text, responseHeaders(this.#raw)));
      return;
    }
    this.#settle({
      kind: 'plain',
      status: this.#status,
      headers: lowerCaseHeaders(this.#raw),
      text,
    });
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    const failure = transportError(err, this.#signal);
    this.#unlink();
    if (this.#streaming) {
      this.#failure = failure;
      this.#listener?.error(failure);
      return;
    }
    this.#fail(failure);
  }

  readonly #unlink = (): void => {
    this.#watching = false;
    if (this.#signal !== undefined) unwatchAbort(this.#signal, this.#onAbort);
  };

  #settle(answer: ForwardedAnswer): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#resolve(answer);
  }

  #fail(err: Error): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#reject(err);
  }
}

/** Milliseconds as undici takes a timeout: whole, at least 1, and 0 for none. */
export function undiciTimeout(ms: number): number {
  return Number.isFinite(ms) ? Math.max(1, Math.ceil(ms)) : 0;
}

/** undici's header record (names already lower case) read the way `Headers.get` reads. */
function lowerCaseHeaders(raw: RawHeaders): { get(name: string): string | null } {
  return {
    get(name: string): string | null {
      const value = raw[name];
      if (value === undefined) return null;
      return typeof value === 'string' ? value : value.join(', ');
    },
  };
}

/** undici's header record as a Headers object, for an error to carry. */
export function responseHeaders(raw: RawHeaders): Headers {
  const headers = new Headers();
  for (const name in raw) {
    const value = raw[name];
    if (typeof value === 'string') headers.append(name, value);
    else if (value !== undefined) for (const v of value) headers.append(name, v);
  }
  return headers;
}

/** A failed answer from the Anthropic API as the SDK reports it: the same class, status, body and headers. */
export function anthropicStatusError(status: number, text: string, headers: Headers): APIError {
  let body: unknown;
  try {
    body = JSON.parse(text) as unknown;
  } catch {
    body = undefined;
  }
  return APIError.generate(
    status,
    body as object | undefined,
    body === undefined ? text : undefined,
    headers,
  );
}

/** A failed exchange as the SDK reports it; a cancelled one as the guard's CancelledError. */
function transportError(err: unknown, signal: AbortSignal | undefined): Error {
  if (err instanceof CancelledError || err instanceof TimeoutError) return err;
  if (signal?.aborted === true) return new CancelledError(signal.reason);
  if (
    err instanceof undiciErrors.HeadersTimeoutError ||
    err instanceof undiciErrors.BodyTimeoutError
  )
    return new APIConnectionTimeoutError();
  return new APIConnectionError({ cause: err instanceof Error ? err : new Error(String(err)) });
}
