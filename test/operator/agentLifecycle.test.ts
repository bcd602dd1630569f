/**
 * One agent's life under the real operator, with real runtime pods on the real node calling
 * the LLM simulator: it comes up Ready with every child, a 529 storm opens every replica's
 * breaker and `kubectl get cbp` says so, clearing the faults closes them, a policy edit reaches
 * every running replica without a restart, and a Cluster-scope budget is re-divided on scale-up.
 * The steps share the agent and run in order.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { Kinds } from '../../platform/src/kube/resourceKinds.ts';
import {
  agentDeployment,
  circuitBreakerPolicy,
  rateLimitPolicy,
} from '../support/agentFixtures.ts';
import {
  agentPods,
  api,
  appliedPolicyDocument,
  callUntilOpen,
  condition,
  getAgent,
  getBreakerPolicy,
  getRateLimitPolicy,
  isPodReady,
  isReadyAgent,
  kubectlRow,
  mergePatch,
  podBreakers,
  podHttpUrl,
  podPolicyHash,
  sendMessage,
  type PodView,
} from '../support/breakwaterCluster.ts';
import { type TestNamespace } from '../support/kube.ts';
import { eventually } from '../support/operator.ts';
import { type SimulatorHandle } from '../support/simulator.ts';
import { startScenario, type Scenario } from '../support/operatorScenario.ts';

// jest reads testTimeout only from the global config, not from a project's.
jest.setTimeout(180_000);

const AGENT = 'assistant';
const CBP = 'provider';
const RLP = 'budget';

let scenario: Scenario;
let ns: TestNamespace;
let sim: SimulatorHandle;

beforeAll(async () => {
  scenario = await startScenario({ prefix: 'op-lifecycle', seed: 11 }, (s) => [
    circuitBreakerPolicy(CBP, { failureThreshold: 3, openDuration: '2s' }),
    rateLimitPolicy(RLP),
    agentDeployment(AGENT, {
      providerURL: s.url,
      replicas: 3,
      circuitBreakerPolicy: CBP,
      rateLimitPolicy: RLP,
    }),
  ]);
  ({ ns, sim } = scenario);
}, 120_000);

afterAll(async () => {
  await scenario.end();
});

const table = (resource: string): Promise<Record<string, string>> => kubectlRow(ns.name, resource);

async function readyPods(count: number): Promise<PodView[]> {
  return eventually(
    async () => {
      const pods = (await agentPods(ns.name, AGENT)).filter(isPodReady);
      return pods.length === count && pods;
    },
    { timeoutMs: 90_000, description: `${count} ready pods of ${AGENT}` },
  );
}

/** Every running replica reports the hash in status, and status says PoliciesApplied. */
/** The policy hash every replica applies, once it is not `previous` (an edit still on its way). */
async function everyReplicaApplied(count: number, previous?: string): Promise<string> {
  return eventually(
    async () => {
      const agent = await getAgent(ns.name, AGENT);
      const hash = agent?.status?.policy?.hash;
      if (previous !== undefined && hash === previous) return false;
      const pods = (await agentPods(ns.name, AGENT)).filter(isPodReady);
      const applied = condition(agent, 'PoliciesApplied');
      return (
        hash !== undefined &&
        pods.length === count &&
        pods.every((pod) => podPolicyHash(pod) === hash) &&
        agent?.status?.policy?.appliedReplicas === count &&
        applied?.status === 'True' &&
        hash
      );
    },
    { timeoutMs: 60_000, description: `all ${count} replicas to report the agent's policy hash` },
  );
}

