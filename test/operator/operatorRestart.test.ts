/**
 * The operator may die at any point: killed (SIGKILL) in the middle of reconciling a batch of
 * new agents, a fresh process picks up from what the API server holds and converges, with
 * exactly one of every child, one ReplicaSet and one pod.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { Kinds, type ResourceKind } from '../../platform/src/kube/resourceKinds.ts';
import {
  agentDeployment,
  circuitBreakerPolicy,
  rateLimitPolicy,
} from '../support/agentFixtures.ts';
import {
  agentPods,
  api,
  applyObjects,
  condition,
  isPodReady,
  isReadyAgent,
  names,
} from '../support/breakwaterCluster.ts';
import { RUNTIME_SERVICE_ACCOUNT_PREFIX } from '../../operator/src/builders/serviceAccount.ts';
import { type TestNamespace } from '../support/kube.ts';
import { eventually, startOperator } from '../support/operator.ts';
import { type SimulatorHandle } from '../support/simulator.ts';
import type { AgentDeployment } from '../../contract/src/api/resources.ts';
import { startScenario, type Scenario } from '../support/operatorScenario.ts';

jest.setTimeout(180_000);

/** One agent with a running replica, the rest without pods (cheap, but the same children). */
const LIVE = 'live';
const IDLE = Array.from({ length: 12 }, (_, i) => `idle-${String(i)}`);
const AGENTS = [LIVE, ...IDLE];
const CHILD_KINDS: readonly ResourceKind[] = [
  Kinds.ConfigMap,
  Kinds.ServiceAccount,
  Kinds.Role,
  Kinds.RoleBinding,
  Kinds.Deployment,
  Kinds.Service,
];

let scenario: Scenario;
let ns: TestNamespace;
let sim: SimulatorHandle;

beforeAll(async () => {
  // Each test starts (and kills) its own operators.
  scenario = await startScenario({ prefix: 'op-restart', seed: 13, operator: false }, () => [
    circuitBreakerPolicy('cbp'),
    rateLimitPolicy('rlp'),
  ]);
  ({ ns, sim } = scenario);
}, 120_000);

afterAll(async () => {
  await scenario.end();
});

const listAgents = async (): Promise<AgentDeployment[]> =>
  (await api().list<AgentDeployment>(Kinds.AgentDeployment, { namespace: ns.name })).items;

describe('an operator killed mid-reconcile', () => {
  it('converges after a restart with one of every child and no duplicate pods', async () => {
    const first = await startOperator({ namespace: ns.name, name: 'first' });
    // Kill it as soon as the first children exist: some agents are then half applied. Watched
    // from before the agents are applied: the operator reconciles each as it arrives, and on
    // a busy machine it had finished all thirteen by the time the apply returned.
    const killed = (async () => {
      await eventually(
        async () => (await names(Kinds.ConfigMap, ns.name, 'breakwater.dev/agent')).length > 0,
        { timeoutMs: 30_000, intervalMs: 5, description: 'the first policy ConfigMap' },
      );
      await first.kill();
    })();
    await applyObjects(
      ns.name,
      ...AGENTS.map((name) =>
        agentDeployment(name, {
          providerURL: sim.url,
          replicas: name === LIVE ? 1 : 0,
          circuitBreakerPolicy: 'cbp',
          rateLimitPolicy: 'rlp',
        }),
      ),
    );
    await killed;
    const withStatus = (await listAgents()).filter((a) => a.status !== undefined).length;
    const configMaps = (await names(Kinds.ConfigMap, ns.name, 'breakwater.dev/agent')).length;
    process.stderr.write(
      `[operator e2e] killed with ${String(configMaps)}/${String(AGENTS.length)} ConfigMaps ` +
        `and ${String(withStatus)} statuses written\n`,
    );
    expect(withStatus).toBeLessThan(AGENTS.length);

    const restartedAt = Date.now();
    await startOperator({ namespace: ns.name, name: 'second' });
    await eventually(
      async () => {
        const agents = await listAgents();
        const notReady = agents.filter((a) => !isReadyAgent(a)).map((a) => a.metadata.name);
        if (agents.length !== AGENTS.length || notReady.length > 0) {
          throw new Error(`not Ready: ${notReady.join(', ')}`);
        }
        return true;
      },
      { timeoutMs: 120_000, description: `all ${String(AGENTS.length)} agents Ready` },
    );
    process.stderr.write(
      `[operator e2e] converged ${String(Date.now() - restartedAt)} ms after the restart\n`,
    );

    for (const kind of CHILD_KINDS) {
      const expected = AGENTS.map((a) =>
        kind === Kinds.ConfigMap
          ? `${a}-policy`
          : kind === Kinds.ServiceAccount
            ? `${RUNTIME_SERVICE_ACCOUNT_PREFIX}${a}`
            : a,
      ).sort();
      expect({
        kind: kind.kind,
        names: await names(kind, ns.name, 'breakwater.dev/agent'),
      }).toEqual({ kind: kind.kind, names: expected });
    }
    for (const agent of await listAgents()) {
      const types = (agent.status?.conditions ?? []).map((c) => c.type).sort();
      expect(types).toEqual([...new Set(types)]);
      expect(condition(agent, 'PoliciesApplied')?.status).toBe('True');
    }

    // The live agent's Deployment was applied twice, identically: one ReplicaSet, one pod.
    const replicaSets = await names(
      { apiVersion: 'apps/v1', kind: 'ReplicaSet', plural: 'replicasets', namespaced: true },
      ns.name,
      `breakwater.dev/agent=${LIVE}`,
    );
    expect(replicaSets).toHaveLength(1);
    const pods = await eventually(
      async () => {
        const p = await agentPods(ns.name, LIVE);
        return p.length === 1 && p.every(isPodReady) && p;
      },
      { timeoutMs: 60_000, description: `one ready pod of ${LIVE}` },
    );
    expect(pods).toHaveLength(1);
  });
});
