import { afterEach, describe, expect, it } from '@jest/globals';
import type { AgentDeployment, CircuitBreakerPolicy } from '../../../contract/src/api/resources.ts';
import {
  POLICY_CONFIGMAP_KEY,
  type PolicyDocument,
} from '../../../contract/src/policy/policyDocument.ts';
import type { KubeObject } from '../../../platform/src/kube/kubeObject.ts';
import { Kinds, type ResourceKind } from '../../../platform/src/kube/resourceKinds.ts';
import { ManualClock } from '../../../test/support/manualClock.ts';
import { minimalAgent } from '../builders/builderFixtures.ts';
import { AGENT_LABEL } from '../builders/labels.ts';
import {
  AgentKind,
  applies,
  lastResolved,
  MemoryApi,
  reconcileCount,
  settle,
  started,
  stopStarted,
  turns,
} from './controllerFixtures.ts';

const HpaKind = Kinds.HorizontalPodAutoscaler;
const RoleKind = Kinds.Role;

const owned = (
  agent: AgentDeployment,
  kind: ResourceKind,
  extra: object = {},
): KubeObject & Record<string, unknown> => ({
  apiVersion: kind.apiVersion,
  kind: kind.kind,
  metadata: {
    name: agent.metadata.name,
    namespace: agent.metadata.namespace,
    ownerReferences: [
      {
        apiVersion: AgentKind.apiVersion,
        kind: 'AgentDeployment',
        name: agent.metadata.name ?? '',
        uid: agent.metadata.uid ?? '',
        controller: true,
      },
    ],
  },
  ...extra,
});

afterEach(async () => {
  await stopStarted();
});

