/**
 * How one backend is reached: the Anthropic API (messagesForwarder.ts), Amazon Bedrock
 * (bedrock/bedrockWire.ts) or Google Vertex AI (vertex/vertexWire.ts). Each takes the same
 * Messages request and answers in the Anthropic API's terms — its JSON, its server-sent events,
 * the SDK's errors — so the router, the relay, the guard and the caller never see which.
 */
import type { AttemptExpiry, ForwardedAnswer } from './exchange.ts';
import {
  DEFAULT_ANTHROPIC_VERSION,
  type MessagesEndpoint,
  type MessagesForwarder,
} from './messagesForwarder.ts';

export type { MessagesEndpoint };

export interface WireRequest {
  readonly endpoint: MessagesEndpoint;
  /** The model as this backend names it (`spec.backends[].models`). */
  readonly model: string;
  /** The Messages body; its `model` and `stream` are this request's, whatever it says. */
  readonly body: Readonly<Record<string, unknown>>;
  /** The body exactly as the caller sent it, when it may go as it is (model and stream alike). */
  readonly rawBody?: string | undefined;
  readonly stream: boolean;
  /** Name, value pairs: the caller's `anthropic-version` and `anthropic-beta`, trace context. */
  readonly headers: readonly string[];
  /** Milliseconds before the guard gives up on this attempt (Infinity: no deadline). */
  readonly timeoutMs: number;
  /** A stream's longest pause between two reads; Infinity: none. */
  readonly idleTimeoutMs: number;
  readonly signal: AbortSignal | undefined;
  /** The guard's attempt: the exchange stops when its deadline passes. */
  readonly expiry?: AttemptExpiry | undefined;
}

export interface BackendWire {
  send(request: WireRequest): Promise<ForwardedAnswer>;
  /** Closes the connections once the requests in flight have finished. */
  close(): Promise<void>;
}

/** The Anthropic API: the caller's body as sent where it can be, and a version header. */
export class AnthropicWire implements BackendWire {
  readonly #forwarder: MessagesForwarder;

  constructor(forwarder: MessagesForwarder) {
    this.#forwarder = forwarder;
  }

  send(request: WireRequest): Promise<ForwardedAnswer> {
    const body =
      request.rawBody ??
      JSON.stringify({ ...request.body, model: request.model, stream: request.stream });
    let headers = request.headers;
    if (!hasHeader(headers, 'anthropic-version'))
      headers = [...headers, 'anthropic-version', DEFAULT_ANTHROPIC_VERSION];
    return this.#forwarder.send({
      endpoint: request.endpoint,
      body,
      stream: request.stream,
      headers,
      timeoutMs: request.timeoutMs,
      idleTimeoutMs: request.idleTimeoutMs,
      signal: request.signal,
      expiry: request.expiry,
    });
  }

  close(): Promise<void> {
    return this.#forwarder.close();
  }
}

export function hasHeader(pairs: readonly string[], name: string): boolean {
  for (let i = 0; i < pairs.length; i += 2) if (pairs[i] === name) return true;
  return false;
}

/** The value of `name` among name, value pairs (names lower case). */
export function headerValue(pairs: readonly string[], name: string): string | undefined {
  for (let i = 0; i < pairs.length; i += 2) if (pairs[i] === name) return pairs[i + 1];
  return undefined;
}

/**
 * What goes to a cloud: the headers less the Anthropic API's own (`anthropic-version` is the
 * body's `anthropic_version` there; `anthropic-beta` goes where the cloud wants it).
 */
export function cloudHeaders(pairs: readonly string[], keepBeta: boolean): string[] {
  const out: string[] = [];
  for (let i = 0; i < pairs.length; i += 2) {
    const name = pairs[i] as string;
    if (name === 'anthropic-version' || (!keepBeta && name === 'anthropic-beta')) continue;
    if (name === 'x-api-key' || name === 'authorization') continue;
    out.push(name, pairs[i + 1] as string);
  }
  return out;
}
