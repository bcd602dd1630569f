/**
 * Amazon Bedrock's runtime API for Anthropic's models, on the simulator's server:
 *
 *   POST /model/{modelId}/invoke                        InvokeModel
 *   POST /model/{modelId}/invoke-with-response-stream   InvokeModelWithResponseStream
 *   POST /model/{modelId}/count-tokens                  CountTokens ({"input":{"invokeModel":{"body":<base64>}}})
 *
 * Every request must be SigV4-signed for service `bedrock` with credentials the simulator was
 * given (sigV4Verifier.ts). The body is the Messages body without `model` and `stream`, with
 * `anthropic_version: "bedrock-2023-05-31"`; the model id comes from the path (an
 * `anthropic.claude-…` id, optionally with an inference-profile prefix such as `us.`, or a
 * Bedrock ARN). The answer is the Anthropic message JSON, or the Anthropic stream events as
 * event-stream frames (bedrockEventStream.ts); errors are Bedrock's (bedrockError.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from '../../platform/src/time/clock.ts';
import type { Random } from '../../platform/src/random/random.ts';
import type { ApiErrorReply } from './anthropicError.ts';
import {
  AUTH_NAMESPACE,
  bedrockErrorFor,
  sendBedrockError,
  streamExceptionFor,
} from './bedrockError.ts';
import { chunkFrame, exceptionFrame } from './bedrockEventStream.ts';
import { sendJson } from './httpReplies.ts';
import { messageBody } from './messageBody.ts';
import { invalid } from './anthropicError.ts';
import { parseJsonBody, validateMessagesRequest, type ReadResult } from './messagesBody.ts';
import type { MessagesCall } from './messagesHandler.ts';
import type { Reply } from './replyPlan.ts';
import type { SigV4Verifier } from './sigV4Verifier.ts';
import { cutAnywhere } from './streamPacing.ts';
import { estimateInputTokens } from './tokenEstimate.ts';
import type { Refusal, WireDialect } from './wireDialect.ts';

export const BEDROCK_ANTHROPIC_VERSION = 'bedrock-2023-05-31';

export type BedrockOperation = 'invoke' | 'invoke-with-response-stream' | 'count-tokens';

const BEDROCK_PATH = /^\/model\/([^/]+)\/(invoke|invoke-with-response-stream|count-tokens)$/;

/** The model id and operation of a Bedrock runtime path, or undefined for any other path. */
export function matchBedrockPath(
  path: string,
): { readonly modelId: string; readonly operation: BedrockOperation } | undefined {
  const match = BEDROCK_PATH.exec(path);
  if (match === null) return undefined;
  try {
    return {
      modelId: decodeURIComponent(match[1] ?? ''),
      operation: match[2] as BedrockOperation,
    };
  } catch {
    return undefined;
  }
}

const MODEL_ID =
  /^(?:(?:us|eu|apac|jp|au|ca|global|us-gov)\.)?anthropic\.claude-[A-Za-z0-9.-]+(?::\d+)?$/;
const MODEL_ARN =
  /^arn:aws[a-z-]*:bedrock:[a-z0-9-]+:\d{0,12}:(?:foundation-model|inference-profile|application-inference-profile|provisioned-model)\/.+$/;

/** Whether Bedrock would know `modelId` as one of Anthropic's models. */
export function isClaudeModelId(modelId: string): boolean {
  return MODEL_ID.test(modelId) || MODEL_ARN.test(modelId);
}

export interface BedrockContext {
  readonly clock: Clock;
  readonly verifier: SigV4Verifier;
  readonly newRequestId: () => string;
  /** Draws the padding of frames. */
  readonly paddingRandom: Random;
}

export function bedrockDialect(random: Random): WireDialect {
  return {
    provider: 'bedrock',
    // Bedrock sends neither `retry-after` nor Anthropic's rate-limit headers.
    sendError: (res, reply, requestId) => {
      sendBedrockError(res, bedrockErrorFor(reply), requestId);
    },
    statusOf: (reply) => bedrockErrorFor(reply).status,
    successHeaders: (reply, requestId, stream) =>
      stream
        ? { 'x-amzn-RequestId': requestId, 'X-Amzn-Bedrock-Content-Type': 'application/json' }
        : {
            'x-amzn-RequestId': requestId,
            'X-Amzn-Bedrock-Input-Token-Count': String(reply.inputTokens),
            'X-Amzn-Bedrock-Output-Token-Count': String(reply.outputTokens),
            'X-Amzn-Bedrock-Cache-Read-Input-Token-Count': String(reply.cache?.readTokens ?? 0),
            'X-Amzn-Bedrock-Cache-Write-Input-Token-Count': String(cacheWrites(reply)),
            'X-Amzn-Bedrock-Invocation-Latency': '0',
          },
    plainBody: messageBody,
    streamHeaders: { 'content-type': 'application/vnd.amazon.eventstream' },
    encodeEvents: (events, reply) =>
      events.map(({ data }) => chunkFrame(JSON.stringify(withMetrics(data, reply)), random)),
    encodeStreamError: (reply) => exceptionFrame(streamExceptionFor(reply)),
    cutPoint: cutAnywhere,
    budgeted: false,
  };
}

/** Bedrock closes a stream's `message_stop` with the invocation's metrics. */
function withMetrics(
  data: Readonly<Record<string, unknown>>,
  reply: Reply,
): Readonly<Record<string, unknown>> {
  if (data['type'] !== 'message_stop') return data;
  return {
    ...data,
    'amazon-bedrock-invocationMetrics': {
      inputTokenCount: reply.inputTokens,
      outputTokenCount: reply.outputTokens,
      cacheReadInputTokenCount: reply.cache?.readTokens ?? 0,
      cacheWriteInputTokenCount: cacheWrites(reply),
      invocationLatency: 0,
      firstByteLatency: 0,
    },
  };
}

