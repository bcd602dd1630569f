/**
 * No thundering herd: an agent scales from three replicas to six while its provider is down.
 * The three new pods read the agent's recorded breaker state at startup and start Open for the
 * rest of the open time — they report Open before serving a single call — and when it ends
 * each sends the provider at most halfOpenMaxCalls probes, like its siblings, instead of
 * full traffic until its own breaker trips.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { agentDeployment, circuitBreakerPolicy } from '../support/agentFixtures.ts';
import {
  agentPods,
  getAgent,
  mergePatch,
  podBreakers,
  podHttpUrl,
  sendMessage,
  type PodView,
} from '../support/breakwaterCluster.ts';
import { eventually } from '../support/operator.ts';
import { startScenario, type Scenario } from '../support/operatorScenario.ts';
import { BREAKER, providerAttempts, reportingPods, tripEach } from './onCallCluster.ts';

jest.setTimeout(300_000);

const AGENT = 'herd';
const CBP = 'herd-provider';
const HALF_OPEN_MAX_CALLS = 2;
/** Long enough for three pods to start inside it on a busy machine. */
const OPEN_S = 30;
/** Callers per new pod: more than halfOpenMaxCalls, so the limit is what holds them back. */
const CALLERS = 4;

let scenario: Scenario;

beforeAll(async () => {
  scenario = await startScenario({ prefix: 'oncall-herd', seed: 23 }, (sim) => [
    circuitBreakerPolicy(CBP, {
      failureThreshold: 2,
      successThreshold: HALF_OPEN_MAX_CALLS,
      halfOpenMaxCalls: HALF_OPEN_MAX_CALLS,
      openDuration: `${String(OPEN_S)}s`,
    }),
    agentDeployment(AGENT, { providerURL: sim.url, replicas: 3, circuitBreakerPolicy: CBP }),
  ]);
}, 120_000);

afterAll(async () => {
  await scenario.end();
});

describe('scaling out during an outage', () => {
  it('starts the new replicas Open and lets each probe with at most halfOpenMaxCalls calls', async () => {
    const ns = scenario.ns.name;
    const old = await reportingPods(ns, AGENT, 3);
    // Slow failures, so that concurrent probes overlap.
    await scenario.sim.setFault({ status: 529, latencyMs: 300 });
    await tripEach(old);
    const recorded = await eventually(
      async () => {
        const breaker = (await getAgent(ns, AGENT))?.status?.breaker;
        return breaker?.open === 3 && breaker.openBreakers?.find((b) => b.name === BREAKER);
      },
      { timeoutMs: 20_000, description: `${AGENT} status to record ${BREAKER} open` },
    );
    const until = Date.parse(recorded.until);

    // While the new replicas start, status must never count one of them Closed: Unknown until
    // it reports, then Open.
    const samples: { total: number; closed: number; unknown: number }[] = [];
    const sampling = { on: true };
    const sampler = (async () => {
      while (sampling.on) {
        const breaker = (await getAgent(ns, AGENT))?.status?.breaker;
        if (breaker !== undefined)
          samples.push({
            total: breaker.total ?? 0,
            closed: (breaker.total ?? 0) - (breaker.open ?? 0) - (breaker.unknown ?? 0),
            unknown: breaker.unknown ?? 0,
          });
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    await mergePatch(ns, `agd/${AGENT}`, { spec: { replicas: 6 } });
    const oldUids = new Set(old.map((p) => p.metadata?.uid));
    const fresh = (await reportingPods(ns, AGENT, 6)).filter((p) => !oldUids.has(p.metadata?.uid));
    await eventually(async () => (await getAgent(ns, AGENT))?.status?.breaker?.open === 6, {
      timeoutMs: 20_000,
      description: 'status to count all six replicas open',
    });
    sampling.on = false;
    await sampler;
    process.stderr.write(
      `[oncall] status during the scale-up (${String(samples.length)} reads): most unknown at once ${String(
        Math.max(...samples.map((x) => x.unknown)),
      )}, most closed at once ${String(Math.max(...samples.map((x) => x.closed)))}\n`,
    );
    expect(samples.filter((x) => x.closed > 0)).toEqual([]);
    expect(fresh).toHaveLength(3);
    const startedBy = Date.now();
    process.stderr.write(
      `[oncall] scale 3 → 6: new pods reporting ${String(until - startedBy)} ms before the open time ends\n`,
    );
    if (startedBy >= until)
      throw new Error('the new pods started after the open time: raise OPEN_S');
    for (const pod of fresh) {
      expect(podBreakers(pod)[BREAKER]).toMatchObject({ state: 'Open', trips: 0 });
    }

    await scenario.sim.resetStats();
    // Steady traffic to each new pod until well after the open time: refused fast while Open,
    // then probes, which fail and open it again.
    const probes = await Promise.all(fresh.map((pod) => hammer(pod, until + 3_000)));
    const stats = await scenario.sim.stats();
    process.stderr.write(
      `[oncall] provider calls from the new pods: ${probes.join(', ')} (simulator saw ${String(
        stats.requests,
      )})\n`,
    );
    for (const count of probes) {
      expect(count).toBeGreaterThanOrEqual(1);
      expect(count).toBeLessThanOrEqual(HALF_OPEN_MAX_CALLS);
    }
    // The old replicas took no traffic: every call the provider saw came from a new pod.
    expect(stats.requests).toBe(probes.reduce((a, b) => a + b, 0));
    const after = await agentPods(ns, AGENT);
    for (const pod of after.filter((p) => !oldUids.has(p.metadata?.uid))) {
      expect(podBreakers(pod)[BREAKER]?.state).toBe('Open');
    }
  });
});

/** CALLERS callers on one pod until `untilMs`; resolves with the provider calls it made. */
async function hammer(pod: PodView, untilMs: number): Promise<number> {
  const before = await providerAttempts(pod);
  const url = podHttpUrl(pod);
  await Promise.all(
    Array.from({ length: CALLERS }, async () => {
      while (Date.now() < untilMs) {
        const status = await sendMessage(url);
        if (status === 503) await new Promise((r) => setTimeout(r, 100));
      }
    }),
  );
  return (await providerAttempts(pod)) - before;
}
