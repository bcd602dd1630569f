import { describe, expect, it } from '@jest/globals';
import type { RateLimitPolicy } from '../../../contract/src/api/resources.ts';
import { KubeApiError } from '../../../platform/src/kube/kubeClient.ts';
import type { PluginKube } from '../cluster/pluginKube.ts';
import { teamsIn, teamsOf } from './teamTop.ts';
import { topTable, type AgentTop } from './topCommand.ts';

const policy = (namespace: string, name: string, over: object = {}): RateLimitPolicy => ({
  apiVersion: 'breakwater.dev/v1alpha1',
  kind: 'RateLimitPolicy',
  metadata: { name, namespace },
  spec: {},
  status: {
    budgets: [
      {
        name: 'own',
        per: 'ClientKey',
        spent: { usd: '10', tokens: 0 },
        limit: { usd: '50' },
        percent: 20,
        agent: 'triage',
        agents: 2,
      },
      {
        name: 'team',
        per: 'Policy',
        spent: { usd: '85.5', tokens: 850 },
        limit: { usd: '100' },
        percent: 85,
        resetsAt: '2026-12-01T00:00:00.000Z',
        projection: { exhaustsAt: '2026-11-24T12:00:00.000Z', usdPerHour: '20' },
        agents: 3,
        parts: [
          { agent: 'review', usd: '55.5', tokens: 550 },
          { agent: 'triage', usd: '30', tokens: 300 },
        ],
        otherParts: { agents: 1, usd: '0', tokens: 0 },
        ...over,
      },
    ],
  },
});

const agent: AgentTop = {
  namespace: 'prod',
  name: 'triage',
  running: 1,
  unread: [],
  replicas: 1,
  windowSeconds: 300,
  count: 0,
  throughputPerSecond: 0,
  successRate: null,
  latencyMs: { p50: null, p95: null, p99: null },
  fallbackShare: null,
  topErrors: [],
  withoutHistogram: 0,
  tools: [],
  budgets: [
    {
      name: 'team',
      per: 'Policy',
      spent: { usd: '30', tokens: 300 },
      limit: { usd: '100' },
      percent: 0,
      resetsAt: '2026-12-01T00:00:00.000Z',
    },
  ],
};

describe('kubectl breakwater top, by team', () => {
  it('takes the team budgets (per Policy) of every policy, by namespace and name', () => {
    const teams = teamsOf([
      policy('prod', 'platform'),
      policy('dev', 'sandbox'),
      policy('prod', 'b'),
    ]);
    expect(teams.map((t) => `${t.namespace}/${t.policy}/${t.budget.name}`)).toEqual([
      'dev/sandbox/team',
      'prod/b/team',
      'prod/platform/team',
    ]);
  });

  it('shows each team’s spend against its limit, and each agent’s part under it', () => {
    const table = topTable(
      { agents: [agent], teams: teamsOf([policy('prod', 'platform')]) },
      false,
    );
    const lines = table.split('\n');
    const header = lines.findIndex((l) => l.startsWith('TEAM (POLICY)'));
    expect(lines[header]?.split(/\s+/)).toEqual([
      'TEAM',
      '(POLICY)',
      'BUDGET',
      'SPENT',
      'LIMIT',
      '%',
      'RESETS',
      'EXHAUSTS',
      'AGENTS',
      'FROM',
    ]);
    expect(lines[header + 1]?.split(/\s+/)).toEqual([
      'platform',
      'team',
      '$85.50',
      '$100.00',
      '85%',
      '2026-12-01T00:00:00.000Z',
      '2026-11-24T12:00:00.000Z',
      '3',
      'Parts',
    ]);
    const parts = lines.findIndex((l) => l.includes('AGENT') && l.includes('PART'));
    expect(lines.slice(parts + 1, parts + 4).map((l) => l.split(/\s+/))).toEqual([
      ['platform', 'team', 'review', '$55.50'],
      ['platform', 'team', 'triage', '$30.00'],
      ['platform', 'team', '(1', 'more)', '$0'],
    ]);
    // The agent's own row of a team budget is its part: no percent of its own.
    const own = lines.find((l) => l.startsWith('triage') && l.includes('Policy'));
    expect(own?.split(/\s+/).slice(0, 6)).toEqual([
      'triage',
      'team',
      'Policy',
      '$30.00',
      '$100.00',
      '-',
    ]);
  });

  it('says the team’s spend is the store’s account when the status says so', () => {
    const table = topTable(
      { agents: [agent], teams: teamsOf([policy('prod', 'platform', { source: 'Store' })]) },
      false,
    );
    const lines = table.split('\n');
    const header = lines.findIndex((l) => l.startsWith('TEAM (POLICY)'));
    expect(lines[header + 1]?.split(/\s+/).slice(-2)).toEqual(['3', 'Store']);
  });

  it('says why team budgets are missing when the policies cannot be listed, and goes on', async () => {
    const kube = {
      list: () => Promise.reject(new KubeApiError(403, 'Forbidden', 'forbidden')),
    } as unknown as PluginKube;
    const read = await teamsIn(kube, 'prod');
    expect(read).toEqual({
      teams: [],
      unread: 'team budgets not shown: listing ratelimitpolicies is forbidden in prod',
    });
    expect(topTable({ agents: [agent], teams: [], teamsUnread: read.unread }, false)).toContain(
      'team budgets not shown: listing ratelimitpolicies is forbidden in prod\n',
    );
  });
});
