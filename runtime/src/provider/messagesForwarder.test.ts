import type { IncomingMessage } from 'node:http';
import {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  RateLimitError,
} from '@anthropic-ai/sdk';
import { afterEach, describe, expect, it } from '@jest/globals';
import { classifyError } from './anthropic/errorClassification.ts';
import { CancelledError, TimeoutError } from '../guard/errors.ts';
import { readHeader } from '../guard/headers.ts';
import {
  DEFAULT_ANTHROPIC_VERSION,
  MessagesForwarder,
  type ForwardRequest,
} from './messagesForwarder.ts';
import { LocalServers, type ProviderHandler } from './providerFixtures.ts';
import type { StreamSource } from './streamRelay.ts';

/** Everything a stream hands over, to its end (or its error); `onFirst` runs at its first chunk. */
function text(source: StreamSource, onFirst: () => void = () => undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    let all = '';
    source.start({
      data: (chunk) => {
        if (all === '') onFirst();
        all += chunk.toString('utf8');
      },
      end: () => {
        resolve(all);
      },
      error: reject,
    });
  });
}

const servers = new LocalServers();
const provider = (handler: ProviderHandler) => servers.provider(handler);

function forwarder(baseURL: string): MessagesForwarder {
  return servers.track(new MessagesForwarder(baseURL, 'sk-provider', 'breakwater-test'));
}

const request = (overrides: Partial<ForwardRequest> = {}): ForwardRequest => ({
  body: '{"model":"m","max_tokens":1,"messages":[]}',
  stream: false,
  headers: ['anthropic-version', DEFAULT_ANTHROPIC_VERSION],
  timeoutMs: 5_000,
  signal: undefined,
  ...overrides,
});

afterEach(() => servers.closeAll());

