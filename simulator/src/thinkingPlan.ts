/**
 * The simulated model's extended thinking, when a request enables it: the model thinks
 * `THOUGHT_PER_SUMMARY_TOKEN` tokens for each token of the summary it returns (at most
 * `budget_tokens`), as Claude 4 models return their thinking summarised and bill it in full.
 * The summary says what the model is about to answer; the signature is opaque, as the API's
 * is, and derived from the reply so that runs repeat.
 */
import { createHash } from 'node:crypto';
import type { ThinkingRequest } from './thinkingRequest.ts';
import { estimateTokens } from './tokenEstimate.ts';

/** A thinking block of a reply: the summary relayed, and the thinking tokens billed. */
export interface ThinkingBlock {
  readonly type: 'thinking';
  /** The summarised thinking, what the client reads. */
  readonly thinking: string;
  readonly signature: string;
  /** The full thinking's tokens, billed as output: more than the summary's. */
  readonly billedTokens: number;
}

/** How many tokens of thinking each token of its summary stands for. */
export const THOUGHT_PER_SUMMARY_TOKEN = 8;

/** How much of the answer the summary quotes. */
const QUOTED_CHARS = 600;

export function planThinking(
  thinking: ThinkingRequest,
  answer: string,
  replyId: string,
): ThinkingBlock {
  const summary = `To answer, I will say: ${answer.slice(0, QUOTED_CHARS)}`;
  const signature = createHash('sha512').update(replyId).update(summary).digest('base64');
  return {
    type: 'thinking',
    thinking: summary,
    signature: `Eq${signature}${signature}`,
    billedTokens: Math.min(
      thinking.budgetTokens,
      THOUGHT_PER_SUMMARY_TOKEN * estimateTokens(summary),
    ),
  };
}

/**
 * The thinking tokens generated once `chars` of the summary were: the same share of the full
 * thinking, rounded up; all of it once the summary is whole.
 */
export function thinkingGenerated(block: ThinkingBlock, chars: number): number {
  if (chars >= block.thinking.length) return block.billedTokens;
  return Math.ceil((block.billedTokens * chars) / block.thinking.length);
}
