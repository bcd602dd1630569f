import { describe, expect, it } from '@jest/globals';
import { moneyFromUsd } from '../../../contract/src/spend/money.ts';
import type { AgentDeployment, RateLimitPolicy } from '../../../contract/src/api/resources.ts';
import {
  BUDGETS_ANNOTATION,
  encodeBudgetReport,
} from '../../../contract/src/reporting/budgetReport.ts';
import { policyBudgets } from './policyBudgets.ts';
import { MAX_TEAM_PARTS } from './teamBudgets.ts';
import type { PodView } from '../status/views.ts';

const NOW = Date.parse('2026-11-24T10:00:00.000Z');
const MONTH = '2026-11-01T00:00:00.000Z';
const USD = moneyFromUsd(1);

const agent = (name: string): AgentDeployment => ({
  apiVersion: 'breakwater.dev/v1alpha1',
  kind: 'AgentDeployment',
  metadata: { name, namespace: 'ns', uid: name },
  spec: {
    model: { name: 'claude-sonnet-4-5' },
    provider: { apiKeySecretRef: { name: 'k', key: 'k' } },
    rateLimitPolicyRef: { name: 'platform' },
  },
});

/** The team's account as a pod read it from the store at `readAt` (spent + held = `pico`). */
interface Read {
  readonly pico: bigint;
  readonly readAt: string;
  readonly periodStart?: string;
}

/** A pod reporting its own spend of each named budget this month, and its read of `team`. */
const pod = (uid: string, spent: Record<string, bigint>, tokens = 0, read?: Read): PodView => ({
  metadata: {
    uid,
    annotations: {
      [BUDGETS_ANNOTATION]: encodeBudgetReport({
        source: 'replica',
        budgets: Object.fromEntries(
          Object.entries(spent).map(([name, pico]) => [
            name,
            {
              periodStart: MONTH,
              spent: { picoUsd: pico, tokens },
              held: { picoUsd: 0n, tokens: 0 },
              ...(read === undefined || name !== 'team'
                ? {}
                : {
                    team: {
                      periodStart: read.periodStart ?? MONTH,
                      readAt: read.readAt,
                      // Held counts: the team's figure is spent and held, as an agent's is.
                      spent: { picoUsd: read.pico - USD, tokens: 1000 },
                      held: { picoUsd: USD, tokens: 0 },
                    },
                  }),
            },
          ]),
        ),
      }),
    },
  },
});

const policy = (budgets: NonNullable<RateLimitPolicy['spec']['budgets']>): RateLimitPolicy => ({
  apiVersion: 'breakwater.dev/v1alpha1',
  kind: 'RateLimitPolicy',
  metadata: { name: 'platform', namespace: 'ns' },
  spec: { budgets },
});

const team = { name: 'team', period: 'Month' as const, usd: '100', per: 'Policy' as const };
const own = { name: 'own', period: 'Month' as const, usd: '60' };

