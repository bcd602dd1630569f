/**
 * Amazon Bedrock's runtime API for Anthropic's models, as a backend wire (backendWire.ts):
 *
 *   messages, plain       POST /model/{id}/invoke
 *   messages, streamed    POST /model/{id}/invoke-with-response-stream
 *   count_tokens          POST /model/{id}/count-tokens   {"input":{"invokeModel":{"body":<base64>}}}
 *
 * The body is the Messages body without `model` and `stream`, with
 * `anthropic_version: bedrock-2023-05-31` and the caller's `anthropic-beta` as
 * `anthropic_beta`; the model ID goes in the path, escaped once (SigV4 escapes it again, as
 * the AWS SDKs do). Every request is signed with SigV4 for service `bedrock` in the backend's
 * region (sigV4Signer.ts: checked against `@smithy/signature-v4`, the AWS SDKs' signer, and
 * seven times cheaper). A plain answer is the Anthropic
 * message JSON already; a stream is decoded from its event-stream frames into server-sent
 * events (eventStreamTranscoder.ts); a refusal becomes the SDK's error (bedrockErrors.ts).
 */
import type { Dispatcher } from 'undici';
import type { Clock } from '../../../../platform/src/time/clock.ts';
import { CancelledError } from '../../guard/errors.ts';
import { cloudHeaders, headerValue, type BackendWire, type WireRequest } from '../backendWire.ts';
import {
  ForwardHandler,
  undiciTimeout,
  type ExchangeDialect,
  type ForwardedAnswer,
} from '../exchange.ts';
import { upstreamDispatcher } from '../upstreamDispatcher.ts';
import { awsCredentials } from './awsCredentials.ts';
import { withCredentials } from '../cloudErrors.ts';
import { bedrockStatusError } from './bedrockErrors.ts';
import { EventStreamTranscoder } from './eventStreamTranscoder.ts';
import { SigV4Signer } from './sigV4Signer.ts';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import { APIError } from '@anthropic-ai/sdk/core/error';

export const BEDROCK_ANTHROPIC_VERSION = 'bedrock-2023-05-31';

export interface BedrockWireOptions {
  readonly backend: string;
  readonly baseURL: string;
  readonly region: string;
  /** The mounted credentials Secret; undefined: the AWS default chain. */
  readonly credentialsDir: string | undefined;
  readonly clock: Clock;
  readonly env: Readonly<Record<string, string | undefined>>;
}

export class BedrockWire implements BackendWire {
  readonly #dispatcher: Dispatcher;
  readonly #origin: string;
  readonly #url: URL;
  readonly #basePath: string;
  readonly #signer: SigV4Signer;
  readonly #credentials: AwsCredentialIdentityProvider;
  readonly #clock: Clock;
  readonly #dialect: ExchangeDialect;
  readonly #backend: string;

  constructor(options: BedrockWireOptions) {
    const upstream = upstreamDispatcher(options.baseURL, options.env);
    this.#dispatcher = upstream.dispatcher;
    this.#origin = upstream.origin;
    this.#url = new URL(options.baseURL);
    this.#basePath = this.#url.pathname.replace(/\/+$/, '');
    this.#backend = options.backend;
    this.#signer = new SigV4Signer({ service: 'bedrock', region: options.region });
    this.#credentials = awsCredentials(options.backend, options.credentialsDir, options.clock);
    this.#clock = options.clock;
    const backend = options.backend;
    this.#dialect = {
      streamType: 'application/vnd.amazon.eventstream',
      transcoder: () => new EventStreamTranscoder(),
      error: (status, text, headers) => bedrockStatusError(backend, status, text, headers),
    };
  }

  async send(request: WireRequest): Promise<ForwardedAnswer> {
    const { signal } = request;
    if (signal?.aborted === true) throw new CancelledError(signal.reason);
    const operation =
      request.endpoint === 'count_tokens'
        ? 'count-tokens'
        : request.stream
          ? 'invoke-with-response-stream'
          : 'invoke';
    const path = `${this.#basePath}/model/${encodeURIComponent(request.model)}/${operation}`;
    const invokeBody = this.#invokeBody(request);
    const body =
      request.endpoint === 'count_tokens'
        ? JSON.stringify({
            input: { invokeModel: { body: Buffer.from(invokeBody).toString('base64') } },
          })
        : invokeBody;
    const headers: Record<string, string> = {
      host: this.#url.host,
      'content-type': 'application/json',
      accept:
        request.stream && request.endpoint === 'messages'
          ? 'application/vnd.amazon.eventstream'
          : 'application/json',
    };
    const extra = cloudHeaders(request.headers, false);
    for (let i = 0; i < extra.length; i += 2) headers[extra[i] as string] = extra[i + 1] as string;
    const credentials = await withCredentials(() => this.#credentials());
    const signed = this.#signer.sign(
      { method: 'POST', path, headers, body },
      credentials,
      new Date(this.#clock.now()),
    );
    const timeout = undiciTimeout(request.timeoutMs);
    const stream = request.stream && request.endpoint === 'messages';
    const answer = await new Promise<ForwardedAnswer>((resolve, reject) => {
      this.#dispatcher.dispatch(
        {
          origin: this.#origin,
          path,
          method: 'POST',
          headers: signed,
          body,
          headersTimeout: timeout,
          bodyTimeout: stream ? undiciTimeout(request.idleTimeoutMs) : timeout,
        },
        new ForwardHandler(this.#dialect, stream, signal, resolve, reject, request.expiry),
      );
    });
    if (request.endpoint === 'count_tokens' && answer.kind === 'plain')
      return countTokensAnswer(answer, this.#backend);
    return answer;
  }

  /** The InvokeModel body: the Messages body less `model` and `stream`, with Bedrock's version. */
  #invokeBody(request: WireRequest): string {
    const { model: _model, stream: _stream, ...rest } = request.body;
    const beta = headerValue(request.headers, 'anthropic-beta');
    const body: Record<string, unknown> = { anthropic_version: BEDROCK_ANTHROPIC_VERSION, ...rest };
    if (beta !== undefined && body.anthropic_beta === undefined)
      body.anthropic_beta = beta
        .split(',')
        .map((b) => b.trim())
        .filter((b) => b !== '');
    // InvokeModel wants max_tokens even to count; counting ignores it.
    if (request.endpoint === 'count_tokens' && body.max_tokens === undefined) body.max_tokens = 1;
    return JSON.stringify(body);
  }

  close(): Promise<void> {
    return this.#dispatcher.close();
  }
}

/** CountTokens' `{"inputTokens": N}` as the Messages API's `{"input_tokens": N}`. */
function countTokensAnswer(
  answer: Extract<ForwardedAnswer, { kind: 'plain' }>,
  backend: string,
): ForwardedAnswer {
  let tokens: unknown;
  try {
    tokens = (JSON.parse(answer.text) as { inputTokens?: unknown }).inputTokens;
  } catch {
    tokens = undefined;
  }
  if (typeof tokens !== 'number')
    throw APIError.generate(
      502,
      {
        type: 'error',
        error: {
          type: 'api_error',
          message: `Bedrock backend ${backend} answered CountTokens without inputTokens`,
        },
      },
      undefined,
      new Headers(),
    );
  return { ...answer, text: JSON.stringify({ input_tokens: tokens }) };
}
