/**
 * A rolling update seen from a caller: steady traffic to an agent's pod on the suites' kind cluster
 * while the pod is deleted. The kubelet delivers SIGTERM and honours the grace period; the
 * runtime fails readiness at once, serves through its drain delay, then refuses new calls, and
 * every call it admitted is answered. Once the container is gone, so is the pod's address:
 * later calls fail to connect, which counts as refused, never as lost.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { Kinds } from '../../platform/src/kube/resourceKinds.ts';
import { agentDeployment, MODEL } from '../support/agentFixtures.ts';
import {
  agentPods,
  api,
  isPodReady,
  podHttpUrl,
  type PodView,
} from '../support/breakwaterCluster.ts';
import {
  countOutcome,
  drainCall,
  type DrainCall,
  type DrainOutcome,
} from '../support/drainCalls.ts';
import { waitFor } from '../support/kube.ts';
import { startScenario, type Scenario } from '../support/operatorScenario.ts';

jest.setTimeout(120_000);

const AGENT = 'draining';
const DRAIN_MS = 2_000;
const CALLERS = 4;
/** Calls sent this close to the end of the drain may land on either side of it. */
const EDGE_MS = 200;

let scenario: Scenario;

beforeAll(async () => {
  scenario = await startScenario({ prefix: 'op-drain', seed: 17 }, (sim) => [
    agentDeployment(AGENT, {
      providerURL: sim.url,
      spec: { terminationDrainDuration: '2s', terminationGracePeriodSeconds: 10 },
    }),
  ]);
  await scenario.sim.setFault({ latencyMs: 100 });
}, 120_000);

afterAll(async () => {
  await scenario.end();
});

describe('an agent pod deleted under steady traffic', () => {
  it('refuses nothing during the drain delay and loses nothing after it', async () => {
    const pod = await waitFor(
      async () => (await agentPods(scenario.ns.name, AGENT)).find(isPodReady),
      { timeoutMs: 60_000, description: 'a ready agent pod' },
    );
    const url = podHttpUrl(pod);
    const podName = pod.metadata?.name ?? '';
    const podUid = pod.metadata?.uid;
    const sent: DrainCall[] = [];
    let stop = false;
    const callers = Array.from({ length: CALLERS }, async () => {
      while (!stop) {
        const result = await drainCall(url, MODEL);
        sent.push(result);
        // After the port closes there is nothing left to learn; a refused caller backs off.
        if (result.outcome !== 'served') await new Promise((r) => setTimeout(r, 50));
      }
    });
    // Steady traffic first: the pod has served its callers a few times.
    await waitFor(() => countOutcome(sent, 'served') >= 20, {
      timeoutMs: 10_000,
      intervalMs: 20,
      description: 'steady traffic before the deletion',
    });
    const deletedAt = Date.now();
    await api().delete(Kinds.Pod, scenario.ns.name, podName);
    // The object stays until the kubelet has stopped the container.
    await waitFor(
      async () => {
        const left = await api().get<PodView>(Kinds.Pod, scenario.ns.name, podName);
        return left?.metadata?.uid !== podUid;
      },
      { timeoutMs: 30_000, description: 'the deleted pod to be gone' },
    );
    stop = true;
    await Promise.all(callers);

    const drainEnds = deletedAt + DRAIN_MS;
    const during = sent.filter((s) => s.at >= deletedAt && s.at < drainEnds - EDGE_MS);
    const count = (outcome: DrainOutcome, list = sent) => countOutcome(list, outcome);
    process.stderr.write(
      `[drain] pod deletion: ${String(sent.length)} calls; before ${String(
        sent.filter((s) => s.at < deletedAt).length,
      )}, during the drain ${String(during.length)} (served ${String(count('served', during))}); ` +
        `after: served ${String(count('served'))} in all, refused ${String(count('refused'))}, ` +
        `unanswered ${String(count('unanswered'))}, lost ${String(count('lost'))}\n`,
    );
    expect(during.length).toBeGreaterThan(0);
    expect(during.filter((s) => s.outcome !== 'served')).toEqual([]);
    expect(sent.filter((s) => s.outcome === 'lost')).toEqual([]);
    // A connection closed without an answer is a refusal at the TCP level, never during the drain.
    expect(sent.filter((s) => s.outcome === 'unanswered' && s.at < drainEnds - EDGE_MS)).toEqual(
      [],
    );
  });
});
