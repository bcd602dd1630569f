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
 * {cause})`, and the Response carries status and headers. A JSON answer is read whole before
 * the Response resolves (the SDK and the runtime read it whole anyway); an event stream is
 * handed over as it arrives.
 */
import { Readable } from 'node:stream';
import { Pool } from 'undici';

export type FetchFunction = (
  input: string | URL | Request,
  init?: RequestInit,
) => Promise<Response>;

export interface UpstreamFetch {
  readonly fetch: FetchFunction;
  /** Closes the pool's connections once the requests in flight have finished. */
  close(): Promise<void>;
}

/** Statuses whose Response must not have a body. */
const NULL_BODY_STATUS: ReadonlySet<number> = new Set([101, 103, 204, 205, 304]);

export function upstreamFetch(baseURL: string): UpstreamFetch {
  const origin = new URL(baseURL).origin;
  const pool = new Pool(origin);

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
    const signal = init.signal ?? undefined;
    try {
      const answer = await pool.request({
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
      const type = answer.headers['content-type'];
      if (typeof type === 'string' && type.startsWith('text/event-stream')) {
        return new Response(Readable.toWeb(answer.body) as ReadableStream<Uint8Array>, {
          status,
          headers,
        });
      }
      return new Response(await answer.body.arrayBuffer(), { status, headers });
    } catch (err) {
      if (signal?.aborted === true) throw signal.reason;
      throw new TypeError('fetch failed', { cause: err });
    }
  };

  return { fetch: send, close: () => pool.close() };
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
