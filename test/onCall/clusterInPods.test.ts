/**
 * The rate-limit store through a Redis Cluster failover with the store in pods (issue 51): six
 * nodes of the Redis image made from Debian's packages (three primaries with a replica each),
 * non-root on a read-only root filesystem under the `restricted` Pod Security Standard
 * (test/support/redisPods.ts), and an agent of two pods whose RateLimitPolicy names the store
 * as a cluster by the nodes' pod addresses, under `acknowledge: Replicas` (one acknowledging
 * lane per primary, each WAIT on the primary that took the write). Under load, the pod of the
 * primary holding the budget account is force-deleted: the same figures and bounds as the
 * Sentinel suites (storeFailover.ts), and the processes' twin
 * (test/rateLimitStore/clusterFailover.test.ts) measures the same on this machine.
 */
import { afterAll, beforeAll, describe, it, jest } from '@jest/globals';
import { startScenario, type Scenario } from '../support/operatorScenario.ts';
import { startClusterPods, type ClusterPods } from '../support/redisPods.ts';
import { AGENT, failoverStoreObjects, measureFailover } from './storeFailover.ts';

jest.setTimeout(300_000);

let store: ClusterPods | undefined;
let scenario: Scenario | undefined;

beforeAll(async () => {
  store = await startClusterPods();
  const { addresses } = store;
  scenario = await startScenario({ prefix: 'oncall-cluster-pods', seed: 53 }, (sim) =>
    failoverStoreObjects(sim, { cluster: { addresses } }, 'Replicas'),
  );
}, 180_000);

afterAll(async () => {
  await scenario?.end();
  await store?.remove();
});

describe('a Redis Cluster store in pods', () => {
  it('follows the promoted replica when the pod of the primary holding the budget is force-deleted, within the budget, under acknowledge: Replicas', async () => {
    if (store === undefined || scenario === undefined) throw new Error('beforeAll did not finish');
    const pods = store;
    await measureFailover(scenario, {
      named: 'the cluster at',
      shape: 'cluster',
      killPrimary: () => pods.deletePrimaryHolding(`*:budget:${AGENT}:daily:*`),
      waitForNewPrimary: (was, timeoutMs) => pods.waitForNewPrimary(was, timeoutMs),
    });
  });
});
