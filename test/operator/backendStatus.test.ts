/**
 * Each backend's breaker state in the agent's status, under the real operator with a runtime
 * pod on the local node: of two backends, the one nobody answers opens while the simulator's
 * stays closed, and status.backends, backendSummary and `kubectl get agd -o wide` say which.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { agentDeployment, circuitBreakerPolicy } from '../support/agentFixtures.ts';
import {
  agentPods,
  getAgent,
  isPodReady,
  podHttpPort,
  sendMessage,
  type PodView,
} from '../support/breakwaterCluster.ts';
import { kubectl } from '../support/kube.ts';
import { eventually } from '../support/operator.ts';
import { startScenario, type Scenario } from '../support/operatorScenario.ts';

jest.setTimeout(180_000);

const AGENT = 'two-backends';
const CBP = 'backends';
/** Nothing listens on the discard port: every call to it fails at once with a refused connection. */
const UNREACHABLE = 'http://127.0.0.1:9';

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
          { name: 'simulator', baseURL: sim.url },
          { name: 'unreachable', baseURL: UNREACHABLE },
        ],
      },
    }),
  ]);
  pod = await eventually(async () => (await agentPods(scenario.ns.name, AGENT)).find(isPodReady), {
    timeoutMs: 90_000,
    description: `a ready pod of ${AGENT}`,
  });
}, 150_000);

afterAll(() => scenario.end());

describe('status.backends', () => {
  it('shows the backend that fails Open on the replica and the one that answers Closed', async () => {
    const status = await eventually(
      async () => {
        // Calls spread over both backends; those to the unreachable one trip its breaker.
        await sendMessage(podHttpPort(pod));
        const agent = await getAgent(scenario.ns.name, AGENT);
        const backends = agent?.status?.backends;
        return backends?.find((b) => b.name === 'unreachable')?.state === 'Open' && agent?.status;
      },
      { timeoutMs: 60_000, intervalMs: 250, description: 'the unreachable backend to show Open' },
    );
    expect(status.backends).toEqual([
      { name: 'simulator', type: 'Anthropic', state: 'Closed', openReplicas: 0, replicas: 1 },
      { name: 'unreachable', type: 'Anthropic', state: 'Open', openReplicas: 1, replicas: 1 },
    ]);
    expect(status.backendSummary).toBe('simulator Closed 0/1, unreachable Open 1/1');
    const { stdout } = await kubectl([
      'get',
      'agd',
      AGENT,
      '-n',
      scenario.ns.name,
      '-o',
      'custom-columns=BACKENDS:.status.backendSummary',
    ]);
    expect(stdout).toContain('simulator Closed 0/1, unreachable Open 1/1');
  });
});
