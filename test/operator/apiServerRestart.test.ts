/**
 * The kube-apiserver goes away and comes back (an upgrade, a crash): the operator's watches
 * and the runtime's ConfigMap watch resume by themselves, and a policy edit made afterwards
 * still reaches the running replica. Restarts the API server of the suites' kind cluster
 * (test/support/apiServerRestart.ts), so it runs only there; other suites see a few seconds of
 * outage.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import {
  agentDeployment,
  circuitBreakerPolicy,
  rateLimitPolicy,
} from '../support/agentFixtures.ts';
import { canRestartApiServer, restartApiServer } from '../support/apiServerRestart.ts';
import {
  agentPods,
  appliedPolicyDocument,
  condition,
  getAgent,
  isPodReady,
  isReadyAgent,
  mergePatch,
  podPolicyHash,
} from '../support/breakwaterCluster.ts';
import { type TestNamespace } from '../support/kube.ts';
import { eventually, type OperatorProcess } from '../support/operator.ts';
import { startScenario, type Scenario } from '../support/operatorScenario.ts';

jest.setTimeout(240_000);

const AGENT = 'steady';
const local = await canRestartApiServer();

let scenario: Scenario;
let ns: TestNamespace;
let operator: OperatorProcess;

beforeAll(async () => {
  if (!local) return;
  scenario = await startScenario({ prefix: 'op-apiserver', seed: 17 }, (s) => [
    circuitBreakerPolicy('cbp'),
    rateLimitPolicy('rlp'),
    agentDeployment(AGENT, {
      providerURL: s.url,
      replicas: 1,
      circuitBreakerPolicy: 'cbp',
      rateLimitPolicy: 'rlp',
    }),
  ]);
  ({ ns, operator } = scenario);
}, 120_000);

afterAll(async () => {
  if (!local) return;
  await scenario.end();
});

/** The replica runs the hash status names (other than `previous`), and status says so. */
async function replicaApplied(
  description: string,
  timeoutMs: number,
  previous?: string,
): Promise<string> {
  return eventually(
    async () => {
      const agent = await getAgent(ns.name, AGENT);
      const hash = agent?.status?.policy?.hash;
      const pods = (await agentPods(ns.name, AGENT)).filter(isPodReady);
      return (
        isReadyAgent(agent) &&
        condition(agent, 'PoliciesApplied')?.status === 'True' &&
        pods.length === 1 &&
        pods.every((pod) => podPolicyHash(pod) === hash) &&
        hash !== previous &&
        hash
      );
    },
    { timeoutMs, description },
  );
}

const watchRestarts = async (): Promise<number> =>
  (await operator.metrics())
    .split('\n')
    .filter((line) => line.startsWith('breakwater_operator_watch_restarts_total{'))
    .filter((line) => !line.includes('reason="ended"'))
    .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);

(local ? describe : describe.skip)('a kube-apiserver restart', () => {
  it('is survived by the watches: a later policy edit still reaches the running replica', async () => {
    const before = await replicaApplied('the replica to apply its first policy', 120_000);
    const [pod] = await agentPods(ns.name, AGENT);

    const timing = await restartApiServer();
    process.stderr.write(
      `[operator e2e] kube-apiserver stopped in ${String(timing.stopMs)} ms, ` +
        `ready again in ${String(timing.readyMs)} ms\n`,
    );
    const editedAt = Date.now();
    await mergePatch(ns.name, 'rlp/rlp', { spec: { requests: { perSecond: 4, burst: 8 } } });
    const after = await replicaApplied(
      'the edit made after the restart to be applied',
      90_000,
      before,
    );
    process.stderr.write(
      `[operator e2e] policy edit after the restart applied by the replica in ` +
        `${String(Date.now() - editedAt)} ms\n`,
    );

    expect(after).not.toBe(before);
    expect((await appliedPolicyDocument(ns.name, AGENT))?.rateLimit.requests).toEqual({
      replicaPerSecond: 4,
      replicaBurst: 8,
    });
    // Same pod: the runtime reloaded through its resumed watch, it was not restarted.
    expect((await agentPods(ns.name, AGENT)).map((p) => p.metadata?.uid)).toEqual([
      pod?.metadata?.uid,
    ]);
    expect(operator.hasExited()).toBe(false);
    expect(await watchRestarts()).toBeGreaterThan(0);
  });
});