function cacheWrites(reply: Reply): number {
  return (reply.cache?.write5mTokens ?? 0) + (reply.cache?.write1hTokens ?? 0);
}

/** Checks the signature; a refusal in Bedrock's shape when it does not hold. */
export async function authenticate(
  req: IncomingMessage,
  body: Buffer,
  requestId: string,
  ctx: BedrockContext,
): Promise<Refusal | undefined> {
  const result = await ctx.verifier.verify(
    { method: req.method ?? 'POST', url: req.url ?? '/', headers: req.headers, body },
    ctx.clock.now(),
  );
  if (result.ok) return undefined;
  const error = { status: 403, exception: result.exception, message: result.message };
  return {
    status: 403,
    send: (res) => {
      sendBedrockError(res, error, requestId, {}, AUTH_NAMESPACE);
    },
  };
}

/** InvokeModel or InvokeModelWithResponseStream, as a Messages call for the shared handler. */
export function bedrockCall(
  dialect: WireDialect,
  requestId: string,
  refusal: Refusal | undefined,
  modelId: string,
  operation: 'invoke' | 'invoke-with-response-stream',
  body: Buffer,
  account: string,
): MessagesCall {
  return {
    account,
    dialect,
    requestId,
    refusal,
    requestedModel: () => modelId,
    readRequest: () =>
      readBedrockBody(body, modelId, operation === 'invoke-with-response-stream', true),
  };
}

/**
 * Whose prompt cache a signed request uses: its access key and region, from the SigV4
 * credential scope (`Credential=AKID/date/region/service/aws4_request`).
 */
export function accountOf(req: IncomingMessage): string {
  const scope = /Credential=([^/,\s]+)\/[^/]*\/([^/,\s]+)\//.exec(req.headers.authorization ?? '');
  return `bedrock:${scope?.[1] ?? ''}:${scope?.[2] ?? ''}`;
}

/** CountTokens: the InvokeModel body, base64 inside `input.invokeModel.body`; no faults. */
export function handleBedrockCountTokens(
  res: ServerResponse,
  modelId: string,
  body: Buffer,
  requestId: string,
  refusal: Refusal | undefined,
): void {
  if (refusal !== undefined) {
    refusal.send(res);
    return;
  }
  const fail = (message: string) => {
    const error = { status: 400, exception: 'ValidationException', message };
    sendBedrockError(res, error, requestId);
  };
  const outer = parseJsonBody(body);
  const invokeBody = outer.ok ? invokeModelBody(outer.value) : undefined;
  if (invokeBody === undefined) {
    fail(
      'Malformed input request: expected {"input":{"invokeModel":{"body":"<base64>"}}}; the simulator counts InvokeModel bodies only',
    );
    return;
  }
  const request = readBedrockBody(invokeBody, modelId, false, false);
  if (!request.ok) {
    sendBedrockError(res, bedrockErrorFor(request.error), requestId);
    return;
  }
  const inputTokens = estimateInputTokens(request.request);
  sendJson(res, 200, JSON.stringify({ inputTokens }), { 'x-amzn-RequestId': requestId });
}

function invokeModelBody(json: unknown): Buffer | undefined {
  const input = field(json, 'input');
  const invokeModel = field(input, 'invokeModel');
  const encoded = field(invokeModel, 'body');
  return typeof encoded === 'string' ? Buffer.from(encoded, 'base64') : undefined;
}

function field(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null
    ? (value as Readonly<Record<string, unknown>>)[name]
    : undefined;
}

/**
 * An InvokeModel body for one of Anthropic's models: `anthropic_version` required, `model` and
 * `stream` refused (the path and the operation say them), the rest as the Messages API reads it.
 */
export function readBedrockBody(
  body: Buffer,
  modelId: string,
  stream: boolean,
  requireMaxTokens: boolean,
): ReadResult {
  if (!isClaudeModelId(modelId)) {
    return { ok: false, error: invalid('The provided model identifier is invalid.') };
  }
  const json = parseJsonBody(body);
  if (!json.ok) return { ok: false, error: malformed(json.error.message) };
  const value = json.value;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, error: malformed('#: expected type: JSONObject') };
  }
  const fields = value as Readonly<Record<string, unknown>>;
  for (const key of ['model', 'stream']) {
    if (key in fields) {
      return {
        ok: false,
        error: malformed(
          `#: extraneous key [${key}] is not permitted, please reformat your input and try again.`,
        ),
      };
    }
  }
  const version = fields['anthropic_version'];
  if (version === undefined) {
    return {
      ok: false,
      error: malformed(
        '#: required key [anthropic_version] not found, please reformat your input and try again.',
      ),
    };
  }
  if (version !== BEDROCK_ANTHROPIC_VERSION) {
    return {
      ok: false,
      error: malformed(
        `anthropic_version: expected ${BEDROCK_ANTHROPIC_VERSION}, got ${JSON.stringify(version)}`,
      ),
    };
  }
  const { anthropic_version: _version, ...messages } = fields;
  const validated = validateMessagesRequest(
    { ...messages, model: modelId, stream },
    requireMaxTokens,
  );
  return validated.ok ? validated : { ok: false, error: malformed(validated.error.message) };
}

function malformed(detail: string): ApiErrorReply {
  return invalid(`Malformed input request: ${detail}`);
}
