/**
 * Forwards a caller's `POST /v1/messages` to one backend, over that backend's keep-alive
 * connection pool, without the SDK's request pipeline. The runtime is a proxy on this path:
 * the caller's body goes out as the caller sent it (re-encoded only when a fallback model
 * replaces `model`), and the provider's answer comes back byte for byte.
 *
 * Why not the SDK here (docs/design.md §6, "The Messages pass-through skips the SDK"): per
 * request, the SDK builds and validates its headers twice, wraps the call in promise and
 * options objects, and arms its own timer, which together cost the runtime about as much
 * CPU as everything else it does for a request, more than a bare node:http proxy spends on
 * the whole exchange (bench/results/runtime.json). What the SDK gives a caller of the
 * Messages API, the runtime keeps: the same headers go out (`x-api-key`,
 * `anthropic-version`, the caller's `anthropic-beta`), and a failed answer is turned into
 * the SDK's own error class (`APIError.generate`) exactly as the SDK would, so the guard
 * classifies and the server maps it the same whichever path a call took. The agent loop
 * (`/v1/agent/invoke`) builds its own requests and still sends them through the SDK.
 *
 * Transport: undici's dispatch API on one keep-alive pool per backend (or the environment's
 * egress proxy, upstreamDispatcher.ts), with a handler of our own (`ForwardHandler`). `pool.request()` wraps every exchange in an async resource, a body
 * stream and a promise per stage; for a plain answer gathered whole that machinery cost the
 * runtime more CPU than the guard, the metrics and fastify together.
 *
 * Deadlines: the guard races each attempt against its deadline; the exchange underneath is
 * bounded by the same remaining time through undici's own header and body timeouts (coarse:
 * undici's timers tick about once a second), so the forwarder makes no timer or
 * AbortController of its own. A stream's body is bounded instead by its idle timeout, the
 * longest pause between two reads. The signal cancels the exchange, a stream included.
 */
import { APIConnectionError, APIConnectionTimeoutError, APIError } from '@anthropic-ai/sdk';
import { errors as undiciErrors, type Dispatcher } from 'undici';
import { CancelledError } from '../guard/errors.ts';
import type { HeaderSource } from '../guard/headers.ts';
import type { StreamSource, SourceListener } from './streamRelay.ts';
import { upstreamDispatcher } from './upstreamDispatcher.ts';

/** The Messages API version sent when the caller names none. */
export const DEFAULT_ANTHROPIC_VERSION = '2023-06-01';

/** The Messages API routes the runtime passes through. */
export type MessagesEndpoint = 'messages' | 'count_tokens';

export interface ForwardRequest {
  /** `messages` unless said otherwise. */
  readonly endpoint?: MessagesEndpoint;
  /** The JSON body, ready to send. */
  readonly body: string;
  readonly stream: boolean;
  /** `anthropic-version`, `anthropic-beta` from the caller; trace context. */
  readonly headers: readonly string[];
  /** Milliseconds before the guard gives up on this attempt (Infinity: no deadline). */
  readonly timeoutMs: number;
  /** A stream's longest pause between two reads (undici's body timeout); Infinity: none. */
  readonly idleTimeoutMs?: number;
  readonly signal: AbortSignal | undefined;
}

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

type RawHeaders = Record<string, string | string[] | undefined>;

export class MessagesForwarder {
  readonly #dispatcher: Dispatcher;
  readonly #origin: string;
  readonly #path: string;
  readonly #countTokensPath: string;
  /** Per `stream` flag: the headers every request to this backend carries. */
  readonly #plainHeaders: readonly string[];
  readonly #streamHeaders: readonly string[];

  /** `env` names an egress proxy, if any (upstreamDispatcher.ts). */
  constructor(
    baseURL: string,
    apiKey: string,
    userAgent: string,
    env: Readonly<Record<string, string | undefined>> = {},
  ) {
    const url = new URL(baseURL);
    const upstream = upstreamDispatcher(baseURL, env);
    this.#dispatcher = upstream.dispatcher;
    this.#origin = upstream.origin;
    this.#path = `${url.pathname.replace(/\/+$/, '')}/v1/messages`;
    this.#countTokensPath = `${this.#path}/count_tokens`;
    const common = [
      'content-type',
      'application/json',
      'x-api-key',
      apiKey,
      'user-agent',
      userAgent,
    ];
    this.#plainHeaders = [...common, 'accept', 'application/json'];
    this.#streamHeaders = [...common, 'accept', 'text/event-stream'];
  }

