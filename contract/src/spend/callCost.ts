/**
 * What one call costs, exactly: its usage as the Messages API reports it, priced per token
 * from the price table merged with the agent's `spec.pricing`. Amounts are bigint picodollars
 * (10⁻¹² USD): a price in micro-dollars per million tokens is picodollars per token, so every
 * product is a whole number and sums never round. Pure.
 */
import {
  IMAGE_TOKENS_AT_MOST,
  MODEL_LIST_PRICES,
  SERVER_TOOL_FEES_PER_THOUSAND,
  TOOL_USE_SYSTEM_PROMPT_AT_MOST,
  TOOL_USE_SYSTEM_PROMPT_TOKENS,
  type ListPrice,
} from '../api/modelPrices.ts';
import { parseUsdMicros } from '../api/usd.ts';
import type { ModelPriceSettings } from '../policy/policyDocument.ts';
import type { PriceFields } from '../policy/generated/documentSettingTypes.ts';
import { parseMoney, type Money } from './money.ts';

/** Each model's prices in micro-dollars per million tokens (= picodollars per token). */
export type PriceBook = ReadonlyMap<string, PriceFields>;

function inMicros(list: ListPrice): PriceFields {
  return {
    inputMicroUsdPerMTok: parseUsdMicros(list.input),
    outputMicroUsdPerMTok: parseUsdMicros(list.output),
    cacheWrite5mMicroUsdPerMTok: parseUsdMicros(list.cacheWrite5m),
    cacheWrite1hMicroUsdPerMTok: parseUsdMicros(list.cacheWrite1h),
    cacheReadMicroUsdPerMTok: parseUsdMicros(list.cacheRead),
  };
}

/** The list prices with the agent's own (`pricing` of the policy document) in their place. */
export function priceBook(
  overrides: readonly ModelPriceSettings[] = [],
  table: ReadonlyMap<string, ListPrice> = MODEL_LIST_PRICES,
): PriceBook {
  const book = new Map<string, PriceFields>();
  for (const [model, list] of table) book.set(model, inMicros(list));
  for (const { model, ...prices } of overrides) book.set(model, prices);
  return book;
}

/** `usage` of a Messages response (or of a stream's message_start and message_delta events). */
export interface MessagesUsage {
  readonly input_tokens: number;
  readonly output_tokens: number;
  readonly cache_creation_input_tokens?: number | null;
  readonly cache_read_input_tokens?: number | null;
  readonly cache_creation?: {
    readonly ephemeral_5m_input_tokens?: number | null;
    readonly ephemeral_1h_input_tokens?: number | null;
  } | null;
  /** Uses of the server tools the provider ran for the call, each billed a fee. */
  readonly server_tool_use?: { readonly web_search_requests?: number | null } | null;
}

/** Picodollars one use of a server tool costs (`web_search`: $10 per 1,000 is 10¹⁰). */
export function serverToolFeePico(tool: string): Money | undefined {
  const perThousand = SERVER_TOOL_FEES_PER_THOUSAND.get(tool);
  // Six decimals of a dollar per thousand uses: a whole number of picodollars per use.
  return perThousand === undefined ? undefined : parseMoney(perThousand) / 1_000n;
}

export type CallCost =
  | {
      readonly priced: true;
      readonly picoUsd: bigint;
      /** Input, output, cache write and cache read tokens together. */
      readonly tokens: number;
    }
  | {
      readonly priced: false;
      /**
       * `unpriced`: the model has no price; `unbounded`: nothing bounds what the request may
       * cost (a server tool without `max_uses`, a PDF, a tool billed by the provider's measure).
       */
      readonly why: 'unpriced' | 'unbounded';
      readonly model: string;
      /** Names the model and the field to set, or what bounds the request's cost. */
      readonly message: string;
      readonly tokens: number;
    };

function unpriced(model: string, tokens: number): CallCost {
  return {
    priced: false,
    why: 'unpriced',
    model,
    tokens,
    message: `model ${model} has no price: add it to AgentDeployment spec.pricing[].model with its prices per million tokens, or use a model the price table lists`,
  };
}

/** `count` tokens at `rate` picodollars each; no bigint made for none (most calls read no cache). */
const atRate = (count: number, rate: number): bigint =>
  count === 0 ? 0n : BigInt(count) * BigInt(rate);

/**
 * The cost of a call that has happened. Cache writes are split by lifetime when the usage says
 * (`cache_creation`); otherwise they are five-minute writes, the API's default.
 */
export function callCost(model: string, usage: MessagesUsage, book: PriceBook): CallCost {
  const written = usage.cache_creation_input_tokens ?? 0;
  const hour = usage.cache_creation?.ephemeral_1h_input_tokens ?? 0;
  const fiveMinutes = Math.max(
    usage.cache_creation?.ephemeral_5m_input_tokens ?? 0,
    written - hour,
  );
  const read = usage.cache_read_input_tokens ?? 0;
  const tokens = usage.input_tokens + usage.output_tokens + fiveMinutes + hour + read;
  const price = book.get(model);
  if (price === undefined) return unpriced(model, tokens);
  const searches = usage.server_tool_use?.web_search_requests ?? 0;
  const picoUsd =
    (searches === 0 ? 0n : BigInt(searches) * (serverToolFeePico('web_search') ?? 0n)) +
    atRate(usage.input_tokens, price.inputMicroUsdPerMTok) +
    atRate(usage.output_tokens, price.outputMicroUsdPerMTok) +
    atRate(fiveMinutes, price.cacheWrite5mMicroUsdPerMTok) +
    atRate(hour, price.cacheWrite1hMicroUsdPerMTok) +
    atRate(read, price.cacheReadMicroUsdPerMTok);
  return { priced: true, picoUsd, tokens };
}

