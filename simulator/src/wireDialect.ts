/**
 * What differs between the wire formats the simulator speaks (the Anthropic API, Amazon
 * Bedrock, Google Vertex AI) once a request is admitted: the error shape, the success headers,
 * how a stream's events are encoded and cut across writes. Reply planning, faults, pacing and
 * playback are shared, so the same fault strikes each provider at the same point.
 */
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { ApiErrorReply } from './anthropicError.ts';
import type { Provider } from './provider.ts';
import type { Reply } from './replyPlan.ts';
import type { StreamEvent } from './sseEncoding.ts';
import type { CutPoint } from './streamPacing.ts';

export interface WireDialect {
  readonly provider: Provider;
  /** Answers with an error before any byte of the reply, in this provider's shape. */
  sendError(
    res: ServerResponse,
    reply: ApiErrorReply,
    requestId: string,
    headers?: OutgoingHttpHeaders,
  ): void;
  /** The HTTP status `sendError` answers `reply` with (Bedrock throttles a 529 with a 429). */
  statusOf(reply: ApiErrorReply): number;
  /** Headers of a successful answer, plain or streamed. */
  successHeaders(reply: Reply, requestId: string, stream: boolean): OutgoingHttpHeaders;
  /** The non-streamed body. */
  plainBody(reply: Reply): string;
  /** Content type and the like of a streamed answer. */
  readonly streamHeaders: OutgoingHttpHeaders;
  /** The stream's events on the wire, one entry per event, in order. */
  encodeEvents(events: readonly StreamEvent[], reply: Reply): (string | Uint8Array)[];
  /** The event that reports an error inside a stream. */
  encodeStreamError(reply: ApiErrorReply, requestId: string): string | Uint8Array;
  /** Where an event may be cut in two writes. */
  readonly cutPoint: CutPoint;
  /** Whether the Anthropic rate-limit budget (and its headers) applies. */
  readonly budgeted: boolean;
}

/** A request refused before faults are rolled (a bad key, signature or token), in its own shape. */
export interface Refusal {
  readonly status: number;
  send(res: ServerResponse): void;
}
