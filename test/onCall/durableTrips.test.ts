/**
 * TRIPS and LAST-TRIP are durable: three replicas trip, then every pod is deleted and replaced,
 * the operator is killed and started again, and the agent scales from three to one. The count
 * the on-call engineer reads never goes down, because the agent's status keeps a ledger
 * (operator/src/status/tripLedger.ts) rather than summing the pods that happen to run.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { Kinds } from '../../platform/src/kube/resourceKinds.ts';
import { agentDeployment, circuitBreakerPolicy } from '../support/agentFixtures.ts';
import {
  agentPods,
  api,
  getAgent,
  getBreakerPolicy,
  kubectlRow,
  mergePatch,
  podBreakers,
} from '../support/breakwaterCluster.ts';
import { eventually, startOperator } from '../support/operator.ts';
import { startScenario, type Scenario } from '../support/operatorScenario.ts';
import { BREAKER, reportingPods, tripEach } from './onCallCluster.ts';

jest.setTimeout(300_000);

const AGENT = 'durable';
const CBP = 'durable-provider';

let scenario: Scenario;

beforeAll(async () => {
  scenario = await startScenario({ prefix: 'oncall-trips', seed: 22 }, (sim) => [
    circuitBreakerPolicy(CBP, { failureThreshold: 2, openDuration: '60s' }),
    agentDeployment(AGENT, { providerURL: sim.url, replicas: 3, circuitBreakerPolicy: CBP }),
  ]);
}, 120_000);

afterAll(async () => {
  await scenario.end();
});

const trips = async (): Promise<{ policy?: number; agent?: number; lastTrip?: string }> => {
  const [policy, agent] = await Promise.all([
    getBreakerPolicy(scenario.ns.name, CBP),
    getAgent(scenario.ns.name, AGENT),
  ]);
  return {
    policy: policy?.status?.trips,
    agent: agent?.status?.breaker?.trips,
    lastTrip: policy?.status?.lastTripTime,
  };
};

/** TRIPS shows `count` in kubectl get cbp and both statuses agree. */
function tripsAre(count: number, description: string) {
  return eventually(
    async () => {
      const t = await trips();
      const row = await kubectlRow(scenario.ns.name, `cbp/${CBP}`);
      return t.policy === count && t.agent === count && row['TRIPS'] === String(count) && t;
    },
    { timeoutMs: 60_000, intervalMs: 200, description },
  );
}

/**
 * Runs a test's `steps` while TRIPS is read in the background (every value, in order), then
 * checks that none was below an earlier one. Each test watches for itself.
 */
