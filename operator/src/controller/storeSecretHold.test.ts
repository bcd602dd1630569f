/**
 * An agent whose own container reads a Secret its RateLimitPolicy's store uses as a password
 * (issue 51): the operator rolls nothing out, in either order of the edits, and says why.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import type { AgentDeployment, RateLimitPolicy } from '../../../contract/src/api/resources.ts';
import { Kinds } from '../../../platform/src/kube/resourceKinds.ts';
import { ManualClock } from '../../../test/support/manualClock.ts';
import { minimalAgent } from '../builders/builderFixtures.ts';
import {
  AgentKind,
  applies,
  lastCondition,
  lastResolved,
  MemoryApi,
  reconcileCount,
  settle,
  started,
  stopStarted,
} from './controllerFixtures.ts';

afterEach(async () => {
  await stopStarted();
});

describe("Controller and an agent container that reads its store's password", () => {
  const storePolicy = (
    agent: AgentDeployment,
    password: string,
    generation = 1,
  ): RateLimitPolicy & Record<string, unknown> => ({
    apiVersion: 'breakwater.dev/v1alpha1',
    kind: 'RateLimitPolicy',
    metadata: { name: 'shared-store', namespace: agent.metadata.namespace, generation },
    spec: {
      scope: 'Cluster',
      requests: { perSecond: 10, burst: 20 },
      store: { redis: { address: 'redis:6379', passwordSecretRef: { name: password, key: 'p' } } },
    },
  });
  const readingAgent = (): AgentDeployment => {
    const agent = minimalAgent();
    agent.spec.rateLimitPolicyRef = { name: 'shared-store' };
    agent.spec.agent = {
      image: 'registry.example.com/team/agent:1.0.0',
      envFrom: [{ secretRef: { name: 'team-auth' } }],
    };
    return agent;
  };
  const warnings = (api: MemoryApi): (string | undefined)[] =>
    api.events.filter((e) => e.type === 'Warning').map((e) => e.reason);

  it('applies nothing, says why in PoliciesResolved and one Warning Event, and reconciles no more than usual', async () => {
    const agent = readingAgent();
    const api = new MemoryApi();
    api.put(Kinds.RateLimitPolicy, storePolicy(agent, 'team-auth'));
    const { controller } = await started(agent, new ManualClock(), api);
    expect(applies(api)).toEqual([]);
    expect(lastResolved(api.statuses)).toEqual({
      status: 'False',
      message: expect.stringContaining(
        'spec.agent.envFrom[0].secretRef: Forbidden: Secret team-auth holds the rate-limit store',
      ) as unknown,
    });
    expect(lastCondition(api.statuses, 'Ready')?.reason).toBe('StoreSecretReadByAgent');
    expect(warnings(api)).toEqual(['StoreSecretReadByAgent']);
    // Reconciled again (a label edit) with the condition stored: no second Event.
    const before = await reconcileCount(controller);
    api.emit(AgentKind, 'MODIFIED', {
      ...agent,
      metadata: { ...agent.metadata, generation: 2, labels: { team: 'a' } },
      status: (api.statuses.at(-1) as AgentDeployment).status,
    });
    await settle(controller);
    expect(await reconcileCount(controller)).toBe(before + 1);
    expect(applies(api)).toEqual([]);
    expect(warnings(api)).toEqual(['StoreSecretReadByAgent']);
  });

  it('holds the running pods as they were when the policy later names a Secret the agent reads, and rolls out once fixed', async () => {
    const agent = readingAgent();
    const api = new MemoryApi();
    api.put(Kinds.RateLimitPolicy, storePolicy(agent, 'redis-auth'));
    const { controller } = await started(agent, new ManualClock(), api);
    expect(applies(api)).toContain('apply Deployment');
    expect(lastResolved(api.statuses)?.status).toBe('True');

    api.emit(Kinds.RateLimitPolicy, 'MODIFIED', storePolicy(agent, 'team-auth', 2));
    await settle(controller);
    expect(applies(api)).toEqual([]);
    expect(lastCondition(api.statuses, 'PoliciesResolved')).toMatchObject({
      status: 'False',
      reason: 'StoreSecretReadByAgent',
      message: expect.stringContaining(
        'RateLimitPolicy shared-store spec.store.redis.passwordSecretRef',
      ) as unknown,
    });
    expect(warnings(api)).toEqual(['StoreSecretReadByAgent']);

    api.emit(Kinds.RateLimitPolicy, 'MODIFIED', storePolicy(agent, 'store-only-auth', 3));
    await settle(controller);
    expect(applies(api)).toContain('apply Deployment');
    expect(lastResolved(api.statuses)?.status).toBe('True');
  });
});