describe('a team’s budget in the RateLimitPolicy’s status', () => {
  it('shows the team’s spend, the sum of every agent’s part, and each part largest first', () => {
    const users = [
      { agent: agent('triage'), pods: [pod('t1', { team: 30n * USD }, 300)] },
      {
        agent: agent('review'),
        pods: [pod('r1', { team: 25n * USD }, 250), pod('r2', { team: 30n * USD }, 300)],
      },
    ];
    const result = policyBudgets(policy([team]), users, NOW);
    expect(result.fields.budgets).toEqual([
      {
        name: 'team',
        per: 'Policy',
        onExhausted: 'Refuse',
        spent: { usd: '85', tokens: 850 },
        limit: { usd: '100' },
        percent: 85,
        periodStart: MONTH,
        resetsAt: '2026-12-01T00:00:00.000Z',
        agents: 2,
        source: 'Parts',
        parts: [
          { agent: 'review', usd: '55', tokens: 550 },
          { agent: 'triage', usd: '30', tokens: 300 },
        ],
      },
    ]);
    expect(result.fields.spent).toBe('85% of team ($85 of $100)');
    const warning = result.conditions.find((c) => c.type === 'BudgetWarning');
    expect(warning?.status).toBe('True');
    expect(warning?.message).toBe(
      'budget "team" (Month, per Policy) of every agent on RateLimitPolicy platform together: ' +
        'spent $85 of $100 (85%), resets at 2026-12-01T00:00:00.000Z; warns at 80%',
    );
    expect(result.conditions.find((c) => c.type === 'BudgetExhausted')?.status).toBe('False');
  });

  it('shows the store’s account, not the sum, once a pod read it this period', () => {
    const users = [
      {
        agent: agent('triage'),
        pods: [
          pod('t1', { team: 30n * USD }, 0, { pico: 90n * USD, readAt: '2026-11-24T09:59:58Z' }),
        ],
      },
      {
        agent: agent('review'),
        pods: [
          // The freshest read, though smaller: calls settled below their worst case since.
          pod('r1', { team: 25n * USD }, 0, { pico: 70n * USD, readAt: '2026-11-24T09:59:59Z' }),
          // Last month's account is not this month's.
          pod('r2', { team: 5n * USD }, 0, {
            pico: 99n * USD,
            readAt: '2026-11-24T10:00:00Z',
            periodStart: '2026-10-01T00:00:00.000Z',
          }),
        ],
      },
    ];
    const result = policyBudgets(policy([team]), users, NOW);
    expect(result.fields.budgets?.[0]).toMatchObject({
      spent: { usd: '70', tokens: 1000 },
      percent: 70,
      source: 'Store',
      // The parts stay what each agent's pods report of their own spend.
      parts: [
        { agent: 'review', usd: '30', tokens: 0 },
        { agent: 'triage', usd: '30', tokens: 0 },
      ],
    });
    expect(result.fields.spent).toBe('70% of team ($70 of $100)');
  });

  it('shows the sum when the parts are past the store’s last read, and says so', () => {
    const users = [
      {
        agent: agent('triage'),
        pods: [
          pod('t1', { team: 50n * USD }, 2000, { pico: 40n * USD, readAt: '2026-11-24T09:59:58Z' }),
        ],
      },
      { agent: agent('review'), pods: [pod('r1', { team: 10n * USD }, 0)] },
    ];
    expect(policyBudgets(policy([team]), users, NOW).fields.budgets?.[0]).toMatchObject({
      spent: { usd: '60', tokens: 2000 },
      source: 'Parts',
    });
  });

  it('is exhausted when the agents together spent it, though no agent spent it alone', () => {
    const users = [
      { agent: agent('triage'), pods: [pod('t1', { team: 50n * USD, own: 40n * USD })] },
      { agent: agent('review'), pods: [pod('r1', { team: 50n * USD, own: 50n * USD })] },
    ];
    const result = policyBudgets(policy([team, own]), users, NOW);
    const exhausted = result.conditions.find((c) => c.type === 'BudgetExhausted');
    expect(exhausted).toMatchObject({ status: 'True', reason: 'Refusing' });
    expect(exhausted?.message).toContain('budget "team" (Month, per Policy) of every agent');
    expect(exhausted?.message).toContain('calls are refused until then');
    // Each agent's own budget is still judged by the agent nearest its limit.
    expect(result.fields.budgets?.find((b) => b.name === 'own')).toMatchObject({
      agent: 'review',
      percent: 83,
    });
    expect(result.fields.spent).toBe('100% of team ($100 of $100)');
  });

  it(`lists at most ${String(MAX_TEAM_PARTS)} agents and sums the rest`, () => {
    const users = Array.from({ length: MAX_TEAM_PARTS + 3 }, (_, i) => ({
      agent: agent(`a${String(i).padStart(2, '0')}`),
      pods: [pod(`p${String(i)}`, { team: BigInt(i + 1) * (USD / 100n) })],
    }));
    const entry = policyBudgets(policy([team]), users, NOW).fields.budgets?.[0];
    expect(entry?.agents).toBe(MAX_TEAM_PARTS + 3);
    expect(entry?.parts).toHaveLength(MAX_TEAM_PARTS);
    expect(entry?.parts?.[0]).toEqual({ agent: 'a52', usd: '0.53', tokens: 0 });
    // The three smallest, $0.01 + $0.02 + $0.03, together.
    expect(entry?.otherParts).toEqual({ agents: 3, usd: '0.06', tokens: 0 });
    // 1 + 2 + … + 53 cents.
    expect(entry?.spent).toEqual({ usd: '14.31', tokens: 0 });
    expect(entry?.percent).toBe(14);
  });

  it('adds the agents’ rates of the last hour and says when the team runs out', () => {
    const anHourAgo = (pico: bigint) => ({
      budget: 'team',
      at: '2026-11-24T09:00:00.000Z',
      picoUsd: String(pico),
      tokens: 0,
    });
    const withSamples = (a: AgentDeployment, pico: bigint): AgentDeployment => ({
      ...a,
      status: {
        spend: { ledger: { baseline: [], processes: [], samples: [anHourAgo(pico)] } },
      },
    });
    // $40 and $20 now, $30 and $10 an hour ago: $20/h together, $40 left: two hours.
    const users = [
      { agent: withSamples(agent('triage'), 30n * USD), pods: [pod('t1', { team: 40n * USD })] },
      { agent: withSamples(agent('review'), 10n * USD), pods: [pod('r1', { team: 20n * USD })] },
    ];
    const entry = policyBudgets(policy([team]), users, NOW).fields.budgets?.[0];
    expect(entry?.projection).toEqual({
      exhaustsAt: '2026-11-24T12:00:00.000Z',
      usdPerHour: '20',
      tokensPerHour: 0,
    });
  });
});
