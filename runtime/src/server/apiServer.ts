/**
 * The API server (fastify): routes, body limits, and the one error handler that answers
 * framework-level failures (bad JSON, too large, wrong media type) in the Anthropic shape.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { MessagesFront, type JsonBodyParse } from './frontMessages.ts';
import type { RouteRequest } from './routeShapes.ts';
import type { HttpErrorMapping } from '../provider/anthropic/httpMapping.ts';
import {
  mapClientError,
  mapFrameworkError,
  rawHttpError,
  refusal,
  sendError,
} from './errorReplies.ts';
import { registerAgentRunsRoutes } from './agentRunsRoute.ts';
import { registerDebugRoutes } from './debugRoutes.ts';
import { INVOKE_ROUTE, registerInvokeRoute } from './invokeRoute.ts';
import { registerMcpRoute } from './mcpRoute.ts';
import { registerModelsRoute } from './modelsRoute.ts';
import { MAX_JSON_DEPTH, nestsDeeperThan } from './jsonDepth.ts';
import {
  COUNT_TOKENS_ROUTE,
  handleMessages,
  MESSAGES_ROUTE,
  registerMessagesRoute,
} from './messagesRoute.ts';
import { RUNS_ROUTE } from '../durable/ownedRunExecution.ts';
import { countRequests } from './requestCounts.ts';
import { registerProbeRoutes } from './probeRoutes.ts';
import { nextRequestId } from './requestIds.ts';
import type { RuntimeContext } from './runtimeContext.ts';
import type { Logger } from '../telemetry/logger.ts';

/** Far above any sane prompt, far below what would hurt the process. */
export const MAX_BODY_BYTES = 8 * 1024 * 1024;
/** The longest a client may take to send a whole request (8 MiB at 140 KB/s). */
const REQUEST_TIMEOUT_MS = 60_000;

/** How long an idle keep-alive connection is kept open. */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;

/** An oversized upload up to this size is read to its end before the 413 goes out. */
const MAX_DRAIN_BYTES = 64 * 1024 * 1024;

/**
 * Reads (and drops) the rest of an oversized upload before answering, so a caller still
 * sending gets the 413 instead of a reset mid-upload (EPIPE), or — closing with its bytes
 * unread — a reset that takes the 413 with it. A chunked upload, whose length nobody knows,
 * is read until it ends or this much more has come. Bigger uploads are not worth reading:
 * they get the 413 and the connection closes.
 */
async function drainUpload(raw: IncomingMessage): Promise<void> {
  const declared = raw.headers['content-length'];
  const length = declared === undefined ? 0 : Number(declared);
  if (raw.readableEnded || raw.destroyed || !(length <= MAX_DRAIN_BYTES)) return;
  await new Promise<void>((resolve) => {
    let read = 0;
    const done = () => {
      raw.off('data', count);
      resolve();
    };
    const count = (chunk: Buffer) => {
      read += chunk.length;
      if (read > MAX_DRAIN_BYTES) {
        raw.pause();
        done();
      }
    };
    raw.on('data', count);
    raw.once('end', done);
    raw.once('close', done);
    raw.once('error', done);
    raw.resume();
  });
}

declare module 'fastify' {
  interface FastifyRequest {
    /** A JSON body as the caller sent it ('' for any other body). */
    rawBody: string;
  }
}

/**
 * JSON bodies are parsed by fastify's own parser (same limits, same errors, prototype
 * poisoning refused) and kept as text as well: the Messages pass-through forwards the
 * caller's bytes instead of encoding the parsed body again.
 */
function keepRawJson(app: FastifyInstance): JsonBodyParse {
  const parseJson = jsonBodyParser(app);
  app.decorateRequest('rawBody', '');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    parseJson(request, body as Buffer, done);
  });
  return parseJson;
}

