/**
 * What the simulated provider billed for each Messages call, as `GET /_sim/usage` lists it: a
 * call is billed once its answer begins, whether or not the client reads it to the end. A
 * complete answer is billed its usage; a stream cut (by the client, or by an injected fault)
 * is billed its input and the output generated until the cut was noticed (the events written
 * by then); a plain answer whose caller left is generated, and billed, in full, as the API
 * does. Refusals and injected errors before the answer are not billed.
 */
import { wireUsage, type WireUsage } from './messageBody.ts';
import type { Provider } from './provider.ts';
import type { Reply } from './replyPlan.ts';
import { OPENING_EVENTS, type StreamEvent } from './sseEncoding.ts';
import { thinkingGenerated } from './thinkingPlan.ts';
import { CHARS_PER_TOKEN } from './tokenEstimate.ts';

/** How the billed call ended. */
export type BilledEnding = 'complete' | 'client_cut' | 'provider_cut' | 'client_left';

export interface BilledCall {
  readonly requestId: string;
  /**
   * The trace id of the W3C `traceparent` the call carried, if any: a gateway passes its
   * caller's on, so a caller's call and what each of its attempts was billed can be matched.
   */
  readonly traceId?: string;
  readonly provider: Provider;
  readonly model: string;
  readonly stream: boolean;
  readonly ending: BilledEnding;
  readonly usage: WireUsage;
}

const TRACEPARENT = /^[\da-f]{2}-([\da-f]{32})-[\da-f]{16}-[\da-f]{2}$/;

/** The trace id of a `traceparent` header; undefined for none, or one not in its format. */
export function traceIdOf(traceparent: string | string[] | undefined): string | undefined {
  if (typeof traceparent !== 'string') return undefined;
  return TRACEPARENT.exec(traceparent.trim().toLowerCase())?.[1];
}

/** The most calls kept; older ones are dropped first. */
const KEPT = 10_000;

export class BilledUsageLog {
  #calls: BilledCall[] = [];

  record(call: BilledCall): void {
    this.#calls.push(call);
    if (this.#calls.length > KEPT) this.#calls.splice(0, this.#calls.length - KEPT);
  }

  snapshot(): readonly BilledCall[] {
    return [...this.#calls];
  }

  reset(): void {
    this.#calls = [];
  }
}

/**
 * The usage of `reply` when only its first `generated` stream events were generated: its
 * input, the text and tool calls of the content generated so far at four characters a token,
 * the share of its full thinking that the summary generated so far stands for (all of it once
 * its signature is), all of its output once every content block is done, and its searches and
 * their results' input once content began.
 */
export function generatedUsage(
  reply: Reply,
  events: readonly StreamEvent[],
  generated: number,
): WireUsage {
  const lastContent = events.findLastIndex((e) => e.event === 'content_block_stop');
  let outputTokens: number;
  if (generated > lastContent) outputTokens = reply.outputTokens;
  else {
    let chars = 0;
    let thought = 0;
    let signed = false;
    for (const { event, data } of events.slice(0, generated)) {
      if (event === 'content_block_start') {
        const block = data['content_block'] as { name?: unknown } | undefined;
        if (typeof block?.name === 'string') chars += block.name.length;
      } else if (event === 'content_block_delta') {
        const delta = data['delta'] as {
          text?: unknown;
          partial_json?: unknown;
          thinking?: unknown;
          signature?: unknown;
        };
        const piece = delta.text ?? delta.partial_json;
        if (typeof piece === 'string') chars += piece.length;
        if (typeof delta.thinking === 'string') thought += delta.thinking.length;
        if (typeof delta.signature === 'string') signed = true;
      }
    }
    const thinking = reply.content.find((block) => block.type === 'thinking');
    const thinkingTokens =
      thinking === undefined
        ? 0
        : thinkingGenerated(thinking, signed ? thinking.thinking.length : thought);
    outputTokens = Math.min(
      reply.outputTokens,
      thinkingTokens + Math.ceil(chars / CHARS_PER_TOKEN),
    );
  }
  return wireUsage(reply, outputTokens, generated > OPENING_EVENTS);
}
