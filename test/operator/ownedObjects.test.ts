/**
 * What an AgentDeployment owns stays as the operator wrote it: an owned object edited or
 * deleted by hand is put back within seconds, and deleting the agent removes everything it
 * owns (the garbage collector follows the owner references the operator set).
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { KubeObject } from '../../platform/src/kube/kubeObject.ts';
import { Kinds, type ResourceKind } from '../../platform/src/kube/resourceKinds.ts';
import { POLICY_CONFIGMAP_KEY } from '../../contract/src/policy/policyDocument.ts';
import {
  agentDeployment,
  circuitBreakerPolicy,
  rateLimitPolicy,
} from '../support/agentFixtures.ts';
import { api, getAgent, isReadyAgent, mergePatch, names } from '../support/breakwaterCluster.ts';
import { kubectl, type TestNamespace } from '../support/kube.ts';
import { eventually, type OperatorProcess } from '../support/operator.ts';
import { startScenario, type Scenario } from '../support/operatorScenario.ts';

jest.setTimeout(180_000);

const AGENT = 'keeper';
const MANAGED = 'app.kubernetes.io/managed-by=breakwater';

let scenario: Scenario;
let ns: TestNamespace;
let operator: OperatorProcess;

beforeAll(async () => {
  scenario = await startScenario({ prefix: 'op-owned', seed: 5 }, (s) => [
    circuitBreakerPolicy('cbp'),
    rateLimitPolicy('rlp'),
    agentDeployment(AGENT, {
      providerURL: s.url,
      replicas: 2,
      circuitBreakerPolicy: 'cbp',
      rateLimitPolicy: 'rlp',
    }),
  ]);
  ({ ns, operator } = scenario);
  await eventually(async () => isReadyAgent(await getAgent(ns.name, AGENT)), {
    timeoutMs: 120_000,
    description: `${AGENT} to be Ready`,
  });
}, 180_000);

afterAll(async () => {
  await scenario.end();
});

interface Snapshot extends KubeObject {
  data?: Record<string, string>;
  spec?: { replicas?: number; minAvailable?: number | string };
  rules?: unknown[];
}

const read = (kind: ResourceKind, name: string): Promise<Snapshot | undefined> =>
  api().get<Snapshot>(kind, ns.name, name);

/** Waits until `check` holds again, and says how long that took. */
async function restored(
  what: string,
  check: () => Promise<boolean>,
  since: number,
): Promise<number> {
  await eventually(check, { timeoutMs: 30_000, intervalMs: 100, description: what });
  const ms = Date.now() - since;
  process.stderr.write(`[operator e2e] ${what}: ${ms} ms\n`);
  return ms;
}

/** Server-side applies the operator has made, all kinds together. */
async function appliesSoFar(): Promise<number> {
  return (await operator.metrics())
    .split('\n')
    .filter((line) => line.startsWith('breakwater_operator_applies_total{'))
    .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
}

interface PdbStatus extends KubeObject {
  status?: { currentHealthy?: number; observedGeneration?: number };
}