/** A JSON body checked and parsed: the content-type parser's, and the front's (frontMessages.ts). */
function jsonBodyParser(app: FastifyInstance): JsonBodyParse {
  const parse = app.getDefaultJsonParser('error', 'error');
  return (request, body, done) => {
    // JSON is UTF-8. Invalid bytes would otherwise become U+FFFD and reach the provider as
    // text the caller never sent.
    let text: string;
    try {
      text = strictUtf8.decode(body);
    } catch {
      done(Object.assign(new Error('request body is not valid UTF-8'), { statusCode: 400 }));
      return;
    }
    if (nestsDeeperThan(text, MAX_JSON_DEPTH)) {
      done(
        Object.assign(
          new Error(
            `request body nests deeper than ${String(MAX_JSON_DEPTH)} levels of objects and arrays`,
          ),
          { statusCode: 400 },
        ),
      );
      return;
    }
    request.rawBody = text;
    // Fastify's default JSON parser reads the body only (content-type-parser.js), so the
    // front's request, which is not fastify's, may be handed to it.
    void parse(request as FastifyRequest, text, done);
  };
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** How long a refused connection may go on sending before it is cut. */
const REFUSED_LINGER_MS = 5_000;

/**
 * Answers on the socket itself and closes it. Ended rather than destroyed, and what the client
 * still sends is read and dropped: closing with unread bytes sends a reset, which makes the
 * client throw away the answer before it reads it (a head past the size limit is still arriving
 * when the parser gives up).
 */
function refuseOnSocket(socket: Socket, mapping: HttpErrorMapping, logger: Logger): void {
  if (refused.has(socket)) return;
  refused.add(socket);
  const requestId = nextRequestId();
  logger.info(
    { reqId: requestId, status: mapping.status, error: mapping.message },
    'malformed request refused',
  );
  // Node's parser, once failed, fails again on every later read and calls this again.
  socket.removeAllListeners('data');
  socket.on('data', () => undefined);
  socket.end(rawHttpError(mapping, requestId));
  setTimeout(() => socket.destroy(), REFUSED_LINGER_MS).unref();
}

const refused = new WeakSet<Socket>();

/** The schema compilers of a server whose routes declare none: a route that does is a bug. */
function noSchemas(): never {
  throw new Error('the runtime routes declare no schemas: read the body in the handler');
}

/** An error answer's log line, so that the id a caller quotes finds its request. */
function refusalLog(logger: Logger): (request: RouteRequest) => void {
  return (request) => {
    const answered = request.answeredError;
    if (answered === null) return;
    logger.info(
      {
        reqId: request.id,
        ...(answered.requestId === request.id ? {} : { providerRequestId: answered.requestId }),
        method: request.method,
        url: request.url.split('?')[0],
        status: answered.status,
        error: answered.message,
      },
      'request refused',
    );
  };
}

export function buildApiServer(ctx: RuntimeContext): FastifyInstance {
  // `POST /v1/messages` under a lean plan is served ahead of fastify (frontMessages.ts).
  const front = new MessagesFront(ctx, MAX_BODY_BYTES);
  const app = Fastify({
    // The HTTP server fastify would make, with the front's 'request' listener before its own.
    serverFactory: (handler) =>
      front.server(handler, {
        // Answered by the hook below, in the Anthropic shape; Node's own 400 has no body.
        requireHostHeader: false,
        keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
        // A client that stops sending mid-request is answered 408 (the clientErrorHandler
        // below) instead of holding its connection forever: Node's default is no limit at all.
        requestTimeout: REQUEST_TIMEOUT_MS,
      }),
    logger: false,
    bodyLimit: MAX_BODY_BYTES,
    requestIdHeader: 'x-request-id',
    genReqId: nextRequestId,
    // While the server closes, a request on a connection still open reaches the request gate,
    // which refuses it in the Anthropic shape; fastify's own 503 would not be.
    return503OnClosing: false,
    forceCloseConnections: false,
    // Refused by Node's HTTP parser: answered in the Anthropic shape too, then closed.
    clientErrorHandler: (error, socket) => {
      if (error.code === 'ECONNRESET' || socket.destroyed) return;
      refuseOnSocket(socket, mapClientError(error.code), ctx.logger);
    },
    // A URL the router cannot decode (`%zz`).
    frameworkErrors: (error, _request, reply: FastifyReply) => {
      sendError(reply, refusal(400, 'invalid_request_error', error.message));
    },
    // No route declares a schema: the runtime reads each body itself. Fastify's default
    // compilers would load ajv and fast-json-stringify's compiler at start all the same (about
    // 1 MB resident, make bench-memory), to compile nothing.
    schemaController: {
      compilersFactory: { buildValidator: noSchemas, buildSerializer: noSchemas },
    },
  });
  app.server.on('checkExpectation', (_request: IncomingMessage, response: ServerResponse) => {
    if (response.socket !== null)
      refuseOnSocket(response.socket, mapClientError('EXPECTATION_FAILED'), ctx.logger);
  });
  app.decorateRequest('answeredError', null);
  app.decorateRequest('failureLogged', false);
  // Every error answer's id is in the log, so that the id a caller quotes finds its request.
  const logRefused = refusalLog(ctx.logger);
  app.addHook('onResponse', (request, _reply, done) => {
    if (request.answeredError !== null && !request.failureLogged) logRefused(request);
    done();
  });
  // First of the onRequest hooks, so that a request the next one refuses is counted too.
  countRequests(app, ctx.metrics, ctx.lifecycle, [
    MESSAGES_ROUTE,
    COUNT_TOKENS_ROUTE,
    INVOKE_ROUTE,
    RUNS_ROUTE,
  ]);
  app.addHook('onRequest', (request, reply, done) => {
    if (request.raw.httpVersion === '1.1' && request.headers.host === undefined) {
      reply.raw.setHeader('connection', 'close');
      sendError(
        reply,
        refusal(400, 'invalid_request_error', 'an HTTP/1.1 request needs a Host header'),
      );
      return;
    }
    done();
  });
  app.setErrorHandler(
    async (error: { statusCode?: number; code?: string; message: string }, request, reply) => {
      const mapping = mapFrameworkError(error);
      if (mapping.status >= 500)
        ctx.logger.error({ reqId: request.id, err: error.message }, 'unhandled error');
      if (mapping.status === 413) await drainUpload(request.raw);
      // fastify closes the connection after a body it could not parse, in case more of it is
      // coming; a body read to its end leaves nothing, and closing with the next pipelined
      // request unread would reset the connection and lose this answer too.
      if (request.raw.complete) reply.removeHeader('connection');
      // An MCP client reads JSON-RPC: a body that is not JSON is its "Parse error".
      if (request.url.startsWith('/mcp/') && mapping.status === 400)
        return reply
          .code(400)
          .header('content-type', 'application/json')
          .send(
            JSON.stringify({
              jsonrpc: '2.0',
              id: null,
              error: { code: -32700, message: `Parse error: ${mapping.message}` },
            }),
          );
      return sendError(reply, mapping);
    },
  );
  app.setNotFoundHandler((request, reply) =>
    sendError(
      reply,
      refusal(
        404,
        'not_found_error',
        `no route for ${request.method} ${request.url.split('?')[0] ?? ''}`,
      ),
    ),
  );
  const parse = keepRawJson(app);
  registerProbeRoutes(app, ctx);
  registerMessagesRoute(app, ctx);
  front.route({
    parse,
    handle: (request, reply) => handleMessages(ctx, request, reply),
    logRefused,
  });
  // From now on what comes goes to fastify, which closes each connection after its answer.
  app.addHook('preClose', (done) => {
    front.close();
    done();
  });
  registerModelsRoute(app, ctx);
  registerInvokeRoute(app, ctx);
  registerAgentRunsRoutes(app, ctx);
  registerMcpRoute(app, ctx);
  registerDebugRoutes(app, ctx, { requireKey: true });
  return app;
}
