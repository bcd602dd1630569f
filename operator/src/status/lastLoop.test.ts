import { describe, expect, it } from '@jest/globals';
import type { AgentDeployment, CircuitBreakerPolicy } from '../../../contract/src/api/resources.ts';
import type { LoopReport } from '../../../contract/src/reporting/mcpReport.ts';
import { MAX_LOOP_TOOL, newestLoop } from './lastLoop.ts';
import { computeBreakerPolicyStatus } from './policyStatus.ts';
import type { PodView } from './views.ts';
import { statusAgent } from './statusFixtures.ts';

const NOW = '2026-11-23T08:00:00.000Z';

const pod = (lastLoop?: LoopReport, terminating = false): PodView => ({
  metadata: {
    ...(terminating ? { deletionTimestamp: NOW } : {}),
    annotations: {
      'breakwater.dev/mcp': JSON.stringify({ servers: {}, ...(lastLoop ? { lastLoop } : {}) }),
    },
  },
  status: { phase: 'Running' },
});
const loop = (tool: string, at: string, count = 5, shadow = false): LoopReport => ({
  tool,
  count,
  at,
  shadow,
});

describe('newestLoop', () => {
  it('takes the newest loop over every agent and pod, naming the agent namespace/name', () => {
    expect(
      newestLoop(undefined, [
        { agent: 'ns/a', pods: [pod(loop('github__search', '2026-11-23T07:00:00Z')), pod()] },
        {
          agent: 'ns/b',
          pods: [pod(loop('github__issues → github__search', '2026-11-23T07:30:00Z', 6, true))],
        },
      ]),
    ).toEqual({
      agent: 'ns/b',
      tool: 'github__issues → github__search',
      count: 6,
      time: '2026-11-23T07:30:00Z',
      shadow: true,
    });
  });

  it('keeps the loop it recorded until a newer one, even once its pod is gone', () => {
    const recorded = {
      agent: 'ns/a',
      tool: 'github__search',
      count: 5,
      time: '2026-11-23T07:00:00Z',
      shadow: false,
    };
    expect(newestLoop(recorded, [{ agent: 'ns/a', pods: [] }])).toBe(recorded);
    expect(
      newestLoop(recorded, [{ agent: 'ns/a', pods: [pod(loop('old', '2026-11-23T06:00:00Z'))] }]),
    ).toBe(recorded);
  });

  it('counts a terminating pod, and cuts a long cycle to what the schema holds', () => {
    const long = 'a'.repeat(MAX_LOOP_TOOL + 1);
    expect(
      newestLoop(undefined, [
        { agent: 'ns/a', pods: [pod(loop(long, '2026-11-23T07:00:00Z'), true)] },
      ])?.tool,
    ).toHaveLength(MAX_LOOP_TOOL);
  });

  it('is undefined while nothing looped', () => {
    expect(newestLoop(undefined, [{ agent: 'ns/a', pods: [pod()] }])).toBeUndefined();
  });
});

describe('CircuitBreakerPolicy status.lastLoop', () => {
  const policy: CircuitBreakerPolicy = {
    apiVersion: 'breakwater.dev/v1alpha1',
    kind: 'CircuitBreakerPolicy',
    metadata: { name: 'shared', namespace: 'ns', generation: 1 },
    spec: { loopDetection: { maxRepeats: 5 } },
  };
  const agent: AgentDeployment = statusAgent();

  it('shows the last loop of the agents that use the policy, and nothing before one', () => {
    const looped = pod(loop('github__search', '2026-11-23T07:59:00Z'));
    const { status } = computeBreakerPolicyStatus(
      policy,
      [{ agent, pods: [looped], presentPods: [looped] }],
      NOW,
    );
    expect(status.lastLoop).toEqual({
      agent: 'ns/support',
      tool: 'github__search',
      count: 5,
      time: '2026-11-23T07:59:00Z',
      shadow: false,
    });
    const quiet = computeBreakerPolicyStatus(policy, [{ agent, pods: [pod()] }], NOW).status;
    expect(quiet).not.toHaveProperty('lastLoop');
  });
});
