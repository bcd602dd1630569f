/**
 * An agent's client keys on the suites' kind cluster, with no one but the node reading the Secret: the
 * operator mounts the client-keys Secret into the agent's pods (it holds no access to Secrets)
 * and the runtime reads the files the node wrote. A pod whose Secret does not exist yet starts
 * and refuses every caller; the Secret's arrival and then its rotation reach the running pod
 * within the node's sync period, without a restart.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { agentDeployment, type SecretManifest } from '../support/agentFixtures.ts';
import {
  agentPods,
  applyObjects,
  isPodReady,
  podHttpUrl,
  sendMessage,
  type PodView,
} from '../support/breakwaterCluster.ts';
import { eventually } from '../support/operator.ts';
import { startScenario, type Scenario } from '../support/operatorScenario.ts';

jest.setTimeout(240_000);

/**
 * How long a changed Secret may take to reach the pod's volume: the kubelet rewrites it within
 * its sync period (a minute, jittered) plus its Secret cache's TTL.
 */
const SYNC_MS = 180_000;

const AGENT = 'gatekeeper';
const KEYS = 'gatekeeper-client-keys';

let scenario: Scenario;
let pod: PodView;

function clientKeys(keys: Record<string, string>): SecretManifest {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name: KEYS }, stringData: keys };
}

/** Sends with each key until every answer is the one expected; resolves with the time it took. */
async function untilAnswers(expected: Record<string, number>, what: string): Promise<number> {
  const start = Date.now();
  await eventually(
    async () => {
      for (const [key, status] of Object.entries(expected)) {
        if ((await sendMessage(podHttpUrl(pod), key === '' ? undefined : key)) !== status) {
          return false;
        }
      }
      return true;
    },
    { timeoutMs: SYNC_MS, intervalMs: 500, description: what },
  );
  return Date.now() - start;
}

beforeAll(async () => {
  scenario = await startScenario({ prefix: 'op-client-keys', seed: 3 }, (sim) => [
    agentDeployment(AGENT, {
      providerURL: sim.url,
      spec: { access: { clientKeysSecretRef: { name: KEYS } } },
    }),
  ]);
  pod = await eventually(async () => (await agentPods(scenario.ns.name, AGENT)).find(isPodReady), {
    timeoutMs: 90_000,
    description: `a ready pod of ${AGENT}`,
  });
}, 180_000);

afterAll(() => scenario.end());

describe('client keys from a mounted Secret', () => {
  it('starts a pod whose Secret is missing, and refuses every caller', async () => {
    expect(await sendMessage(podHttpUrl(pod))).toBe(401);
    expect(await sendMessage(podHttpUrl(pod), 'key-one')).toBe(401);
  });

  it('lets in a caller with a key once the Secret exists, and no one else', async () => {
    await applyObjects(scenario.ns.name, clientKeys({ checkout: 'key-one' }));
    await untilAnswers({ 'key-one': 200, '': 401, 'key-wrong': 401 }, 'key-one to be accepted');
  });

  it('takes a rotated key without restarting the pod', async () => {
    await applyObjects(scenario.ns.name, clientKeys({ checkout: 'key-two' }));
    const ms = await untilAnswers(
      { 'key-two': 200, 'key-one': 401 },
      'key-two accepted and key-one revoked',
    );
    expect(ms).toBeLessThan(SYNC_MS);
    const [now] = (await agentPods(scenario.ns.name, AGENT)).filter(
      (p) => p.metadata?.uid === pod.metadata?.uid,
    );
    expect(now?.status?.containerStatuses?.[0]?.restartCount).toBe(0);
  });
});
