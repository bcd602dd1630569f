/**
 * Status that tells the truth without traffic: an agent's breaker trips, then nobody calls it.
 * Open → HalfOpen used to wait for the next call (or a /debug read, or a scrape); now the
 * runtime's one edge timer takes the edge when the open time ends, the pod report changes and
 * the operator carries it to the AgentDeployment's and the CircuitBreakerPolicy's status.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { agentDeployment, circuitBreakerPolicy } from '../support/agentFixtures.ts';
import {
  agentPods,
  getAgent,
  getBreakerPolicy,
  podBreakers,
} from '../support/breakwaterCluster.ts';
import { eventually } from '../support/operator.ts';
import { startScenario, type Scenario } from '../support/operatorScenario.ts';
import { BREAKER, reportingPods, tripEach } from './onCallCluster.ts';

jest.setTimeout(180_000);

const AGENT = 'idle';
const CBP = 'idle-provider';
const OPEN_MS = 4_000;

let scenario: Scenario;

beforeAll(async () => {
  scenario = await startScenario({ prefix: 'oncall-idle', seed: 21 }, (sim) => [
    circuitBreakerPolicy(CBP, { failureThreshold: 2, openDuration: `${String(OPEN_MS / 1000)}s` }),
    agentDeployment(AGENT, { providerURL: sim.url, circuitBreakerPolicy: CBP }),
  ]);
}, 120_000);

afterAll(async () => {
  await scenario.end();
});

describe('an idle agent whose breaker tripped', () => {
  it('moves from Open to HalfOpen in its status when the open time ends, with no call', async () => {
    const ns = scenario.ns.name;
    const pods = await reportingPods(ns, AGENT, 1);
    await scenario.sim.setFault({ status: 529 });
    await tripEach(pods);
    const openedAt = await eventually(
      async () => {
        const agent = await getAgent(ns, AGENT);
        return agent?.status?.breaker?.state === 'Open' && agent.status.breaker.lastTripTime;
      },
      { timeoutMs: 20_000, intervalMs: 100, description: `${AGENT} status to say Open` },
    );
    const due = Date.parse(openedAt) + OPEN_MS;

    // No call from here on: only time passes.
    const seenAt = await eventually(
      async () => {
        const [agent, policy] = await Promise.all([getAgent(ns, AGENT), getBreakerPolicy(ns, CBP)]);
        return (
          agent?.status?.breaker?.state === 'HalfOpen' &&
          policy?.status?.state === 'HalfOpen' &&
          Date.now()
        );
      },
      { timeoutMs: OPEN_MS + 20_000, intervalMs: 100, description: 'status to say HalfOpen' },
    );
    const [pod] = await agentPods(ns, AGENT);
    const entry = pod === undefined ? undefined : podBreakers(pod)[BREAKER];
    process.stderr.write(
      `[oncall] idle Open → HalfOpen: the pod took the edge ${String(
        Date.parse(entry?.since ?? '') - due,
      )} ms after the open time ended; status said so ${String(seenAt - due)} ms after\n`,
    );
    expect(entry?.state).toBe('HalfOpen');
    // Taken by the timer at the end of the open time, not at some later read. Generous: the
    // machine is shared, and the point is "on time", not "within a millisecond".
    expect(Date.parse(entry?.since ?? '') - due).toBeLessThan(2_000);
    expect(seenAt - due).toBeLessThan(10_000);
    expect(await scenario.sim.stats()).toMatchObject({ requests: 2 });
  });
});
