import { describe, expect, it } from '@jest/globals';
import { MODEL_LIST_PRICES } from '../api/modelPrices.ts';
import { parseUsdMicros } from '../api/usd.ts';
import { callCost, priceBook, worstCaseCost } from './callCost.ts';
import { formatMoney } from './money.ts';
import { requestAdditions } from './requestAdditions.ts';

const book = priceBook();
const usd = (cost: ReturnType<typeof callCost>): string =>
  cost.priced ? formatMoney(cost.picoUsd) : cost.message;

describe('the price of one call', () => {
  it.each([
    [
      'input and output at Sonnet 4.5 list prices',
      'claude-sonnet-4-5',
      { input_tokens: 1_000_000, output_tokens: 1_000_000 },
      '18',
      2_000_000,
    ],
    [
      'one token of Haiku 3 output, to the picodollar',
      'claude-3-haiku-20240307',
      { input_tokens: 0, output_tokens: 1 },
      '0.00000125',
      1,
    ],
    [
      'cache writes without a split, as five-minute writes',
      'claude-opus-4-5',
      { input_tokens: 10, output_tokens: 0, cache_creation_input_tokens: 1000 },
      '0.0063',
      1010,
    ],
    [
      'cache writes split into five minutes and one hour, and cache reads',
      'claude-haiku-4-5',
      {
        input_tokens: 100,
        output_tokens: 50,
        cache_creation_input_tokens: 3000,
        cache_creation: { ephemeral_5m_input_tokens: 1000, ephemeral_1h_input_tokens: 2000 },
        cache_read_input_tokens: 10_000,
      },
      // 100×1 + 50×5 + 1000×1.25 + 2000×2 + 10000×0.1 = 6600 micro-dollars
      '0.0066',
      13_150,
    ],
  ])('%s', (_name, model, usage, dollars, tokens) => {
    const cost = callCost(model, usage, book);
    expect({ dollars: usd(cost), tokens: cost.tokens }).toEqual({ dollars, tokens });
  });

  it('adds a million calls of two micro-dollars (three Haiku 3 input tokens and one output) to exactly $2', () => {
    const one = callCost('claude-3-haiku-20240307', { input_tokens: 3, output_tokens: 1 }, book);
    if (!one.priced) throw new Error(one.message);
    expect(formatMoney(one.picoUsd * 1_000_000n)).toBe('2');
  });

  it("uses the agent's own price in place of the table's", () => {
    const own = priceBook([
      {
        model: 'claude-sonnet-4-5',
        inputMicroUsdPerMTok: 2_000_000,
        outputMicroUsdPerMTok: 10_000_000,
        cacheWrite5mMicroUsdPerMTok: 2_500_000,
        cacheWrite1hMicroUsdPerMTok: 4_000_000,
        cacheReadMicroUsdPerMTok: 200_000,
      },
    ]);
    const usage = { input_tokens: 1_000_000, output_tokens: 0 };
    expect(usd(callCost('claude-sonnet-4-5', usage, own))).toBe('2');
  });

  it('never counts a model with no price as free: it names the model and the field to set', () => {
    const cost = callCost('claude-sonnet-5-5', { input_tokens: 10, output_tokens: 10 }, book);
    expect(cost).toEqual({
      priced: false,
      why: 'unpriced',
      model: 'claude-sonnet-5-5',
      tokens: 20,
      message: expect.stringContaining('spec.pricing[].model') as unknown,
    });
    expect(cost.priced ? '' : cost.message).toContain('claude-sonnet-5-5');
  });

  it('adds each web search at $10 per thousand, exactly', () => {
    const usage = {
      input_tokens: 0,
      output_tokens: 0,
      server_tool_use: { web_search_requests: 3 },
    };
    expect(usd(callCost('claude-sonnet-4-5', usage, book))).toBe('0.03');
  });
});

