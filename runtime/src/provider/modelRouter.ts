/**
 * Sends one Messages request to the provider: the requested model first, then the fallback
 * models, each through the guard (backend choice, breaker, timeout, retry). A fallback is
 * tried only when the failure is the provider's (or its breaker is open), never for a request
 * the provider rejected as wrong.
 */
import { APIConnectionError } from '@anthropic-ai/sdk';
import type { Clock } from '../time/clock.ts';
import { classifyError, isFailureClass } from '../guard/errorClassification.ts';
import { CancelledError, isCircuitOpenError } from '../guard/errors.ts';
import type { LoadBalancing } from '../policy/policyDocument.ts';
import type { Backend, BackendPool } from './backendPool.ts';
import { chooseBackend, type BalancerState } from './loadBalancer.ts';
import type { AttemptInfo, ProviderGuard, TokenEstimate } from './providerGuard.ts';
import { usageOf, type Usage } from './sseUsage.ts';
import { cancelledBy } from './upstreamFetch.ts';

export interface AttemptObserver {
  (event: {
    model: string;
    backend: string;
    attempt: number;
    durationMs: number;
    outcome: string;
    error?: unknown;
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
    }
  | {
      readonly kind: 'stream';
      readonly model: string;
      readonly backend: string;
      readonly status: number;
      readonly body: ReadableStream<Uint8Array>;
      readonly fallbackUsed: boolean;
      /** Frees the backend's in-flight slot once the stream has been consumed. */
      readonly done: () => void;
    };

export interface RouteOptions {
  readonly body: Readonly<Record<string, unknown>>;
  readonly stream: boolean;
  /** The requested model, then fallbacks, without repeats. */
  readonly models: readonly string[];
  readonly signal: AbortSignal;
  /** Charged to the rate limiter's token budgets for each attempt. */
  readonly estimate?: TokenEstimate;
  /** Extra headers for the provider, e.g. W3C trace context. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Wraps each attempt (for tracing). */
  readonly wrapAttempt?: <T>(info: AttemptInfo, run: () => Promise<T>) => Promise<T>;
}

export class ModelRouter {
  readonly #pool: BackendPool;
  readonly #guard: () => ProviderGuard;
  readonly #clock: Clock;
  readonly #strategy: () => LoadBalancing;
  readonly #observe: AttemptObserver;
  readonly #balancer: BalancerState = { cursor: 0 };

  constructor(options: {
    pool: BackendPool;
    guard: () => ProviderGuard;
    clock: Clock;
    strategy: () => LoadBalancing;
    observe: AttemptObserver;
  }) {
    this.#pool = options.pool;
    this.#guard = options.guard;
    this.#clock = options.clock;
    this.#strategy = options.strategy;
    this.#observe = options.observe;
  }

  async send(options: RouteOptions): Promise<RoutedResponse> {
    let lastError: unknown;
    const guard = this.#guard();
    for (const [index, model] of options.models.entries()) {
      try {
        return await guard.callModel(
          model,
          () => this.#pick(guard, model),
          (info) =>
            options.wrapAttempt === undefined
              ? this.#attempt(info, options, index > 0)
              : options.wrapAttempt(info, () => this.#attempt(info, options, index > 0)),
          options.signal,
          options.estimate,
        );
      } catch (err) {
        lastError = err;
        if (options.signal.aborted || !fallbackMayHelp(err, this.#clock.now())) throw err;
      }
    }
    throw lastError;
  }

  #pick(guard: ProviderGuard, model: string): Backend | undefined {
    return chooseBackend(
      this.#strategy(),
      this.#pool.backends,
      (b) => guard.permits(b.name, model),
      this.#balancer,
    );
  }

  async #attempt(
    info: AttemptInfo,
    options: RouteOptions,
    fallback: boolean,
  ): Promise<RoutedResponse> {
    const { backend, model } = info;
    // The caller's signal goes to the transport, which drops its listener when the exchange
    // ends; given to the SDK as `signal`, it would cost far more (see upstreamFetch.ts).
    const { signal, ...request } = info.request;
    const started = this.#clock.now();
    backend.inFlight++;
    let release = true;
    try {
      const body = { ...options.body, model, stream: options.stream };
      // The SDK's generic POST, not messages.create(): the body is passed through as the
      // caller sent it, and create() writes a console warning for deprecated models on
      // every single call, which on the hot path costs more than the proxying itself.
      const response = await backend.client
        .post('/v1/messages', {
          ...request,
          body,
          headers: options.headers ?? {},
          stream: options.stream,
          fetchOptions: cancelledBy(signal),
        })
        .asResponse();
      info.observeHeaders(response.headers);
      if (options.stream && response.body !== null) {
        this.#observe({
          model,
          backend: backend.name,
          attempt: info.attempt,
          durationMs: this.#clock.now() - started,
          outcome: 'Success',
        });
        release = false;
        let released = false;
        return {
          kind: 'stream',
          model,
          backend: backend.name,
          status: response.status,
          body: response.body,
          fallbackUsed: fallback,
          done: () => {
            if (released) return;
            released = true;
            backend.inFlight--;
          },
        };
      }
      const text = await response.text();
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      const usage = usageOf(parsed);
      info.reportUsage(usage);
      this.#observe({
        model,
        backend: backend.name,
        attempt: info.attempt,
        durationMs: this.#clock.now() - started,
        outcome: 'Success',
      });
      return {
        kind: 'plain',
        model,
        backend: backend.name,
        status: response.status,
        text,
        usage,
        fallbackUsed: fallback,
      };
    } catch (caught) {
      // A call the caller cancelled fails as a connection error inside the SDK (it was not
      // given the signal): say what it is, so that it never counts against the provider.
      const err =
        signal?.aborted === true && caught instanceof APIConnectionError
          ? new CancelledError(caught)
          : caught;
      this.#observe({
        model,
        backend: backend.name,
        attempt: info.attempt,
        durationMs: this.#clock.now() - started,
        outcome: classifyError(err, this.#clock.now()).outcome,
        error: err,
      });
      throw err;
    } finally {
      if (release) backend.inFlight--;
    }
  }
}

/**
 * Another model may help when this one's provider failed or its breakers are open. Not when
 * the agent's own rate limiter or model bulkhead refused: every model shares them, so the
 * next model would be refused as well, and each refusal counted again for one caller request.
 */
export function fallbackMayHelp(err: unknown, now: number): boolean {
  if (isCircuitOpenError(err)) return true;
  return isFailureClass(classifyError(err, now).outcome);
}
