/**
 * A reference to a policy that does not exist yet is a status, not an error loop: the agent
 * runs on defaults with `PoliciesResolved=False` (PolicyNotFound), and heals by itself as soon
 * as the policy appears, the running replica included.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import {
  agentDeployment,
  circuitBreakerPolicy,
  providerSecret,
  rateLimitPolicy,
} from '../support/agentFixtures.ts';
import {
  agentPods,
  appliedPolicyDocument,
  applyObjects,
  condition,
  getAgent,
  getRateLimitPolicy,
  isPodReady,
  isReadyAgent,
  podPolicyHash,
} from '../support/breakwaterCluster.ts';
import { type TestNamespace } from '../support/kube.ts';
import { eventually, type OperatorProcess } from '../support/operator.ts';
import { type SimulatorHandle } from '../support/simulator.ts';
import { startScenario, type Scenario } from '../support/operatorScenario.ts';

jest.setTimeout(180_000);

const AGENT = 'early';
const CBP = 'late-breaker';
const RLP = 'late-limits';

let scenario: Scenario;
let ns: TestNamespace;
let sim: SimulatorHandle;
let operator: OperatorProcess;

beforeAll(async () => {
  scenario = await startScenario({ prefix: 'op-refs', seed: 3 });
  ({ ns, sim, operator } = scenario);
}, 120_000);

afterAll(async () => {
  await scenario.end();
});

/** The operator's count of failed AgentDeployment reconciles. */
async function failedReconciles(): Promise<number> {
  const text = await operator.metrics();
  const line = text
    .split('\n')
    .find((l) =>
      /^breakwater_operator_reconciles_total\{.*kind="AgentDeployment".*result="error"/.test(l),
    );
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

describe('an agent whose policies do not exist yet', () => {
  it('runs on defaults and says PolicyNotFound, without retrying in a loop', async () => {
    await applyObjects(
      ns.name,
      providerSecret(),
      agentDeployment(AGENT, {
        providerURL: sim.url,
        replicas: 1,
        circuitBreakerPolicy: CBP,
        rateLimitPolicy: RLP,
      }),
    );
    const agent = await eventually(
      async () => {
        const a = await getAgent(ns.name, AGENT);
        return condition(a, 'PoliciesResolved')?.status === 'False' && a;
      },
      { timeoutMs: 30_000, description: 'PoliciesResolved=False' },
    );
    expect(condition(agent, 'PoliciesResolved')).toMatchObject({
      reason: 'PolicyNotFound',
      message: expect.stringContaining(`CircuitBreakerPolicy ${CBP}`),
    });
    expect(condition(agent, 'PoliciesResolved')?.message).toContain(`RateLimitPolicy ${RLP}`);
    expect(condition(agent, 'Ready')).toMatchObject({ status: 'False', reason: 'PolicyNotFound' });
    expect(condition(agent, 'Stalled')).toMatchObject({ status: 'True', reason: 'PolicyNotFound' });

    // The replica still starts and runs the defaults the operator resolved.
    await eventually(
      async () => {
        const pods = (await agentPods(ns.name, AGENT)).filter(isPodReady);
        const hash = (await getAgent(ns.name, AGENT))?.status?.policy?.hash;
        return (
          pods.length === 1 && hash !== undefined && pods.every((p) => podPolicyHash(p) === hash)
        );
      },
      { timeoutMs: 90_000, description: 'the replica to run the default policy' },
    );
    const doc = await appliedPolicyDocument(ns.name, AGENT);
    expect(doc?.circuitBreaker.policyName).toBeUndefined();
    expect(await failedReconciles()).toBe(0);
  });

  it('resolves each policy as soon as it appears and the replica applies it', async () => {
    await applyObjects(ns.name, circuitBreakerPolicy(CBP, { failureThreshold: 4 }));
    const halfway = await eventually(
      async () => {
        const a = await getAgent(ns.name, AGENT);
        const message = condition(a, 'PoliciesResolved')?.message ?? '';
        return !message.includes(CBP) && a;
      },
      { timeoutMs: 30_000, description: 'the breaker policy to resolve' },
    );
    expect(condition(halfway, 'PoliciesResolved')).toMatchObject({
      status: 'False',
      message: expect.stringContaining(`RateLimitPolicy ${RLP}`),
    });

    await applyObjects(ns.name, rateLimitPolicy(RLP, { requests: { perSecond: 9, burst: 9 } }));
    const agent = await eventually(
      async () => {
        const a = await getAgent(ns.name, AGENT);
        return isReadyAgent(a) && condition(a, 'PoliciesApplied')?.status === 'True' && a;
      },
      { timeoutMs: 60_000, description: `${AGENT} Ready with its policies applied` },
    );
    expect(condition(agent, 'PoliciesResolved')).toMatchObject({
      status: 'True',
      reason: 'Resolved',
    });
    expect(condition(agent, 'Stalled')?.status).toBe('False');
    const doc = await appliedPolicyDocument(ns.name, AGENT);
    expect(doc?.circuitBreaker).toMatchObject({ policyName: CBP, failureThreshold: 4 });
    expect(doc?.rateLimit).toMatchObject({
      policyName: RLP,
      requests: { replicaPerSecond: 9, replicaBurst: 9 },
    });
    const [pod] = await agentPods(ns.name, AGENT);
    expect(pod === undefined ? undefined : podPolicyHash(pod)).toBe(agent.status?.policy?.hash);
    expect(await failedReconciles()).toBe(0);
  });
});

describe('a policy admission takes and every replica refuses', () => {
  it('says so on the agent and the policy, without an error loop, and heals once fixed', async () => {
    const budgets = [{ name: 'daily', period: 'Day' as const, tokens: 1_000_000 }];
    const requests = { perSecond: 9, burst: 9 };
    // Shaped like a zone, so admission takes it; the zone database does not know it. Every
    // reconcile of the agent and of the policy threw on it, and their status froze.
    await applyObjects(ns.name, rateLimitPolicy(RLP, { requests, budgets, timeZone: 'Mars/Base' }));
    const agent = await eventually(
      async () => {
        const a = await getAgent(ns.name, AGENT);
        return condition(a, 'PoliciesApplied')?.reason === 'Invalid' && a;
      },
      { timeoutMs: 30_000, description: 'PoliciesApplied=False (Invalid)' },
    );
    expect(condition(agent, 'PoliciesApplied')?.message).toContain(
      'RateLimitPolicy spec.timeZone (rateLimit.spend.timeZone in the policy document) must be a time zone the IANA database knows, got "Mars/Base"',
    );
    const policy = await eventually(
      async () => {
        const p = await getRateLimitPolicy(ns.name, RLP);
        return condition(p, 'Ready')?.reason === 'Invalid' && p;
      },
      { timeoutMs: 30_000, description: 'the policy Ready=False (Invalid)' },
    );
    expect(condition(policy, 'Ready')?.message).toContain('"Mars/Base" is not a time zone');
    expect(await failedReconciles()).toBe(0);

    await applyObjects(ns.name, rateLimitPolicy(RLP, { requests, budgets, timeZone: 'UTC' }));
    await eventually(
      async () => {
        const a = await getAgent(ns.name, AGENT);
        return condition(a, 'PoliciesApplied')?.status === 'True' && a;
      },
      { timeoutMs: 60_000, description: 'the fixed policy applied' },
    );
    expect(condition(await getRateLimitPolicy(ns.name, RLP), 'Ready')?.status).toBe('True');
    expect(await failedReconciles()).toBe(0);
  });
});
