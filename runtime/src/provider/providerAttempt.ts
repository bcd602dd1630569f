/**
 * One attempt of a routed call on one backend: the caller's request passed through over the
 * backend's wire, or the agent loop's request sent with the SDK; a streamed answer relayed to
 * the caller's sink, a plain one read; and the attempt observed (duration, outcome, headers)
 * once it ends. The router (modelRouter.ts) decides which model and which backend; the guard
 * wraps each attempt in its breaker, timeout and retry.
 */
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type Anthropic from '@anthropic-ai/sdk';
import { APIConnectionError, APIError } from '@anthropic-ai/sdk/core/error';
import type { Clock } from '../../../platform/src/time/clock.ts';
import {
  DEFAULT_STREAM_IDLE_TIMEOUT_MS,
  type PolicyDocument,
} from '../../../contract/src/policy/policyDocument.ts';
import { CancelledError } from '../guard/errors.ts';
import type { HeaderSource } from '../guard/headers.ts';
import type { TokenUsage } from '../guard/tokenBudget.ts';
import { modelIdAt, type BackendAttempt } from './backendPool.ts';
import type { ForwardedAnswer, MessagesEndpoint } from './messagesForwarder.ts';
import { tokenUsage, usageOfAnswer, type Usage } from './usage.ts';
import { responseMetaOfAnswer, type ResponseMeta } from './responseMeta.ts';
import { CHAT, peerOf, type GenAiPeer } from '../telemetry/genAiConventions.ts';
import { readableSource, relayStream, type StreamSink } from './streamRelay.ts';
import { cancelledBy } from './upstreamFetch.ts';

export interface AttemptObserver {
  (event: {
    model: string;
    backend: string;
    attempt: number;
    durationMs: number;
    outcome: string;
    error?: unknown;
    /** The provider's response headers, when it answered. */
    headers?: HeaderSource | undefined;
    /** The backend in the GenAI conventions' terms. */
    peer: GenAiPeer;
    /** The request's `max_tokens`, when it names one. */
    maxTokens?: number | undefined;
    /** `chat` for a Messages call; undefined for count_tokens, which is no model call. */
    operation: 'chat' | undefined;
    /** A success's answer: its id, model and stop reason, and its usage. */
    response?: ResponseMeta | undefined;
    usage?: Usage | undefined;
    /** A stream's: milliseconds from the attempt's start to its first event. */
    firstEventMs?: number | undefined;
  }): void;
}

export type RoutedResponse =
  | {
      readonly kind: 'plain';
      readonly model: string;
      readonly backend: string;
      readonly status: number;
      readonly text: string;
      readonly usage: Usage;
      readonly fallbackUsed: boolean;
      /** A budget's `onExhausted: Fallback` chose this model. */
      readonly budgetFallback?: true;
      /** What the answer says of itself: id, model, stop reason. */
      readonly response?: ResponseMeta;
    }
  | {
      /** A stream relayed to the caller's sink in full, ended by `message_stop`. */
      readonly kind: 'stream';
      readonly model: string;
      readonly backend: string;
      readonly status: number;
      readonly usage: Usage;
      readonly fallbackUsed: boolean;
      readonly budgetFallback?: true;
      readonly response?: ResponseMeta;
    };

/** Limits on a streamed answer beyond the attempt's `timeout` (time to first event). */
export interface StreamLimits {
  /** Longest pause between two events. */
  readonly idleTimeoutMs: number;
  /** Limit on the whole stream; Infinity for none. */
  readonly maxDurationMs: number;
}
/** What one attempt sends, and where a streamed answer goes. */
export interface AttemptRequest {
  /**
   * `forward`: the caller's own Messages request, passed through over the backend's
   * connection (`messagesForwarder.ts`); `sdk`: a request the runtime built (the agent loop),
   * sent with the SDK.
   */
  readonly via: 'forward' | 'sdk';
  /** The route forwarded to (`forward` only); `messages` unless said otherwise. */
  readonly endpoint?: MessagesEndpoint;
  readonly body: Readonly<Record<string, unknown>>;
  /** The body as the caller sent it, forwarded unchanged while `model` is the one it names. */
  readonly rawBody?: string;
  readonly stream: boolean;
  /**
   * Where a streamed answer goes (required with `stream`). Nothing is written to it before
   * content begins, so a failure before then is retried or falls back unseen; after that a
   * failure is final.
   */
  readonly sink?: StreamSink;
  /** Extra headers for the provider: W3C trace context; the caller's `anthropic-*` on `forward`. */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * Aborts when the caller goes away. No attempt starts after that; one under way is cancelled,
   * except a plain one under a budget, which is read to its end (`run`).
   */
  readonly signal?: AbortSignal;
}

