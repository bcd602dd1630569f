/**
 * `agent_requests_total` and `agent_requests_failed_total`, counted in one place for the
 * routes they cover: each request once when its answer ends (or its caller goes away), and
 * once as failed when that answer is an error, whichever part of the server gave it: the
 * request gate (draining, a wrong key, no policy yet), the framework (a body that is not JSON,
 * or too large), a refused body, the prompt-injection screen, a failed call. A route says
 * which model a request is for (`countAs`); `sendError` and `failCall` say which error
 * answered it (`countFailure`), including one sent as an event on a stream already begun.
 */
import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import {
  STATUS_BY_ERROR_TYPE,
  type AnthropicErrorType,
} from '../../../contract/src/anthropic/errorTypes.ts';
import type { HttpErrorMapping } from '../provider/anthropic/httpMapping.ts';
import type { RuntimeMetrics } from '../telemetry/runtimeMetrics.ts';
import type { Lifecycle } from './lifecycle.ts';

/** A counted request's labels, learned as it is served. */
export class CountedRequest {
  /** The model it asks for; empty while (or when) the route has not read it. */
  model = '';
  failure: Pick<HttpErrorMapping, 'status' | 'type'> | undefined;
  /**
   * The call under way's cancellation (routeCall.ts `beginCall`, cleared by its `end`), run by
   * the same 'close' listener that counts the request when the caller went away before its
   * answer ended: one listener a call instead of two, and none to remove.
   */
  callerGone: { abort(reason: unknown): void } | undefined = undefined;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set on the routes whose requests are counted; null on the others. */
    counted: CountedRequest | null;
  }
}

/** A caller gone before its answer ended, as a call it cancelled is answered (httpMapping.ts). */
const CALLER_GONE = { status: 499, type: 'api_error' } as const;

/** Counts the requests of `routes` (POST, as registered). Add before any other `onRequest` hook. */
export function countRequests(
  app: FastifyInstance,
  metrics: Pick<RuntimeMetrics, 'requests' | 'requestsFailed'>,
  lifecycle: Pick<Lifecycle, 'opened' | 'closed'>,
  routes: readonly string[],
): void {
  const counted = new Set(routes);
  app.decorateRequest('counted', null);
  app.addHook('onRequest', (request, reply, done) => {
    const route = request.routeOptions.url;
    if (route !== undefined && request.method === 'POST' && counted.has(route))
      request.counted = countResponse(reply.raw, route, metrics, lifecycle);
    done();
  });
}

/**
 * Counts one request of `route` when its response closes (the hook above, and the Messages
 * route served ahead of fastify: frontMessages.ts). 'close' comes once either way: after the
 * answer's last byte, or when the caller left (so `on`, without `once`'s wrapper). Open till
 * then, it holds the runtime's shutdown (lifecycle.ts): a body still arriving at the drain's
 * end is read and answered.
 */
export function countResponse(
  raw: ServerResponse,
  route: string,
  metrics: Pick<RuntimeMetrics, 'requests' | 'requestsFailed'>,
  lifecycle: Pick<Lifecycle, 'opened' | 'closed'>,
): CountedRequest {
  const entry = new CountedRequest();
  lifecycle.opened();
  raw.on('close', () => {
    const failure = entry.failure ?? unnotedFailure(raw);
    const model = entry.model;
    metrics.requests.inc({ route, model });
    if (failure !== undefined)
      metrics.requestsFailed.inc({
        route,
        model,
        status: String(failure.status),
        error_type: failure.type,
      });
    // Counted first, then the call cancelled, as when these were two listeners.
    if (!raw.writableFinished) entry.callerGone?.abort(callerWentAway());
    lifecycle.closed();
  });
  return entry;
}

/** The model a counted request is for, once the route knows it. */
export function countAs(request: { readonly counted: CountedRequest | null }, model: string): void {
  const counted = request.counted;
  if (counted) counted.model = model;
}

/** The error a counted request is answered with (the last one said, if more than one is). */
export function countFailure(
  request: { readonly counted: CountedRequest | null },
  mapping: Pick<HttpErrorMapping, 'status' | 'type'>,
): void {
  const counted = request.counted;
  if (counted) counted.failure = { status: mapping.status, type: mapping.type };
}

/** The reason a call is cancelled with when its caller went away before its answer ended. */
export function callerWentAway(): Error {
  return new Error('caller went away');
}

/** An answer that ended without an error said: the caller's leaving, or an error status. */
function unnotedFailure(
  raw: ServerResponse,
): Pick<HttpErrorMapping, 'status' | 'type'> | undefined {
  if (!raw.writableFinished) return CALLER_GONE;
  const status = raw.statusCode;
  if (status < 400) return undefined;
  const types = Object.keys(STATUS_BY_ERROR_TYPE) as AnthropicErrorType[];
  return { status, type: types.find((t) => STATUS_BY_ERROR_TYPE[t] === status) ?? 'api_error' };
}
