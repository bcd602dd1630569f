import { describe, expect, it } from '@jest/globals';
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createLogger } from '../telemetry/logger.ts';
import { RuntimeMetrics } from '../telemetry/runtimeMetrics.ts';
import { MessagesFront, type FrontNeeds } from './frontMessages.ts';
import { Lifecycle } from './lifecycle.ts';

/**
 * What the front takes ahead of fastify and what it leaves to fastify unread: each unusual
 * request goes to fastify's handler with nothing read or listened to; the ordinary one is
 * taken (its body read by the front) and counted on the plan (`frontRequests`).
 */
const LIMIT = 1024;

const ORDINARY = {
  host: 'runtime',
  'content-type': 'application/json',
  'content-length': '2',
};

function front(options: { lean?: boolean; draining?: boolean } = {}) {
  const plan = { way: options.lean === false ? 'long' : 'lean', front: 0 };
  const lifecycle = new Lifecycle();
  if (options.draining === true) lifecycle.startDraining();
  const ctx = {
    active: () => ({ messages: plan }),
    lifecycle,
    metrics: new RuntimeMetrics(),
    logger: createLogger('silent'),
  } as unknown as FrontNeeds;
  const messages = new MessagesFront(ctx, LIMIT);
  const toFastify: IncomingMessage[] = [];
  const server = messages.server(
    (req) => {
      toFastify.push(req);
    },
    { requireHostHeader: false, keepAliveTimeout: 1_000, requestTimeout: 1_000 },
  );
  const handled: unknown[] = [];
  messages.route({
    parse: (_request, _body, done) => {
      done(null, {});
    },
    handle: (request) => {
      handled.push(request.body);
      return undefined;
    },
    logRefused: () => undefined,
  });
  /** Sends a request's head (and, when taken, its body) and says where it went. */
  const send = (
    url: string,
    headers: Record<string, string>,
    method = 'POST',
  ): 'fastify' | 'front' => {
    const req = Object.assign(new EventEmitter(), { url, method, headers, complete: true });
    const res = new EventEmitter();
    const before = toFastify.length;
    server.emit('request', req as unknown as IncomingMessage, res as unknown as ServerResponse);
    if (toFastify.length > before) {
      // Nothing of the front's is left on a request fastify gets.
      expect(req.listenerCount('data') + res.listenerCount('close')).toBe(0);
      return 'fastify';
    }
    req.emit('data', Buffer.from('{}'));
    req.emit('end');
    return 'front';
  };
  return { messages, plan, send, handled };
}

describe('the Messages route ahead of fastify', () => {
  it('takes an ordinary POST /v1/messages under a lean plan and hands its body to the route', () => {
    const { plan, send, handled } = front();
    expect(send('/v1/messages', ORDINARY)).toBe('front');
    expect(handled).toEqual([{}]);
    expect(plan.front).toBe(1);
  });

  it.each([
    ['another path', '/v1/messages/count_tokens', ORDINARY, 'POST'],
    ['a query string', '/v1/messages?beta=true', ORDINARY, 'POST'],
    ['another method', '/v1/messages', ORDINARY, 'PUT'],
    [
      'a charset',
      '/v1/messages',
      { ...ORDINARY, 'content-type': 'application/json; charset=utf-8' },
    ],
    ['another content type', '/v1/messages', { ...ORDINARY, 'content-type': 'text/plain' }],
    ['no declared length', '/v1/messages', { host: 'runtime', 'content-type': 'application/json' }],
    ['an empty body', '/v1/messages', { ...ORDINARY, 'content-length': '0' }],
    ['a body past the limit', '/v1/messages', { ...ORDINARY, 'content-length': String(LIMIT + 1) }],
    ['a chunked body', '/v1/messages', { ...ORDINARY, 'transfer-encoding': 'chunked' }],
    ['an expectation', '/v1/messages', { ...ORDINARY, expect: '100-continue' }],
    ['no Host', '/v1/messages', { 'content-type': 'application/json', 'content-length': '2' }],
    ['a durable run', '/v1/messages', { ...ORDINARY, 'breakwater-run-id': 'run-1' }],
  ])('leaves %s to fastify', (_, url, headers, method = 'POST') => {
    const { plan, send, handled } = front();
    expect(send(url, headers, method)).toBe('fastify');
    expect(handled).toEqual([]);
    expect(plan.front).toBe(0);
  });

  it('leaves everything to fastify under a long plan, while draining, and once closing', () => {
    expect(front({ lean: false }).send('/v1/messages', ORDINARY)).toBe('fastify');
    expect(front({ draining: true }).send('/v1/messages', ORDINARY)).toBe('fastify');
    const closing = front();
    closing.messages.close();
    expect(closing.send('/v1/messages', ORDINARY)).toBe('fastify');
  });
});
