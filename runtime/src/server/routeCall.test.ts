import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { ManualClock } from '../../../test/support/manualClock.ts';
import { RuntimeMetrics } from '../telemetry/runtimeMetrics.ts';
import { Lifecycle } from './lifecycle.ts';
import { countAs, countRequests } from './requestCounts.ts';
import { beginCall, type ProviderCall } from './routeCall.ts';

/**
 * A call's bookkeeping (`beginCall`) hears its caller go away on the request counter's own
 * 'close' listener when the request is counted, and on one of its own when not: either way
 * the call's signal aborts once, and only while the call is open; the request is counted once.
 */
const COUNTED = '/counted';
const UNCOUNTED = '/uncounted';

let app: FastifyInstance;
let port: number;
const metrics = new RuntimeMetrics();
const lifecycle = new Lifecycle();
const ctx = { clock: new ManualClock(0), lifecycle, metrics };
/** The calls the routes began, in order, with the reason each one's signal aborted with. */
const calls: { call: ProviderCall; reason: () => unknown }[] = [];
let ended = 0;
/** Releases the held answer of the latest call. */
let release: (() => void) | undefined;

beforeAll(async () => {
  app = Fastify();
  countRequests(app, metrics, lifecycle, [COUNTED]);
  for (const route of [COUNTED, UNCOUNTED])
    app.post(route, async (request, reply) => {
      countAs(request, 'm');
      const call = beginCall(ctx, request, reply, 'test', {});
      calls.push({
        call,
        reason: (): unknown => (call.signal.aborted ? call.signal.reason : undefined),
      });
      // Held until released (answered) or the caller leaves.
      await new Promise<void>((resolve) => {
        release = resolve;
        call.signal.addEventListener('abort', () => {
          resolve();
        });
      });
      if (!call.signal.aborted) await reply.code(200).send({ ok: true });
      call.end(200, undefined);
      ended++;
      return reply;
    });
  await app.listen({ port: 0, host: '127.0.0.1' });
  port = (app.server.address() as AddressInfo).port;
});

afterAll(async () => {
  await app.close();
});

/** Posts to `path`; the caller hangs up once the call has begun when `leave` is set. */
async function post(path: string, leave: boolean): Promise<number> {
  const begun = calls.length;
  return new Promise<number>((resolve) => {
    const req = httpRequest({ port, host: '127.0.0.1', path, method: 'POST' }, (res) => {
      res.resume();
      res.on('end', () => {
        resolve(res.statusCode ?? 0);
      });
    });
    req.on('error', () => {
      resolve(0);
    });
    req.setHeader('content-type', 'application/json');
    req.end('{}');
    const check = setInterval(() => {
      if (calls.length === begun) return;
      clearInterval(check);
      if (leave) req.destroy();
      else release?.();
    }, 2);
  });
}

/** Until the latest call has ended and its request been counted (or 5 s, then the checks fail). */
async function settled(counted: number): Promise<void> {
  for (let waited = 0; waited < 5_000; waited += 5) {
    if (ended === calls.length && (await requestsCounted()) >= counted) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function requestsCounted(): Promise<number> {
  const counter = metrics.registry.getSingleMetric('agent_requests_total');
  let n = 0;
  for (const s of (await counter?.get())?.values ?? []) n += s.value;
  return n;
}

describe('beginCall', () => {
  it.each([COUNTED, UNCOUNTED])('on %s aborts the call when its caller goes away', async (path) => {
    const counted = await requestsCounted();
    expect(await post(path, true)).toBe(0);
    await settled(counted + (path === COUNTED ? 1 : 0));
    const reason = calls.at(-1)?.reason();
    expect(reason).toBeInstanceOf(Error);
    expect((reason as Error).message).toBe('caller went away');
    expect(await requestsCounted()).toBe(counted + (path === COUNTED ? 1 : 0));
    expect(lifecycle.inFlight).toBe(0);
  });

  it.each([COUNTED, UNCOUNTED])('on %s does not abort a call that was answered', async (path) => {
    const counted = await requestsCounted();
    expect(await post(path, false)).toBe(200);
    await settled(counted + (path === COUNTED ? 1 : 0));
    expect(calls.at(-1)?.reason()).toBeUndefined();
    expect(await requestsCounted()).toBe(counted + (path === COUNTED ? 1 : 0));
    expect(lifecycle.inFlight).toBe(0);
  });
});