export interface PlannedCall {
  /** The request's input tokens, counted or estimated. */
  readonly inputTokens: number;
  /** Its `max_tokens`. */
  readonly maxTokens: number;
  /**
   * The longest prompt-cache lifetime its `cache_control` breakpoints ask for: any input token
   * may then be written to the cache at that price. Absent: no breakpoints.
   */
  readonly cacheWrite?: '5m' | '1h';
  /** What the provider adds to the request and bills itself; absent: nothing. */
  readonly additions?: ProviderAdditions;
}

/**
 * What the provider adds to a request beyond its bytes and bills (requestAdditions.ts reads
 * them from a Messages request).
 */
export interface ProviderAdditions {
  /**
   * The request has tools: the provider adds its tool-use system prompt, of a size set by the
   * model and by `tool_choice` (`auto`/`none`, or `any`/`tool`).
   */
  readonly toolChoice?: 'auto' | 'any';
  /** Image blocks: each may be up to IMAGE_TOKENS_AT_MOST input tokens, whatever its bytes. */
  readonly images?: number;
  /**
   * Input tokens the provider adds for the Anthropic-defined client tools in the request
   * (bash, text editor, computer use: CLIENT_TOOL_INPUT_TOKENS), beyond their bytes.
   */
  readonly clientToolTokens?: number;
  /** The most uses of each fee-billed server tool, by tool (`web_search`: its `max_uses`). */
  readonly serverToolUses?: Readonly<Record<string, number>>;
  /**
   * Input tokens each web search's results are counted at (RateLimitPolicy
   * `spec.webSearchResultTokens`): the provider bills them as input and documents no bound on
   * their size. Absent: a request that may search has no bound.
   */
  readonly webSearchResultTokens?: number;
  /** Why the request's cost has no bound the runtime can read, and what to set; absent: it has. */
  readonly unbounded?: string;
}

/**
 * Input tokens the provider adds to `call` for `model`: its tool-use system prompt, images,
 * Anthropic-defined client tools, and its web searches' results at their assumed most.
 */
export function addedInputTokens(model: string, additions: ProviderAdditions | undefined): number {
  if (additions === undefined) return 0;
  let tokens =
    (additions.images ?? 0) * IMAGE_TOKENS_AT_MOST +
    (additions.clientToolTokens ?? 0) +
    searchResultTokens(additions);
  const choice = additions.toolChoice;
  if (choice !== undefined) {
    const prompt = TOOL_USE_SYSTEM_PROMPT_TOKENS.get(model);
    tokens += prompt === undefined ? TOOL_USE_SYSTEM_PROMPT_AT_MOST : prompt[choice];
  }
  return tokens;
}

/**
 * Input tokens the results of `additions`' web searches are counted at: their most searches
 * (`max_uses`) times `webSearchResultTokens`; 0 without searches or without the figure (such a
 * request is unbounded: `worstCaseCost`).
 */
export function searchResultTokens(additions: ProviderAdditions | undefined): number {
  const searches = additions?.serverToolUses?.['web_search'] ?? 0;
  return searches * (additions?.webSearchResultTokens ?? 0);
}

/** Why nothing bounds the results of `additions`' web searches; undefined when something does. */
function searchResultsUnbounded(additions: ProviderAdditions | undefined): string | undefined {
  const searches = additions?.serverToolUses?.['web_search'] ?? 0;
  if (searches === 0 || additions?.webSearchResultTokens !== undefined) return undefined;
  return "web_search results are billed as input tokens and nothing bounds their size: set RateLimitPolicy spec.webSearchResultTokens to the most tokens one search's results may count, or use a Shadow budget";
}

function unbounded(model: string, tokens: number, why: string): CallCost {
  return {
    priced: false,
    why: 'unbounded',
    model,
    tokens,
    message: `the cost of this call has no bound: ${why}`,
  };
}

/**
 * The most a call can cost before it is sent: every input token at the dearest rate it may be
 * charged (a cache write when the request asks for caching), the input the provider adds (its
 * tool-use system prompt, images at their largest, each web search's results at
 * `webSearchResultTokens`), max_tokens of output, and each server tool's fee times its most uses. Not priced (`message` says why) for a model without a price,
 * or a request whose cost cannot be bounded.
 */
export function worstCaseCost(model: string, call: PlannedCall, book: PriceBook): CallCost {
  const additions = call.additions;
  const inputTokens = call.inputTokens + addedInputTokens(model, additions);
  const tokens = inputTokens + call.maxTokens;
  const price = book.get(model);
  if (price === undefined) return unpriced(model, tokens);
  const why = additions?.unbounded ?? searchResultsUnbounded(additions);
  if (why !== undefined) return unbounded(model, tokens, why);
  let fees = 0n;
  for (const [tool, uses] of Object.entries(additions?.serverToolUses ?? {})) {
    const fee = serverToolFeePico(tool);
    if (fee === undefined)
      return unbounded(model, tokens, `server tool ${tool} has no price in the fee table`);
    fees += BigInt(uses) * fee;
  }
  let rate = price.inputMicroUsdPerMTok;
  if (call.cacheWrite !== undefined) rate = Math.max(rate, price.cacheWrite5mMicroUsdPerMTok);
  if (call.cacheWrite === '1h') rate = Math.max(rate, price.cacheWrite1hMicroUsdPerMTok);
  const picoUsd =
    fees + atRate(inputTokens, rate) + atRate(call.maxTokens, price.outputMicroUsdPerMTok);
  return { priced: true, picoUsd, tokens };
}
