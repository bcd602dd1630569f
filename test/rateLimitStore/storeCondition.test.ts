/**
 * The RateLimitPolicy's StoreAvailable condition on the suites' kind cluster: the operator mounts the
 * store's password Secret into the agent's pods (it holds no access to Secrets, nor does the
 * runtime), the runtimes report on the store in their pod annotation, and the operator turns
 * the reports into the condition. A wrong password reads as AuthenticationFailed while the
 * agent serves on its per-replica share; the right one turns it True.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { agentDeployment, rateLimitPolicy, type SecretManifest } from '../support/agentFixtures.ts';
import { policyHash } from '../../contract/src/policy/policyDocument.ts';
import {
  agentPods,
  appliedPolicyDocument,
  applyObjects,
  condition,
  getRateLimitPolicy,
  isPodReady,
  podHttpUrl,
  podPolicyHash,
  sendMessage,
} from '../support/breakwaterCluster.ts';
import { eventually } from '../support/operator.ts';
import { startScenario, type Scenario } from '../support/operatorScenario.ts';
import { startRedis, type RedisHandle } from '../support/redisServer.ts';

jest.setTimeout(240_000);

const AGENT = 'store-agent';
const RLP = 'store-limits';
/** The kubelet rewrites Secret volumes within its sync period (a minute) plus its cache's TTL. */
const SYNC_MS = 180_000;

let redis: RedisHandle;
let scenario: Scenario;

const password = (value: string): SecretManifest => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name: 'redis-auth' },
  stringData: { password: value },
});

async function storeCondition() {
  const policy = await getRateLimitPolicy(scenario.ns.name, RLP);
  return condition(policy, 'StoreAvailable');
}

beforeAll(async () => {
  redis = await startRedis({ password: 'right-password' });
  scenario = await startScenario({ prefix: 'rlp-store', seed: 16 }, (sim) => [
    password('wrong-password'),
    rateLimitPolicy(RLP, {
      requests: { perSecond: 0.2, burst: 6 },
      scope: 'Cluster',
      store: {
        redis: {
          address: redis.address,
          passwordSecretRef: { name: 'redis-auth', key: 'password' },
        },
      },
    }),
    agentDeployment(AGENT, { providerURL: sim.url, rateLimitPolicy: RLP, replicas: 2 }),
  ]);
});

afterAll(async () => {
  await scenario.end();
  await redis.remove();
});

describe('the RateLimitPolicy StoreAvailable condition', () => {
  it('says the password is wrong, naming the field to fix, while the agent serves on its share', async () => {
    const seen = await eventually(
      async () => {
        const c = await storeCondition();
        // Both replicas reported (one may still be connecting when the first reports).
        return c?.reason === 'AuthenticationFailed' && c.message?.startsWith('2 of 2') === true
          ? c
          : undefined;
      },
      {
        timeoutMs: 90_000,
        intervalMs: 500,
        description: 'StoreAvailable=False AuthenticationFailed',
      },
    );
    expect(seen.status).toBe('False');
    expect(seen.message).toMatch(/2 of 2 replicas fall back to their per-replica share/);
    expect(seen.message).toContain('passwordSecretRef');
    expect(seen.message).toMatch(/WRONGPASS/);
    // The share is the ready replicas': the pod must run the policy divided by 2, which the
    // operator writes once the second pod is Ready — after both may have reported on the store.
    const pod = await eventually(
      async () => {
        const doc = await appliedPolicyDocument(scenario.ns.name, AGENT);
        if (doc?.rateLimit.shareOf !== 2) return undefined;
        const ready = (await agentPods(scenario.ns.name, AGENT)).filter(isPodReady);
        return ready.find((p) => podPolicyHash(p) === policyHash(doc));
      },
      { timeoutMs: 60_000, intervalMs: 250, description: 'a pod running the share of 2' },
    );
    // A share of one call in ten seconds with a burst of 3: the pod serves, then refuses.
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push(await sendMessage(podHttpUrl(pod)));
    expect(statuses.slice(0, 3)).toEqual([200, 200, 200]);
    expect(statuses[3]).toBe(429);
  });

  it('turns True once the Secret holds the right password', async () => {
    await applyObjects(scenario.ns.name, password('right-password'));
    const seen = await eventually(
      async () => {
        const c = await storeCondition();
        return c?.status === 'True' ? c : undefined;
      },
      { timeoutMs: SYNC_MS + 60_000, intervalMs: 500, description: 'StoreAvailable=True' },
    );
    expect(seen.reason).toBe('Shared');
    expect(seen.message).toContain(redis.address);
  });
});
