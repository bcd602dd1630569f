/**
 * The rate-limit store through a Sentinel failover, on the cluster: an agent of two pods whose
 * RateLimitPolicy (a request limit and a dollar budget, Cluster scope) names its store by
 * sentinels — a primary, two replicas and three sentinels, Debian's processes on this machine
 * where the pods reach them. Admission takes the policy, the operator hands the sentinels to
 * the pods, StoreAvailable says the store decides; the primary is SIGKILLed under load from
 * both pods and the sentinels promote a replica. Every pod follows it without a restart, the
 * condition is True again, and the simulator's own bills stay within the budget and what the
 * promoted replica never received (storeFailover.ts). The local twin
 * (test/rateLimitStore/sentinelFailover.test.ts) measures the same on runtime processes;
 * sentinelInPods.test.ts, with the store in pods.
 */
import { afterAll, beforeAll, describe, it, jest } from '@jest/globals';
import { startScenario, type Scenario } from '../support/operatorScenario.ts';
import { startSentinelSet, type SentinelSet } from '../support/redisSentinel.ts';
import { measureFailover, failoverStoreObjects } from './storeFailover.ts';

jest.setTimeout(300_000);

let set: SentinelSet;
let scenario: Scenario;

beforeAll(async () => {
  set = await startSentinelSet();
  scenario = await startScenario({ prefix: 'oncall-sentinel', seed: 51 }, (sim) =>
    failoverStoreObjects(sim, {
      sentinel: { masterName: set.masterName, addresses: set.sentinels },
    }),
  );
}, 180_000);

afterAll(async () => {
  await scenario.end();
  await set.remove();
});

describe('a Sentinel-backed store on the cluster', () => {
  it('follows the promoted primary on every pod without a restart, within the budget', async () => {
    await measureFailover(scenario, {
      named: set.masterName,
      shape: 'sentinel',
      killPrimary: async () => {
        await set.primary.kill();
        return set.primary.address;
      },
      waitForNewPrimary: (was, timeoutMs) => set.waitForNewPrimary(was, timeoutMs),
    });
  });
});
