/**
 * Forwards a caller's `POST /v1/messages` to one backend, over that backend's keep-alive
 * connection pool, without the SDK's request pipeline. The runtime is a proxy on this path:
 * the caller's body goes out as the caller sent it (re-encoded only when a fallback model
 * replaces `model`), and the provider's answer comes back byte for byte.
 *
 * Why not the SDK here (docs/decisions/0006-messages-pass-through-without-sdk.md): per
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
import type { Dispatcher } from 'undici';
import { CancelledError } from '../guard/errors.ts';
import {
  ANTHROPIC_DIALECT,
  ForwardHandler,
  undiciTimeout,
  type AttemptExpiry,
  type ForwardedAnswer,
} from './exchange.ts';
import { upstreamDispatcher } from './upstreamDispatcher.ts';

export type { ForwardedAnswer };

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
  /** The guard's attempt: the exchange stops when its deadline passes. */
  readonly expiry?: AttemptExpiry | undefined;
}

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
        new ForwardHandler(
          ANTHROPIC_DIALECT,
          request.stream,
          signal,
          resolve,
          reject,
          request.expiry,
        ),
      );
    });
  }

  /** Closes the pool's connections once the requests in flight have finished. */
  close(): Promise<void> {
    return this.#dispatcher.close();
  }
}
