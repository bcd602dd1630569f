import { describe, expect, it } from '@jest/globals';
import type { AgentDeployment, CircuitBreakerPolicy } from '../../../contract/src/api/resources.ts';
import type { PodObject } from '../cluster/agentObjects.ts';
import { agentView, statusTable } from './statusCommand.ts';

const agent: AgentDeployment = {
  apiVersion: 'breakwater.dev/v1alpha1',
  kind: 'AgentDeployment',
  metadata: { name: 'support', namespace: 'prod' },
  spec: {
    model: { name: 'm' },
    provider: { apiKeySecretRef: { name: 's', key: 'k' } },
    circuitBreakerPolicyRef: { name: 'prod' },
  },
  status: { readySummary: '2/2', breaker: { state: 'Open' }, policy: { hash: 'aaaa' } },
};

const pod = (name: string, hash: string, breakers: Record<string, string>): PodObject => ({
  metadata: {
    name,
    annotations: {
      'breakwater.dev/policy-hash': hash,
      'breakwater.dev/breakers': JSON.stringify(
        Object.fromEntries(
          Object.entries(breakers).map(([n, state]) => [
            n,
            { state, since: '2026-11-22T18:00:00Z', trips: 1 },
          ]),
        ),
      ),
    },
  },
  status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
});

/** Before the override's until. */
const NOW = Date.parse('2026-11-22T18:00:00Z');

const policy = (state: 'Auto' | 'ForcedOpen'): CircuitBreakerPolicy => ({
  apiVersion: 'breakwater.dev/v1alpha1',
  kind: 'CircuitBreakerPolicy',
  metadata: { name: 'prod', namespace: 'prod' },
  spec: { override: { state, reason: 'INC-9', until: '2026-11-22T19:10:00Z' } },
  status: { override: { applied: '1/2' } } as CircuitBreakerPolicy['status'],
});

