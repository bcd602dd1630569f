/**
 * What Claude models cost, per million tokens, in US dollars as Anthropic lists them: input,
 * output, prompt-cache writes for five minutes (1.25 × input) and one hour (2 × input), and
 * cache reads (0.1 × input). Budgets price each call from this table, or from an agent's
 * `spec.pricing[]`, which replaces a model's row. A model in neither has no price and is never
 * counted as free (contract/src/spend/callCost.ts).
 *
 * Source: https://platform.claude.com/docs/en/about-claude/pricing, checked on 2026-11-24.
 * Only models whose list price we know for certain are here; the newer ones the SDK names
 * (claude-opus-4-7 and later, the 5.x families) are left out until someone reads their price
 * off that page. Amazon Bedrock and Google Vertex AI charge the same list prices for these
 * models in their global endpoints; regional endpoints and long-context requests (Sonnet 4.x
 * above 200k input tokens) cost more and are not modelled here: set `spec.pricing` for them.
 * Keyed by the model name `spec.model` uses (not a backend's model ID).
 */

/** Dollars per million tokens, as decimal strings (contract/src/api/usd.ts reads them exactly). */
export interface ListPrice {
  readonly input: string;
  readonly output: string;
  readonly cacheWrite5m: string;
  readonly cacheWrite1h: string;
  readonly cacheRead: string;
}

export const PRICE_TABLE_SOURCE = {
  url: 'https://platform.claude.com/docs/en/about-claude/pricing',
  checked: '2026-11-24',
} as const;

const OPUS_4_5: ListPrice = {
  input: '5',
  output: '25',
  cacheWrite5m: '6.25',
  cacheWrite1h: '10',
  cacheRead: '0.5',
};
const OPUS_4: ListPrice = {
  input: '15',
  output: '75',
  cacheWrite5m: '18.75',
  cacheWrite1h: '30',
  cacheRead: '1.5',
};
const SONNET_4: ListPrice = {
  input: '3',
  output: '15',
  cacheWrite5m: '3.75',
  cacheWrite1h: '6',
  cacheRead: '0.3',
};
const HAIKU_4_5: ListPrice = {
  input: '1',
  output: '5',
  cacheWrite5m: '1.25',
  cacheWrite1h: '2',
  cacheRead: '0.1',
};
const HAIKU_3_5: ListPrice = {
  input: '0.8',
  output: '4',
  cacheWrite5m: '1',
  cacheWrite1h: '1.6',
  cacheRead: '0.08',
};
/** The page rounds Haiku 3's cache prices: $0.30 and $0.03, not 1.25 × and 0.1 × $0.25. */
const HAIKU_3: ListPrice = {
  input: '0.25',
  output: '1.25',
  cacheWrite5m: '0.3',
  cacheWrite1h: '0.5',
  cacheRead: '0.03',
};

export const MODEL_LIST_PRICES: ReadonlyMap<string, ListPrice> = new Map([
  ['claude-opus-4-6', OPUS_4_5],
  ['claude-opus-4-5', OPUS_4_5],
  ['claude-opus-4-5-20251101', OPUS_4_5],
  ['claude-opus-4-1', OPUS_4],
  ['claude-opus-4-1-20250805', OPUS_4],
  ['claude-opus-4-0', OPUS_4],
  ['claude-opus-4-20250514', OPUS_4],
  ['claude-sonnet-4-6', SONNET_4],
  ['claude-sonnet-4-5', SONNET_4],
  ['claude-sonnet-4-5-20250929', SONNET_4],
  ['claude-sonnet-4-0', SONNET_4],
  ['claude-sonnet-4-20250514', SONNET_4],
  ['claude-haiku-4-5', HAIKU_4_5],
  ['claude-haiku-4-5-20251001', HAIKU_4_5],
  ['claude-3-5-haiku-latest', HAIKU_3_5],
  ['claude-3-5-haiku-20241022', HAIKU_3_5],
  ['claude-3-haiku-20240307', HAIKU_3],
]);

/**
 * What the provider adds to a request's input and bills as input tokens when the request
 * carries tools: a system prompt of its own that teaches the model to call them, of a size
 * set by the model and by `tool_choice` (`auto` and `none` one size, `any` and `tool`
 * another). Keyed as MODEL_LIST_PRICES. A model not listed is counted at the largest figure
 * here by budgets (a worst case) and at the current models' figure by the simulator.
 *
 * Source: the tool-use pricing table at
 * https://platform.claude.com/docs/en/about-claude/pricing#tool-use-pricing (and
 * docs.anthropic.com/en/docs/tool-use-pricing-and-tokens for the Claude 3 rows), read on
 * 2026-11-27.
 */
export interface ToolUseSystemPrompt {
  /** `tool_choice` `auto` (the default) or `none`. */
  readonly auto: number;
  /** `tool_choice` `any` or `tool`. */
  readonly any: number;
}

export const TOOL_USE_SOURCE = {
  url: 'https://platform.claude.com/docs/en/about-claude/pricing#tool-use-pricing',
  checked: '2026-11-27',
} as const;

