/**
 * Quota-aware scaling on the suites' kind cluster, end to end: the simulator's budget (60 requests a
 * minute, real `anthropic-ratelimit-*` headers falling as it is used) → a real runtime pod
 * reports its headroom on its own pod → the real operator holds the HorizontalPodAutoscaler's
 * maxReplicas at the current count, sets ScaleOutHeld and records an Event → the switch turns
 * the hold off and on → the budget refills, the next answers say so, and the hold is lifted.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { AgentDeployment } from '../../contract/src/api/resources.ts';
import type { KubeObject } from '../../platform/src/kube/kubeObject.ts';
import { Kinds } from '../../platform/src/kube/resourceKinds.ts';
import {
  decodeHeadroomReport,
  HEADROOM_ANNOTATION,
} from '../../contract/src/reporting/headroomReport.ts';
import { agentDeployment, providerSecret } from '../support/agentFixtures.ts';
import {
  agentPods,
  api,
  applyObjects,
  condition,
  getAgent,
  isPodReady,
  mergePatch,
  podHttpUrl,
  scrapePod,
  sendMessage,
} from '../support/breakwaterCluster.ts';
import { type TestNamespace } from '../support/kube.ts';
import { eventually } from '../support/operator.ts';
import { type SimulatorHandle } from '../support/simulator.ts';
import { sample } from '../support/standaloneRuntime.ts';
import { startScenario, type Scenario } from '../support/operatorScenario.ts';

const AGENT = 'quota';
/** The simulated organisation's request budget; it refills at one request a second. */
const RPM = 60;
const MAX_REPLICAS = 4;

interface AutoscalerView extends KubeObject {
  spec?: { minReplicas?: number; maxReplicas?: number };
}

interface EventView extends KubeObject {
  reason?: string;
  message?: string;
  involvedObject?: { kind?: string; name?: string };
}

let scenario: Scenario;
let ns: TestNamespace;
let sim: SimulatorHandle;

const hpaMax = async (): Promise<number | undefined> =>
  (await api().get<AutoscalerView>(Kinds.HorizontalPodAutoscaler, ns.name, AGENT))?.spec
    ?.maxReplicas;

async function agentEvents(reason: string): Promise<EventView[]> {
  const { items } = await api().list<EventView>(Kinds.Event, { namespace: ns.name });
  return items.filter(
    (e) =>
      e.reason === reason &&
      e.involvedObject?.kind === 'AgentDeployment' &&
      e.involvedObject.name === AGENT,
  );
}

async function readyPodUrl(): Promise<string> {
  return eventually(
    async () => {
      const [pod] = (await agentPods(ns.name, AGENT)).filter(isPodReady);
      return pod !== undefined && podHttpUrl(pod);
    },
    { timeoutMs: 90_000, description: `a ready pod of ${AGENT}` },
  );
}

beforeAll(async () => {
  scenario = await startScenario({ prefix: 'op-quota', seed: 15, simulator: { rpm: RPM } });
  ({ ns, sim } = scenario);
  const agent: AgentDeployment = agentDeployment(AGENT, {
    providerURL: sim.url,
    spec: {
      replicas: undefined,
      // The suites' kind cluster has no metrics server: the HPA never scales on CPU here, so the
      // replica count stays at minReplicas and the cap is exactly that.
      autoscaling: {
        minReplicas: 1,
        maxReplicas: MAX_REPLICAS,
        targetCPUUtilizationPercentage: 80,
      },
    },
  });
  delete (agent.spec as { replicas?: number }).replicas;
  await applyObjects(ns.name, providerSecret(), agent);
}, 120_000);

afterAll(async () => {
  await scenario.end();
});