describe('kubectl breakwater status', () => {
  it('says an override whose until has passed is expired, and no replica applies it', () => {
    const view = agentView(
      agent,
      [pod('support-a', 'aaaa', {})],
      policy('ForcedOpen'),
      Date.parse('2026-11-22T19:10:00Z'),
    );
    expect(view.override?.expired).toBe(true);
    expect(view.replicas.map((r) => r.override)).toEqual([undefined]);
    expect(statusTable({ agents: [view] }, false)).toContain(
      'ForcedOpen expired at 2026-11-22T19:10:00Z (INC-9)',
    );
  });

  it('renders each agent, then each replica with its breakers, its policy hash (marked when old) and its override', () => {
    const view = agentView(
      agent,
      [
        pod('support-a', 'aaaa', { 'default/m': 'ForcedOpen', 'tool:search': 'ForcedOpen' }),
        pod('support-b', 'bbbb', { 'default/m': 'Open' }),
      ],
      policy('ForcedOpen'),
      NOW,
    );
    expect(statusTable({ agents: [view] }, false)).toBe(
      [
        'AGENT     READY   BREAKER   POLICY   OVERRIDE',
        'support   2/2     Open      aaaa     ForcedOpen 1/2 until 2026-11-22T19:10:00Z (INC-9)',
        '',
        'POD         AGENT     READY   POLICY       OVERRIDE     BREAKERS',
        'support-a   support   True    aaaa         ForcedOpen   default/m=ForcedOpen tool:search=ForcedOpen',
        'support-b   support   True    bbbb (old)   -            default/m=Open',
        '',
      ].join('\n'),
    );
  });

  it('counts a replica with no breaker yet as applying the override when it runs the current policy', () => {
    const idle = (name: string, hash: string): PodObject => ({
      metadata: { name, annotations: { 'breakwater.dev/policy-hash': hash } },
      status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
    });
    const view = agentView(
      agent,
      [idle('current', 'aaaa'), idle('behind', 'bbbb')],
      policy('ForcedOpen'),
      NOW,
    );
    expect(view.replicas.map((r) => [r.pod, r.override])).toEqual([
      ['current', 'ForcedOpen'],
      ['behind', undefined],
    ]);
  });

  it('takes the override a replica applies from its runtime report when it writes one', () => {
    const reporting = (name: string, override?: object): PodObject => ({
      metadata: {
        name,
        annotations: {
          'breakwater.dev/policy-hash': 'aaaa',
          'breakwater.dev/runtime': JSON.stringify({
            started: '2026-11-22T18:00:00.000Z',
            ...(override === undefined ? {} : { override }),
          }),
        },
      },
      status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
    });
    const view = agentView(
      agent,
      [
        reporting('applied', { state: 'ForcedOpen', reason: 'INC-9', generation: 4 }),
        reporting('not-yet'),
      ],
      policy('ForcedOpen'),
      NOW,
    );
    expect(view.replicas.map((r) => [r.pod, r.override])).toEqual([
      ['applied', 'ForcedOpen'],
      ['not-yet', undefined],
    ]);
  });

  it('shows no override while the policy says Auto, and a NAMESPACE column with -A', () => {
    const view = agentView(agent, [], policy('Auto'));
    expect(view.override).toBeUndefined();
    expect(statusTable({ agents: [view] }, true)).toBe(
      'NAMESPACE   AGENT     READY   BREAKER   POLICY   OVERRIDE\nprod        support   2/2     Open      aaaa     -\n\nNo agent pods found.\n',
    );
  });

  it('prints each backend with its state and open replicas under the agent, from the operator status', () => {
    const withBackends: AgentDeployment = {
      ...agent,
      status: {
        ...agent.status,
        backendSummary: 'anthropic Open 3/3, bedrock-us Closed 0/3',
      },
    };
    const view = agentView(
      withBackends,
      [pod('support-a', 'aaaa', { 'anthropic/m': 'Open' })],
      undefined,
    );
    expect(statusTable({ agents: [view] }, false)).toBe(
      [
        'AGENT     READY   BREAKER   POLICY   OVERRIDE',
        'support   2/2     Open      aaaa     -',
        'backends: anthropic Open 3/3, bedrock-us Closed 0/3',
        '',
        'POD         AGENT     READY   POLICY   OVERRIDE   BREAKERS',
        'support-a   support   True    aaaa     -          anthropic/m=Open',
        '',
      ].join('\n'),
    );
  });

  it('names the agent on its backends line when it lists several, and prints none for an agent without backends', () => {
    const other: AgentDeployment = {
      ...agent,
      metadata: { name: 'billing', namespace: 'prod' },
      status: { ...agent.status, backendSummary: 'vertex HalfOpen 0/2' },
    };
    const table = statusTable(
      { agents: [agentView(agent, [], undefined), agentView(other, [], undefined)] },
      true,
    );
    expect(table.split('\n').filter((line) => line.startsWith('backends'))).toEqual([
      'backends of prod/billing: vertex HalfOpen 0/2',
    ]);
  });

  it('prints an mcp line per agent, and the last loop its CircuitBreakerPolicy records', () => {
    const withMcp: AgentDeployment = {
      ...agent,
      status: {
        ...agent.status,
        mcpSummary: 'github reachable 3/3, 12 tools, 1 tool breaker open',
      },
    };
    const looped: CircuitBreakerPolicy = {
      ...policy('Auto'),
      status: {
        lastLoop: {
          agent: 'prod/support',
          tool: 'github__search',
          count: 5,
          time: '2026-11-23T07:59:00Z',
          shadow: true,
        },
      },
    };
    const table = statusTable(
      {
        agents: [
          agentView(withMcp, [pod('support-a', 'aaaa', { 'tool:github__search': 'Open' })], looped),
        ],
      },
      false,
    );
    expect(table.split('\n').slice(2, 4)).toEqual([
      'mcp: github reachable 3/3, 12 tools, 1 tool breaker open',
      'last loop: github__search ×5 at 2026-11-23T07:59:00Z in prod/support, reported only (Shadow) (CircuitBreakerPolicy prod)',
    ]);
    expect(table).toContain('tool:github__search=Open');
    // Several agents: each line names its agent; one without MCP servers prints none.
    const other: AgentDeployment = { ...agent, metadata: { name: 'billing', namespace: 'prod' } };
    const both = statusTable(
      { agents: [agentView(withMcp, [], undefined), agentView(other, [], undefined)] },
      true,
    );
    expect(both.split('\n').filter((l) => l.startsWith('mcp'))).toEqual([
      'mcp of prod/support: github reachable 3/3, 12 tools, 1 tool breaker open',
    ]);
  });
});
