/**
 * `POST /v1/messages` served from the HTTP server's own 'request' event, ahead of fastify, when
 * the policy's plan is lean (messagesPlan.ts): no router lookup (find-my-way), hook chain,
 * content-type parser or reply object of fastify's for the call the runtime serves most. The
 * request is the one the route would get: counted as requestCounts.ts counts (the same 'close'
 * listener, its caller-gone abort), its id as fastify gives it (`x-request-id`, else the next
 * id), its body read, checked (UTF-8, depth) and parsed by the same code and fastify's own JSON
 * parser, a refusal answered by the same `sendError` through a reply of the few members the
 * route uses (`FrontReply`), logged as the API server's onResponse hook logs it, and the call
 * handed to the route's own `handleMessages` (gate, body check, lean or long way).
 *
 * What is not ordinary goes to fastify unread, where it is served as before: another route or
 * method, a query string, a plan that is not lean, a draining or closing server, a body that is
 * not plainly `application/json` with a declared length of 1 byte to the body limit (so no 413
 * is decided here), a chunked body, an `Expect`, no `Host`, a durable run's header.
 * test/runtime/leanRoute.test.ts holds the two to the same answers, counts and spans.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { errorCodes } from 'fastify';
import type { HttpErrorMapping } from '../provider/anthropic/httpMapping.ts';
import { mapFrameworkError, sendError } from './errorReplies.ts';
import { MESSAGES_ROUTE } from './messagesAnswer.ts';
import { countResponse, type CountedRequest } from './requestCounts.ts';
import { nextRequestId } from './requestIds.ts';
import { RUN_ID_HEADER } from './runHeaders.ts';
import type { RouteReply, RouteRequest } from './routeShapes.ts';
import type { RuntimeContext } from './runtimeContext.ts';

/** From node:http's CommonJS exports, as in errorReplies.ts (an ESM import loads Node's undici). */
const { createServer } = process.getBuiltinModule('node:http');

/** What the front reads of the runtime: the plan in force, draining, the counters, the log. */
export type FrontNeeds = Pick<RuntimeContext, 'active' | 'lifecycle' | 'metrics' | 'logger'>;

/** A JSON body's text parsed as the API server's content-type parser does (apiServer.ts). */
export type JsonBodyParse = (
  request: Pick<RouteRequest, 'rawBody'>,
  body: Buffer,
  done: (err: FrameworkError | null, parsed?: unknown) => void,
) => void;

/** An error as fastify's parsers and handlers raise them. */
export type FrameworkError = Error & { statusCode?: number; code?: string };

/** What the front hands a request to once its body is parsed, and how a refusal is logged. */
export interface FrontRoute {
  readonly parse: JsonBodyParse;
  readonly handle: (request: RouteRequest, reply: RouteReply) => Promise<void> | undefined;
  readonly logRefused: (request: RouteRequest) => void;
}

/** The HTTP server's options, as fastify would have set them on a server of its own. */
export interface FrontServerOptions {
  readonly requireHostHeader: boolean;
  readonly keepAliveTimeout: number;
  readonly requestTimeout: number;
}

/** A declared length: digits only (Node has refused any other framing before the event). */
const DECIMAL = /^[0-9]{1,9}$/;

export class MessagesFront {
  readonly #ctx: FrontNeeds;
  readonly #bodyLimit: number;
  #route: FrontRoute | undefined;
  #closing = false;

  constructor(ctx: FrontNeeds, bodyLimit: number) {
    this.#ctx = ctx;
    this.#bodyLimit = bodyLimit;
  }

