import { getEventListeners } from 'node:events';
import Anthropic, {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
} from '@anthropic-ai/sdk';
import { afterEach, describe, expect, it } from '@jest/globals';
import { classifyError } from './anthropic/errorClassification.ts';
import { LocalServers, type ProviderHandler } from './providerFixtures.ts';
import { cancelledBy, upstreamFetch, type UpstreamFetch } from './upstreamFetch.ts';

const servers = new LocalServers();
const provider = (handler: ProviderHandler) => servers.provider(handler);
const transport = (baseURL: string): UpstreamFetch => servers.track(upstreamFetch(baseURL));

afterEach(() => servers.closeAll());

describe('upstreamFetch', () => {
  it('sends method, path, headers and body, and answers status, headers and body', async () => {
    const url = await provider((req, body, res) => {
      res.writeHead(201, {
        'content-type': 'application/json',
        'x-seen': req.headers['x-api-key'],
      });
      res.end(JSON.stringify({ method: req.method, path: req.url, body }));
    });
    const response = await transport(url).fetch(`${url}/v1/messages?beta=true`, {
      method: 'post',
      headers: new Headers({ 'x-api-key': 'sk-test', 'content-type': 'application/json' }),
      body: '{"a":1}',
    });
    expect(response.status).toBe(201);
    expect(response.headers.get('x-seen')).toBe('sk-test');
    expect(await response.json()).toEqual({
      method: 'POST',
      path: '/v1/messages?beta=true',
      body: '{"a":1}',
    });
  });

  it('hands an event stream over as it arrives, before the provider has finished', async () => {
    let finish: () => void = () => undefined;
    const url = await provider((_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('event: ping\ndata: {}\n\n');
      finish = () => res.end('event: message_stop\ndata: {}\n\n');
    });
    const response = await transport(url).fetch(`${url}/v1/messages`, {
      method: 'POST',
      body: '{}',
    });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const first = await reader.read();
    expect(Buffer.from(first.value ?? []).toString()).toBe('event: ping\ndata: {}\n\n');
    finish();
    let rest = '';
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      rest += Buffer.from(r.value).toString();
    }
    expect(rest).toBe('event: message_stop\ndata: {}\n\n');
  });

  it('rejects with the signal’s reason when the caller aborts, as fetch does', async () => {
    const url = await provider(() => undefined); // never answers
    const controller = new AbortController();
    const pending = transport(url).fetch(`${url}/v1/messages`, {
      method: 'POST',
      body: '{}',
      signal: controller.signal,
    });
    const reason = new Error('caller went away');
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
  });

  it('rejects with TypeError("fetch failed") and the cause when nothing listens', async () => {
    const url = await provider(() => undefined);
    await servers.stopListening();
    const failure = await transport(url)
      .fetch(`${url}/v1/messages`, { method: 'POST', body: '{}' })
      .catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(TypeError);
    expect((failure as TypeError).message).toBe('fetch failed');
    expect((failure as { cause?: { code?: string } }).cause?.code).toBe('ECONNREFUSED');
  });

  it.each([
    [529, 'overloaded_error', 'Overloaded'],
    [500, 'api_error', 'ServerError'],
    [429, 'rate_limit_error', 'RateLimited'],
    [400, 'invalid_request_error', 'ClientError'],
  ])(
    'under the SDK, a %s %s answer is an SDK error the guard classifies as %s',
    async (status, type, outcome) => {
      const url = await provider((_req, _body, res) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ type: 'error', error: { type, message: 'no' } }));
      });
      const client = new Anthropic({
        apiKey: 'sk-test',
        baseURL: url,
        maxRetries: 0,
        fetch: transport(url).fetch,
      });
      const err = await client
        .post('/v1/messages', { body: { model: 'm' } })
        .asResponse()
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(APIError);
      expect((err as APIError).status).toBe(status);
      expect(classifyError(err, 0).outcome).toBe(outcome);
    },
  );

  it('under the SDK, a refused connection is a ConnectionError', async () => {
    const url = await provider(() => undefined);
    await servers.stopListening();
    const client = new Anthropic({
      apiKey: 'sk-test',
      baseURL: url,
      maxRetries: 0,
      fetch: transport(url).fetch,
    });
    const err = await client
      .post('/v1/messages', { body: {} })
      .asResponse()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIConnectionError);
    expect(classifyError(err, 0).outcome).toBe('ConnectionError');
  });

  it('holds a JSON answer whole: it reads once, as text, json or bytes', async () => {
    const url = await provider((_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"usage":{"input_tokens":3}}');
    });
    const fetch = transport(url).fetch;
    const ask = () => fetch(`${url}/v1/messages`, { method: 'POST', body: '{}' });
    expect(await (await ask()).text()).toBe('{"usage":{"input_tokens":3}}');
    expect(await (await ask()).json()).toEqual({ usage: { input_tokens: 3 } });
    expect(new TextDecoder().decode(await (await ask()).bytes())).toBe(
      '{"usage":{"input_tokens":3}}',
    );
    // The class is defined with the first answer (not at import): still a Response, and its
    // clone is held whole as well.
    const copy = (await ask()).clone();
    expect(copy).toBeInstanceOf(Response);
    expect(copy.body).toBeNull();
    expect([copy.status, copy.headers.get('content-type')]).toEqual([200, 'application/json']);
    expect(await copy.text()).toBe('{"usage":{"input_tokens":3}}');
    const once = await ask();
    await once.text();
    await expect(once.text()).rejects.toThrow(TypeError);
  });

  it('under the SDK, a caller signal given in fetchOptions cancels the provider request', async () => {
    let arrived: () => void = () => undefined;
    const inside = new Promise<void>((resolve) => (arrived = resolve));
    let closed: () => void = () => undefined;
    const providerSawClose = new Promise<void>((resolve) => (closed = resolve));
    const url = await provider((_req, _body, res) => {
      res.on('close', closed);
      arrived(); // and never answers
    });
    const client = new Anthropic({
      apiKey: 'sk-test',
      baseURL: url,
      maxRetries: 0,
      fetch: transport(url).fetch,
    });
    const caller = new AbortController();
    const call = client
      .post('/v1/messages', { body: {}, fetchOptions: cancelledBy(caller.signal) })
      .asResponse()
      .catch((e: unknown) => e);
    await inside;
    const reason = new Error('caller went away');
    caller.abort(reason);
    const err = await call;
    expect(err).toBeInstanceOf(APIConnectionError);
    expect((err as APIConnectionError).cause).toBe(reason);
    await providerSawClose;
  });

  it('under the SDK, its own timeout still ends a call that has a caller signal', async () => {
    const url = await provider(() => undefined); // never answers
    const client = new Anthropic({
      apiKey: 'sk-test',
      baseURL: url,
      maxRetries: 0,
      fetch: transport(url).fetch,
    });
    const caller = new AbortController();
    const err = await client
      .post('/v1/messages', { body: {}, timeout: 1, fetchOptions: cancelledBy(caller.signal) })
      .asResponse()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIConnectionTimeoutError);
    expect(classifyError(err, 0).outcome).toBe('Timeout');
  });

  it.each([
    ['a JSON answer', 'application/json', '{}'],
    ['an event stream', 'text/event-stream', 'event: message_stop\ndata: {}\n\n'],
  ])('leaves no listener on the caller signal once %s has been read', async (_name, type, text) => {
    const url = await provider((_req, _body, res) => {
      res.writeHead(200, { 'content-type': type });
      res.end(text);
    });
    const caller = new AbortController();
    const response = await transport(url).fetch(`${url}/v1/messages`, {
      method: 'POST',
      body: '{}',
      ...cancelledBy(caller.signal),
    });
    expect(await response.text()).toBe(text);
    await new Promise((resolve) => setImmediate(resolve));
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0);
  });
});
