/**
 * A runtime in cluster mode (policy from its ConfigMap, breaker state reported on its pod)
 * exits within its drain delay and grace period on SIGTERM, with code 0, even when its API
 * server has gone away. The API server goes away for that runtime alone, through a proxy
 * (test/support/apiServerProxy.ts); the shared cluster never notices.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  POLICY_CONFIGMAP_KEY,
  policyConfigMapName,
} from '../../contract/src/policy/policyDocument.ts';
import { startApiServerProxy, type ApiServerProxy } from '../support/apiServerProxy.ts';
import { applyObjects } from '../support/breakwaterCluster.ts';
import { uniqueNamespace, waitFor, type TestNamespace } from '../support/kube.ts';
import { startRuntime, type RuntimeHandle } from '../support/runtimeProcess.ts';
import { startSimulator, type SimulatorHandle } from '../support/simulator.ts';
import { policyDocument } from '../support/standaloneRuntime.ts';

const AGENT = 'cut-off';
const DRAIN_MS = 500;
const GRACE_MS = 2_000;
/** Room for a busy two-core machine on top of drain and grace. */
const SLACK_MS = 3_000;

let sim: SimulatorHandle;
let ns: TestNamespace;
const proxies: ApiServerProxy[] = [];
const runtimes: RuntimeHandle[] = [];

beforeAll(async () => {
  sim = await startSimulator({ seed: 5 });
  ns = await uniqueNamespace('rt-shutdown');
  await applyObjects(ns.name, {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: policyConfigMapName(AGENT) },
    data: { [POLICY_CONFIGMAP_KEY]: JSON.stringify(policyDocument(sim.url)) },
  });
}, 60_000);

afterAll(async () => {
  await Promise.all(runtimes.map((r) => r.stop(1_000)));
  await Promise.all(proxies.map((p) => p.close()));
  await ns.cleanup();
  await sim.stop();
});

/** A runtime of the agent whose API server is reached through a proxy of its own. */
async function runtimeBehindProxy(): Promise<{ runtime: RuntimeHandle; proxy: ApiServerProxy }> {
  const proxy = await startApiServerProxy();
  proxies.push(proxy);
  const runtime = await startRuntime(
    [
      '--agent',
      AGENT,
      '--namespace',
      ns.name,
      '--drain-delay-ms',
      String(DRAIN_MS),
      '--shutdown-grace-ms',
      String(GRACE_MS),
    ],
    // No pod of that name exists: the reporter's patches fail, as they would against a gone
    // API server, and the runtime carries on.
    { KUBECONFIG: proxy.kubeconfig, ANTHROPIC_API_KEY: 'sk-test', POD_NAME: 'cut-off-0' },
  );
  runtimes.push(runtime);
  await waitFor(async () => (await fetch(`${runtime.url}/health/ready`)).status === 200, {
    timeoutMs: 20_000,
    description: 'the runtime to load its policy from the ConfigMap',
  });
  return { runtime, proxy };
}

/** SIGTERM, then how long the process took to exit and with what code. */
async function terminate(runtime: RuntimeHandle): Promise<{ ms: number; code: number | null }> {
  const started = Date.now();
  runtime.child.kill('SIGTERM');
  const code = await runtime.exited;
  return { ms: Date.now() - started, code };
}

describe('a runtime whose API server has gone away', () => {
  it('exits within its drain and grace period when the server stops answering', async () => {
    const { runtime, proxy } = await runtimeBehindProxy();
    proxy.stopAnswering();
    const exit = await terminate(runtime);
    expect(exit.code).toBe(0);
    expect(exit.ms).toBeLessThan(DRAIN_MS + GRACE_MS + SLACK_MS);
  });

  it('exits within its drain and grace period when the server refuses connections', async () => {
    const { runtime, proxy } = await runtimeBehindProxy();
    await proxy.refuse();
    const exit = await terminate(runtime);
    expect(exit.code).toBe(0);
    expect(exit.ms).toBeLessThan(DRAIN_MS + GRACE_MS + SLACK_MS);
  });
});
