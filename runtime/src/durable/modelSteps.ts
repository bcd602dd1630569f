/**
 * A model call's step in a run's journal, whoever made the call (`/v1/messages` in
 * server/durableMessages.ts, the bundled agent's loop in agentJournal.ts): a live answer
 * journaled before it goes out, and what a replayed one did not spend, counted.
 */
import type { PolicyDocument } from '../../../contract/src/policy/policyDocument.ts';
import { callCost, priceBook, type PriceBook } from '../../../contract/src/spend/callCost.ts';
import { moneyToUsdNumber } from '../../../contract/src/spend/money.ts';
import type { RoutedResponse } from '../provider/providerAttempt.ts';
import type { DurableMetrics } from './durableMetrics.ts';
import type { ClaimedStep, DurableRuns } from './durableRuns.ts';
import type { ModelAnswer } from './journalEntry.ts';

/** A live model call of a durable run: where its answer goes in the journal. */
export class LiveModelStep {
  readonly #durable: Pick<DurableRuns, 'complete' | 'abandon'>;
  readonly #step: ClaimedStep;

  constructor(durable: Pick<DurableRuns, 'complete' | 'abandon'>, step: ClaimedStep) {
    this.#durable = durable;
    this.#step = step;
  }

  /**
   * Journals a successful answer (before it goes out); anything else drops the step. A stream's
   * events are what `stream` recorded as they were relayed.
   */
  async settle(routed: RoutedResponse, stream: { recorded(): string } | undefined): Promise<void> {
    if (routed.status < 200 || routed.status > 299) {
      await this.#durable.abandon(this.#step);
      return;
    }
    const answer: ModelAnswer = {
      kind: 'model',
      status: routed.status,
      stream: routed.kind === 'stream',
      body: routed.kind === 'plain' ? routed.text : (stream?.recorded() ?? ''),
      model: routed.model,
      backend: routed.backend,
      usage: routed.usage,
    };
    await this.#durable.complete(this.#step, answer);
  }

  async abandon(): Promise<void> {
    await this.#durable.abandon(this.#step);
  }
}

/** What a replayed model call did not spend, counted. */
export function countSaved(
  ctx: { readonly durableMetrics: DurableMetrics },
  active: { readonly doc: Pick<PolicyDocument, 'pricing'> },
  answer: ModelAnswer,
): void {
  const cost = callCost(answer.model, answer.usage, priceBookOf(active.doc.pricing));
  ctx.durableMetrics.savedTokens.inc({ model: answer.model }, cost.tokens);
  if (cost.priced)
    ctx.durableMetrics.savedUsd.inc({ model: answer.model }, moneyToUsdNumber(cost.picoUsd));
}

/** One price book per policy document's pricing: a replayed call reads it, never builds it. */
const books = new WeakMap<object, PriceBook>();
const LIST_PRICES = priceBook();

function priceBookOf(pricing: Parameters<typeof priceBook>[0]): PriceBook {
  if (pricing === undefined) return LIST_PRICES;
  let book = books.get(pricing);
  if (book === undefined) {
    book = priceBook(pricing);
    books.set(pricing, book);
  }
  return book;
}
