import { afterEach, describe, expect, it } from '@jest/globals';
import type { AgentDeployment } from '../../../contract/src/api/resources.ts';
import type { KubeObject } from '../../../platform/src/kube/kubeObject.ts';
import {
  BUDGETS_ANNOTATION,
  encodeBudgetReport,
} from '../../../contract/src/reporting/budgetReport.ts';
import { moneyFromUsd } from '../../../contract/src/spend/money.ts';
import { Kinds } from '../../../platform/src/kube/resourceKinds.ts';
import { minimalAgent } from '../builders/builderFixtures.ts';
import { AGENT_LABEL } from '../builders/labels.ts';
import { AgentKind, settle, started, stopStarted } from './controllerFixtures.ts';
import type { Controller } from './controller.ts';

afterEach(async () => {
  await stopStarted();
});

const onTeam = (name: string): AgentDeployment & Record<string, unknown> => {
  const agent = minimalAgent();
  agent.metadata = { ...agent.metadata, name, uid: `uid-${name}` };
  agent.spec.rateLimitPolicyRef = { name: 'platform' };
  return agent as AgentDeployment & Record<string, unknown>;
};

const teamPolicy = {
  apiVersion: 'breakwater.dev/v1alpha1',
  kind: 'RateLimitPolicy',
  metadata: { name: 'platform', namespace: 'default', generation: 1 },
  spec: {
    scope: 'Cluster',
    budgets: [
      { name: 'team', period: 'Month', usd: '100', per: 'Policy', warnAtPercent: 70 },
      { name: 'own', period: 'Month', usd: '100' },
    ],
  },
};

/**
 * A ready pod of `agent` reporting `usd` spent of the team budget this month (the clock's 0),
 * and the team's account as it read it from the store (`storeUsd`), if it did.
 */
const spendingPod = (agent: string, usd: number, storeUsd?: number) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name: `${agent}-0`,
    namespace: 'default',
    uid: `pod-${agent}`,
    labels: { [AGENT_LABEL]: agent },
    annotations: {
      [BUDGETS_ANNOTATION]: encodeBudgetReport({
        source: 'replica',
        budgets: {
          team: {
            periodStart: new Date(0).toISOString(),
            spent: { picoUsd: moneyFromUsd(usd), tokens: 0 },
            held: { picoUsd: 0n, tokens: 0 },
            ...(storeUsd === undefined
              ? {}
              : {
                  team: {
                    periodStart: new Date(0).toISOString(),
                    readAt: new Date(0).toISOString(),
                    spent: { picoUsd: moneyFromUsd(storeUsd), tokens: 0 },
                    held: { picoUsd: 0n, tokens: 0 },
                  },
                }),
          },
        },
      }),
    },
  },
  status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
});

/** The team gauges' series, as `<metric> <labels> <value>` lines. */
async function teamSeries(controller: Controller): Promise<string[]> {
  const text = await controller.ctx.metrics.registry.metrics();
  return text
    .split('\n')
    .filter((l) => l.startsWith('breakwater_operator_team_budget_'))
    .sort();
}

/** The newest status the operator wrote for AgentDeployment `name`. */
function agentConditions(statuses: readonly KubeObject[], name: string) {
  const last = statuses
    .filter((o) => o.kind === 'AgentDeployment' && o.metadata?.name === name)
    .at(-1) as AgentDeployment | undefined;
  return last?.status?.conditions ?? [];
}

describe('an agent on a team budget', () => {
  it('is BudgetExhausted (Refusing) once the agents together spent it, though it spent only part', async () => {
    const { api, controller } = await started(onTeam('triage'));
    api.emit(AgentKind, 'ADDED', onTeam('review'));
    api.emit(Kinds.RateLimitPolicy, 'ADDED', teamPolicy);
    api.emit(Kinds.Pod, 'ADDED', spendingPod('triage', 40));
    api.emit(Kinds.Pod, 'ADDED', spendingPod('review', 30));
    await settle(controller);
    // $70 of $100: past the team's 70 % warning, not spent.
    const before = agentConditions(api.statuses, 'triage');
    expect(before.find((c) => c.type === 'BudgetWarning')?.status).toBe('True');
    expect(before.find((c) => c.type === 'BudgetExhausted')?.status).toBe('False');
    api.emit(Kinds.Pod, 'MODIFIED', spendingPod('review', 60));
    await settle(controller);
    for (const name of ['triage', 'review']) {
      const exhausted = agentConditions(api.statuses, name).find(
        (c) => c.type === 'BudgetExhausted',
      );
      expect(exhausted).toMatchObject({ status: 'True', reason: 'Refusing' });
      expect(exhausted?.message).toBe(
        'budget "team" (Month, per Policy) of every agent on RateLimitPolicy platform together: ' +
          'spent $100 of $100 (100%), resets at 1970-02-01T00:00:00.000Z; calls are refused until then',
      );
    }
  });
});

describe('a team budget’s figure with a store', () => {
  it('is the store’s account as a pod read it, not the sum of the parts', async () => {
    const { api, controller } = await started(onTeam('triage'));
    api.emit(AgentKind, 'ADDED', onTeam('review'));
    api.emit(Kinds.RateLimitPolicy, 'ADDED', teamPolicy);
    api.emit(Kinds.Pod, 'ADDED', spendingPod('triage', 20));
    api.emit(Kinds.Pod, 'ADDED', spendingPod('review', 30, 80));
    await settle(controller);
    const policy = api.statuses.filter((o) => o.kind === 'RateLimitPolicy').at(-1) as
      { status?: { budgets?: { name: string }[] } } | undefined;
    expect(policy?.status?.budgets?.find((b) => b.name === 'team')).toMatchObject({
      spent: { usd: '80' },
      percent: 80,
      source: 'Store',
      parts: [
        { agent: 'review', usd: '30' },
        { agent: 'triage', usd: '20' },
      ],
    });
    // Each agent's conditions judge the team's figure: $80 is past the 70 % warning.
    const warning = agentConditions(api.statuses, 'triage').find((c) => c.type === 'BudgetWarning');
    expect(warning?.status).toBe('True');
  });
});

describe('the operator’s team budget metrics', () => {
  it("export each team budget's spent and warning ratios from the policy's status, and drop them with it", async () => {
    const { api, controller } = await started(onTeam('triage'));
    api.emit(AgentKind, 'ADDED', onTeam('review'));
    api.emit(Kinds.RateLimitPolicy, 'ADDED', teamPolicy);
    api.emit(Kinds.Pod, 'ADDED', spendingPod('triage', 45));
    api.emit(Kinds.Pod, 'ADDED', spendingPod('review', 30));
    await settle(controller);
    const labels = 'policy_namespace="default",policy="platform",budget="team"';
    // $75 of $100 together, though neither agent spent more than $45; the per Agent budget
    // ("own") is no team's.
    expect(await teamSeries(controller)).toEqual([
      `breakwater_operator_team_budget_spent_ratio{${labels}} 0.75`,
      `breakwater_operator_team_budget_warn_ratio{${labels}} 0.7`,
    ]);
    api.emit(Kinds.RateLimitPolicy, 'DELETED', teamPolicy);
    await settle(controller);
    expect(await teamSeries(controller)).toEqual([]);
  });
});
