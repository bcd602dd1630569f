/**
 * An operator sent SIGTERM exits promptly, with code 0, even when its API server has gone
 * away: running reconciles get a bounded drain, calls still waiting are then aborted, and the
 * lease release gets a short deadline. The API server goes away for that operator alone,
 * through a proxy (test/support/apiServerProxy.ts); the shared cluster never notices.
 */
import { afterAll, describe, expect, it, jest } from '@jest/globals';
import { agentDeployment } from '../support/agentFixtures.ts';
import { startApiServerProxy, type ApiServerProxy } from '../support/apiServerProxy.ts';
import { applyObjects } from '../support/breakwaterCluster.ts';
import { startOperator, type OperatorExit, type OperatorProcess } from '../support/operator.ts';
import { startScenario, type Scenario } from '../support/operatorScenario.ts';

jest.setTimeout(120_000);

/** The operator's drain budget (operator/src/operatorMain.ts) and lease release deadline. */
const DRAIN_MS = 5_000;
const LEASE_RELEASE_MS = 2_000;
/** Room for a busy two-core machine on top of those. */
const SLACK_MS = 2_000;

const scenarios: Scenario[] = [];
const proxies: ApiServerProxy[] = [];

afterAll(async () => {
  await Promise.all(scenarios.map((scenario) => scenario.end()));
  await Promise.all(proxies.map((proxy) => proxy.close()));
});

/**
 * A namespace of its own (no other test's agents to reconcile, no other test's lease to wait
 * for) and a proxy to take the API server away with.
 */
async function isolated(): Promise<{ namespace: string; proxy: ApiServerProxy }> {
  // Each test starts its operator itself, behind the proxy.
  const scenario = await startScenario({ prefix: 'op-shutdown', seed: 1, operator: false });
  scenarios.push(scenario);
  const proxy = await startApiServerProxy();
  proxies.push(proxy);
  return { namespace: scenario.ns.name, proxy };
}

/** An operator with leader election that leads, behind a proxy of its own. */
async function leadingOperator(
  name: string,
): Promise<{ operator: OperatorProcess; proxy: ApiServerProxy }> {
  const { namespace, proxy } = await isolated();
  const operator = await startOperator({
    namespace,
    name,
    kubeconfig: proxy.kubeconfig,
    leaderElect: true,
    waitUntilLeading: true,
  });
  return { operator, proxy };
}

/** SIGTERM, then how it exited and how long that took (SIGKILL only after 30 s). */
async function terminate(operator: OperatorProcess): Promise<OperatorExit & { ms: number }> {
  const sentAt = Date.now();
  const exit = await operator.stop(30_000);
  const ms = Date.now() - sentAt;
  process.stderr.write(`[operator e2e] ${operator.name}: SIGTERM → exit in ${String(ms)} ms\n`);
  return { ...exit, ms };
}

function stoppedLine(operator: OperatorProcess) {
  return operator.lines().find((line) => line.msg === 'stopped');
}

describe('an operator told to stop after its API server went away', () => {
  it('exits 0 once the drain budget is spent when a reconcile waits on a server that stopped answering', async () => {
    const { namespace, proxy } = await isolated();
    const operator = await startOperator({ namespace, kubeconfig: proxy.kubeconfig });
    proxy.stopAnswering();
    // The watch still brings the new agent in; the reconcile's first call never gets an answer.
    await applyObjects(
      namespace,
      agentDeployment('stuck', { providerURL: 'http://127.0.0.1:9', replicas: 0 }),
    );
    await proxy.requestHeld();

    const exit = await terminate(operator);

    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(exit.ms).toBeLessThan(DRAIN_MS + SLACK_MS);
    expect(stoppedLine(operator)).toMatchObject({ drained: false });
  });

  it('exits 0 once the lease release deadline passes when the server stops answering its leader', async () => {
    const { operator, proxy } = await leadingOperator('leader');
    proxy.stopAnswering();
    await proxy.requestHeld(); // the next lease renewal

    const exit = await terminate(operator);

    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(exit.ms).toBeLessThan(LEASE_RELEASE_MS + SLACK_MS);
    expect(stoppedLine(operator)).toMatchObject({ drained: true, lease: 'timedOut' });
  });

  it('exits 0 at once when the server refuses connections', async () => {
    const { operator, proxy } = await leadingOperator('refused');
    await proxy.refuse();

    const exit = await terminate(operator);

    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(exit.ms).toBeLessThan(SLACK_MS);
    expect(stoppedLine(operator)).toMatchObject({ drained: true, lease: 'failed' });
  });
});
