/**
 * web_search under a dollar budget (M7): three real runtime processes with their budgets in a
 * real redis-server, the simulator behind them billing each search's fee and its results as
 * input tokens (`--search-result-tokens`, 2,000 unless a test says), and the real SDK (no
 * retries) as the client. The provider documents no bound on a search's results: RateLimitPolicy
 * `spec.webSearchResultTokens` is the figure a call's worst case counts them at, and the
 * budget holds while the results are no larger.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Anthropic from '@anthropic-ai/sdk';
import { moneyFromMicros } from '../../contract/src/spend/money.ts';
import {
  billedPico,
  settledAccount,
  settledAndBilled,
  streamUntil,
} from '../support/billedSettlement.ts';
import {
  PRIMARY_PRICE,
  budgetAgent,
  sdk,
  type BudgetAgent,
} from '../support/budgetStoreFixture.ts';
import { PRIMARY_MODEL } from '../support/standaloneRuntime.ts';

/** Input tokens the simulator bills each search's results at, unless a test says. */
const RESULT_TOKENS = 2_000;

const SEARCH = { type: 'web_search_20250305' as const, name: 'web_search' as const, max_uses: 2 };

/** An answer that echoes its prompt over many events, after up to two searches. */
const searching = {
  model: PRIMARY_MODEL,
  max_tokens: 512,
  messages: [
    {
      role: 'user' as const,
      content: 'Tell me about the sea, its tides and its weather. '.repeat(6),
    },
  ],
  tools: [SEARCH],
};

/** Refusals until the first, one call at a time: how many were served, and the refusal. */
async function untilRefused(
  client: Anthropic,
  request: Anthropic.MessageCreateParamsNonStreaming,
): Promise<{ served: number; refusal: unknown }> {
  let served = 0;
  let refusal: unknown;
  for (let i = 0; i < 30 && refusal === undefined; i++) {
    await client.messages.create(request).then(
      () => served++,
      (err: unknown) => (refusal = err),
    );
  }
  return { served, refusal };
}

describe('web_search under a dollar budget that refuses, without webSearchResultTokens', () => {
  let s: BudgetAgent;
  beforeAll(async () => {
    s = await budgetAgent({ spec: { budgets: [{ name: 'daily', period: 'Day', usd: '1' }] } });
  });
  afterAll(async () => {
    await s.stop();
  });

  it.each([
    ['with max_uses', SEARCH, /set RateLimitPolicy spec\.webSearchResultTokens/],
    [
      'without max_uses',
      { type: 'web_search_20250305' as const, name: 'web_search' as const },
      /server tool web_search has no max_uses: set max_uses to bound its fees/,
    ],
  ])(
    'is refused %s with a 400 that says what to set, before any provider call',
    async (_how, tool, says) => {
      await s.sim.resetBilled();
      const refused = await sdk(s.urls[0] ?? '')
        .messages.create({ ...searching, tools: [tool] })
        .then(
          () => undefined,
          (err: unknown) => err,
        );
      expect(refused).toBeInstanceOf(Anthropic.BadRequestError);
      expect((refused as Error).message).toMatch(says);
      expect(await s.sim.billed()).toEqual([]);
    },
  );
});

