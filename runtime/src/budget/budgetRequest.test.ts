import { describe, expect, it, jest } from '@jest/globals';
import type { PolicyDocument } from '../../../contract/src/policy/policyDocument.ts';
import { samplePolicyDocument } from '../../../contract/src/policy/policyFixtures.ts';
import { dailyBudget } from './budgetFixture.ts';
import { budgetRequest } from './budgetRequest.ts';

const doc: PolicyDocument = (() => {
  const sample = samplePolicyDocument();
  return {
    ...sample,
    rateLimit: {
      ...sample.rateLimit,
      spend: {
        shareOf: 1,
        timeZone: 'UTC',
        budgets: [dailyBudget({ waitForHeldMs: 5000 })],
      },
    },
  };
})();

const body = (extra: string) =>
  `{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]${extra}}`;
const TOOL = '{"name":"lookup","input_schema":{"type":"object"}}';

describe('budgetRequest', () => {
  it.each([
    ['plainly', body(`,"tools":[${TOOL}]`)],
    ['with a \\u escape in the name', body(`,"t\\u006fols":[${TOOL}]`)],
  ])('reserves the tool-use system prompt for tools spelled %s', (_how, text) => {
    // From the text alone, and from the body the route has already parsed.
    for (const parsed of [undefined, JSON.parse(text)]) {
      const priced = budgetRequest(doc, () => undefined, text, 10, parsed);
      expect(priced?.additions?.toolChoice).toBe('auto');
    }
  });

  it.each([
    ['plainly', '"web_search_20250305"'],
    ['with a \\u escape in the type', '"web_se\\u0061rch_20250305"'],
  ])('refuses as unbounded a web search without max_uses spelled %s', (_how, type) => {
    const text = body(`,"tools":[{"type":${type},"name":"web_search"}]`);
    for (const parsed of [undefined, JSON.parse(text)]) {
      const priced = budgetRequest(doc, () => undefined, text, 10, parsed);
      expect(priced?.additions?.unbounded).toMatch(/max_uses/);
    }
  });

  it("counts each web search's results at the policy's webSearchResultTokens, and nothing without searches", () => {
    const withFigure: PolicyDocument = {
      ...doc,
      rateLimit: {
        ...doc.rateLimit,
        spend: {
          ...(doc.rateLimit.spend ?? { shareOf: 1, timeZone: 'UTC', budgets: [] }),
          webSearchResultTokens: 4_000,
        },
      },
    };
    const searching = body(
      `,"tools":[{"type":"web_search_20250305","name":"web_search","max_uses":2}]`,
    );
    expect(budgetRequest(withFigure, () => undefined, searching, 10)?.additions).toMatchObject({
      serverToolUses: { web_search: 2 },
      webSearchResultTokens: 4_000,
    });
    const tool = budgetRequest(withFigure, () => undefined, body(`,"tools":[${TOOL}]`), 10);
    expect(tool?.additions?.webSearchResultTokens).toBeUndefined();
    expect(
      budgetRequest(doc, () => undefined, searching, 10)?.additions?.webSearchResultTokens,
    ).toBeUndefined();
  });

  it.each([
    ['plainly', '"cache_control":{"type":"ephemeral","ttl":"1h"}', '1h'],
    [
      'with a \\u escape in the name',
      '"c\\u0061che_control":{"type":"ephemeral","ttl":"1h"}',
      '1h',
    ],
    [
      'with a \\u escape in the lifetime',
      '"cache_control":{"type":"ephemeral","ttl":"\\u0031h"}',
      '1h',
    ],
    ['without a lifetime, escaped', '"c\\u0061che_control":{"type":"ephemeral"}', '5m'],
  ])('prices a cache write asked for %s', (_how, control, ttl) => {
    const text = body(`,"system":[{"type":"text","text":"s",${control}}]`);
    for (const parsed of [undefined, JSON.parse(text)]) {
      expect(budgetRequest(doc, () => undefined, text, 10, parsed)?.cacheWrite).toBe(ttl);
    }
  });

  it('reads the tools of a body the route has parsed without parsing its text again', () => {
    const text = body(`,"t\\u006fols":[${TOOL}]`);
    const parsed: unknown = JSON.parse(text);
    const parse = jest.spyOn(JSON, 'parse');
    try {
      const priced = budgetRequest(doc, () => undefined, text, 10, parsed);
      expect(priced?.additions?.toolChoice).toBe('auto');
      expect(parse).not.toHaveBeenCalled();
    } finally {
      parse.mockRestore();
    }
  });

  it('counts every byte sent as input, escapes included', () => {
    const text = body(`,"metadata":{"user_id":"\\u0061"}`);
    expect(budgetRequest(doc, () => undefined, text, 10)?.inputTokensAtMost).toBe(
      Buffer.byteLength(text),
    );
  });
});
