import { describe, expect, it } from '@jest/globals';
import { moneyFromUsd } from '../../../contract/src/spend/money.ts';
import type { AgentDeployment, RateLimitPolicy } from '../../../contract/src/api/resources.ts';
import type { SpendLedger } from '../../../contract/src/api/v1alpha1/agentdeployment.ts';
import type { BudgetSettings } from '../../../contract/src/policy/policyDocument.ts';
import {
  BUDGETS_ANNOTATION,
  encodeBudgetReport,
} from '../../../contract/src/reporting/budgetReport.ts';
import { ADMISSION_SCHEMA } from '../../../contract/src/api/admissionSchema.ts';
import { budgetConditions, pricingCondition } from './budgetConditions.ts';
import { policyBudgets } from './policyBudgets.ts';
import { agentBudgetStatuses, agentSpend, spentSummary } from './spendStatus.ts';
import type { PodView } from '../status/views.ts';

const NOW = Date.parse('2026-11-24T10:00:00.000Z');
const DAY = '2026-11-24T00:00:00.000Z';
const USD = moneyFromUsd(1);
const budget = (over: Partial<BudgetSettings> = {}): BudgetSettings => ({
  name: 'daily',
  period: 'Day',
  limitMicroUsd: 10_000_000, // $10
  per: 'Agent',
  onExhausted: 'Refuse',
  warnAtPercent: 80,
  waitForHeldMs: 0,
  ...over,
});
const ledgerOf = (pico: bigint, samples: SpendLedger['samples'] = []): SpendLedger => ({
  baseline: [{ budget: 'daily', periodStart: DAY, picoUsd: String(pico), tokens: 0 }],
  processes: [],
  samples,
});
const statusOf = (pico: bigint, b = budget(), samples: SpendLedger['samples'] = []) =>
  agentBudgetStatuses({ budgets: [b], timeZone: 'UTC' }, ledgerOf(pico, samples), [], NOW)[0];

describe('an agent’s budget figures', () => {
  it('shows spent, limit, percent and when the period resets', () => {
    expect(statusOf(6_200_000_000_000n)).toMatchObject({
      name: 'daily',
      spent: { usd: '6.2', tokens: 0 },
      limit: { usd: '10' },
      percent: 62,
      periodStart: DAY,
      resetsAt: '2026-11-25T00:00:00.000Z',
    });
  });

  it('projects the last hour’s rate: $2/h from $6 at 10:00 runs out at 12:00', () => {
    const anHourAgo = {
      budget: 'daily',
      at: '2026-11-24T09:00:00.000Z',
      picoUsd: String(4n * USD),
      tokens: 0,
    };
    expect(statusOf(6n * USD, budget(), [anHourAgo])?.projection).toEqual({
      exhaustsAt: '2026-11-24T12:00:00.000Z',
      usdPerHour: '2',
      tokensPerHour: 0,
    });
  });

  it('says nothing of running out when the period ends first', () => {
    const anHourAgo = {
      budget: 'daily',
      at: '2026-11-24T09:00:00.000Z',
      picoUsd: String(5_900_000_000_000n),
      tokens: 0,
    };
    const projection = statusOf(6n * USD, budget(), [anHourAgo])?.projection;
    expect(projection?.exhaustsAt).toBeUndefined();
    expect(projection?.usdPerHour).toBe('0.1');
  });

  it('writes the summary kubectl get rlp shows', () => {
    const row = statusOf(6_200_000_000_000n);
    expect(row && spentSummary(row)).toBe('62% of daily ($6.2 of $10)');
  });
});

const row = (percent: number, onExhausted: BudgetSettings['onExhausted'] = 'Refuse') => {
  const settings = budget({ onExhausted });
  const status = statusOf((BigInt(percent) * 10n * USD) / 100n, settings);
  if (status === undefined) throw new Error('no status');
  return { agent: 'spender', status, settings };
};

describe('a per ClientKey budget', () => {
  it('sets one key’s spend against the limit, which is each key’s, in the summary and the conditions', () => {
    const perKey = budget({
      name: 'perkey',
      per: 'ClientKey',
      limitTokens: 2_000,
      warnAtPercent: 70,
    });
    const { limitMicroUsd: _none, ...tokensOnly } = perKey;
    const ledger: SpendLedger = {
      baseline: [
        {
          budget: 'perkey',
          periodStart: DAY,
          picoUsd: '0',
          tokens: 2_295,
          keys: [
            { key: 'key-aaaa', tokens: 1_530 },
            { key: 'key-bbbb', tokens: 765 },
          ],
        },
      ],
      processes: [],
      samples: [],
    };
    const [row] = agentBudgetStatuses({ budgets: [tokensOnly], timeZone: 'UTC' }, ledger, [], NOW);
    expect(row).toMatchObject({
      spent: { tokens: 2_295 },
      byOneKey: { tokens: 1_530 },
      percent: 76,
    });
    expect(spentSummary(row as NonNullable<typeof row>)).toBe(
      '76% of perkey (1530 of 2000 tokens by one key)',
    );
    const [warning] = budgetConditions([
      { agent: 'support', settings: tokensOnly, status: row as NonNullable<typeof row> },
    ]);
    expect(warning?.message).toContain('1530 of 2000 tokens (76%)');
  });
});