async function trippingNeverFalls(steps: () => Promise<void>): Promise<void> {
  const seen: number[] = [];
  const stop = new AbortController();
  const watcher = (async () => {
    while (!stop.signal.aborted) {
      const t = await trips().catch(() => ({ policy: undefined }));
      if (t.policy !== undefined) seen.push(t.policy);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  try {
    await steps();
  } finally {
    stop.abort();
    await watcher;
  }
  process.stderr.write(
    `[oncall] TRIPS over the test (${String(seen.length)} reads): ${[...new Set(seen)].join(' → ')}\n`,
  );
  expect(seen.filter((n, i) => i > 0 && n < (seen[i - 1] ?? 0))).toEqual([]);
}

describe('trips of an agent whose pods come and go', () => {
  it('counts three when three replicas trip', () =>
    trippingNeverFalls(async () => {
      const pods = await reportingPods(scenario.ns.name, AGENT, 3);
      await scenario.sim.setFault({ status: 529 });
      await tripEach(pods);
      await tripsAre(3, 'TRIPS 3 after three replicas tripped');
    }));

  it('keeps three, and the last trip time, after every pod is deleted and replaced', () =>
    trippingNeverFalls(async () => {
      const { lastTrip } = await trips();
      const before = new Set(
        (await agentPods(scenario.ns.name, AGENT)).map((p) => p.metadata?.uid),
      );
      await Promise.all(
        [...(await agentPods(scenario.ns.name, AGENT))].map((p) =>
          api().delete(Kinds.Pod, scenario.ns.name, p.metadata?.name ?? ''),
        ),
      );
      const replaced = await eventually(
        async () => {
          const pods = await reportingPods(scenario.ns.name, AGENT, 3);
          return pods.every((p) => !before.has(p.metadata?.uid)) && pods;
        },
        { timeoutMs: 120_000, description: 'three new pods, reporting' },
      );
      expect(replaced).toHaveLength(3);
      const after = await tripsAre(3, 'TRIPS still 3 after every pod was replaced');
      expect(after.lastTrip).toBe(lastTrip);
      // A deleted pod keeps its entry while it terminates (on a loaded node, after its
      // replacement reports); once every one is gone, all three trips are in the baseline.
      const ledger = await eventually(
        async () => {
          const l = (await getAgent(scenario.ns.name, AGENT))?.status?.breaker?.tripLedger;
          return l?.processes?.length === 3 && l;
        },
        {
          timeoutMs: 60_000,
          intervalMs: 200,
          description: 'the deleted pods gone from the ledger',
        },
      );
      expect(ledger.baseline?.trips).toBe(3);
      expect(ledger.processes?.map((p) => p.trips)).toEqual([0, 0, 0]);
      // The replacements started Open from their deleted siblings' state, without tripping.
      for (const pod of replaced) expect(podBreakers(pod)[BREAKER]?.state).toBe('Open');
    }));

  it('keeps three across an operator that is killed and started again', () =>
    trippingNeverFalls(async () => {
      await scenario.operator.kill();
      const hashBefore = (await getAgent(scenario.ns.name, AGENT))?.status?.policy?.hash;
      await startOperator({ namespace: scenario.ns.name, name: 'second' });
      // Statuses are written only on change, so the first operator's last write would pass at
      // once: change the policy (the replicas stay Open either way), so that the statuses read
      // below are the new operator's — the policy's observedGeneration and the agent's applied
      // hash can only come from it — and hold the three trips it read back from the ledger.
      await mergePatch(scenario.ns.name, `cbp/${CBP}`, { spec: { openDuration: '59s' } });
      const generation = (await getBreakerPolicy(scenario.ns.name, CBP))?.metadata.generation;
      const written = await eventually(
        async () => {
          const [policy, agent] = await Promise.all([
            getBreakerPolicy(scenario.ns.name, CBP),
            getAgent(scenario.ns.name, AGENT),
          ]);
          const hash = agent?.status?.policy?.hash;
          return (
            policy?.status?.observedGeneration === generation &&
            hash !== undefined &&
            hash !== hashBefore && {
              policy: policy?.status?.trips,
              agent: agent?.status?.breaker?.trips,
            }
          );
        },
        {
          timeoutMs: 60_000,
          intervalMs: 200,
          description: 'both statuses written by the new operator',
        },
      );
      expect(written).toEqual({ policy: 3, agent: 3 });
      await tripsAre(3, 'TRIPS still 3 after the operator restarted');
    }));

  it('keeps three when the agent scales from three to one, and counts the next trip on top', () =>
    trippingNeverFalls(async () => {
      await mergePatch(scenario.ns.name, `agd/${AGENT}`, { spec: { replicas: 1 } });
      await eventually(async () => (await agentPods(scenario.ns.name, AGENT)).length === 1, {
        timeoutMs: 60_000,
        description: 'one pod left',
      });
      await tripsAre(3, 'TRIPS still 3 after scaling to one');
      // The replacements started Open, as their deleted siblings were (breaker memory), for
      // the rest of a minute: a shorter open time lets the last one probe, fail and trip now.
      await mergePatch(scenario.ns.name, `cbp/${CBP}`, { spec: { openDuration: '1s' } });
      const [last] = await eventually(
        async () => {
          const pods = await reportingPods(scenario.ns.name, AGENT, 1);
          return pods.every((p) => podBreakers(p)[BREAKER]?.state !== 'Open') && pods;
        },
        { timeoutMs: 30_000, description: 'the last pod to leave Open' },
      );
      if (last === undefined) throw new Error('no pod left');
      await tripEach([last]);
      await tripsAre(4, 'TRIPS 4 after the last replica tripped');
    }));
});