const CURRENT_TOOL_PROMPT: ToolUseSystemPrompt = { auto: 346, any: 313 };
const HAIKU_3_TOOL_PROMPT: ToolUseSystemPrompt = { auto: 264, any: 340 };
/** Claude 3 Opus: no longer served, kept as the largest figure the table has known. */
const OPUS_3_TOOL_PROMPT: ToolUseSystemPrompt = { auto: 530, any: 281 };

export const TOOL_USE_SYSTEM_PROMPT_TOKENS: ReadonlyMap<string, ToolUseSystemPrompt> = new Map([
  ...[...MODEL_LIST_PRICES.keys()]
    .filter((model) => !model.startsWith('claude-3-'))
    .map((model) => [model, CURRENT_TOOL_PROMPT] as const),
  ['claude-3-5-haiku-latest', HAIKU_3_TOOL_PROMPT],
  ['claude-3-5-haiku-20241022', HAIKU_3_TOOL_PROMPT],
  ['claude-3-haiku-20240307', HAIKU_3_TOOL_PROMPT],
  ['claude-3-opus-20240229', OPUS_3_TOOL_PROMPT],
]);

/** The tool-use system prompt of a model the table does not list, for budgets: the largest. */
export const TOOL_USE_SYSTEM_PROMPT_AT_MOST = Math.max(
  ...[...TOOL_USE_SYSTEM_PROMPT_TOKENS.values()].flatMap((p) => [p.auto, p.any]),
);

/** The tool-use system prompt the simulator bills for a model the table does not list. */
export const TOOL_USE_SYSTEM_PROMPT_CURRENT: ToolUseSystemPrompt = CURRENT_TOOL_PROMPT;

/**
 * Anthropic-defined client tools (the caller runs them; the model knows their schema): the
 * input tokens the provider adds for each tool of that `type` in a request, on top of the
 * tool-use system prompt, and a system prompt of their own added once per request
 * (`systemPrompt`, computer use only). Budgets bound a request with these tools by the
 * figures here; a client tool type not listed (text_editor_20250728, memory_20250818,
 * bash_20241022, computer_20241022, ...) has no documented figure and is refused under a
 * budget that refuses.
 *
 * Source: "Specific tool pricing" at
 * https://platform.claude.com/docs/en/about-claude/pricing#specific-tool-pricing and the
 * computer use tool's pricing at
 * https://platform.claude.com/docs/en/agents-and-tools/tool-use/computer-use-tool#pricing,
 * read on 2026-11-27 (through transcriptions of those pages). Where readings differ the
 * larger figure is kept, for every model: bash 245 tokens, and since 2026-07 244 for Opus 4.6,
 * Sonnet 4.6 and earlier but 325 for Opus 4.7 and 4.8 (325 kept); text_editor_20250429 700 or
 * 722 (722 kept); computer use 735 per tool definition on Claude 4.x and Sonnet 3.7, plus
 * 466-499 tokens of system prompt (499 kept).
 */
export interface ClientToolTokens {
  /** Input tokens for each tool of this type in the request. */
  readonly definition: number;
  /** Input tokens added once per request that has a tool of this type. */
  readonly systemPrompt: number;
}

export const CLIENT_TOOL_SOURCE = {
  url: 'https://platform.claude.com/docs/en/about-claude/pricing#specific-tool-pricing',
  checked: '2026-11-27',
} as const;

export const CLIENT_TOOL_INPUT_TOKENS: ReadonlyMap<string, ClientToolTokens> = new Map([
  ['bash_20250124', { definition: 325, systemPrompt: 0 }],
  ['text_editor_20250124', { definition: 700, systemPrompt: 0 }],
  ['text_editor_20250429', { definition: 722, systemPrompt: 0 }],
  ['computer_20250124', { definition: 735, systemPrompt: 499 }],
]);

/**
 * Server tools the provider runs itself and bills per use, on top of tokens: dollars per
 * thousand uses, by the tool's `type` prefix (`web_search_20250305` is `web_search`). The
 * answer counts the uses in `usage.server_tool_use` (`web_search_requests`).
 *
 * Source: https://platform.claude.com/docs/en/about-claude/pricing#web-search-tool, read on
 * 2026-11-27: $10 per 1,000 searches, plus the search results as input tokens.
 */
export const SERVER_TOOL_FEES_PER_THOUSAND: ReadonlyMap<string, string> = new Map([
  ['web_search', '10'],
]);

/**
 * The most tokens one image can be as input. The API scales an image down before the model
 * reads it: to about 1.15 megapixels (about 1,600 tokens, pixels / 750) for the 4.x models,
 * and further for models with high-resolution vision (about 4,800 at most). Its size in bytes
 * does not bound it (a small PNG can hold a large plain image), nor does a URL: budgets count
 * every image at this figure, which covers both.
 *
 * Source: https://platform.claude.com/docs/en/build-with-claude/vision#evaluate-image-size,
 * read on 2026-11-27.
 */
export const IMAGE_TOKENS_AT_MOST = 5_000;
