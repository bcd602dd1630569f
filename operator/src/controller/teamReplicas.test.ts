import { describe, expect, it } from '@jest/globals';
import type { AgentDeployment, RateLimitPolicy } from '../../../contract/src/api/resources.ts';
import type { PodView } from '../status/views.ts';
import type { OperatorContext } from './operatorContext.ts';
import { teamReadyReplicas, teammates } from './teamReplicas.ts';

const agent = (name: string, policy: string, gone = false): AgentDeployment =>
  ({
    apiVersion: 'breakwater.dev/v1alpha1',
    kind: 'AgentDeployment',
    metadata: {
      name,
      namespace: 'ns',
      ...(gone ? { deletionTimestamp: '2026-11-28T00:00:00Z' } : {}),
    },
    spec: { rateLimitPolicyRef: { name: policy } },
  }) as unknown as AgentDeployment;

const policy = (name: string, per: 'Agent' | 'Policy'): RateLimitPolicy => ({
  apiVersion: 'breakwater.dev/v1alpha1',
  kind: 'RateLimitPolicy',
  metadata: { name, namespace: 'ns' },
  spec: { budgets: [{ name: 'monthly', period: 'Month', usd: '2000', per }] },
});

const pod = (ready: boolean, deleting = false): PodView => ({
  metadata: deleting ? { deletionTimestamp: '2026-11-28T00:00:00Z' } : {},
  status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
});

/** The caches the operator reads: agents, their pods by agent, the policies. */
function caches(
  agents: readonly AgentDeployment[],
  pods: Readonly<Record<string, readonly PodView[]>>,
  policies: readonly RateLimitPolicy[],
): Pick<OperatorContext, 'caches'> {
  return {
    caches: {
      agents: { list: () => agents },
      pods: { byIndex: (key: string) => pods[key] ?? [] },
      rateLimitPolicies: {
        get: (key: string) => policies.find((p) => `ns/${p.metadata.name ?? ''}` === key),
      },
    },
  } as unknown as Pick<OperatorContext, 'caches'>;
}

describe("a team budget's share (per Policy, without a store)", () => {
  const team = policy('team', 'Policy');
  const agents = [
    agent('alpha', 'team'),
    agent('beta', 'team'),
    agent('leaving', 'team', true),
    agent('other', 'elsewhere'),
  ];
  const pods = {
    'ns/alpha': [pod(true), pod(true), pod(false)],
    'ns/beta': [pod(true), pod(true, true)],
    'ns/leaving': [pod(true)],
    'ns/other': [pod(true), pod(true)],
  };

  it('counts the ready replicas of every agent on the policy, and of no other', () => {
    // alpha 2 ready, beta 1 (one terminating); the agent being deleted and the other policy's not.
    expect(teamReadyReplicas(caches(agents, pods, [team]), 'ns', team)).toBe(3);
  });

  it('counts again when an agent scales: its teammates’ shares follow', () => {
    const scaled = { ...pods, 'ns/beta': [pod(true), pod(true), pod(true)] };
    expect(teamReadyReplicas(caches(agents, scaled, [team]), 'ns', team)).toBe(5);
  });

  it('leaves a policy without a team budget alone', () => {
    const own = policy('team', 'Agent');
    expect(teamReadyReplicas(caches(agents, pods, [own]), 'ns', own)).toBeUndefined();
    expect(teammates(caches(agents, pods, [own]), agents[0] as AgentDeployment)).toEqual([]);
  });

  it('queues every agent on the policy when one of them changes', () => {
    expect(teammates(caches(agents, pods, [team]), agents[1] as AgentDeployment)).toEqual([
      'ns/alpha',
      'ns/beta',
    ]);
  });
});