describe('Controller', () => {
  it('applies the children and writes status once, deleting no optional child it has not seen', async () => {
    const { api } = await started(minimalAgent());
    const calls = api.take();
    expect(calls.filter((c) => c.startsWith('apply'))).toHaveLength(6);
    expect(calls.filter((c) => c.startsWith('status'))).toEqual(['status AgentDeployment']);
    expect(calls.filter((c) => c.startsWith('delete'))).toEqual([]);
  });

  it('applies what the pods need together, then the Deployment and Service together, then status', async () => {
    const api = new MemoryApi();
    api.holdApplies = true;
    const { controller } = await started(minimalAgent(), new ManualClock(), api);
    await turns();
    expect(api.take().sort()).toEqual([
      'apply ConfigMap',
      'apply Role',
      'apply RoleBinding',
      'apply ServiceAccount',
    ]);
    api.releaseApplies();
    await turns();
    expect(api.take().sort()).toEqual(['apply Deployment', 'apply Service']);
    api.releaseApplies();
    await settle(controller);
    expect(api.take()).toEqual(['status AgentDeployment']);
  });

  it('is not queued by the echo of its own status write, and is by a spec edit', async () => {
    const agent = minimalAgent();
    const { api, controller } = await started(agent);
    api.take();
    api.emit(AgentKind, 'MODIFIED', { ...agent, status: { observedGeneration: 1 } });
    await settle(controller);
    expect(await reconcileCount(controller)).toBe(1);
    api.emit(AgentKind, 'MODIFIED', {
      ...agent,
      metadata: { ...agent.metadata, generation: 2 },
    });
    await settle(controller);
    expect(await reconcileCount(controller)).toBe(2);
  });

  it('deletes an optional child that appears though the agent does not want it', async () => {
    const agent = minimalAgent();
    const { api, controller } = await started(agent);
    api.take();
    api.emit(HpaKind, 'ADDED', owned(agent, HpaKind));
    await settle(controller);
    expect(api.take()).toContain(`delete HorizontalPodAutoscaler ${agent.metadata.name ?? ''}`);
  });

  it('applies an owned object again after a hand edit of it, not after its status changed', async () => {
    const agent = minimalAgent();
    const { api, controller } = await started(agent);
    const role = owned(agent, RoleKind, { rules: [{ verbs: ['get'] }] });
    api.emit(RoleKind, 'ADDED', role);
    await settle(controller);
    api.take();
    api.emit(RoleKind, 'MODIFIED', { ...role, status: { seen: true } });
    await settle(controller);
    expect(api.take()).toEqual([]);
    api.emit(RoleKind, 'MODIFIED', { ...role, rules: [{ verbs: ['*'] }] });
    await settle(controller);
    expect(applies(api)).toEqual(['apply Role']);
  });

  it('takes the echo of its own apply for what it is, not for a hand edit', async () => {
    const agent = minimalAgent();
    const { api, controller } = await started(agent);
    const applied = (api.applied.find((o) => o.kind === 'Role') ?? {}) as KubeObject &
      Record<string, unknown>;
    api.take();
    api.emit(RoleKind, 'ADDED', applied);
    api.emit(RoleKind, 'MODIFIED', { ...applied, rules: [{ verbs: ['*'] }] });
    await settle(controller);
    expect(applies(api)).toEqual(['apply Role']);
    api.emit(RoleKind, 'MODIFIED', applied);
    await settle(controller);
    expect(applies(api)).toEqual([]);
  });

  it('applies only the children a spec edit changes', async () => {
    const agent = minimalAgent();
    const { api, controller } = await started(agent);
    api.take();
    api.emit(AgentKind, 'MODIFIED', {
      ...agent,
      metadata: { ...agent.metadata, generation: 2 },
      spec: { ...agent.spec, replicas: 3 },
    });
    await settle(controller);
    // The policy document shares limits per replica; identity, RBAC and Service stay as they are.
    expect(applies(api)).toEqual([
      'apply ConfigMap',
      'apply Deployment',
      'apply PodDisruptionBudget',
    ]);
  });

  it("reconciles the agents whose system prompt a ConfigMap holds when its data changes, and no other's", async () => {
    const reader = minimalAgent();
    reader.spec.systemPromptFrom = { configMapKeyRef: { name: 'prompts', key: 'system.md' } };
    const prompts = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'prompts', namespace: reader.metadata.namespace },
      data: { 'system.md': 'Be brief.' },
    };
    const { api, controller } = await started(reader);
    api.emit(Kinds.ConfigMap, 'ADDED', prompts);
    await settle(controller);
    const before = await reconcileCount(controller);
    api.emit(Kinds.ConfigMap, 'MODIFIED', {
      ...prompts,
      metadata: { ...prompts.metadata, labels: { a: 'b' } },
    });
    api.emit(Kinds.ConfigMap, 'MODIFIED', {
      ...prompts,
      metadata: { ...prompts.metadata, name: 'unrelated' },
    });
    await settle(controller);
    expect(await reconcileCount(controller)).toBe(before);
    api.emit(Kinds.ConfigMap, 'MODIFIED', { ...prompts, data: { 'system.md': 'Be thorough.' } });
    await settle(controller);
    expect(await reconcileCount(controller)).toBe(before + 1);
  });

  it('reconciles an agent again the moment its model reaches its end of life, not at the next resync', async () => {
    const clock = new ManualClock(Date.parse('2026-11-29T23:58:00Z'));
    const agent = minimalAgent();
    agent.spec.model = { name: 'claude-sonnet-4-5' };
    const { api, controller } = await started(agent, clock);
    expect(api.statuses.map(modelRetiringReason)).toEqual(['Deprecated']);
    clock.advance(2 * 60_000 - 1);
    await settle(controller);
    expect(api.statuses.map(modelRetiringReason)).toEqual(['Deprecated']);
    clock.advance(1);
    await settle(controller);
    expect(api.statuses.map(modelRetiringReason)).toEqual(['Deprecated', 'PastEndOfLife']);
  });
});

describe('Controller and a team budget (per Policy)', () => {
  const onTeam = (name: string): AgentDeployment => {
    const agent = minimalAgent();
    agent.metadata = { ...agent.metadata, name, uid: `uid-${name}` };
    agent.spec.rateLimitPolicyRef = { name: 'team' };
    return agent;
  };
  const teamPolicy = {
    apiVersion: 'breakwater.dev/v1alpha1',
    kind: 'RateLimitPolicy',
    metadata: { name: 'team', namespace: 'default', generation: 1 },
    spec: {
      scope: 'Cluster',
      budgets: [{ name: 'monthly', period: 'Month', usd: '2000', per: 'Policy' }],
    },
  };
  const readyPod = (agent: string, n: number) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `${agent}-${String(n)}`,
      namespace: 'default',
      labels: { [AGENT_LABEL]: agent },
    },
    status: { conditions: [{ type: 'Ready', status: 'True' }] },
  });
  const teamShareOf = (api: MemoryApi, agent: string): number | undefined =>
    documentOf(api.applied, agent).rateLimit.spend?.budgets[0]?.teamShareOf;

  it("re-divides every agent's share when another agent on the policy gains a ready replica", async () => {
    const { api, controller } = await started(onTeam('alpha'));
    api.emit(Kinds.RateLimitPolicy, 'ADDED', teamPolicy);
    api.emit(AgentKind, 'ADDED', onTeam('beta') as AgentDeployment & Record<string, unknown>);
    api.emit(Kinds.Pod, 'ADDED', readyPod('alpha', 0));
    await settle(controller);
    expect(teamShareOf(api, 'alpha')).toBe(1);
    // beta's pods alone change; alpha's document follows: three ready replicas on the policy.
    api.emit(Kinds.Pod, 'ADDED', readyPod('beta', 0));
    api.emit(Kinds.Pod, 'ADDED', readyPod('beta', 1));
    await settle(controller);
    expect(teamShareOf(api, 'alpha')).toBe(3);
    expect(teamShareOf(api, 'beta')).toBe(3);
    // beta removed: alpha's share is the whole again.
    api.emit(AgentKind, 'DELETED', onTeam('beta') as AgentDeployment & Record<string, unknown>);
    await settle(controller);
    expect(teamShareOf(api, 'alpha')).toBe(1);
  });
});