export class ProviderAttempts {
  readonly #clock: Clock;
  readonly #streamLimits: () => StreamLimits;
  readonly #observe: AttemptObserver;

  constructor(options: {
    clock: Clock;
    streamLimits: () => StreamLimits;
    observe: AttemptObserver;
  }) {
    this.#clock = options.clock;
    this.#streamLimits = options.streamLimits;
    this.#observe = options.observe;
  }

  /** One attempt on `info.backend`: sent, relayed or read, and observed. */
  async run(
    info: BackendAttempt,
    options: AttemptRequest,
    fallback: boolean,
  ): Promise<RoutedResponse> {
    const { backend, model } = info;
    // The caller gone: no retry, failover, fallback or next turn of the agent loop starts.
    const caller = options.signal;
    if (caller?.aborted === true) throw new CancelledError(caller.reason);
    const started = this.#clock.now();
    // Held until the attempt ends: a stream's end, for a streamed answer.
    backend.inFlight++;
    // A plain answer under a budget is read to its end even when its caller leaves: the
    // provider bills it whole either way, and its usage settles what was billed, where an
    // abandoned attempt settles its whole worst case. Its timeout still bounds it. Without a
    // budget the caller's leaving cancels it, which spares the provider the work; a stream
    // settles from what it relayed.
    const signal = info.budgeted && !options.stream ? undefined : info.request.signal;
    // Set once the answer's own usage is read or a stream's relay reports it.
    let usageReported = false;
    const peer = peerOf(backend);
    const operation = options.endpoint === 'count_tokens' ? undefined : CHAT;
    const maxTokens =
      typeof options.body.max_tokens === 'number' ? options.body.max_tokens : undefined;
    let firstEventAt: number | undefined;
    try {
      // The agent loop's own requests go through the SDK where there is one (the Anthropic
      // API); a cloud backend's wire serves both paths.
      const answer =
        options.via === 'forward' || backend.client === undefined
          ? await this.#forward(info, options, signal)
          : await this.#sendWithSdk(info, options, await backend.client(), signal);
      info.observeHeaders(answer.headers);
      let routed: RoutedResponse;
      let response: ResponseMeta | undefined;
      if (answer.kind === 'stream') {
        const sink = options.sink;
        if (sink === undefined) throw new Error('a streamed call needs a sink');
        sink.servedBy = backend.name;
        const limits = this.#streamLimits();
        usageReported = true;
        const usage = await relayStream(answer.body, {
          status: answer.status,
          headers: answer.headers,
          sink,
          // An attempt the guard has given up on stops at once, instead of writing later.
          whenExpired: (fn) => {
            info.whenExpired(fn);
          },
          clock: this.#clock,
          maxDurationMs: limits.maxDurationMs,
          firstEvent: () => {
            firstEventAt = this.#clock.now();
            info.firstEvent();
          },
          commit: () => {
            sink.committed = true;
            info.commit();
          },
          reportUsage: (usage) => {
            info.reportUsage(tokenUsage(usage));
          },
          reportResponse: (meta) => {
            response = meta;
          },
        });
        routed = {
          kind: 'stream',
          model,
          backend: backend.name,
          status: answer.status,
          usage,
          fallbackUsed: fallback,
          response,
        };
      } else {
        const usage = usageOfAnswer(answer.text);
        usageReported = true;
        info.reportUsage(tokenUsage(usage));
        response = operation === undefined ? undefined : responseMetaOfAnswer(answer.text);
        routed = {
          kind: 'plain',
          model,
          backend: backend.name,
          status: answer.status,
          text: answer.text,
          usage,
          fallbackUsed: fallback,
          response,
        };
      }
      this.#observe({
        model,
        backend: backend.name,
        attempt: info.attempt,
        durationMs: this.#clock.now() - started,
        outcome: 'Success',
        headers: answer.headers,
        peer,
        maxTokens,
        operation,
        response,
        usage: routed.usage,
        firstEventMs: firstEventAt === undefined ? undefined : firstEventAt - started,
      });
      return routed;
    } catch (caught) {
      // A call the caller cancelled fails as a connection error inside the SDK (it was not
      // given the signal): say what it is, so that it never counts against the provider.
      const err =
        signal?.aborted === true && caught instanceof APIConnectionError
          ? new CancelledError(caught)
          : caught;
      // Sent, and given up on before any usage came (the caller left, a timeout, a cut
      // connection): the provider may have billed all of it, and the budgets settle that.
      if (!usageReported && mayHaveBeenBilled(err)) info.reportUsage(UNKNOWN_USAGE);
      this.#observe({
        model,
        backend: backend.name,
        attempt: info.attempt,
        durationMs: this.#clock.now() - started,
        // Classified once, here where it failed, by the guard's classifier; carried on `err`.
        outcome: info.classify(err).outcome,
        error: err,
        peer,
        maxTokens,
        operation,
      });
      throw err;
    } finally {
      backend.inFlight--;
    }
  }

  /** The caller's request, passed through over the backend's wire (backendWire.ts). */
  #forward(
    info: BackendAttempt,
    options: AttemptRequest,
    signal: AbortSignal | undefined,
  ): Promise<Answer> {
    const model = modelIdAt(info.backend, info.model) ?? info.model;
    const asSent =
      options.via === 'forward' &&
      model === options.body.model &&
      (options.body.stream === true) === options.stream;
    const headers: string[] = [];
    if (options.headers !== undefined) {
      for (const name in options.headers) headers.push(name, options.headers[name] as string);
    }
    return info.backend.wire.send({
      endpoint: options.endpoint ?? 'messages',
      model,
      body: options.body,
      rawBody: asSent ? options.rawBody : undefined,
      stream: options.stream,
      headers,
      timeoutMs: info.request.timeout ?? Infinity,
      idleTimeoutMs: this.#streamLimits().idleTimeoutMs,
      signal,
      expiry: info,
    });
  }

  /** A request the runtime built, sent with the SDK's generic POST. */
  async #sendWithSdk(
    info: BackendAttempt,
    options: AttemptRequest,
    client: Anthropic,
    signal: AbortSignal | undefined,
  ): Promise<Answer> {
    // The caller's signal goes to the transport, which drops its listener when the exchange
    // ends; given to the SDK as `signal`, it would cost far more (see upstreamFetch.ts).
    const { signal: _caller, ...request } = info.request;
    const body = {
      ...options.body,
      model: modelIdAt(info.backend, info.model) ?? info.model,
      stream: options.stream,
    };
    // The SDK's generic POST, not messages.create(): the body is passed as built, and
    // create() writes a console warning for deprecated models on every single call.
    const response = await client
      .post('/v1/messages', {
        ...request,
        body,
        headers: options.headers ?? {},
        stream: options.stream,
        fetchOptions: cancelledBy(signal),
      })
      .asResponse();
    if (options.stream && response.body !== null) {
      return {
        kind: 'stream',
        status: response.status,
        headers: response.headers,
        body: readableSource(Readable.fromWeb(response.body as WebReadableStream<Uint8Array>)),
      };
    }
    return {
      kind: 'plain',
      status: response.status,
      headers: response.headers,
      text: await response.text(),
    };
  }
}