describe("web_search under a dollar budget, webSearchResultTokens at the simulator's result size", () => {
  const LIMIT = moneyFromMicros(300_000); // $0.30
  let s: BudgetAgent;
  beforeAll(async () => {
    s = await budgetAgent({
      spec: {
        budgets: [{ name: 'daily', period: 'Day', usd: '0.3' }],
        webSearchResultTokens: RESULT_TOKENS,
      },
      // Paced as a long answer is: a client that hangs up at a block's start or in its deltas
      // is still mid-stream when its hang-up reaches the provider.
      sim: { eventGapMs: 40 },
    });
  });
  afterAll(async () => {
    await s.stop();
  });

  it('settles the searches of a whole answer, fees and results, exactly as billed', async () => {
    const { settled, billed, log } = await settledAndBilled(s, 2, async () => {
      const client = sdk(s.urls[0] ?? '');
      await client.messages.create(searching);
      await client.messages.stream(searching).finalMessage();
    });
    expect(log.map((c) => c.usage.server_tool_use?.web_search_requests)).toEqual([2, 2]);
    expect(settled).toBe(billed);
  });

  it.each(['content_block_start', 'content_block_delta', 'content_block_stop'])(
    "settles a stream its client hangs up on at %s at no less than billed, the searches' results included",
    async (type) => {
      const { settled, billed, log } = await settledAndBilled(s, 1, () =>
        streamUntil(s.urls[0] ?? '', searching, type),
      );
      // At content_block_stop only message_delta and message_stop remain, 20-120 ms of the
      // simulator's paced gaps: on a loaded machine the hang-up can reach it after its last
      // write, and the answer was then whole. Whichever it was, the settlement must cover it.
      const endings = type === 'content_block_stop' ? ['client_cut', 'complete'] : ['client_cut'];
      expect(log[0]?.stream).toBe(true);
      expect(endings).toContain(log[0]?.ending);
      expect(log[0]?.usage.server_tool_use?.web_search_requests).toBe(2);
      expect(settled).toBeGreaterThanOrEqual(billed);
    },
  );

  it('never settles past the budget, called one at a time until refused, nor less than billed', async () => {
    const before = (await settledAccount(s)).spentPico;
    await s.sim.resetBilled();
    const { served, refusal } = await untilRefused(sdk(s.urls[0] ?? ''), searching);
    const account = await settledAccount(s);
    expect(refusal).toBeInstanceOf(Anthropic.RateLimitError);
    expect(served).toBeGreaterThan(1);
    expect(account.spentPico - before).toBeGreaterThanOrEqual(billedPico(await s.sim.billed()));
    expect(account.spentPico).toBeLessThanOrEqual(LIMIT);
  });
});

describe('web_search whose results are larger than webSearchResultTokens', () => {
  // Each search's results are billed at twice the policy's figure: 4,000 tokens against 2,000.
  const BILLED = 2 * RESULT_TOKENS;
  /** What one search's results cost past what the worst case counted. */
  const EXCESS = BigInt(BILLED - RESULT_TOKENS) * BigInt(PRIMARY_PRICE.inputMicroUsdPerMTok);
  /**
   * Between one call's real cost and its worst case ($0.0232 + $0.0178) and two calls' real
   * cost ($0.0465): the second call fits, and costs more than its worst case.
   */
  const LIMIT = moneyFromMicros(43_700); // $0.0437
  let s: BudgetAgent;
  beforeAll(async () => {
    s = await budgetAgent({
      spec: {
        budgets: [{ name: 'daily', period: 'Day', usd: '0.0437' }],
        webSearchResultTokens: RESULT_TOKENS,
      },
      sim: { searchResultTokens: BILLED },
    });
  });
  afterAll(async () => {
    await s.stop();
  });

  it("passes the budget by no more than a call's excess, called one at a time until refused", async () => {
    const { served, refusal } = await untilRefused(sdk(s.urls[0] ?? ''), {
      model: PRIMARY_MODEL,
      max_tokens: 16,
      messages: [{ role: 'user', content: 'What is the tide?' }],
      tools: [{ ...SEARCH, max_uses: 1 }],
    });
    const account = await settledAccount(s);
    expect(refusal).toBeInstanceOf(Anthropic.RateLimitError);
    expect(served).toBe(2);
    expect(account.spentPico).toBeGreaterThanOrEqual(billedPico(await s.sim.billed()));
    // The assumption broken: the second call fitted its worst case and cost more.
    expect(account.spentPico).toBeGreaterThan(LIMIT);
    expect(account.spentPico).toBeLessThanOrEqual(LIMIT + EXCESS);
  });
});
