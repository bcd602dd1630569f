/**
 * An agent's system prompt from a ConfigMap (`systemPromptFrom`) follows edits of that
 * ConfigMap within seconds: the operator watches the ConfigMaps agents name, writes the new
 * prompt into the agent's policy, and every replica reloads it, without a restart and without
 * waiting for the five-minute resync.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { policyHash, type PolicyDocument } from '../../contract/src/policy/policyDocument.ts';
import { Kinds } from '../../platform/src/kube/resourceKinds.ts';
import { agentDeployment, providerSecret } from '../support/agentFixtures.ts';
import {
  agentPods,
  api,
  appliedPolicyDocument,
  applyObjects,
  getAgent,
  isPodReady,
  podPolicyHash,
  podUrl,
  type PodView,
} from '../support/breakwaterCluster.ts';
import { type TestNamespace } from '../support/kube.ts';
import { eventually } from '../support/operator.ts';
import { type SimulatorHandle } from '../support/simulator.ts';
import { startScenario, type Scenario } from '../support/operatorScenario.ts';

jest.setTimeout(180_000);

const AGENT = 'prompted';
const PROMPTS = 'agent-prompts';
const KEY = 'system.md';
const REPLICAS = 2;

let scenario: Scenario;
let ns: TestNamespace;
let sim: SimulatorHandle;

beforeAll(async () => {
  scenario = await startScenario({ prefix: 'op-prompt', seed: 5 });
  ({ ns, sim } = scenario);
}, 120_000);

afterAll(async () => {
  await scenario.end();
});

const prompts = (text: string) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: PROMPTS },
  data: { [KEY]: text },
});

/** The policy hash a replica runs, from its own `/debug/policy`. */
async function runningHash(pod: PodView): Promise<string | undefined> {
  const response = await fetch(`${podUrl(pod, 'metrics')}/debug/policy`, {
    signal: AbortSignal.timeout(5_000),
  });
  return ((await response.json()) as { hash?: string }).hash;
}

/** Polls `probe` every 50 ms until it holds; resolves with the milliseconds since `from`. */
async function msUntil(from: number, probe: () => Promise<boolean>, what: string): Promise<number> {
  await eventually(async () => (await probe().catch(() => false)) || undefined, {
    timeoutMs: 60_000,
    intervalMs: 50,
    description: what,
  });
  return Date.now() - from;
}

describe('an agent whose system prompt lives in a ConfigMap', () => {
  it('runs an edited prompt on every replica within seconds', async () => {
    await applyObjects(
      ns.name,
      providerSecret(),
      prompts('You answer in English.'),
      agentDeployment(AGENT, {
        providerURL: sim.url,
        replicas: REPLICAS,
        spec: {
          systemPrompt: undefined,
          systemPromptFrom: { configMapKeyRef: { name: PROMPTS, key: KEY } },
        },
      }),
    );
    await eventually(
      async () => {
        const pods = (await agentPods(ns.name, AGENT)).filter(isPodReady);
        const hash = (await getAgent(ns.name, AGENT))?.status?.policy?.hash;
        return (
          pods.length === REPLICAS &&
          hash !== undefined &&
          pods.every((p) => podPolicyHash(p) === hash)
        );
      },
      { timeoutMs: 90_000, description: `${String(REPLICAS)} replicas running the first prompt` },
    );
    expect((await appliedPolicyDocument(ns.name, AGENT))?.systemPrompt).toBe(
      'You answer in English.',
    );

    const edited = 'Vous répondez en français.';
    const editedAt = Date.now();
    await api().patch(Kinds.ConfigMap, ns.name, PROMPTS, { data: { [KEY]: edited } }, 'merge');
    let doc: PolicyDocument | undefined;
    const inPolicyMs = await msUntil(
      editedAt,
      async () => {
        doc = await appliedPolicyDocument(ns.name, AGENT);
        return doc?.systemPrompt === edited;
      },
      'the edited prompt in the agent policy ConfigMap',
    );
    if (doc === undefined) throw new Error('no policy document');
    const hash = policyHash(doc);
    const pods = (await agentPods(ns.name, AGENT)).filter(isPodReady);
    expect(pods).toHaveLength(REPLICAS);
    const onReplicasMs = await msUntil(
      editedAt,
      async () => (await Promise.all(pods.map(runningHash))).every((h) => h === hash),
      'every replica to run the edited prompt',
    );
    process.stdout.write(
      `systemPromptFrom: the edit reached the policy ConfigMap in ${String(inPolicyMs)} ms ` +
        `and all ${String(REPLICAS)} replicas in ${String(onReplicasMs)} ms\n`,
    );
    expect(inPolicyMs).toBeLessThan(5_000);
    expect(onReplicasMs).toBeLessThan(10_000);
    // Reloaded, not restarted.
    const after = (await agentPods(ns.name, AGENT)).map((p) => p.metadata?.name).sort();
    expect(after).toEqual(pods.map((p) => p.metadata?.name).sort());
  });
});
