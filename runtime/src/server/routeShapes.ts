/**
 * What the Messages route and its helpers use of a request and a reply: fastify's request and
 * reply have these members, and so do the front's (frontMessages.ts), which serves the lean
 * `POST /v1/messages` ahead of fastify. Typed on these, a helper that starts using another
 * member of fastify's is a type error in the front, not a 500 at run time.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { HttpErrorMapping } from '../provider/anthropic/httpMapping.ts';
import type { CountedRequest } from './requestCounts.ts';

export interface RouteRequest {
  readonly id: string;
  readonly raw: IncomingMessage;
  readonly headers: IncomingHttpHeaders;
  readonly method: string;
  readonly url: string;
  body: unknown;
  /** The body's text as it came (apiServer.ts's parser; the front's read). */
  rawBody: string;
  /** Set on the routes whose requests are counted (requestCounts.ts); null on the others. */
  counted: CountedRequest | null;
  /** The error this request was answered with, logged with its id (errorReplies.ts). */
  answeredError: (HttpErrorMapping & { readonly requestId: string }) | null;
  /** Set when the route has logged the failure itself (routeCall.ts `failCall`). */
  failureLogged: boolean;
}

export interface RouteReply {
  readonly raw: ServerResponse;
  readonly request: RouteRequest;
  /** The answer is written, or the raw response taken over. */
  readonly sent: boolean;
  code(status: number): this;
  header(name: string, value: string): this;
  removeHeader(name: string): this;
  send(payload: string): this;
  /** The raw response is the route's to write: fastify sends nothing more. */
  hijack(): this;
}
