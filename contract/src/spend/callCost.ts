/**
 * What one call costs, exactly: its usage as the Messages API reports it, priced per token
 * from the price table merged with the agent's `spec.pricing`. Amounts are bigint picodollars
 * (10⁻¹² USD): a price in micro-dollars per million tokens is picodollars per token, so every
 * product is a whole number and sums never round. Pure.
 */
import { MODEL_LIST_PRICES, type ListPrice } from '../api/modelPrices.ts';
import { parseUsdMicros } from '../api/usd.ts';
import type { ModelPriceSettings } from '../policy/policyDocument.ts';
import type { PriceFields } from '../policy/generated/documentSettingTypes.ts';

export const PICODOLLARS_PER_USD = 1_000_000_000_000n;

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
      readonly model: string;
      /** Names the model and the field to set. */
      readonly message: string;
      readonly tokens: number;
    };

function unpriced(model: string, tokens: number): CallCost {
  return {
    priced: false,
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
  const picoUsd =
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
}

/**
 * The most a call can cost before it is sent: every input token at the dearest rate it may be
 * charged (a cache write when the request asks for caching) and max_tokens of output.
 */
export function worstCaseCost(model: string, call: PlannedCall, book: PriceBook): CallCost {
  const tokens = call.inputTokens + call.maxTokens;
  const price = book.get(model);
  if (price === undefined) return unpriced(model, tokens);
  let rate = price.inputMicroUsdPerMTok;
  if (call.cacheWrite !== undefined) rate = Math.max(rate, price.cacheWrite5mMicroUsdPerMTok);
  if (call.cacheWrite === '1h') rate = Math.max(rate, price.cacheWrite1hMicroUsdPerMTok);
  const picoUsd =
    atRate(call.inputTokens, rate) + atRate(call.maxTokens, price.outputMicroUsdPerMTok);
  return { priced: true, picoUsd, tokens };
}