/** A policy's stream limits (the schema's defaults for a document that predates them). */
export function streamLimits(doc: PolicyDocument | undefined): StreamLimits {
  return {
    idleTimeoutMs: doc?.streamIdleTimeoutMs ?? DEFAULT_STREAM_IDLE_TIMEOUT_MS,
    maxDurationMs: doc?.maxStreamDurationMs ?? Infinity,
  };
}
/** An attempt's usage when the provider may have billed it and said nothing of it. */
const UNKNOWN_USAGE: TokenUsage = { inputTokens: 0, outputTokens: 0, unknown: 'all' };

/** Connection failures that mean the request never reached the provider. */
const NEVER_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH']);

/**
 * Whether an attempt that failed with `err` may have been billed: not when the provider
 * answered with an error status (it bills none of those), nor when the connection was never
 * made; otherwise (the caller left, a timeout, a connection cut) it may have been.
 */
export function mayHaveBeenBilled(err: unknown): boolean {
  if (err instanceof APIError && typeof err.status === 'number') return false;
  for (let cause: unknown = err, depth = 0; cause instanceof Error && depth < 5; depth++) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string' && NEVER_SENT.has(code)) return false;
    cause = cause.cause;
  }
  return true;
}

/** One attempt's answer, whichever way it was sent. */
type Answer = ForwardedAnswer;