  /** Fastify's `serverFactory`: the server whose requests the front sees first. */
  server(
    fastify: (req: IncomingMessage, res: ServerResponse) => void,
    options: FrontServerOptions,
  ): Server {
    const server = createServer(
      { requireHostHeader: options.requireHostHeader },
      (req: IncomingMessage, res: ServerResponse) => {
        if (!this.#serve(req, res)) fastify(req, res);
      },
    );
    server.keepAliveTimeout = options.keepAliveTimeout;
    server.requestTimeout = options.requestTimeout;
    return server;
  }

  /** The route, once the API server has built what it needs; until then all goes to fastify. */
  route(route: FrontRoute): void {
    this.#route = route;
  }

  /** The server is closing: what comes now goes to fastify, which says `connection: close`. */
  close(): void {
    this.#closing = true;
  }

  /** Takes the request and returns true, or returns false having touched nothing. */
  #serve(req: IncomingMessage, res: ServerResponse): boolean {
    const route = this.#route;
    if (req.url !== MESSAGES_ROUTE || req.method !== 'POST' || route === undefined) return false;
    const ctx = this.#ctx;
    const plan = ctx.active()?.messages;
    if (this.#closing || ctx.lifecycle.draining || plan?.way !== 'lean') return false;
    const headers = req.headers;
    if (
      headers['content-type'] !== 'application/json' ||
      headers.host === undefined ||
      headers.expect !== undefined ||
      headers['transfer-encoding'] !== undefined ||
      headers[RUN_ID_HEADER] !== undefined
    )
      return false;
    const declared = headers['content-length'];
    if (declared === undefined || !DECIMAL.test(declared)) return false;
    const length = Number(declared);
    if (length === 0 || length > this.#bodyLimit) return false;
    plan.front++;
    // As fastify's `requestIdHeader` and `genReqId` (apiServer.ts) give it.
    const given = headers['x-request-id'];
    const id = typeof given === 'string' && given !== '' ? given : nextRequestId();
    const request = new FrontRequest(
      id,
      req,
      countResponse(res, MESSAGES_ROUTE, ctx.metrics, ctx.lifecycle),
    );
    const reply = new FrontReply(res, request, route.logRefused);
    new BodyRead(this, route, request, reply, length).start();
    return true;
  }

  /** The body is read: parsed, then the route's; or refused as fastify's error handler would. */
  parsed(route: FrontRoute, request: FrontRequest, reply: FrontReply, body: Buffer): void {
    route.parse(request, body, (err, parsed) => {
      if (err !== null) {
        this.refuse(request, reply, err);
        return;
      }
      request.body = parsed;
      let served: Promise<void> | undefined;
      try {
        served = route.handle(request, reply);
      } catch (thrown) {
        this.#failed(request, reply, thrown);
        return;
      }
      served?.catch((thrown: unknown) => {
        this.#failed(request, reply, thrown);
      });
    });
  }

  /** A body fastify's parser would have refused, answered as the API server's error handler. */
  refuse(request: FrontRequest, reply: FrontReply, err: FrameworkError): void {
    const mapping: HttpErrorMapping = mapFrameworkError(err);
    if (mapping.status >= 500)
      this.#ctx.logger.error({ reqId: request.id, err: err.message }, 'unhandled error');
    // Fastify closes the connection after a body it could not parse, but for one read to its
    // end, where its error handler takes the header off, Node's own `connection` with it.
    if (request.raw.complete) reply.removeHeader('connection');
    else reply.header('connection', 'close');
    sendError(reply, mapping);
  }

  /** The route threw: a 500 as fastify's error handler answers it. */
  #failed(request: FrontRequest, reply: FrontReply, thrown: unknown): void {
    const err: FrameworkError = thrown instanceof Error ? thrown : new Error(String(thrown));
    if (reply.sent || reply.raw.headersSent) {
      this.#ctx.logger.error({ reqId: request.id, err: err.message }, 'unhandled error');
      return;
    }
    this.refuse(request, reply, err);
  }
}

/** Reads a request's body to its end, as fastify's `rawBody` does, and passes it on. */
class BodyRead {
  readonly #front: MessagesFront;
  readonly #route: FrontRoute;
  readonly #request: FrontRequest;
  readonly #reply: FrontReply;
  readonly #length: number;
  readonly #chunks: Buffer[] = [];
  #received = 0;

  constructor(
    front: MessagesFront,
    route: FrontRoute,
    request: FrontRequest,
    reply: FrontReply,
    length: number,
  ) {
    this.#front = front;
    this.#route = route;
    this.#request = request;
    this.#reply = reply;
    this.#length = length;
  }