describe('MessagesForwarder', () => {
  it('sends the body as given, with the provider key and the caller’s anthropic headers, under the base URL’s path', async () => {
    let seen: { url?: string; headers?: IncomingMessage['headers']; body?: string } = {};
    const url = await provider((req, body, res) => {
      seen = { url: req.url ?? '', headers: req.headers, body };
      res.writeHead(200, { 'content-type': 'application/json', 'anthropic-ratelimit-x': '7' });
      res.end('{"id":"msg_1"}');
    });
    const answer = await forwarder(`${url}/gateway/`).send(
      request({
        headers: ['anthropic-version', '2099-01-01', 'anthropic-beta', 'b1', 'traceparent', 't'],
      }),
    );
    expect(answer).toMatchObject({ kind: 'plain', status: 200, text: '{"id":"msg_1"}' });
    expect(readHeader(answer.headers, 'anthropic-ratelimit-x')).toBe('7');
    expect(seen.url).toBe('/gateway/v1/messages');
    expect(seen.body).toBe(request().body);
    expect(seen.headers).toMatchObject({
      'x-api-key': 'sk-provider',
      'anthropic-version': '2099-01-01',
      'anthropic-beta': 'b1',
      traceparent: 't',
      accept: 'application/json',
      'content-type': 'application/json',
      'user-agent': 'breakwater-test',
    });
  });

  it('hands over an event stream as it arrives', async () => {
    let finish = (): void => undefined;
    const url = await provider((_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('event: ping\ndata: {}\n\n');
      finish = () => res.end('event: message_stop\ndata: {}\n\n');
    });
    const answer = await forwarder(url).send(request({ stream: true }));
    if (answer.kind !== 'stream') throw new Error(`expected a stream, got ${answer.kind}`);
    // The provider ends its stream only once the first event has come through to the caller.
    expect(await text(answer.body, finish)).toBe(
      'event: ping\ndata: {}\n\nevent: message_stop\ndata: {}\n\n',
    );
  });

  it.each<[string, number, Record<string, string>, string, string]>([
    [
      'an overloaded provider',
      529,
      {},
      '{"type":"error","error":{"type":"overloaded_error","message":"busy"}}',
      'Overloaded',
    ],
    [
      'a rate limit with its retry-after',
      429,
      { 'retry-after': '3' },
      '{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}',
      'RateLimited',
    ],
    ['a gateway’s plain-text 502', 502, {}, 'bad gateway', 'ServerError'],
    [
      'a bad request',
      400,
      {},
      '{"type":"error","error":{"type":"invalid_request_error","message":"no"}}',
      'ClientError',
    ],
  ])('fails %s as the SDK would', async (_name, status, headers, body, outcome) => {
    const url = await provider((_req, _body, res) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(body);
    });
    const err = await forwarder(url)
      .send(request())
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIError);
    expect((err as APIError).status).toBe(status);
    expect(classifyError(err, 0).outcome).toBe(outcome);
    if (status === 429) {
      expect(err).toBeInstanceOf(RateLimitError);
      expect(classifyError(err, 0).retryAfterMs).toBe(3_000);
    }
  });

  it('fails an unreachable provider as a connection error', async () => {
    const url = await provider(() => undefined);
    await servers.stopListening();
    const err = await forwarder(url)
      .send(request())
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIConnectionError);
    expect(classifyError(err, 0).outcome).toBe('ConnectionError');
  });

  it('gives up on a provider that does not answer within the time left', async () => {
    const url = await provider(() => undefined); // never answers
    const err = await forwarder(url)
      .send(request({ timeoutMs: 50 }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIConnectionTimeoutError);
    expect(classifyError(err, 0).outcome).toBe('Timeout');
  });

  it('stops at once when the guard gives up on the attempt, not at undici’s coarser timer', async () => {
    let arrived = (): void => undefined;
    const providerHasIt = new Promise<void>((resolve) => (arrived = resolve));
    let closed = (): void => undefined;
    const providerSawClose = new Promise<void>((resolve) => (closed = resolve));
    const url = await provider((_req, _body, res) => {
      res.once('close', closed);
      arrived(); // and never answers
    });
    let expire: ((err: Error) => void) | undefined;
    const sent = forwarder(url)
      .send(request({ timeoutMs: 60_000, expiry: { whenExpired: (fn) => (expire = fn) } }))
      .catch((e: unknown) => e);
    await providerHasIt;
    expire?.(new TimeoutError(50));
    const err = await sent; // the test times out if the exchange waited for its own 60 s
    expect(err).toBeInstanceOf(TimeoutError);
    expect(classifyError(err, 0).outcome).toBe('Timeout');
    await providerSawClose;
  });

  it('never starts an attempt the guard gave up on before it was dispatched', async () => {
    let reached = 0;
    const url = await provider((_req, _body, res) => {
      reached++;
      res.end('{}');
    });
    const err = await forwarder(url)
      .send(
        request({
          expiry: {
            whenExpired: (fn) => {
              fn(new TimeoutError(1));
            },
          },
        }),
      )
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect(reached).toBe(0);
  });

  it('stops when the caller goes away, as a cancellation that never counts against the provider', async () => {
    let arrived = (): void => undefined;
    const providerHasIt = new Promise<void>((resolve) => (arrived = resolve));
    // The provider never answers: it only says it has the request.
    const url = await provider(() => {
      arrived();
    });
    const caller = new AbortController();
    const sent = forwarder(url)
      .send(request({ signal: caller.signal }))
      .catch((e: unknown) => e);
    await providerHasIt;
    caller.abort(new Error('caller went away'));
    const err = await sent;
    expect(err).toBeInstanceOf(CancelledError);
    expect(classifyError(err, 0).outcome).toBe('Cancelled');
  });

  it('stops the provider’s stream when the caller goes away mid-stream', async () => {
    let closed!: () => void;
    const providerSawClose = new Promise<void>((resolve) => (closed = resolve));
    const url = await provider((_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('event: ping\ndata: {}\n\n'); // and never ends
      res.once('close', closed);
    });
    const caller = new AbortController();
    const answer = await forwarder(url).send(request({ stream: true, signal: caller.signal }));
    if (answer.kind !== 'stream') throw new Error(`expected a stream, got ${answer.kind}`);
    let failed: Error | undefined;
    const first = await new Promise<string>((resolve) => {
      answer.body.start({
        data: (chunk) => {
          resolve(chunk.toString());
        },
        end: () => undefined,
        error: (err) => (failed = err),
      });
    });
    expect(first).toBe('event: ping\ndata: {}\n\n');
    caller.abort(new Error('caller went away'));
    await providerSawClose; // the test times out if the exchange went on
    expect(failed).toBeInstanceOf(CancelledError);
  });
});
