import { describe, expect, it } from '@jest/globals';
import { FALLBACK_MODEL, PRIMARY_MODEL } from '../api/sampleModels.ts';
import type { BudgetSettings, ModelPriceSettings } from './policyDocument.ts';
import { samplePolicyDocument } from './policyFixtures.ts';
import { checkPolicyDocument } from './policyValidation.ts';

const monthly: BudgetSettings = {
  name: 'monthly',
  period: 'Month',
  limitMicroUsd: 500_000_000,
  per: 'Agent',
  onExhausted: 'Refuse',
  warnAtPercent: 80,
  waitForHeldMs: 0,
};
const price = (model: string): ModelPriceSettings => ({
  model,
  inputMicroUsdPerMTok: 3_000_000,
  outputMicroUsdPerMTok: 15_000_000,
  cacheWrite5mMicroUsdPerMTok: 3_750_000,
  cacheWrite1hMicroUsdPerMTok: 6_000_000,
  cacheReadMicroUsdPerMTok: 300_000,
});

function withSpend(
  budgets: readonly object[],
  timeZone = 'Europe/Berlin',
  pricing: readonly object[] = [price(PRIMARY_MODEL)],
): unknown {
  const doc = samplePolicyDocument();
  return {
    ...doc,
    rateLimit: { ...doc.rateLimit, spend: { shareOf: 1, timeZone, budgets } },
    pricing,
  };
}

describe('the document check of what an agent may spend', () => {
  it('accepts budgets in a known zone and a price per model', () => {
    const doc = withSpend(
      [monthly, { ...monthly, name: 'daily', period: 'Day' }],
      'Europe/Berlin',
      [price(PRIMARY_MODEL), price(FALLBACK_MODEL)],
    );
    expect(checkPolicyDocument(doc)).toMatchObject({ ok: true });
  });

  it.each([
    [
      'a time zone the database does not know',
      withSpend([monthly], 'Mars/Olympus_Mons'),
      /^rateLimit\.spend\.timeZone must be a time zone the IANA database knows/,
    ],
    [
      'two budgets of one name',
      withSpend([monthly, monthly]),
      /^rateLimit\.spend\.budgets\[1\]\.name must name each budget once/,
    ],
    [
      'a budget that limits neither dollars nor tokens',
      withSpend([{ ...monthly, limitMicroUsd: undefined }]),
      /^rateLimit\.spend\.budgets\[0\] must limit dollars \(limitMicroUsd\), tokens \(limitTokens\) or both/,
    ],
    [
      'a budget of zero dollars',
      withSpend([{ ...monthly, limitMicroUsd: 0 }]),
      /^rateLimit\.spend\.budgets\[0\]\.limitMicroUsd must be an integer from 1 to 999999999999/,
    ],
    [
      'a dollar amount the resolver could not read',
      withSpend([{ ...monthly, limitMicroUsd: '1e3' }]),
      /^rateLimit\.spend\.budgets\[0\]\.limitMicroUsd must be an integer/,
    ],
    [
      'a budget name that is not a DNS label',
      withSpend([{ ...monthly, name: 'Monthly' }]),
      /^rateLimit\.spend\.budgets\[0\]\.name must match/,
    ],
    [
      'a period other than Day, Week or Month',
      withSpend([{ ...monthly, period: 'Year' }]),
      /^rateLimit\.spend\.budgets\[0\]\.period must be one of Day, Week, Month/,
    ],
    [
      'a warning above 100%',
      withSpend([{ ...monthly, warnAtPercent: 101 }]),
      /^rateLimit\.spend\.budgets\[0\]\.warnAtPercent must be an integer from 1 to 100/,
    ],
    [
      'a team budget (per Policy) with neither a store nor shares to count it on',
      withSpend([{ ...monthly, per: 'Policy' }]),
      /^rateLimit\.spend\.budgets\[0\]\.per Policy is shared by every agent on the policy, which count it together only in a store or on shares of all their replicas: set the RateLimitPolicy spec\.store/,
    ],
    [
      'two prices for one model',
      withSpend([monthly], 'UTC', [price(PRIMARY_MODEL), price(PRIMARY_MODEL)]),
      /^pricing\[1\]\.model must name each model once/,
    ],
    [
      'a negative price',
      withSpend([monthly], 'UTC', [{ ...price(PRIMARY_MODEL), cacheReadMicroUsdPerMTok: -1 }]),
      /^pricing\[0\]\.cacheReadMicroUsdPerMTok must be an integer from 0/,
    ],
    [
      'a price with no model',
      withSpend([monthly], 'UTC', [{ ...price(PRIMARY_MODEL), model: '' }]),
      /^pricing\[0\]\.model must be a non-empty string/,
    ],
  ])('refuses %s, naming the field', (_name, doc, message) => {
    const result = checkPolicyDocument(doc);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toMatch(message);
  });

  it('accepts a team budget (per Policy) on shares of every agent’s replicas', () => {
    expect(
      checkPolicyDocument(withSpend([{ ...monthly, per: 'Policy', teamShareOf: 4 }])),
    ).toMatchObject({ ok: true });
    const zero = checkPolicyDocument(withSpend([{ ...monthly, per: 'Policy', teamShareOf: 0 }]));
    expect(zero.ok).toBe(false);
    if (!zero.ok)
      expect(zero.error).toMatch(
        /^rateLimit\.spend\.budgets\[0\]\.teamShareOf must be an integer from 1/,
      );
  });

  it('accepts a team budget (per Policy) with the store that counts it', () => {
    const doc = withSpend([{ ...monthly, per: 'Policy' }]) as ReturnType<
      typeof samplePolicyDocument
    >;
    const store = {
      redis: { address: 'redis:6379' },
      waitBudgetMs: 5,
      sharing: 'PerAgent',
      keyPrefix: 'breakwater:{ns/team/a}',
      teamKeyPrefix: 'breakwater:{ns/team}',
    };
    const withStore = { ...doc, rateLimit: { ...doc.rateLimit, store } };
    expect(checkPolicyDocument(withStore)).toMatchObject({ ok: true });
  });
});
