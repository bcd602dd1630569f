/**
 * The caller's side of a relayed event stream: the hijacked response the relay writes whole
 * events to once content begins, and the one place that ends it — cleanly after
 * `message_stop`, or with an `event: error` in the Anthropic shape after a failure, which
 * the SDK raises as an APIError. The response head is sent only when content begins, so a
 * call that fails before then is still answered with a plain HTTP error.
 */
import type { FastifyReply } from 'fastify';
import type { HttpErrorMapping } from '../guard/httpMapping.ts';
import type { StreamSink } from '../provider/streamRelay.ts';
import { errorBody } from './errorReplies.ts';

export class CallerStream implements StreamSink {
  committed = false;
  errorEventSent = false;
  readonly #reply: FastifyReply;
  readonly #requestId: string;
  #begun = false;

  constructor(reply: FastifyReply, requestId: string) {
    this.#reply = reply;
    this.#requestId = requestId;
  }

  /** Whether the response head has gone out (a failure must then end the stream instead). */
  get begun(): boolean {
    return this.#begun;
  }

  begin(status: number): void {
    if (this.#begun) return;
    this.#begun = true;
    this.#reply.hijack();
    this.#reply.raw.writeHead(status, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'request-id': this.#requestId,
    });
  }

  write(chunk: Buffer): boolean {
    const res = this.#reply.raw;
    return res.destroyed ? true : res.write(chunk);
  }

  onDrain(resume: () => void): void {
    this.#reply.raw.once('drain', resume);
  }

  /** Ends a stream that reached `message_stop`. */
  end(): void {
    this.#reply.raw.end();
  }

  /** Ends a stream that failed after content began: the provider's error event, or ours. */
  fail(mapping: HttpErrorMapping): void {
    const res = this.#reply.raw;
    if (res.destroyed || res.writableEnded) return;
    if (!this.errorEventSent) res.write(`event: error\ndata: ${errorBody(mapping)}\n\n`);
    res.end();
  }
}
