/**
 * Google Vertex AI's endpoints for Anthropic's models, as a backend wire (backendWire.ts):
 *
 *   messages, plain       POST {base}/v1/projects/{p}/locations/{r}/publishers/anthropic/models/{id}:rawPredict
 *   messages, streamed    POST …/models/{id}:streamRawPredict
 *   count_tokens          POST …/models/count-tokens:rawPredict   (the body names the model)
 *
 * The body is the Messages body without `model`, with `anthropic_version: vertex-2023-10-16`;
 * `anthropic-beta` stays a header. Answers are the Anthropic API's own JSON and server-sent
 * events, so they pass as they are; a refusal becomes the SDK's error (vertexErrors.ts). Each
 * request carries a bearer token from google-auth-library (googleCredentials.ts).
 */
import type { Dispatcher } from 'undici';
import type { Clock } from '../../../../platform/src/time/clock.ts';
import { CancelledError } from '../../guard/errors.ts';
import { withCredentials } from '../cloudErrors.ts';
import { cloudHeaders, type BackendWire, type WireRequest } from '../backendWire.ts';
import {
  ForwardHandler,
  undiciTimeout,
  type ExchangeDialect,
  type ForwardedAnswer,
} from '../exchange.ts';
import { upstreamDispatcher } from '../upstreamDispatcher.ts';
import { googleTokens, type TokenSource } from './googleCredentials.ts';
import { vertexStatusError } from './vertexErrors.ts';

export const VERTEX_ANTHROPIC_VERSION = 'vertex-2023-10-16';

export interface VertexWireOptions {
  readonly backend: string;
  readonly baseURL: string;
  readonly region: string;
  readonly projectID: string;
  /** The mounted credentials Secret; undefined: Application Default Credentials. */
  readonly credentialsDir: string | undefined;
  readonly clock: Clock;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Stands in for google-auth-library (tests). */
  readonly tokens?: TokenSource;
}

export class VertexWire implements BackendWire {
  readonly #dispatcher: Dispatcher;
  readonly #origin: string;
  readonly #modelsPath: string;
  readonly #tokens: TokenSource;
  readonly #dialect: ExchangeDialect;

  constructor(options: VertexWireOptions) {
    const upstream = upstreamDispatcher(options.baseURL, options.env);
    this.#dispatcher = upstream.dispatcher;
    this.#origin = upstream.origin;
    const base = new URL(options.baseURL).pathname.replace(/\/+$/, '');
    this.#modelsPath = `${base}/v1/projects/${encodeURIComponent(options.projectID)}/locations/${encodeURIComponent(options.region)}/publishers/anthropic/models`;
    this.#tokens =
      options.tokens ?? googleTokens(options.backend, options.credentialsDir, options.clock);
    const backend = options.backend;
    this.#dialect = {
      streamType: 'text/event-stream',
      error: (status, text, headers) => vertexStatusError(backend, status, text, headers),
    };
  }

  async send(request: WireRequest): Promise<ForwardedAnswer> {
    const { signal } = request;
    if (signal?.aborted === true) throw new CancelledError(signal.reason);
    const counting = request.endpoint === 'count_tokens';
    const stream = request.stream && !counting;
    const path = counting
      ? `${this.#modelsPath}/count-tokens:rawPredict`
      : `${this.#modelsPath}/${encodeURIComponent(request.model)}:${stream ? 'streamRawPredict' : 'rawPredict'}`;
    const { model: _model, stream: _stream, ...rest } = request.body;
    const body = JSON.stringify({
      anthropic_version: VERTEX_ANTHROPIC_VERSION,
      ...rest,
      ...(counting ? { model: request.model } : stream ? { stream: true } : {}),
    });
    const token = await withCredentials(this.#tokens);
    const headers = [
      'content-type',
      'application/json',
      'accept',
      stream ? 'text/event-stream' : 'application/json',
      'authorization',
      `Bearer ${token}`,
      ...cloudHeaders(request.headers, true),
    ];
    const timeout = undiciTimeout(request.timeoutMs);
    return new Promise<ForwardedAnswer>((resolve, reject) => {
      this.#dispatcher.dispatch(
        {
          origin: this.#origin,
          path,
          method: 'POST',
          headers,
          body,
          headersTimeout: timeout,
          bodyTimeout: stream ? undiciTimeout(request.idleTimeoutMs) : timeout,
        },
        new ForwardHandler(this.#dialect, stream, signal, resolve, reject, request.expiry),
      );
    });
  }

  close(): Promise<void> {
    return this.#dispatcher.close();
  }
}