  send(request: ForwardRequest): Promise<ForwardedAnswer> {
    const { signal } = request;
    if (signal?.aborted === true) return Promise.reject(new CancelledError(signal.reason));
    const timeout = undiciTimeout(request.timeoutMs);
    // A stream's body is bounded by its idle timeout, not the attempt's: it may run for
    // minutes, and its relay stops the attempt's deadline at the first event.
    const bodyTimeout = request.stream ? undiciTimeout(request.idleTimeoutMs ?? Infinity) : timeout;
    return new Promise<ForwardedAnswer>((resolve, reject) => {
      this.#dispatcher.dispatch(
        {
          origin: this.#origin,
          path: request.endpoint === 'count_tokens' ? this.#countTokensPath : this.#path,
          method: 'POST',
          headers: [
            ...(request.stream ? this.#streamHeaders : this.#plainHeaders),
            ...request.headers,
          ],
          body: request.body,
          headersTimeout: timeout,
          bodyTimeout,
        },
        new ForwardHandler(request.stream, signal, resolve, reject),
      );
    });
  }

  /** Closes the pool's connections once the requests in flight have finished. */
  close(): Promise<void> {
    return this.#dispatcher.close();
  }
}

/**
 * One exchange, on undici's dispatch API: a plain answer is gathered as its chunks arrive
 * and settles the promise at its end; an event stream settles it at its headers, the handler
 * itself being the stream's StreamSource: chunks go straight to the relay's listener (held
 * until it starts), and pausing pauses the connection. This is what `pool.request()` does,
 * without its async resource, body mixin, Readable and promise per stage.
 */
class ForwardHandler implements Dispatcher.DispatchHandler, StreamSource {
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

  constructor(
    stream: boolean,
    signal: AbortSignal | undefined,
    resolve: (answer: ForwardedAnswer) => void,
    reject: (err: Error) => void,
  ) {
    this.#stream = stream;
    this.#signal = signal;
    this.#resolve = resolve;
    this.#reject = reject;
    signal?.addEventListener('abort', this.#onAbort);
  }

  readonly #onAbort = (): void => {
    this.#controller?.abort(new CancelledError(this.#signal?.reason));
  };

  // StreamSource, for a streamed answer.
  start(listener: SourceListener): void {
    this.#listener = listener;
    const chunks = this.#chunks;
    this.#chunks = [];
    for (const chunk of chunks) listener.data(chunk);
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
    if (this.#signal?.aborted === true) this.#onAbort();
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
      type.startsWith('text/event-stream')
    ) {
      this.#streaming = true;
      this.#settle({
        kind: 'stream',
        status: statusCode,
        headers: lowerCaseHeaders(headers),
        body: this,
      });
    }
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#listener !== undefined) this.#listener.data(chunk);
    else this.#chunks.push(chunk);
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
      this.#fail(statusError(this.#status, text, this.#raw));
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
    this.#signal?.removeEventListener('abort', this.#onAbort);
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
function undiciTimeout(ms: number): number {
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

/** A failed answer as the SDK reports it: the same class, status, body and headers. */
function statusError(status: number, text: string, raw: RawHeaders): APIError {
  let body: unknown;
  try {
    body = JSON.parse(text) as unknown;
  } catch {
    body = undefined;
  }
  const headers = new Headers();
  for (const name in raw) {
    const value = raw[name];
    if (typeof value === 'string') headers.append(name, value);
    else if (value !== undefined) for (const v of value) headers.append(name, v);
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
  if (err instanceof CancelledError) return err;
  if (signal?.aborted === true) return new CancelledError(signal.reason);
  if (
    err instanceof undiciErrors.HeadersTimeoutError ||
    err instanceof undiciErrors.BodyTimeoutError
  )
    return new APIConnectionTimeoutError();
  return new APIConnectionError({ cause: err instanceof Error ? err : new Error(String(err)) });
}
