/**
 * The `fetch` each backend's `@anthropic-ai/sdk` client sends with: undici's request API on
 * one keep-alive connection pool per backend, instead of the global `fetch`.
 *
 * Why: the global fetch (undici's WHATWG implementation) costs about 90 µs of CPU per call
 * on a loopback provider, more than a whole node:http pass-through proxy spends on a request;
 * undici's request API on a pool does the same exchange in about a third of that
 * (bench/results/runtime.json). The SDK still builds, authenticates, times out and
 * classifies every call; only the transport underneath changes.
 *
 * It behaves as `fetch` does where the SDK and the runtime can tell: an aborted signal
 * rejects with the signal's reason, a failed exchange with `TypeError('fetch failed',
 * {cause})`, and the Response carries status and headers. A JSON or text answer is read
 * whole before the Response resolves (the SDK and the runtime read it whole anyway) and held
 * as a string; an event stream is handed over as it arrives.
 *
 * The caller's signal comes in `fetchOptions` (`cancelledBy`), not as the SDK's `signal`:
 * for a `signal` the SDK adds a listener that it removes only when it parses the body itself
 * (never, for `.asResponse()`), plus a WeakMap entry and a FinalizationRegistry registration
 * — together about a fifth of the runtime's CPU per request under bench-runtime. Here the
 * signal costs one listener, removed when the exchange ends.
 */
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { upstreamDispatcher } from './upstreamDispatcher.ts';

export type FetchFunction = (
  input: string | URL | Request,
  init?: RequestInit,
) => Promise<Response>;

export interface UpstreamFetch {
  readonly fetch: FetchFunction;
  /** The pool underneath, for callers that speak undici's request API themselves. */
  readonly dispatcher: Dispatcher;
  /** The dispatch option `origin` for `dispatcher`. */
  readonly origin: string;
  /** Closes the pool's connections once the requests in flight have finished. */
  close(): Promise<void>;
}

/** Where `cancelledBy` puts the caller's signal in the SDK's fetchOptions. */
const CALLER_SIGNAL = Symbol('breakwater.callerSignal');

type CallerInit = RequestInit & { readonly [CALLER_SIGNAL]?: AbortSignal };

/**
 * `fetchOptions` for an SDK call that `signal` cancels. The SDK passes fetchOptions through
 * to this transport's fetch; a call cancelled this way rejects (inside the SDK's
 * APIConnectionError) with the signal's reason.
 */
export function cancelledBy(signal: AbortSignal | undefined): FetchOptions {
  const init: CallerInit = signal === undefined ? {} : { [CALLER_SIGNAL]: signal };
  return init;
}

/** What an SDK call may add to the fetch init (the SDK sets the rest itself). */
export type FetchOptions = Omit<RequestInit, 'method' | 'headers' | 'signal' | 'body'>;

/** Statuses whose Response must not have a body. */
const NULL_BODY_STATUS: ReadonlySet<number> = new Set([101, 103, 204, 205, 304]);

/** `env` names an egress proxy, if any (upstreamDispatcher.ts). */
export function upstreamFetch(
  baseURL: string,
  env: Readonly<Record<string, string | undefined>> = {},
): UpstreamFetch {
  const origin = new URL(baseURL).origin;
  const { dispatcher: pool } = upstreamDispatcher(baseURL, env);

  const send: FetchFunction = async (input, init = {}) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const body = init.body;
    // Anything this transport was not built for (another origin, a streamed upload) goes the
    // standard way.
    if (
      !url.startsWith(origin) ||
      (url.length > origin.length && url[origin.length] !== '/') ||
      (body !== undefined && body !== null && typeof body !== 'string') ||
      input instanceof Request
    ) {
      return fetch(input, init);
    }
    const caller = (init as CallerInit)[CALLER_SIGNAL];
    if (caller?.aborted === true) throw caller.reason;
    const link = caller === undefined ? undefined : either(init.signal ?? undefined, caller);
    const signal = link?.signal ?? init.signal ?? undefined;
    let streaming = false;
    try {
      const answer = await pool.request({
        origin,
        path: url.length === origin.length ? '/' : url.slice(origin.length),
        method: (init.method ?? 'GET').toUpperCase(),
        headers: flatHeaders(init.headers),
        body: body ?? null,
        signal,
      });
      const headers = responseHeaders(answer.headers);
      const status = answer.statusCode;
      if (NULL_BODY_STATUS.has(status) || init.method === 'HEAD') {
        answer.body.resume();
        return new Response(null, { status, headers });
      }
      const type = answer.headers['content-type'] ?? '';
      if (typeof type === 'string' && type.startsWith('text/event-stream')) {
        if (link !== undefined) answer.body.once('close', link.unlink);
        streaming = true;
        return new Response(Readable.toWeb(answer.body) as ReadableStream<Uint8Array>, {
          status,
          headers,
        });
      }
      if (typeof type === 'string' && TEXT_TYPE.test(type)) {
        return bufferedResponse(await answer.body.text(), { status, headers });
      }
      return new Response(await answer.body.arrayBuffer(), { status, headers });
    } catch (err) {
      if (signal?.aborted === true) throw signal.reason;
      throw new TypeError('fetch failed', { cause: err });
    } finally {
      if (!streaming) link?.unlink();
    }
  };

  return { fetch: send, dispatcher: pool, origin, close: () => pool.close() };
}

