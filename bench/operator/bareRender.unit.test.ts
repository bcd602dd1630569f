import { afterEach, describe, expect, it } from '@jest/globals';
import type { AgentDeployment } from '../../contract/src/api/resources.ts';
import { Kinds } from '../../platform/src/kube/resourceKinds.ts';
import {
  MemoryApi,
  started,
  stopStarted,
} from '../../operator/src/controller/controllerFixtures.ts';
import { ManualClock } from '../../test/support/manualClock.ts';
import {
  agentDeployment,
  circuitBreakerPolicy,
  rateLimitPolicy,
} from '../../test/support/agentFixtures.ts';
import { renderAgent } from './bareRender.ts';

afterEach(stopStarted);

const NS = 'bench-op-scale';
const stored = <T extends { metadata: object }>(obj: T, rv: string): T => ({
  ...obj,
  metadata: { ...obj.metadata, namespace: NS, uid: `uid-${rv}`, resourceVersion: rv },
});

/** One of the bench's agents as the API server returns it from the create. */
function benchAgent(): AgentDeployment {
  const agent = agentDeployment('agent-0007', {
    providerURL: 'http://127.0.0.1:9',
    replicas: 0,
    circuitBreakerPolicy: 'shared',
    rateLimitPolicy: 'shared',
  });
  return { ...stored(agent, '42'), metadata: { ...stored(agent, '42').metadata, generation: 1 } };
}

describe("the bare floor's rendering of an agent", () => {
  it("is byte for byte what the operator's first reconcile applies and writes as status", async () => {
    const breakers = stored(circuitBreakerPolicy('shared'), '10');
    const limits = stored(rateLimitPolicy('shared'), '11');
    const agent = benchAgent();
    const clock = new ManualClock(Date.parse('2026-11-28T17:30:00Z'));
    const api = new MemoryApi();
    api.put(Kinds.CircuitBreakerPolicy, breakers);
    api.put(Kinds.RateLimitPolicy, limits);
    await started(agent, clock, api);

    const rendered = await renderAgent({
      agent,
      breakerPolicy: breakers,
      rateLimitPolicy: limits,
      runtimeImage: 'img',
      serviceMonitorAvailable: false,
      nowMs: clock.now(),
    });

    expect(api.applied).toHaveLength(6);
    expect(JSON.stringify(rendered.children)).toBe(JSON.stringify(api.applied));
    // The policies' own statuses (their targets) are written too: per policy, not per agent.
    const agentStatuses = api.statuses.filter((s) => s.kind === 'AgentDeployment');
    expect(agentStatuses).toHaveLength(1);
    expect(JSON.stringify(rendered.status)).toBe(JSON.stringify(agentStatuses[0]));
  });

  it('refuses an agent whose writes would depend on pods it cannot see', async () => {
    const agent = { ...benchAgent(), spec: { ...benchAgent().spec, replicas: 2 } };
    await expect(
      renderAgent({
        agent,
        breakerPolicy: undefined,
        rateLimitPolicy: undefined,
        runtimeImage: 'img',
        serviceMonitorAvailable: false,
        nowMs: 0,
      }),
    ).rejects.toThrow(/replicas 0/);
  });
});
