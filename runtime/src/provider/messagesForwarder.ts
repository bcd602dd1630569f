/**
 * Forwards a caller's `POST /v1/messages` to one backend, over that backend's keep-alive
 * connection pool, without the SDK's request pipeline. The runtime is a proxy on this path:
 * the caller's body goes out as the caller sent it (re-encoded only when a fallback model
 * replaces `model`), and the provider's answer comes back byte for byte.
 *
 * Why not the SDK here (docs/design.md §6, "The pass-through path skips the SDK"): per
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
 * Deadlines: the guard races each attempt against its deadline; the exchange underneath is
 * bounded by the same remaining time through undici's own header and body timeouts, so no
 * timer or AbortController is made per request. The caller's signal cancels the exchange.
 */
import type { Readable } from 'node:stream';
import { APIConnectionError, APIConnectionTimeoutError, APIError } from '@anthropic-ai/sdk';
import { Pool, errors as undiciErrors } from 'undici';
import { CancelledError } from '../guard/errors.ts';
import type { HeaderSource } from '../guard/headers.ts';

/** The Messages API version sent when the caller names none. */
export const DEFAULT_ANTHROPIC_VERSION = '2023-06-01';

export interface ForwardRequest {
  /** The JSON body, ready to send. */
  readonly body: string;
  readonly stream: boolean;
  /** `anthropic-version`, `anthropic-beta` from the caller; trace context. */
  readonly headers: readonly string[];
  /** Milliseconds before the guard gives up on this attempt (Infinity: no deadline). */
  readonly timeoutMs: number;
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
      readonly body: Readable;
    };

type RawHeaders = Record<string, string | string[] | undefined>;

export class MessagesForwarder {
  readonly #pool: Pool;
  readonly #path: string;
  /** Per `stream` flag: the headers every request to this backend carries. */
  readonly #plainHeaders: readonly string[];
  readonly #streamHeaders: readonly string[];

  constructor(baseURL: string, apiKey: string, userAgent: string) {
    const url = new URL(baseURL);
    this.#pool = new Pool(url.origin);
    this.#path = `${url.pathname.replace(/\/+$/, '')}/v1/messages`;
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

  async send(request: ForwardRequest): Promise<ForwardedAnswer> {
    const { signal } = request;
    if (signal?.aborted === true) throw new CancelledError(signal.reason);
    const timeout = Number.isFinite(request.timeoutMs)
      ? Math.max(1, Math.ceil(request.timeoutMs))
      : 0; // undici: 0 disables the timeout
    let answer: Awaited<ReturnType<Pool['request']>>;
    try {
      answer = await this.#pool.request({
        path: this.#path,
        method: 'POST',
        headers: [
          ...(request.stream ? this.#streamHeaders : this.#plainHeaders),
          ...request.headers,
        ],
        body: request.body,
        signal,
        headersTimeout: timeout,
        bodyTimeout: timeout,
      });
    } catch (err) {
      throw transportError(err, signal);
    }
    const headers = lowerCaseHeaders(answer.headers);
    const status = answer.statusCode;
    try {
      if (status >= 400) {
        const text = await answer.body.text();
        throw statusError(status, text, answer.headers);
      }
      const type = headers.get('content-type') ?? '';
      if (request.stream && type.startsWith('text/event-stream')) {
        return { kind: 'stream', status, headers, body: answer.body };
      }
      return { kind: 'plain', status, headers, text: await answer.body.text() };
    } catch (err) {
      if (err instanceof APIError) throw err;
      throw transportError(err, signal);
    }
  }

  /** Closes the pool's connections once the requests in flight have finished. */
  close(): Promise<void> {
    return this.#pool.close();
  }
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
  if (signal?.aborted === true) return new CancelledError(signal.reason);
  if (
    err instanceof undiciErrors.HeadersTimeoutError ||
    err instanceof undiciErrors.BodyTimeoutError
  )
    return new APIConnectionTimeoutError();
  return new APIConnectionError({ cause: err instanceof Error ? err : new Error(String(err)) });
}
