import { describe, expect, it } from '@jest/globals';
import type {
  AgentDeployment,
  CircuitBreakerPolicy,
  RateLimitPolicy,
} from '../../../contract/src/api/resources.ts';
import {
  computeBreakerPolicyStatus,
  computeRateLimitPolicyStatus,
  MAX_STATUS_TARGETS,
  type PolicyUser,
} from './policyStatus.ts';
import type { PodView } from './views.ts';
import { statusAgent } from './statusFixtures.ts';

const NOW = '2026-11-21T10:00:00.000Z';

const breakerPolicy: CircuitBreakerPolicy = {
  apiVersion: 'breakwater.dev/v1alpha1',
  kind: 'CircuitBreakerPolicy',
  metadata: { name: 'shared', namespace: 'ns', generation: 1 },
  spec: {},
};

const ratePolicy: RateLimitPolicy = {
  apiVersion: 'breakwater.dev/v1alpha1',
  kind: 'RateLimitPolicy',
  metadata: { name: 'shared', namespace: 'ns', generation: 1 },
  spec: { requests: { perSecond: 60, burst: 120 }, scope: 'Cluster' },
};

const agent = (name: string): AgentDeployment => statusAgent({}, { name });

const pod = (state: 'Open' | 'Closed'): PodView => ({
  metadata: {
    annotations: {
      'breakwater.dev/breakers': JSON.stringify({
        'default/m': { state, since: NOW, trips: state === 'Open' ? 1 : 0 },
      }),
    },
  },
  status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
});

/** `count` agents named a-0000…, each with `replicas` pods; the ones in `open` have theirs open. */
function users(count: number, open: readonly number[] = [], replicas = 1): PolicyUser[] {
  return Array.from({ length: count }, (_, i) => ({
    agent: agent(`a-${String(i).padStart(4, '0')}`),
    pods: Array.from({ length: replicas }, () => pod(open.includes(i) ? 'Open' : 'Closed')),
  }));
}

describe('CircuitBreakerPolicy status', () => {
  it('lists every agent that uses the policy while they fit', () => {
    const { status } = computeBreakerPolicyStatus(breakerPolicy, users(3, [1]), NOW);
    expect(status.targets?.map((t) => `${t.name}:${t.state}`)).toEqual([
      'a-0000:Closed',
      'a-0001:Open',
      'a-0002:Closed',
    ]);
    expect(status.state).toBe('Degraded');
  });

  it('lists at most the schema’s 256 targets, the open ones among them, and counts them all', () => {
    const { status } = computeBreakerPolicyStatus(breakerPolicy, users(1000, [999, 500]), NOW);
    const names = status.targets?.map((t) => t.name) ?? [];
    expect(names).toHaveLength(MAX_STATUS_TARGETS);
    expect(names).toContain('a-0500');
    expect(names).toContain('a-0999');
    expect(names).toEqual([...names].sort());
    expect(status.replicas).toEqual({ total: 1000, closed: 998, open: 2, halfOpen: 0, unknown: 0 });
    expect(status.conditions?.[0]?.message).toBe(
      '1000 agents, 1000 replicas, 2 open; targets lists 256, those not Closed first',
    );
  });
});

describe('RateLimitPolicy status', () => {
  it('lists at most the schema’s 256 targets and says so', () => {
    const { status } = computeRateLimitPolicyStatus(ratePolicy, users(300), NOW);
    expect(status.targets).toHaveLength(MAX_STATUS_TARGETS);
    expect(status.conditions?.[0]?.message).toBe('used by 300 agents; targets lists the first 256');
  });

  it('shows the smallest share in force as effective: the user with the most ready replicas', () => {
    const { status } = computeRateLimitPolicyStatus(
      ratePolicy,
      [
        ...users(1, [], 2),
        { agent: agent('b-wide'), pods: [pod('Closed'), pod('Closed'), pod('Closed')] },
      ],
      NOW,
    );
    expect(status.effective).toMatchObject({ replicas: 3, requestsPerSecond: 20, burst: 40 });
    expect(status.targets?.map((t) => t.effective?.replicas)).toEqual([2, 3]);
  });
});