describe('objects an agent owns', () => {
  it('are not applied again when only their status changes', async () => {
    const pdbHealthy = async (): Promise<number | undefined> =>
      (await api().get<PdbStatus>(Kinds.PodDisruptionBudget, ns.name, AGENT))?.status
        ?.currentHealthy;
    await eventually(async () => (await pdbHealthy()) === 2, {
      timeoutMs: 30_000,
      description: 'the PodDisruptionBudget to count 2 healthy pods',
    });
    const before = await appliesSoFar();
    // A lost pod changes the status of the Deployment and the PodDisruptionBudget, twice.
    const [pod] = await names(Kinds.Pod, ns.name, `breakwater.dev/agent=${AGENT}`);
    await kubectl(['delete', '-n', ns.name, 'pod', pod ?? '', '--wait=false']);
    await eventually(async () => (await pdbHealthy()) !== 2, {
      timeoutMs: 30_000,
      description: 'the PodDisruptionBudget to notice the lost pod',
    });
    await eventually(async () => (await pdbHealthy()) === 2, {
      timeoutMs: 90_000,
      description: 'the PodDisruptionBudget to count 2 healthy pods again',
    });
    await eventually(async () => isReadyAgent(await getAgent(ns.name, AGENT)), {
      timeoutMs: 30_000,
      description: `${AGENT} Ready again`,
    });
    expect(await appliesSoFar()).toBe(before);
  });

  it('puts back a policy ConfigMap whose policy.json was edited by hand', async () => {
    const name = `${AGENT}-policy`;
    const original = (await read(Kinds.ConfigMap, name))?.data?.[POLICY_CONFIGMAP_KEY];
    expect(original).toBeDefined();
    const at = Date.now();
    await mergePatch(ns.name, `configmap/${name}`, { data: { [POLICY_CONFIGMAP_KEY]: '{}' } });
    const ms = await restored(
      'ConfigMap policy.json restored after a hand edit',
      async () => (await read(Kinds.ConfigMap, name))?.data?.[POLICY_CONFIGMAP_KEY] === original,
      at,
    );
    expect(ms).toBeLessThan(15_000);
  });

  it('recreates a deleted Service', async () => {
    const before = await read(Kinds.Service, AGENT);
    const at = Date.now();
    await kubectl(['delete', '-n', ns.name, 'service', AGENT, '--wait=false']);
    const ms = await restored(
      'Service recreated after deletion',
      async () => {
        const now = await read(Kinds.Service, AGENT);
        return now !== undefined && now.metadata?.uid !== before?.metadata?.uid;
      },
      at,
    );
    expect(ms).toBeLessThan(15_000);
  });

  it('scales a Deployment scaled by hand back to the agent’s replicas', async () => {
    const at = Date.now();
    await kubectl(['scale', '-n', ns.name, `deployment/${AGENT}`, '--replicas=1']);
    const ms = await restored(
      'Deployment replicas restored after kubectl scale',
      async () => (await read(Kinds.Deployment, AGENT))?.spec?.replicas === 2,
      at,
    );
    expect(ms).toBeLessThan(15_000);
  });

  it('restores a Role whose rules were replaced by hand', async () => {
    const original = (await read(Kinds.Role, AGENT))?.rules;
    const at = Date.now();
    await mergePatch(ns.name, `role/${AGENT}`, {
      rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['*'] }],
    });
    const ms = await restored(
      'Role rules restored after a hand edit',
      async () =>
        JSON.stringify((await read(Kinds.Role, AGENT))?.rules) === JSON.stringify(original),
      at,
    );
    expect(ms).toBeLessThan(15_000);
  });

  it('recreates a deleted PodDisruptionBudget and ServiceAccount', async () => {
    const at = Date.now();
    await kubectl([
      'delete',
      '-n',
      ns.name,
      `poddisruptionbudget/${AGENT}`,
      `serviceaccount/breakwater-runtime-${AGENT}`,
      '--wait=false',
    ]);
    const ms = await restored(
      'PodDisruptionBudget and ServiceAccount recreated after deletion',
      async () =>
        (await read(Kinds.PodDisruptionBudget, AGENT)) !== undefined &&
        (await read(Kinds.ServiceAccount, `breakwater-runtime-${AGENT}`)) !== undefined,
      at,
    );
    expect(ms).toBeLessThan(15_000);
  });

  it('removes everything it owns, pods included, when the agent is deleted', async () => {
    const kinds = [
      Kinds.ConfigMap,
      Kinds.ServiceAccount,
      Kinds.Role,
      Kinds.RoleBinding,
      Kinds.Deployment,
      Kinds.Service,
      Kinds.PodDisruptionBudget,
    ];
    for (const kind of kinds) expect(await names(kind, ns.name, MANAGED)).not.toEqual([]);
    await kubectl(['delete', '-n', ns.name, `agentdeployment/${AGENT}`, '--wait=false']);
    await eventually(
      async () => {
        const left = await Promise.all(
          [...kinds, Kinds.Pod].map(async (kind) => {
            const selector = kind === Kinds.Pod ? `breakwater.dev/agent=${AGENT}` : MANAGED;
            return (await names(kind, ns.name, selector)).map((n) => `${kind.kind}/${n}`);
          }),
        );
        const all = left.flat();
        if (all.length > 0) throw new Error(`still there: ${all.join(', ')}`);
        return true;
      },
      { timeoutMs: 90_000, description: 'every object the agent owned to be gone' },
    );
    expect(await getAgent(ns.name, AGENT)).toBeUndefined();
  });
});