describe('an autoscaled agent whose provider quota runs short', () => {
  it('starts unheld, with the schema defaults filled in and nothing reported yet', async () => {
    await readyPodUrl();
    const agent = await eventually(
      async () => {
        const a = await getAgent(ns.name, AGENT);
        return condition(a, 'ScaleOutHeld') !== undefined && a;
      },
      { timeoutMs: 60_000, description: 'condition ScaleOutHeld' },
    );
    expect(agent.spec.autoscaling?.providerQuota).toEqual({
      holdScaleOut: true,
      minHeadroomPercent: 20,
    });
    expect(condition(agent, 'ScaleOutHeld')).toMatchObject({
      status: 'False',
      reason: 'NoHeadroomReported',
    });
    expect(await hpaMax()).toBe(MAX_REPLICAS);
  });

  it('holds maxReplicas at the current count, says why and records an Event when headroom falls below 20%', async () => {
    const url = await readyPodUrl();
    // Use the budget up: each answer's anthropic-ratelimit-requests-remaining falls by one.
    const [pod] = await agentPods(ns.name, AGENT);
    if (pod === undefined) throw new Error('no pod');
    let sent = 0;
    while (sent < RPM) {
      expect(await sendMessage(url)).toBe(200);
      sent++;
      if (
        sent % 5 === 0 &&
        sample(await scrapePod(pod), 'breakwater_provider_headroom_ratio') < 0.15
      )
        break;
    }
    const agent = await eventually(
      async () => {
        const a = await getAgent(ns.name, AGENT);
        return condition(a, 'ScaleOutHeld')?.status === 'True' && a;
      },
      { timeoutMs: 30_000, description: 'ScaleOutHeld=True' },
    );
    const held = condition(agent, 'ScaleOutHeld');
    expect(held?.reason).toBe('ProviderQuotaLow');
    expect(held?.message).toMatch(
      /^provider headroom \d+% \(backend default, requests\) is below providerQuota.minHeadroomPercent 20% until .*: HorizontalPodAutoscaler maxReplicas held at 1 \(spec 4\)/,
    );
    await eventually(async () => (await hpaMax()) === 1, {
      timeoutMs: 30_000,
      description: 'HPA maxReplicas held at 1',
    });
    const report = decodeHeadroomReport(
      (await agentPods(ns.name, AGENT))[0]?.metadata?.annotations?.[HEADROOM_ANNOTATION],
    );
    expect(report['default']?.ratio).toBeLessThan(0.2);
    expect(report['default']?.limitedBy).toBe('requests');
    const events = await eventually(
      async () => {
        const e = await agentEvents('ScaleOutHeld');
        return e.length > 0 && e;
      },
      { timeoutMs: 15_000, description: 'a ScaleOutHeld Event' },
    );
    expect(events).toHaveLength(1);
    expect(events[0]?.message).toContain('maxReplicas held at 1');
  });

  it('lets the switch turn the hold off and on again', async () => {
    await mergePatch(ns.name, `agd/${AGENT}`, {
      spec: { autoscaling: { providerQuota: { holdScaleOut: false } } },
    });
    await eventually(
      async () =>
        condition(await getAgent(ns.name, AGENT), 'ScaleOutHeld')?.reason === 'HoldDisabled' &&
        (await hpaMax()) === MAX_REPLICAS,
      { timeoutMs: 30_000, description: 'the hold off: HoldDisabled and maxReplicas 4' },
    );
    await mergePatch(ns.name, `agd/${AGENT}`, {
      spec: { autoscaling: { providerQuota: { holdScaleOut: true } } },
    });
    await eventually(async () => (await hpaMax()) === 1, {
      timeoutMs: 30_000,
      description: 'the hold back on while headroom is still short',
    });
  });

  it('lifts the hold once answers show headroom again, with an Event', async () => {
    const url = await readyPodUrl();
    // The budget refills at one request a second; a call every two seconds lets it climb,
    // and each answer's headers tell the runtime how far.
    await eventually(
      async () => {
        expect(await sendMessage(url)).toBe(200);
        return (await hpaMax()) === MAX_REPLICAS;
      },
      { timeoutMs: 90_000, intervalMs: 2_000, description: 'HPA maxReplicas back to 4' },
    );
    const agent = await getAgent(ns.name, AGENT);
    expect(condition(agent, 'ScaleOutHeld')).toMatchObject({
      status: 'False',
      reason: 'HeadroomAvailable',
    });
    const released = await eventually(
      async () => {
        const e = await agentEvents('ScaleOutReleased');
        return e.length > 0 && e;
      },
      { timeoutMs: 15_000, description: 'a ScaleOutReleased Event' },
    );
    expect(released[0]?.message).toContain('back to spec.autoscaling.maxReplicas');
  });
});
