/**
 * The caller's side of a relayed event stream: the hijacked response the relay writes whole
 * events to once content begins, and the one place that ends it — cleanly after
 * `message_stop`, or with an `event: error` in the Anthropic shape after a failure, which
 * the SDK raises as an APIError. The response head is sent only when content begins, so a
 * call that fails before then is still answered with a plain HTTP error.
 */
import type { RouteReply } from './routeShapes.ts';
import type { HttpErrorMapping } from '../provider/anthropic/httpMapping.ts';
import type { StreamSink } from '../provider/streamRelay.ts';
import { errorBody } from './errorReplies.ts';

/** Names the backend that served an answer (the caller's SDK exposes response headers). */
export const BACKEND_HEADER = 'x-breakwater-backend';
/** Says `fallback` when a budget (`onExhausted: Fallback`) sent the call to a cheaper model. */
export const BUDGET_HEADER = 'x-breakwater-budget';

export class CallerStream implements StreamSink {
  committed = false;
  servedBy: string | undefined = undefined;
  budgetFallback = false;
  errorEventSent = false;
  readonly #reply: RouteReply;
  readonly #requestId: string;
  #begun = false;
  #corked = false;
  /** A durable run's stream: every event written, and the last write held until journaled. */
  #recorded: Buffer[] | undefined;
  #held: Buffer | undefined;

  constructor(reply: RouteReply, requestId: string) {
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
      ...(this.servedBy === undefined ? {} : { [BACKEND_HEADER]: this.servedBy }),
      ...(this.budgetFallback ? { [BUDGET_HEADER]: 'fallback' } : {}),
    });
  }

  /**
   * Keeps a copy of every event (durableMessages.ts journals them) and holds back the
   * write that carries `message_stop` until `end()`, so the answer is journaled before the
   * caller has all of it.
   */
  record(): void {
    this.#recorded = [];
  }

  /** The events written so far, as the caller received them. */
  recorded(): string {
    return Buffer.concat(this.#recorded ?? []).toString('utf8');
  }

  write(chunk: Buffer, last = false): boolean {
    const res = this.#reply.raw;
    if (res.destroyed) return true;
    if (this.#recorded !== undefined) {
      this.#recorded.push(Buffer.from(chunk));
      if (chunk.includes('event: message_stop')) {
        this.#held = Buffer.from(chunk);
        return true;
      }
    }
    if (last) this.#corkUntilNextTurn();
    return res.write(chunk);
  }

  /**
   * Holds the socket's writes until the event loop's next turn, so that the stream's last
   * events leave in one syscall with its end (the chunked terminator, or the route's error
   * event), which comes after the relay's promise settles. Any other write needs no hold:
   * node:http corks the socket for each `write` until the next tick, so what one read of the
   * provider brought (head and events) leaves in one syscall already, without an immediate a
   * read. The socket is corked, never the response: a corked response keeps chunks in a buffer
   * of its own that `end()` flushes after the terminator (Node 24), which cut streams off
   * before their last events.
   */
  #corkUntilNextTurn(): void {
    if (this.#corked) return;
    const socket = this.#reply.raw.socket;
    if (socket === null) return;
    this.#corked = true;
    socket.cork();
    setImmediate(() => {
      this.#corked = false;
      // After end() this finds the socket uncorked already, and does nothing.
      socket.uncork();
    });
  }

  onDrain(resume: () => void): void {
    this.#reply.raw.once('drain', resume);
  }

  /** Ends a stream that reached `message_stop`. */
  end(): void {
    const held = this.#held;
    this.#held = undefined;
    if (held === undefined) this.#reply.raw.end();
    else this.#reply.raw.end(held);
  }

  /** Ends a stream that failed after content began: the provider's error event, or ours. */
  fail(mapping: HttpErrorMapping): void {
    const res = this.#reply.raw;
    if (res.destroyed || res.writableEnded) return;
    if (this.#held !== undefined) res.write(this.#held);
    this.#held = undefined;
    if (!this.errorEventSent)
      res.write(`event: error\ndata: ${errorBody(mapping, this.#requestId)}\n\n`);
    res.end();
  }
}