  start(): void {
    const raw = this.#request.raw;
    raw.on('data', this.#data);
    raw.on('end', this.#end);
    raw.on('error', this.#error);
  }

  #stop(): void {
    const raw = this.#request.raw;
    raw.off('data', this.#data);
    raw.off('end', this.#end);
    raw.off('error', this.#error);
  }

  readonly #data = (chunk: Buffer): void => {
    this.#received += chunk.length;
    this.#chunks.push(chunk);
  };

  readonly #end = (): void => {
    this.#stop();
    if (this.#received !== this.#length) {
      this.#front.refuse(
        this.#request,
        this.#reply,
        new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH(),
      );
      return;
    }
    const chunks = this.#chunks;
    // One chunk is read in place: the body is decoded to text before the socket reads again.
    const body =
      chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, this.#received);
    this.#front.parsed(this.#route, this.#request, this.#reply, body);
  };

  readonly #error = (err: FrameworkError): void => {
    this.#stop();
    if (!(typeof err.statusCode === 'number' && err.statusCode >= 400)) err.statusCode = 400;
    this.#front.refuse(this.#request, this.#reply, err);
  };
}

/** A request as the Messages route and its helpers read it (routeShapes.ts), taken ahead of fastify. */
export class FrontRequest implements RouteRequest {
  readonly id: string;
  readonly raw: IncomingMessage;
  readonly headers: IncomingMessage['headers'];
  readonly method = 'POST';
  readonly url = MESSAGES_ROUTE;
  readonly counted: CountedRequest;
  body: unknown = undefined;
  rawBody = '';
  answeredError: RouteRequest['answeredError'] = null;
  failureLogged = false;

  constructor(id: string, raw: IncomingMessage, counted: CountedRequest) {
    this.id = id;
    this.raw = raw;
    this.headers = raw.headers;
    this.counted = counted;
  }
}

/**
 * A reply as the Messages route and its helpers use it (routeShapes.ts): a string sent
 * with its headers, status and length as fastify's `send` writes them, or the raw response
 * taken over (`hijack`).
 */
export class FrontReply implements RouteReply {
  readonly raw: ServerResponse;
  readonly request: FrontRequest;
  readonly #logRefused: (request: RouteRequest) => void;
  #status = 200;
  #headers: Record<string, string> = {};
  #hijacked = false;

  constructor(
    raw: ServerResponse,
    request: FrontRequest,
    logRefused: (request: RouteRequest) => void,
  ) {
    this.raw = raw;
    this.request = request;
    this.#logRefused = logRefused;
  }

  get sent(): boolean {
    return this.#hijacked || this.raw.writableEnded;
  }

  hijack(): this {
    this.#hijacked = true;
    return this;
  }

  code(status: number): this {
    this.#status = status;
    return this;
  }

  header(name: string, value: string): this {
    this.#headers[name.toLowerCase()] = value;
    return this;
  }

  /** As fastify's: the raw response's header goes too (Node then writes no `connection`). */
  removeHeader(name: string): this {
    const key = name.toLowerCase();
    const { [key]: _removed, ...kept } = this.#headers;
    this.#headers = kept;
    if (!this.raw.headersSent) this.raw.removeHeader(key);
    return this;
  }

  send(payload: string): this {
    const headers = this.#headers;
    // As fastify's `send` types a string: its charset said (the route's are all JSON).
    const type = headers['content-type'];
    if (type === undefined) headers['content-type'] = 'text/plain; charset=utf-8';
    else if (type.includes('json') && !/;\s*charset=/i.test(type))
      headers['content-type'] = `${type}; charset=utf-8`;
    headers['content-length'] = String(Buffer.byteLength(payload));
    this.raw.writeHead(this.#status, headers);
    this.raw.end(payload);
    // What the API server's onResponse hook logs of an error answer.
    const request = this.request;
    if (request.answeredError !== null && !request.failureLogged) this.#logRefused(request);
    return this;
  }
}
