import { request } from 'node:http';
import { afterEach, describe, expect, it } from '@jest/globals';
import { DEFAULT_ANTHROPIC_VERSION, MessagesForwarder } from './messagesForwarder.ts';
import { LocalServers } from './providerFixtures.ts';
import { upstreamDispatcher } from './upstreamDispatcher.ts';
import { upstreamFetch } from './upstreamFetch.ts';

const servers = new LocalServers();

/** A provider that answers every request with a small message. */
const provider = (): Promise<string> =>
  servers.provider((_req, _body, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"id":"msg_via"}');
  });

/**
 * An egress proxy for plain HTTP in absolute form (what a proxy agent sends for an http://
 * origin; an https:// one is tunnelled with CONNECT), remembering the host of each request.
 */
async function proxy(): Promise<{ url: string; carried: string[] }> {
  const carried: string[] = [];
  const url = await servers.listen((req, res) => {
    const target = new URL(req.url ?? '');
    carried.push(target.host);
    const out = request(
      target,
      { method: req.method, headers: { ...req.headers, host: target.host } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    out.on('error', () => res.writeHead(502).end());
    req.pipe(out);
  });
  return { url, carried };
}

const send = (forwarder: MessagesForwarder) =>
  forwarder.send({
    body: '{"model":"m","max_tokens":1,"messages":[]}',
    stream: false,
    headers: ['anthropic-version', DEFAULT_ANTHROPIC_VERSION],
    timeoutMs: 5_000,
    signal: undefined,
  });

const forwarder = (baseURL: string, env: Record<string, string>): MessagesForwarder =>
  servers.track(new MessagesForwarder(baseURL, 'sk-test', 'breakwater-test', env));

afterEach(() => servers.closeAll());

describe('upstreamDispatcher', () => {
  it('connects straight to the origin when no proxy is set', () => {
    const upstream = upstreamDispatcher('https://api.anthropic.com/v1', {});
    expect(upstream).toMatchObject({ origin: 'https://api.anthropic.com', proxied: false });
    void upstream.dispatcher.close();
  });

  it.each([
    ['HTTPS_PROXY', { HTTPS_PROXY: 'http://proxy:3128' }],
    ['http_proxy in lower case', { http_proxy: 'http://proxy:3128' }],
  ])('goes through the proxy %s names', (_name, env) => {
    const upstream = upstreamDispatcher('https://api.anthropic.com', env);
    expect(upstream.proxied).toBe(true);
    void upstream.dispatcher.close();
  });

  it('sends the pass-through and the SDK’s calls through the proxy', async () => {
    const target = await provider();
    const egress = await proxy();
    const env = { HTTP_PROXY: egress.url };
    const answer = await send(forwarder(target, env));
    expect(answer).toMatchObject({ kind: 'plain', status: 200, text: '{"id":"msg_via"}' });
    const transport = servers.track(upstreamFetch(target, env));
    const response = await transport.fetch(`${target}/v1/messages`, { method: 'POST', body: '{}' });
    expect(await response.text()).toBe('{"id":"msg_via"}');
    const host = new URL(target).host;
    expect(egress.carried).toEqual([host, host]);
  });

  it('leaves the hosts NO_PROXY names out of the proxy', async () => {
    const target = await provider();
    const egress = await proxy();
    const answer = await send(forwarder(target, { HTTP_PROXY: egress.url, NO_PROXY: '127.0.0.1' }));
    expect(answer).toMatchObject({ kind: 'plain', status: 200 });
    expect(egress.carried).toEqual([]);
  });
});
