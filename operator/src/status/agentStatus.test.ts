import { describe, expect, it } from '@jest/globals';
import type { AgentDeployment } from '../../../contract/src/api/resources.ts';
import { computeAgentStatus, type AgentStatusInputs } from './agentStatus.ts';
import { evaluateModelRetirement } from './modelRetirement.ts';
import { evaluateScaleOutHold } from './scaleOutHold.ts';
import type { DeploymentView, PodView } from './views.ts';
import { statusAgent } from './statusFixtures.ts';

const agent: AgentDeployment = statusAgent({ replicas: 3 }, { generation: 3 });

const deployment = (ready: number, updated = 3): DeploymentView => ({
  metadata: { generation: 2 },
  spec: { replicas: 3 },
  status: { observedGeneration: 2, replicas: 3, readyReplicas: ready, updatedReplicas: updated },
});

const pod = (hash: string, breakers?: string): PodView => ({
  metadata: {
    name: `p-${Math.random()}`,
    annotations: {
      'breakwater.dev/policy-hash': hash,
      ...(breakers === undefined ? {} : { 'breakwater.dev/breakers': breakers }),
    },
  },
  status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
});

const NOW = '2026-11-21T10:00:00Z';
const current = evaluateModelRetirement({ name: 'm' }, Date.parse(NOW));
const notHeld = evaluateScaleOutHold({
  agent,
  pods: [],
  currentReplicas: 3,
  nowMs: Date.parse(NOW),
});

const open = JSON.stringify({
  'default/m': { state: 'Open', since: '2026-11-21T10:00:00Z', trips: 1 },
});

function status(overrides: Partial<AgentStatusInputs>) {
  const pods = overrides.pods ?? [pod('h1'), pod('h1'), pod('h1')];
  const result = computeAgentStatus({
    agent,
    deployment: deployment(3),
    pods,
    presentPods: pods,
    policyHash: 'h1',
    missing: [],
    monitoring: 'NotRequested',
    modelRetirement: current,
    scaleOutHold: notHeld.condition,
    selector: 'breakwater.dev/agent=support',
    now: NOW,
    ...overrides,
  });
  const condition = (type: string) => result.conditions?.find((c) => c.type === type);
  return { result, condition };
}

