/**
 * Google Vertex AI's endpoints for Anthropic's models, on the simulator's server:
 *
 *   POST /v1/projects/{project}/locations/{region}/publishers/anthropic/models/{model}:rawPredict
 *   POST /v1/projects/{project}/locations/{region}/publishers/anthropic/models/{model}:streamRawPredict
 *   POST /v1/projects/{project}/locations/{region}/publishers/anthropic/models/count-tokens:rawPredict
 *   POST /token   the OAuth 2.0 token endpoint the bearer tokens come from (vertexTokenIssuer.ts)
 *
 * Requests carry `Authorization: Bearer <token>` issued by `/token`. The body is the Messages
 * body without `model` (the path names it), with `anthropic_version: "vertex-2023-10-16"`;
 * `streamRawPredict` (or `stream: true`) answers with the same server-sent events as the
 * Anthropic API. count-tokens takes the Messages body with `model` and answers
 * `{"input_tokens": N}`. The platform's refusals use Google's error shape (googleError.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from '../../platform/src/time/clock.ts';
import { sendGoogleError, sendVertexError, UNAUTHENTICATED_MESSAGE } from './googleError.ts';
import { sendJson } from './httpReplies.ts';
import { invalid } from './anthropicError.ts';
import { parseJsonBody, validateMessagesRequest, type ReadResult } from './messagesBody.ts';
import { ANTHROPIC_DIALECT } from './anthropicRoute.ts';
import type { MessagesCall } from './messagesHandler.ts';
import { estimateInputTokens } from './tokenEstimate.ts';
import { GOOGLE_TOKEN_URL, type VertexTokenIssuer } from './vertexTokenIssuer.ts';
import type { Refusal, WireDialect } from './wireDialect.ts';

export const VERTEX_ANTHROPIC_VERSION = 'vertex-2023-10-16';

export type VertexMethod = 'rawPredict' | 'streamRawPredict';

const VERTEX_PATH =
  /^\/v1\/projects\/([^/]+)\/locations\/([^/]+)\/publishers\/anthropic\/models\/([^/:]+):(rawPredict|streamRawPredict)$/;

export interface VertexTarget {
  readonly project: string;
  readonly region: string;
  readonly model: string;
  readonly method: VertexMethod;
}

/** The parts of a Vertex path for Anthropic's models, or undefined for any other path. */
export function matchVertexPath(path: string): VertexTarget | undefined {
  const match = VERTEX_PATH.exec(path);
  if (match === null) return undefined;
  try {
    const [, project = '', region = '', model = '', method = ''] = match.map(decodeURIComponent);
    return { project, region, model, method: method as VertexMethod };
  } catch {
    return undefined;
  }
}

export interface VertexContext {
  readonly clock: Clock;
  readonly issuer: VertexTokenIssuer;
}

/** Anthropic's events and bodies, with Vertex's error shapes and no Anthropic rate-limit headers. */
export const VERTEX_DIALECT: WireDialect = {
  ...ANTHROPIC_DIALECT,
  provider: 'vertex',
  sendError: sendVertexError,
  successHeaders: () => ({}),
  budgeted: false,
};

/** Checks the bearer token; a 401 in Google's shape when it is missing, unknown or expired. */
export function authenticate(req: IncomingMessage, ctx: VertexContext): Refusal | undefined {
  const check = ctx.issuer.check(req.headers.authorization, ctx.clock.now());
  if (check.ok) return undefined;
  return {
    status: 401,
    send: (res) => {
      sendGoogleError(res, 401, 'UNAUTHENTICATED', UNAUTHENTICATED_MESSAGE, {
        'www-authenticate': 'Bearer realm="https://accounts.google.com/"',
      });
    },
  };
}

/** rawPredict or streamRawPredict, as a Messages call for the shared handler. */
export function vertexCall(
  requestId: string,
  refusal: Refusal | undefined,
  target: VertexTarget,
  body: Buffer,
): MessagesCall {
  return {
    // A project's prompt cache, in its region.
    account: `vertex:${target.project}:${target.region}`,
    dialect: VERTEX_DIALECT,
    requestId,
    refusal,
    requestedModel: () => target.model,
    readRequest: () => readVertexBody(body, target),
  };
}

/** The count-tokens model: its body names the model counted for; no faults. */
export function handleVertexCountTokens(
  res: ServerResponse,
  body: Buffer,
  requestId: string,
  refusal: Refusal | undefined,
): void {
  if (refusal !== undefined) {
    refusal.send(res);
    return;
  }
  const json = parseJsonBody(body);
  const request = json.ok ? validateMessagesRequest(withoutVersion(json.value), false) : json;
  if (!request.ok) {
    sendVertexError(res, request.error, requestId);
    return;
  }
  sendJson(res, 200, JSON.stringify({ input_tokens: estimateInputTokens(request.request) }));
}

/** Answers `POST /token` with a grant or OAuth 2's error body. */
export function handleToken(
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
  ctx: VertexContext,
): void {
  const own = `http://${req.headers.host ?? 'localhost'}/token`;
  const grant = ctx.issuer.grant(body.toString('utf8'), ctx.clock.now(), [GOOGLE_TOKEN_URL, own]);
  if (grant.ok) {
    sendJson(res, 200, JSON.stringify(grant.body), { 'cache-control': 'no-store' });
  } else {
    const error = JSON.stringify({ error: grant.error, error_description: grant.description });
    sendJson(res, grant.status, error);
  }
}

function readVertexBody(body: Buffer, target: VertexTarget): ReadResult {
  if (!target.model.startsWith('claude-')) {
    const name = `projects/${target.project}/locations/${target.region}/publishers/anthropic/models/${target.model}`;
    return {
      ok: false,
      error: {
        status: 404,
        type: 'not_found_error',
        message: `Publisher Model \`${name}\` not found.`,
      },
    };
  }
  const json = parseJsonBody(body);
  if (!json.ok) return json;
  const value = json.value;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, error: invalid('body: Input should be a JSON object') };
  }
  const fields = value as Readonly<Record<string, unknown>>;
  if ('model' in fields) {
    return { ok: false, error: invalid('model: Extra inputs are not permitted') };
  }
  if (fields['anthropic_version'] !== VERTEX_ANTHROPIC_VERSION) {
    return {
      ok: false,
      error: invalid(`anthropic_version: expected ${VERTEX_ANTHROPIC_VERSION}`),
    };
  }
  const stream = target.method === 'streamRawPredict' || fields['stream'] === true;
  return validateMessagesRequest({ ...withoutVersion(fields), model: target.model, stream }, true);
}

function withoutVersion<T>(json: T): T | Readonly<Record<string, unknown>> {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return json;
  const { anthropic_version: _version, ...rest } = json as Readonly<Record<string, unknown>>;
  return rest;
}
