/**
 * Failover from the Anthropic API to Bedrock under the real operator, with a runtime pod on
 * the local node: the simulator answers the Anthropic wire with 529s and serves Bedrock
 * (SigV4 checked against the credentials it was given, which reach the pod through the AWS
 * default chain: the environment). Calls are answered by Bedrock; the Anthropic backend's
 * breaker opens; status.backends, backendSummary and `kubectl get agd -o wide` say which.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import {
  agentPods,
  getAgent,
  isPodReady,
  podHttpUrl,
  sendMessage,
  type PodView,
} from '../support/breakwaterCluster.ts';
import { kubectl } from '../support/kube.ts';
import { eventually } from '../support/operator.ts';
import { startScenario, type Scenario } from '../support/operatorScenario.ts';
import { agentDeployment, circuitBreakerPolicy, MODEL } from '../support/agentFixtures.ts';

jest.setTimeout(180_000);

const AGENT = 'two-providers';
const CBP = 'backends';
const AWS = { accessKeyId: 'AKIDINCLUSTERTEST', secretAccessKey: 'in-cluster-secret' };

let scenario: Scenario;
let pod: PodView;

beforeAll(async () => {
  scenario = await startScenario({ prefix: 'op-backends', seed: 23 }, (sim) => [
    circuitBreakerPolicy(CBP, { failureThreshold: 2, openDuration: '5m' }),
    agentDeployment(AGENT, {
      providerURL: sim.url,
      circuitBreakerPolicy: CBP,
      spec: {
        backends: [
          { name: 'anthropic', baseURL: sim.url },
          {
            name: 'bedrock-us',
            type: 'Bedrock',
            region: 'us-east-1',
            baseURL: sim.url,
            priority: 1,
            models: { [MODEL]: `us.anthropic.${MODEL}-v1:0` },
          },
        ],
        env: [
          { name: 'AWS_ACCESS_KEY_ID', value: AWS.accessKeyId },
          { name: 'AWS_SECRET_ACCESS_KEY', value: AWS.secretAccessKey },
        ],
      },
    }),
  ]);
  await fetch(`${scenario.sim.url}/_sim/credentials`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ provider: 'bedrock', ...AWS }),
  });
  await scenario.sim.setFault({ status: 529, provider: 'anthropic' });
  pod = await eventually(async () => (await agentPods(scenario.ns.name, AGENT)).find(isPodReady), {
    timeoutMs: 90_000,
    description: `a ready pod of ${AGENT}`,
  });
}, 150_000);

afterAll(() => scenario.end());

describe('status.backends', () => {
  it('answers from Bedrock while the Anthropic API is overloaded, and shows its breaker Open', async () => {
    const status = await eventually(
      async () => {
        expect(await sendMessage(podHttpUrl(pod))).toBe(200);
        const agent = await getAgent(scenario.ns.name, AGENT);
        const backends = agent?.status?.backends;
        return backends?.find((b) => b.name === 'anthropic')?.state === 'Open' && agent?.status;
      },
      { timeoutMs: 60_000, intervalMs: 250, description: 'the Anthropic backend to show Open' },
    );
    expect(status.backends).toEqual([
      { name: 'anthropic', type: 'Anthropic', state: 'Open', openReplicas: 1, replicas: 1 },
      { name: 'bedrock-us', type: 'Bedrock', state: 'Closed', openReplicas: 0, replicas: 1 },
    ]);
    expect(status.backendSummary).toBe('anthropic Open 1/1, bedrock-us Closed 0/1');
    const stats = await scenario.sim.stats();
    expect(stats.byProvider.bedrock.byOutcome['ok']).toBeGreaterThan(0);
    const { stdout } = await kubectl([
      'get',
      'agd',
      AGENT,
      '-n',
      scenario.ns.name,
      '-o',
      'custom-columns=BACKENDS:.status.backendSummary',
    ]);
    expect(stdout).toContain('anthropic Open 1/1, bedrock-us Closed 0/1');
  });
});