describe('computeAgentStatus', () => {
  it('says how many replicas run the current spec while a rollout cannot finish', () => {
    // The old pods still serve; the new one cannot start (a bad image, root under runAsNonRoot).
    const { condition } = status({ deployment: deployment(3, 1) });
    expect(condition('Ready')).toMatchObject({
      status: 'False',
      reason: 'RollingOut',
      message: '1/3 replicas updated, 3/3 ready',
    });
    expect(condition('Reconciling')?.message).toBe('1/3 replicas updated, 3/3 ready');
  });

  it('is Ready, not Reconciling, with policies applied when every replica is ready on the current hash', () => {
    const { result, condition } = status({});
    expect(condition('Ready')?.status).toBe('True');
    expect(condition('Reconciling')?.status).toBe('False');
    expect(condition('Stalled')?.status).toBe('False');
    expect(condition('PoliciesApplied')?.status).toBe('True');
    expect(result).toMatchObject({
      readySummary: '3/3',
      policy: { hash: 'h1', appliedReplicas: 3 },
      observedGeneration: 3,
    });
  });

  it.each([
    {
      name: 'is Reconciling while replicas are not ready yet',
      deploy: deployment(1),
      pods: undefined,
      missing: [],
      ready: 'False',
      reconciling: 'True',
      stalled: 'False',
    },
    {
      name: 'is Stalled with PolicyNotFound when a referenced policy is missing',
      deploy: deployment(3),
      pods: undefined,
      missing: ['CircuitBreakerPolicy prod'],
      ready: 'False',
      reconciling: 'False',
      stalled: 'True',
    },
    {
      name: 'is Reconciling before the Deployment exists',
      deploy: undefined,
      pods: [],
      missing: [],
      ready: 'False',
      reconciling: 'True',
      stalled: 'False',
    },
  ])('$name', ({ deploy, pods, missing, ready, reconciling, stalled }) => {
    const { condition } = status({
      deployment: deploy,
      missing,
      ...(pods === undefined ? {} : { pods }),
    });
    expect(condition('Ready')?.status).toBe(ready);
    expect(condition('Reconciling')?.status).toBe(reconciling);
    expect(condition('Stalled')?.status).toBe(stalled);
  });

  it('names the missing policy in PoliciesResolved', () => {
    const { condition } = status({ missing: ['RateLimitPolicy tight'] });
    expect(condition('PoliciesResolved')).toMatchObject({
      status: 'False',
      reason: 'PolicyNotFound',
    });
    expect(condition('PoliciesResolved')?.message).toContain('RateLimitPolicy tight');
  });

  it('says PoliciesApplied is False while a replica still runs the old hash', () => {
    const { result, condition } = status({ pods: [pod('h1'), pod('h0'), pod('h1')] });
    expect(condition('PoliciesApplied')).toMatchObject({ status: 'False', reason: 'Propagating' });
    expect(result.policy?.appliedReplicas).toBe(2);
  });

  it('reports the breaker as Degraded when one of three replicas is open', () => {
    const { result } = status({ pods: [pod('h1', open), pod('h1'), pod('h1')] });
    expect(result.breaker).toMatchObject({ state: 'Degraded', open: 1, total: 3, unknown: 2 });
  });

  it('shows each backend over the running replicas, and a one-line summary, only with spec.backends', () => {
    const withBackends: AgentDeployment = {
      ...agent,
      spec: {
        ...agent.spec,
        backends: [
          { name: 'anthropic', baseURL: 'https://api.anthropic.com' },
          { name: 'vertex', type: 'Vertex', region: 'us-east5', projectID: 'my-project' },
        ],
      },
    };
    const report = JSON.stringify({
      'anthropic/m': { state: 'Open', since: '2026-11-21T10:00:00Z', trips: 1 },
    });
    const { result } = status({
      agent: withBackends,
      pods: [pod('h1', report), pod('h1', report), pod('h1')],
    });
    expect(result.backends).toEqual([
      { name: 'anthropic', type: 'Anthropic', state: 'Degraded', openReplicas: 2, replicas: 3 },
      { name: 'vertex', type: 'Vertex', state: 'Closed', openReplicas: 0, replicas: 3 },
    ]);
    expect(result.backendSummary).toBe('anthropic Degraded 2/3, vertex Closed 0/3');
    expect(status({}).result).not.toHaveProperty('backends');
    expect(status({}).result).not.toHaveProperty('backendSummary');
  });

  it('shows each MCP server over the running replicas, and stays Ready while one is unreachable', () => {
    const withMcp: AgentDeployment = {
      ...agent,
      spec: { ...agent.spec, mcpServers: [{ name: 'github', url: 'http://github-mcp:8080/mcp' }] },
    };
    const mcp = (reachable: boolean): PodView => {
      const p = pod('h1');
      const report = {
        servers: {
          github: reachable
            ? { reachable, tools: 12, since: NOW }
            : { reachable, tools: 0, error: 'HTTP 503', since: NOW },
        },
      };
      p.metadata = {
        ...p.metadata,
        annotations: { ...p.metadata?.annotations, 'breakwater.dev/mcp': JSON.stringify(report) },
      };
      return p;
    };
    const { result } = status({ agent: withMcp, pods: [mcp(true), mcp(true), mcp(false)] });
    expect(result.mcpServers).toEqual([
      {
        name: 'github',
        reachable: 2,
        replicas: 3,
        tools: 12,
        openToolBreakers: 0,
        lastError: 'HTTP 503',
      },
    ]);
    expect(result.mcpSummary).toBe('github reachable 2/3, 12 tools');
    const byType = (t: string) => result.conditions?.find((c) => c.type === t);
    expect(byType('McpServersReachable')).toMatchObject({ status: 'False', reason: 'Unreachable' });
    expect(byType('Ready')?.status).toBe('True');
    // Removing the servers drops what was said about them.
    const without = status({ agent: { ...agent, status: result } }).result;
    expect(without).not.toHaveProperty('mcpServers');
    expect(without.conditions?.map((c) => c.type)).not.toContain('McpServersReachable');
  });

  it('says MonitoringConfigured is False with ServiceMonitorCRDMissing when the CRD is absent', () => {
    const { condition } = status({ monitoring: 'CRDMissing' });
    expect(condition('MonitoringConfigured')).toMatchObject({
      status: 'False',
      reason: 'ServiceMonitorCRDMissing',
    });
  });

  it('says ModelRetiring is False, with no end-of-life day, for a model nobody deprecated', () => {
    const { result, condition } = status({});
    expect(condition('ModelRetiring')).toMatchObject({ status: 'False', reason: 'NotDeprecated' });
    expect(result).not.toHaveProperty('modelEndOfLife');
  });

  it('says ModelRetiring is True with the day, and stays Ready, for a deprecated model', () => {
    const retiring = evaluateModelRetirement({ name: 'claude-sonnet-4-5' }, Date.parse(NOW));
    const { result, condition } = status({ modelRetirement: retiring });
    expect(condition('ModelRetiring')).toMatchObject({
      status: 'True',
      reason: 'Deprecated',
      message: 'model claude-sonnet-4-5 is deprecated and retires on 2026-11-30',
    });
    expect(condition('Ready')?.status).toBe('True');
    expect(result.modelEndOfLife).toBe('2026-11-30');
  });

  it('computes the same status twice from the same inputs, so an unchanged agent is not written', () => {
    const first = status({}).result;
    const again = computeAgentStatus({
      agent: { ...agent, status: first },
      deployment: deployment(3),
      pods: [pod('h1'), pod('h1'), pod('h1')],
      presentPods: [pod('h1'), pod('h1'), pod('h1')],
      policyHash: 'h1',
      missing: [],
      monitoring: 'NotRequested',
      modelRetirement: current,
      scaleOutHold: notHeld.condition,
      selector: 'breakwater.dev/agent=support',
      now: '2026-11-21T11:00:00Z',
    });
    expect(again).toEqual(first);
  });

  /** A daily $0.001 budget, and a replica that has spent 90 % of it. */
  function spending() {
    const spend = {
      timeZone: 'UTC',
      budgets: [
        {
          name: 'daily',
          period: 'Day' as const,
          limitMicroUsd: 1_000,
          per: 'Agent' as const,
          onExhausted: 'Refuse' as const,
          warnAtPercent: 80,
          waitForHeldMs: 0,
        },
      ],
    };
    const spender = pod('h1');
    spender.metadata = {
      ...spender.metadata,
      uid: 'u1',
      annotations: {
        ...spender.metadata?.annotations,
        'breakwater.dev/budgets': JSON.stringify({
          source: 'replica',
          budgets: {
            daily: { p: '2026-11-21T00:00:00.000Z', usd: '900000000', tok: 10, hUsd: '0', hTok: 0 },
          },
        }),
      },
    };
    return { spend, spender };
  }

  it("writes the agent's spend and its budget conditions, and drops them with the budgets", () => {
    const { spend, spender } = spending();
    const withBudgets = status({ pods: [spender], presentPods: [spender], spend });
    expect(withBudgets.result.spend?.budgets?.[0]).toMatchObject({ name: 'daily', percent: 90 });
    expect(withBudgets.condition('BudgetWarning')?.status).toBe('True');
    expect(withBudgets.condition('BudgetExhausted')?.status).toBe('False');
    // m has no price: the dollar budget refuses its calls, and the condition says so.
    expect(withBudgets.condition('ModelsPriced')?.reason).toBe('UnpricedModel');
    const without = status({
      agent: { ...agent, status: withBudgets.result },
      pods: [spender],
      presentPods: [spender],
    }).result;
    // The figures and conditions go; the ledger stays for the period, so that budgets put
    // back go on from what was spent (on a replica that restarts meanwhile too).
    expect(without.spend).toEqual({ ledger: withBudgets.result.spend?.ledger });
    expect(without.spend?.ledger?.processes?.length).toBe(1);
    expect(
      without.conditions?.some((c) => c.type.startsWith('Budget') || c.type === 'ModelsPriced'),
    ).toBe(false);
    // Once no period it counts can still run, it goes too.
    const monthsLater = status({
      agent: { ...agent, status: without },
      pods: [spender],
      presentPods: [spender],
      now: '2027-01-05T00:00:00Z',
    }).result;
    expect(monthsLater.spend).toBeUndefined();
  });

  it('says the replicas refuse an invalid policy, and keeps the spend they count under the last good one', () => {
    const { spend, spender } = spending();
    const withBudgets = status({ pods: [spender], presentPods: [spender], spend });
    const refused = status({
      agent: { ...agent, status: withBudgets.result },
      pods: [spender],
      presentPods: [spender],
      policyHash: 'h2',
      spend: { ...spend, timeZone: 'Mars/Base' },
      invalidPolicy: 'RateLimitPolicy spec.timeZone must be a time zone the IANA database knows',
    }).result;
    const applied = refused.conditions?.find((c) => c.type === 'PoliciesApplied');
    expect(applied).toMatchObject({ status: 'False', reason: 'Invalid' });
    expect(applied?.message).toContain('refuse policy h2 and keep their last good one: ');
    expect(applied?.message).toContain('spec.timeZone');
    expect(refused.spend).toEqual(withBudgets.result.spend);
    expect(refused.conditions?.find((c) => c.type === 'BudgetWarning')?.status).toBe('True');
  });
});
