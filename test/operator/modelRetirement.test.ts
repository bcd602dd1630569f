/**
 * An agent on a deprecated model under the real operator, with a real runtime pod on the local
 * node: the AgentDeployment says ModelRetiring with the model's end-of-life day, `kubectl get
 * agd` shows the day as RETIRES, and the pod exports it as
 * breakwater_model_end_of_life_timestamp_seconds. Moving the agent to a current model clears all
 * three. Which reason to expect depends on today's date, read as the operator reads it. The
 * steps share the agent and run in order.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { describeRetirement, retiringModels } from '../../contract/src/api/modelRetirements.ts';
import { FALLBACK_MODEL, PRIMARY_MODEL } from '../../contract/src/api/sampleModels.ts';
import { agentDeployment } from '../support/agentFixtures.ts';
import {
  agentPods,
  condition,
  getAgent,
  isPodReady,
  kubectlRow,
  mergePatch,
  podPolicyHash,
  scrapePod,
  type PodView,
} from '../support/breakwaterCluster.ts';
import { type TestNamespace } from '../support/kube.ts';
import { eventually } from '../support/operator.ts';
import { startScenario, type Scenario } from '../support/operatorScenario.ts';

// jest reads testTimeout only from the global config, not from a project's.
jest.setTimeout(180_000);

const AGENT = 'retiring';
const DEPRECATED = 'claude-sonnet-4-5';
const [retirement] = retiringModels({ name: DEPRECATED });
if (retirement === undefined) throw new Error(`${DEPRECATED} is not in the retirement table`);
const GAUGE = 'breakwater_model_end_of_life_timestamp_seconds';

let scenario: Scenario;
let ns: TestNamespace;

beforeAll(async () => {
  scenario = await startScenario({ prefix: 'op-retiring', seed: 17 }, (s) => [
    agentDeployment(AGENT, {
      providerURL: s.url,
      spec: { model: { name: DEPRECATED, fallbacks: [FALLBACK_MODEL], maxTokens: 64 } },
    }),
  ]);
  ({ ns } = scenario);
}, 120_000);

afterAll(async () => {
  await scenario.end();
});

/** The agent's ready pod once it runs the policy the agent's status names. */
async function currentPod(): Promise<PodView> {
  return eventually(
    async () => {
      const hash = (await getAgent(ns.name, AGENT))?.status?.policy?.hash;
      const pods = (await agentPods(ns.name, AGENT)).filter(isPodReady);
      return pods.length === 1 && podPolicyHash(pods[0] ?? {}) === hash && pods[0];
    },
    { timeoutMs: 90_000, description: `the pod of ${AGENT} ready on the agent's policy` },
  );
}

describe('an agent whose model is deprecated', () => {
  it('says ModelRetiring with the model and its end-of-life day', async () => {
    const agent = await eventually(
      async () => {
        const a = await getAgent(ns.name, AGENT);
        return condition(a, 'ModelRetiring')?.status === 'True' && a;
      },
      { timeoutMs: 30_000, description: `${AGENT} to say ModelRetiring=True` },
    );
    const pastEndOfLife = Date.now() >= retirement.endOfLifeMs;
    expect(condition(agent, 'ModelRetiring')).toMatchObject({
      reason: pastEndOfLife ? 'PastEndOfLife' : 'Deprecated',
      message: describeRetirement(retirement, Date.now()),
    });
    expect(agent.status?.modelEndOfLife).toBe(retirement.endOfLife);
  });

  it('shows the day in the RETIRES column of kubectl get agd', async () => {
    expect(await kubectlRow(ns.name, `agd/${AGENT}`)).toMatchObject({
      MODEL: DEPRECATED,
      RETIRES: retirement.endOfLife,
    });
  });

  it("exports the day from the runtime pod, in Unix seconds, labelled with the model's name", async () => {
    const pod = await currentPod();
    const scrape = await scrapePod(pod);
    expect(scrape).toContain(`${GAUGE}{model="${DEPRECATED}"} ${retirement.endOfLifeMs / 1000}`);
  });

  it('clears the condition, the column and the series once the agent moves to a current model', async () => {
    await mergePatch(ns.name, `agd/${AGENT}`, { spec: { model: { name: PRIMARY_MODEL } } });
    await eventually(
      async () => {
        const a = await getAgent(ns.name, AGENT);
        return condition(a, 'ModelRetiring')?.reason === 'NotDeprecated' && a;
      },
      { timeoutMs: 30_000, description: `${AGENT} to say ModelRetiring=False` },
    );
    expect((await getAgent(ns.name, AGENT))?.status?.modelEndOfLife).toBeUndefined();
    expect(await kubectlRow(ns.name, `agd/${AGENT}`)).toMatchObject({
      MODEL: PRIMARY_MODEL,
      RETIRES: '',
    });
    const scrape = await scrapePod(await currentPod());
    expect(scrape).toContain(`# TYPE ${GAUGE} gauge`);
    expect(scrape).not.toContain(`${GAUGE}{`);
  });
});