describe('Controller and the policies of MCP servers', () => {
  const toolsPolicy = (agent: AgentDeployment): CircuitBreakerPolicy & Record<string, unknown> => ({
    apiVersion: 'breakwater.dev/v1alpha1',
    kind: 'CircuitBreakerPolicy',
    metadata: { name: 'tools', namespace: agent.metadata.namespace, generation: 1 },
    spec: { failureThreshold: 7 },
  });
  const mcpAgent = (): AgentDeployment => {
    const agent = minimalAgent();
    agent.spec.mcpServers = [
      {
        name: 'github',
        url: 'http://github-mcp:8080/mcp',
        circuitBreakerPolicyRef: { name: 'tools' },
      },
    ];
    return agent;
  };

  it('runs the tools with defaults and says the policy is missing until it appears, then resolves it', async () => {
    const agent = mcpAgent();
    const { api, controller } = await started(agent);
    expect(lastResolved(api.statuses)).toEqual({
      status: 'False',
      message: expect.stringContaining('CircuitBreakerPolicy tools (mcpServers github)') as unknown,
    });
    expect(lastDocument(api.applied).mcpServers?.[0]?.circuitBreaker?.failureThreshold).toBe(5);
    const before = await reconcileCount(controller);
    api.emit(Kinds.CircuitBreakerPolicy, 'ADDED', toolsPolicy(agent));
    await settle(controller);
    expect(await reconcileCount(controller)).toBeGreaterThan(before);
    expect(lastResolved(api.statuses)?.status).toBe('True');
    expect(lastDocument(api.applied).mcpServers?.[0]?.circuitBreaker?.failureThreshold).toBe(7);
  });

  it('reconciles an agent when a policy only its MCP servers name changes, not one it does not name', async () => {
    const agent = mcpAgent();
    const { api, controller } = await started(agent);
    const policy = toolsPolicy(agent);
    api.emit(Kinds.CircuitBreakerPolicy, 'ADDED', policy);
    await settle(controller);
    const before = await reconcileCount(controller);
    api.emit(Kinds.CircuitBreakerPolicy, 'ADDED', {
      ...policy,
      metadata: { ...policy.metadata, name: 'unrelated' },
    });
    await settle(controller);
    expect(await reconcileCount(controller)).toBe(before);
    api.emit(Kinds.CircuitBreakerPolicy, 'MODIFIED', {
      ...policy,
      metadata: { ...policy.metadata, generation: 2 },
      spec: { failureThreshold: 9 },
    });
    await settle(controller);
    expect(await reconcileCount(controller)).toBe(before + 1);
    expect(lastDocument(api.applied).mcpServers?.[0]?.circuitBreaker?.failureThreshold).toBe(9);
  });
});

function lastDocument(applied: readonly KubeObject[]): PolicyDocument {
  const configMap: (KubeObject & { data?: Record<string, string> }) | undefined = applied.findLast(
    (o) => o.kind === 'ConfigMap',
  );
  return JSON.parse(configMap?.data?.[POLICY_CONFIGMAP_KEY] ?? '{}') as PolicyDocument;
}

/** The policy document last applied for `agent`. */
function documentOf(applied: readonly KubeObject[], agent: string): PolicyDocument {
  const configMap: (KubeObject & { data?: Record<string, string> }) | undefined = applied.findLast(
    (o) => o.kind === 'ConfigMap' && o.metadata?.name === `${agent}-policy`,
  );
  return JSON.parse(configMap?.data?.[POLICY_CONFIGMAP_KEY] ?? '{}') as PolicyDocument;
}

function modelRetiringReason(written: KubeObject): string | undefined {
  return (written as AgentDeployment).status?.conditions?.find((c) => c.type === 'ModelRetiring')
    ?.reason;
}