describe('budget conditions', () => {
  it.each([
    [50, 'Refuse', 'False', 'False', 'WithinBudget'],
    [85, 'Refuse', 'True', 'False', 'WithinBudget'],
    [100, 'Refuse', 'True', 'True', 'Refusing'],
    [100, 'Fallback', 'True', 'True', 'FallingBack'],
    [120, 'Shadow', 'True', 'True', 'Shadow'],
  ] as const)(
    'at %i%% with %s: warning %s, exhausted %s (%s)',
    (percent, on, warn, done, reason) => {
      const [warning, exhausted] = budgetConditions([row(percent, on)]);
      expect(warning?.status).toBe(warn);
      expect(exhausted?.status).toBe(done);
      expect(exhausted?.reason).toBe(reason);
    },
  );

  it('names the budget, the agent, spent, limit and the reset in its message', () => {
    const [, exhausted] = budgetConditions([row(100)]);
    expect(exhausted?.message).toBe(
      'budget "daily" (Day) of agent spender: spent $10 of $10 (100%), resets at 2026-11-25T00:00:00.000Z; calls are refused until then',
    );
  });
});

const agent = (name: string, over: Partial<AgentDeployment['spec']> = {}): AgentDeployment => ({
  apiVersion: 'breakwater.dev/v1alpha1',
  kind: 'AgentDeployment',
  metadata: { name, namespace: 'ns', uid: name },
  spec: {
    model: { name: 'claude-sonnet-4-5' },
    provider: { apiKeySecretRef: { name: 'k', key: 'k' } },
    ...over,
  },
});

describe('ModelsPriced', () => {
  it('names the model without a price and every field admission requires of its price', () => {
    const c = pricingCondition([budget()], [agent('a', { model: { name: 'claude-custom-1' } })]);
    expect(c).toMatchObject({ status: 'False', reason: 'UnpricedModel' });
    expect(c?.message).toContain('claude-custom-1 of agent a');
    expect(c?.message).toContain('spec.pricing[]');
    // Following the message must give a price admission takes: it requires all five.
    const required =
      ADMISSION_SCHEMA['AgentDeployment']?.fields?.['spec']?.fields?.['pricing']?.items?.required;
    expect(required).toContain('cacheReadPerMTok');
    for (const field of required ?? []) expect(c?.message).toContain(field);
  });

  it('is True once spec.pricing names it, and absent under Shadow or tokens only', () => {
    const priced = agent('a', {
      model: { name: 'claude-custom-1' },
      pricing: [
        {
          model: 'claude-custom-1',
          inputPerMTok: '1',
          outputPerMTok: '1',
          cacheWrite5mPerMTok: '1',
          cacheWrite1hPerMTok: '1',
          cacheReadPerMTok: '1',
        },
      ],
    });
    expect(pricingCondition([budget()], [priced])?.status).toBe('True');
    expect(pricingCondition([budget({ onExhausted: 'Shadow' })], [agent('a')])).toBeUndefined();
    expect(
      pricingCondition([budget({ limitMicroUsd: undefined, limitTokens: 10 })], [agent('a')]),
    ).toBeUndefined();
  });
});

describe('a policy several agents use', () => {
  const pod = (uid: string, pico: bigint): PodView => ({
    metadata: {
      uid,
      annotations: {
        [BUDGETS_ANNOTATION]: encodeBudgetReport({
          source: 'replica',
          budgets: {
            daily: {
              periodStart: DAY,
              spent: { picoUsd: pico, tokens: 0 },
              held: { picoUsd: 0n, tokens: 0 },
            },
          },
        }),
      },
    },
  });
  const rlp: RateLimitPolicy = {
    apiVersion: 'breakwater.dev/v1alpha1',
    kind: 'RateLimitPolicy',
    metadata: { name: 'spend', namespace: 'ns' },
    spec: { budgets: [{ name: 'daily', period: 'Day', usd: '10' }] },
  };

  it('shows each budget for the agent nearest its limit, each agent’s own in its status', () => {
    const quiet = { agent: agent('quiet'), pods: [pod('q1', 1n * USD)] };
    const users = [
      quiet,
      { agent: agent('busy'), pods: [pod('b1', 5n * USD), pod('b2', 4n * USD)] },
    ];
    const result = policyBudgets(rlp, users, NOW);
    expect(result.fields.budgets).toEqual([
      expect.objectContaining({ name: 'daily', agent: 'busy', agents: 2, percent: 90 }),
    ]);
    expect(result.fields.spent).toBe('90% of daily ($9 of $10)');
    expect(result.fields.resetsAt).toBe('2026-11-25T00:00:00.000Z');
    expect(result.conditions.find((c) => c.type === 'BudgetWarning')?.message).toContain(
      'of agent busy',
    );
    expect(result.changesAtMs).toBe(Date.parse('2026-11-25T00:00:00.000Z'));
    const own = agentSpend(quiet.agent, quiet.pods, { budgets: [budget()], timeZone: 'UTC' }, NOW);
    expect(own.status.budgets?.[0]?.percent).toBe(10);
  });

  it('counts nothing in a time zone the zone database does not know, and says why', () => {
    // Admission takes any name shaped like a zone; this one threw in every reconcile.
    const users = [{ agent: agent('busy'), pods: [pod('b1', 5n * USD)] }];
    const result = policyBudgets(
      { ...rlp, spec: { ...rlp.spec, timeZone: 'Mars/Base' } },
      users,
      NOW,
    );
    expect(result.fields).toEqual({});
    expect(result.dropConditions).toEqual([]);
    expect(result.invalid).toMatch(/^spec\.timeZone "Mars\/Base" is not a time zone the IANA/);
  });

  it('has no budget fields, and drops the conditions, without budgets', () => {
    const result = policyBudgets({ ...rlp, spec: {} }, [], NOW);
    expect(result.fields).toEqual({});
    expect(result.dropConditions).toContain('BudgetExhausted');
  });
});