describe('the worst case of a call before it is sent', () => {
  it.each([
    ['input at the input price and max_tokens at the output price', undefined, '0.007995'],
    ['input at the five-minute write price when it asks for caching', '5m' as const, '0.008745'],
    ['input at the one-hour write price when it asks for an hour', '1h' as const, '0.010995'],
  ])('prices %s', (_name, cacheWrite, dollars) => {
    const cost = worstCaseCost(
      'claude-sonnet-4-5',
      { inputTokens: 1000, maxTokens: 333, ...(cacheWrite === undefined ? {} : { cacheWrite }) },
      book,
    );
    // 1000 × 3 (or 3.75, or 6) + 333 × 15 micro-dollars
    expect(usd(cost)).toBe(dollars);
  });

  it.each([
    // 1346 × 3 + 1 × 15 micro-dollars: the tool-use system prompt of auto or none
    [
      'one tool under auto: 346 tokens of tool-use system prompt',
      { toolChoice: 'auto' },
      '0.004053',
    ],
    // 1313 × 3 + 15
    ['one tool under any or tool: 313 tokens', { toolChoice: 'any' }, '0.003954'],
    // 1000 × 3 + 2 × 5000 × 3 + 15
    ['two images, each at the most an image can be', { images: 2 }, '0.033015'],
    // 1000 × 3 + 15 + 5 searches at a cent each + 5 × 1000 tokens of results × 3
    [
      'five searches of web_search at $10 per thousand, their results at 1,000 tokens each',
      { serverToolUses: { web_search: 5 }, webSearchResultTokens: 1_000 },
      '0.068015',
    ],
    // (1000 + 346 + 325) × 3 + 15: the bash tool's definition beside the tool-use prompt
    [
      'the bash tool: 325 tokens beside the tool-use prompt',
      { toolChoice: 'auto', clientToolTokens: 325 },
      '0.005028',
    ],
  ] as const)('adds what the provider bills itself: %s', (_name, additions, dollars) => {
    const cost = worstCaseCost(
      'claude-sonnet-4-5',
      { inputTokens: 1000, maxTokens: 1, additions },
      book,
    );
    expect(usd(cost)).toBe(dollars);
  });

  it('counts the largest tool-use system prompt for a model the table does not list', () => {
    const own = priceBook([
      {
        model: 'claude-sonnet-5-5',
        inputMicroUsdPerMTok: 1_000_000,
        outputMicroUsdPerMTok: 1_000_000,
        cacheWrite5mMicroUsdPerMTok: 1_000_000,
        cacheWrite1hMicroUsdPerMTok: 1_000_000,
        cacheReadMicroUsdPerMTok: 1_000_000,
      },
    ]);
    const cost = worstCaseCost(
      'claude-sonnet-5-5',
      { inputTokens: 0, maxTokens: 0, additions: { toolChoice: 'any' } },
      own,
    );
    expect(cost).toMatchObject({ priced: true, tokens: 530 });
  });

  it('writes the added input to the cache at its price too', () => {
    const cost = worstCaseCost(
      'claude-sonnet-4-5',
      { inputTokens: 0, maxTokens: 0, cacheWrite: '1h', additions: { toolChoice: 'auto' } },
      book,
    );
    // 346 × 6 micro-dollars
    expect(usd(cost)).toBe('0.002076');
  });

  it('bounds a request with bash, the text editor and computer use by their documented tokens', () => {
    const additions = requestAdditions({
      tools: [
        { type: 'bash_20250124', name: 'bash' },
        { type: 'text_editor_20250429', name: 'str_replace_based_edit_tool' },
        { type: 'computer_20250124', name: 'computer', display_width_px: 1024 },
      ],
    });
    const cost = worstCaseCost(
      'claude-sonnet-4-5',
      { inputTokens: 100, maxTokens: 10, additions },
      book,
    );
    // 100 + 346 (tool-use prompt) + 325 + 722 + 735 + 499 input tokens, 10 output
    expect(cost).toMatchObject({ priced: true, tokens: 2_737 });
    // 2,727 × 3 + 10 × 15 micro-dollars
    expect(usd(cost)).toBe('0.008331');
  });

  it('writes web search results to the cache at its price too, when the call writes the cache', () => {
    const cost = worstCaseCost(
      'claude-sonnet-4-5',
      {
        inputTokens: 0,
        maxTokens: 0,
        cacheWrite: '5m',
        additions: { serverToolUses: { web_search: 2 }, webSearchResultTokens: 500 },
      },
      book,
    );
    // 2 searches at a cent each + 1,000 tokens of results × 3.75 micro-dollars
    expect(cost).toMatchObject({ priced: true, tokens: 1_000 });
    expect(usd(cost)).toBe('0.02375');
  });

  it('cannot bound web_search without webSearchResultTokens, and names the field to set', () => {
    const cost = worstCaseCost(
      'claude-sonnet-4-5',
      { inputTokens: 1, maxTokens: 1, additions: { serverToolUses: { web_search: 2 } } },
      book,
    );
    expect(cost).toMatchObject({ priced: false, why: 'unbounded', tokens: 2 });
    expect(!cost.priced && cost.message).toMatch(
      /web_search results are billed as input tokens .* set RateLimitPolicy spec\.webSearchResultTokens/,
    );
  });

  it('bounds web_search with max_uses 0 without webSearchResultTokens: it never searches', () => {
    const cost = worstCaseCost(
      'claude-sonnet-4-5',
      { inputTokens: 1, maxTokens: 1, additions: { serverToolUses: { web_search: 0 } } },
      book,
    );
    expect(cost).toMatchObject({ priced: true, tokens: 2 });
  });

  it('is not priced, saying why and what to set, for a call whose cost has no bound', () => {
    const why = 'server tool web_search has no max_uses: set max_uses to bound its fees';
    expect(
      worstCaseCost(
        'claude-sonnet-4-5',
        { inputTokens: 1, maxTokens: 1, additions: { unbounded: why } },
        book,
      ),
    ).toEqual({
      priced: false,
      why: 'unbounded',
      model: 'claude-sonnet-4-5',
      tokens: 2,
      message: expect.stringContaining(why) as unknown,
    });
  });

  it('is unpriced for a model with no price', () => {
    expect(worstCaseCost('claude-opus-5-5', { inputTokens: 1, maxTokens: 1 }, book)).toMatchObject({
      priced: false,
      why: 'unpriced',
      tokens: 2,
    });
  });
});

describe('the price table', () => {
  it.each([...MODEL_LIST_PRICES].filter(([model]) => !model.startsWith('claude-3-haiku')))(
    "prices %s's cache as Anthropic's multipliers of its input price",
    (_model, list) => {
      const input = parseUsdMicros(list.input);
      expect({
        cacheWrite5m: parseUsdMicros(list.cacheWrite5m) * 4,
        cacheWrite1h: parseUsdMicros(list.cacheWrite1h),
        cacheRead: parseUsdMicros(list.cacheRead) * 10,
      }).toEqual({ cacheWrite5m: input * 5, cacheWrite1h: input * 2, cacheRead: input });
    },
  );
});