describe('an agent with both policies', () => {
  it('becomes Ready 3/3 with every child object owned by it', async () => {
    const agent = await eventually(
      async () => {
        const a = await getAgent(ns.name, AGENT);
        return isReadyAgent(a) && a?.status?.readyReplicas === 3 && a;
      },
      { timeoutMs: 120_000, description: `${AGENT} Ready with 3 ready replicas` },
    );
    expect(condition(agent, 'PoliciesResolved')?.status).toBe('True');
    expect((await table(`agd/${AGENT}`))['READY']).toBe('3/3');
    await everyReplicaApplied(3);

    const owned = [
      [Kinds.ConfigMap, `${AGENT}-policy`],
      [Kinds.ServiceAccount, `breakwater-runtime-${AGENT}`],
      [Kinds.Role, AGENT],
      [Kinds.RoleBinding, AGENT],
      [Kinds.Deployment, AGENT],
      [Kinds.Service, AGENT],
      [Kinds.PodDisruptionBudget, AGENT],
    ] as const;
    for (const [kind, name] of owned) {
      const child = await api().get(kind, ns.name, name);
      expect({ kind: kind.kind, name, owner: child?.metadata?.ownerReferences }).toEqual({
        kind: kind.kind,
        name,
        owner: [expect.objectContaining({ uid: agent.metadata.uid, controller: true })],
      });
    }
    // Not asked for: no autoscaler, no NetworkPolicy.
    expect(await api().get(Kinds.HorizontalPodAutoscaler, ns.name, AGENT)).toBeUndefined();
    expect(await api().get(Kinds.NetworkPolicy, ns.name, AGENT)).toBeUndefined();

    const doc = await appliedPolicyDocument(ns.name, AGENT);
    expect(doc?.circuitBreaker.policyName).toBe(CBP);
    expect(doc?.rateLimit.policyName).toBe(RLP);
    expect((await table(`cbp/${CBP}`))['OPEN']).toBe('0/3');
  });

  it('shows Open 3/3 in kubectl get cbp soon after a 529 storm trips every replica', async () => {
    const pods = await readyPods(3);
    await sim.setFault({ status: 529 });
    const answers = await Promise.all(pods.map((pod) => callUntilOpen(podHttpUrl(pod))));
    const trippedAt = Date.now();
    for (const statuses of answers) expect(statuses.at(-1)).toBe(503);

    const row = await eventually(
      async () => {
        const r = await table(`cbp/${CBP}`);
        return r['STATE'] === 'Open' && r['OPEN'] === '3/3' && r;
      },
      { timeoutMs: 20_000, intervalMs: 100, description: 'kubectl get cbp to show Open 3/3' },
    );
    const seenAt = Date.now();
    const policy = await getBreakerPolicy(ns.name, CBP);
    const lastTrip = Date.parse(policy?.status?.lastTripTime ?? '');
    process.stderr.write(
      `[operator e2e] trip → kubectl get cbp Open 3/3: ${seenAt - trippedAt} ms after the last ` +
        `503, ${seenAt - lastTrip} ms after status.lastTripTime (goal 2000)\n`,
    );
    expect(row['TRIPS']).toBe('3');
    // A generous bound: the machine is shared; bench/operator.ts measures the real number.
    expect(seenAt - trippedAt).toBeLessThan(10_000);
    expect(policy?.status?.targets).toEqual([{ name: AGENT, state: 'Open', open: 3, total: 3 }]);
    // The agent's status is a write of its own, after or before the policy's.
    const breaker = await eventually(
      async () => {
        const b = (await getAgent(ns.name, AGENT))?.status?.breaker;
        return b?.open === 3 && b;
      },
      { timeoutMs: 10_000, intervalMs: 100, description: 'the agent status to count 3 open' },
    );
    expect(breaker).toMatchObject({ state: 'Open', open: 3, total: 3, unknown: 0 });
    expect((await table(`agd/${AGENT}`))['BREAKER']).toBe('Open');
  });

  it('goes back to Closed once the provider recovers', async () => {
    await sim.clearFaults();
    const pods = await readyPods(3);
    // After openDuration a call is let through as a probe; one success closes each breaker.
    await Promise.all(
      pods.map((pod) =>
        eventually(async () => (await sendMessage(podHttpUrl(pod))) === 200, {
          timeoutMs: 20_000,
          intervalMs: 500,
          description: `pod ${pod.metadata?.name ?? '?'} to answer 200 again`,
        }),
      ),
    );
    await eventually(
      async () => {
        const r = await table(`cbp/${CBP}`);
        return r['STATE'] === 'Closed' && r['OPEN'] === '0/3';
      },
      { timeoutMs: 20_000, description: 'kubectl get cbp to show Closed 0/3' },
    );
    for (const pod of await agentPods(ns.name, AGENT)) {
      expect(Object.values(podBreakers(pod)).map((b) => b.state)).toEqual(['Closed']);
    }
  });

  it('reloads an edited RateLimitPolicy into every running replica without restarting it', async () => {
    const before = await readyPods(3);
    const oldHash = (await getAgent(ns.name, AGENT))?.status?.policy?.hash;
    await mergePatch(ns.name, `rlp/${RLP}`, {
      spec: { requests: { perSecond: 7, burst: 14 } },
    });

    const hash = await everyReplicaApplied(3, oldHash);
    expect(hash).not.toBe(oldHash);
    const doc = await appliedPolicyDocument(ns.name, AGENT);
    expect(doc?.rateLimit.requests).toEqual({ replicaPerSecond: 7, replicaBurst: 14 });
    const after = await agentPods(ns.name, AGENT);
    expect(after.map((p) => p.metadata?.uid).sort()).toEqual(
      before.map((p) => p.metadata?.uid).sort(),
    );
  });

  it('re-divides a Cluster-scope budget among the replicas when the agent scales from 3 to 5', async () => {
    await mergePatch(ns.name, `rlp/${RLP}`, {
      spec: { scope: 'Cluster', requests: { perSecond: 30, burst: 60 } },
    });
    await eventually(
      async () => {
        const doc = await appliedPolicyDocument(ns.name, AGENT);
        return doc?.rateLimit.shareOf === 3 && doc.rateLimit.requests?.replicaPerSecond === 10;
      },
      { timeoutMs: 30_000, description: 'a third of the budget per replica' },
    );
    await everyReplicaApplied(3);

    await mergePatch(ns.name, `agd/${AGENT}`, { spec: { replicas: 5 } });
    await readyPods(5);
    await eventually(
      async () => {
        const doc = await appliedPolicyDocument(ns.name, AGENT);
        return doc?.rateLimit.shareOf === 5 && doc.rateLimit.requests;
      },
      { timeoutMs: 30_000, description: 'a fifth of the budget per replica' },
    ).then((requests) => {
      expect(requests).toEqual({ replicaPerSecond: 6, replicaBurst: 12 });
    });
    await everyReplicaApplied(5);
    const status = await eventually(
      async () => {
        const policy = await getRateLimitPolicy(ns.name, RLP);
        return policy?.status?.effective?.replicas === 5 && policy.status;
      },
      { timeoutMs: 30_000, description: 'RateLimitPolicy status to show the share of 5' },
    );
    expect(status.effective).toMatchObject({ replicas: 5, requestsPerSecond: 6, burst: 12 });
    expect(status.targets).toEqual([
      { name: AGENT, effective: expect.objectContaining({ replicas: 5, requestsPerSecond: 6 }) },
    ]);
    expect((await getAgent(ns.name, AGENT))?.status?.readySummary).toBe('5/5');
  });
});