function flatHeaders(headers: RequestInit['headers']): string[] {
  const flat: string[] = [];
  if (headers === undefined) return flat;
  if (headers instanceof Headers) {
    headers.forEach((value, name) => {
      flat.push(name, value);
    });
  } else if (Array.isArray(headers)) {
    for (const [name, value] of headers) flat.push(name, value);
  } else {
    for (const [name, value] of Object.entries(headers)) flat.push(name, String(value));
  }
  return flat;
}

function responseHeaders(
  headers: Record<string, string | string[] | undefined>,
): [string, string][] {
  const out: [string, string][] = [];
  for (const name in headers) {
    const value = headers[name];
    if (typeof value === 'string') out.push([name, value]);
    else if (value !== undefined) for (const v of value) out.push([name, v]);
  }
  return out;
}

/** Answers held as a string: JSON (the Messages API) and text. */
const TEXT_TYPE = /^(?:application\/(?:[\w.+-]+\+)?json|text\/)/i;

/** One signal that aborts when either does, and a function that stops listening to both. */
function either(
  sdk: AbortSignal | undefined,
  caller: AbortSignal,
): { readonly signal: AbortSignal; readonly unlink: () => void } {
  const controller = new AbortController();
  const fromCaller = () => {
    controller.abort(caller.reason);
  };
  caller.addEventListener('abort', fromCaller, { once: true });
  if (sdk === undefined) {
    return {
      signal: controller.signal,
      unlink: () => {
        caller.removeEventListener('abort', fromCaller);
      },
    };
  }
  const fromSdk = () => {
    controller.abort(sdk.reason);
  };
  if (sdk.aborted) controller.abort(sdk.reason);
  else sdk.addEventListener('abort', fromSdk, { once: true });
  return {
    signal: controller.signal,
    unlink: () => {
      caller.removeEventListener('abort', fromCaller);
      sdk.removeEventListener('abort', fromSdk);
    },
  };
}

/**
 * An answer already read whole, held as a string: `text()`, `json()`, `arrayBuffer()` and
 * `bytes()` return it without the body stream a Response would build around it (building and
 * draining that stream cost more than the rest of the Response). `body` is null: nothing
 * here streams. Like any Response it can be read once. (The readers are instance fields
 * because the DOM typings declare them as properties of Response.)
 *
 * The class is defined with the first such answer, not when this module loads: reading the
 * global `Response` loads Node's internal copy of undici (the WHATWG fetch classes; 14 MB in a
 * bare process, about 1 MB beside the npm undici), which an idle runtime, and one that only
 * relays, never needs.
 */
function bufferedResponse(text: string, init: ResponseInit): Response {
  BufferedResponse ??= defineBufferedResponse();
  return new BufferedResponse(text, init);
}

let BufferedResponse: ReturnType<typeof defineBufferedResponse> | undefined;

function defineBufferedResponse() {
  return class BufferedResponse extends Response {
    readonly #text: string;
    #used = false;

    constructor(text: string, init: ResponseInit) {
      super(null, init);
      this.#text = text;
    }

    override readonly text = (): Promise<string> => {
      if (this.#used) {
        return Promise.reject(new TypeError('Body is unusable: Body has already been read'));
      }
      this.#used = true;
      return Promise.resolve(this.#text);
    };

    override readonly json = async (): Promise<unknown> => JSON.parse(await this.text()) as unknown;

    override readonly bytes = async (): Promise<Uint8Array<ArrayBuffer>> =>
      new Uint8Array(Buffer.from(await this.text()));

    override readonly arrayBuffer = async (): Promise<ArrayBuffer> => (await this.bytes()).buffer;

    override readonly blob = async (): Promise<Blob> =>
      new Blob([await this.text()], { type: this.headers.get('content-type') ?? '' });

    override readonly clone = (): Response => {
      if (this.#used) throw new TypeError('Response.clone: Body has already been consumed.');
      return new BufferedResponse(this.#text, { status: this.status, headers: this.headers });
    };
  };
}
