/**
 * The rate-limit store through a Sentinel failover with the store in pods (issue 51): a
 * primary, two replicas and three sentinels of the Redis image made from Debian's packages,
 * non-root on a read-only root filesystem under the `restricted` Pod Security Standard
 * (test/support/redisPods.ts), an agent of two pods whose RateLimitPolicy names the store by the
 * sentinels' pod addresses, and load through the agent's Service and to each pod. The primary's
 * pod is force-deleted (grace 0): the same figures as sentinelStore.test.ts, where the store
 * runs as processes on this machine, held to the same bounds (storeFailover.ts). Here the
 * policy asks `acknowledge: Replicas` (there the default, Primary): the acknowledging
 * connection and its WAITs through the pod network and a failover in pods.
 */
import { afterAll, beforeAll, describe, it, jest } from '@jest/globals';
import { kubectl } from '../support/kube.ts';
import { startScenario, type Scenario } from '../support/operatorScenario.ts';
import { startSentinelPods, type SentinelPods } from '../support/redisPods.ts';
import { AGENT, measureFailover, failoverStoreObjects } from './storeFailover.ts';

jest.setTimeout(300_000);

let store: SentinelPods | undefined;
let scenario: Scenario | undefined;

beforeAll(async () => {
  store = await startSentinelPods();
  const { masterName, sentinels } = store;
  scenario = await startScenario({ prefix: 'oncall-sentinel-pods', seed: 52 }, (sim) =>
    failoverStoreObjects(sim, { sentinel: { masterName, addresses: sentinels } }, 'Replicas'),
  );
}, 180_000);

afterAll(async () => {
  await scenario?.end();
  await store?.remove();
});

/** `http://<ClusterIP>:<port>` of the agent's Service (this machine is routed to Services). */
async function agentServiceUrl(namespace: string): Promise<string> {
  const { stdout } = await kubectl([
    'get',
    'service',
    AGENT,
    '-n',
    namespace,
    '-o',
    'jsonpath={.spec.clusterIP}:{.spec.ports[?(@.name=="http")].port}',
  ]);
  return `http://${stdout.trim()}`;
}

describe('a Sentinel-backed store in pods', () => {
  it('follows the promoted primary when the primary pod is force-deleted, within the budget, under acknowledge: Replicas', async () => {
    if (store === undefined || scenario === undefined) throw new Error('beforeAll did not finish');
    const { ns } = scenario;
    const pods = store;
    await measureFailover(
      scenario,
      {
        named: pods.masterName,
        shape: 'sentinel',
        killPrimary: async () => {
          await pods.deletePrimaryPod();
          return pods.primary;
        },
        waitForNewPrimary: (was, timeoutMs) => pods.waitForNewPrimary(was, timeoutMs),
      },
      async () => {
        const service = await agentServiceUrl(ns.name);
        return [service, service];
      },
    );
  });
});
