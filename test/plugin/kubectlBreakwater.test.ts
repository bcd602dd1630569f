/**
 * `kubectl breakwater`, run by the real kubectl as a plugin: a launcher named
 * kubectl-breakwater in a temporary directory first on PATH, as `make plugin` or the image
 * provide it. Namespace A runs the real operator with real runtime pods (status, trip, reset,
 * explain). `top` reads pods through the API server's pod proxy; namespace B holds pods that a
 * stand-in Node "runs", so that the test decides each replica's counters exactly: real runtime
 * processes on this host, listening on all addresses, their pod objects carrying this host's
 * own address, which the API server proxies to. (The in-cluster suite runs `top` against the
 * real node's pods.)
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { AgentDeployment, CircuitBreakerPolicy } from '../../contract/src/api/resources.ts';
import { GROUP_VERSION } from '../../contract/src/api/resources.ts';
import { FALLBACK_MODEL, PRIMARY_MODEL } from '../../contract/src/api/sampleModels.ts';
import { Kinds } from '../../platform/src/kube/resourceKinds.ts';
import type { KubeObject } from '../../platform/src/kube/kubeObject.ts';
import { agentDeployment, circuitBreakerPolicy } from '../support/agentFixtures.ts';
import {
  agentPods,
  api,
  applyObjects,
  getBreakerPolicy,
  isPodReady,
  isReadyAgent,
  getAgent,
  podHttpUrl,
  sendMessage,
} from '../support/breakwaterCluster.ts';
import {
  kubeconfigPath,
  kubectl,
  uniqueNamespace,
  type KubectlResult,
  type TestNamespace,
} from '../support/kube.ts';
import { eventually } from '../support/operator.ts';
import { startRuntime, type RuntimeHandle } from '../support/runtimeProcess.ts';
import { type SimulatorHandle } from '../support/simulator.ts';
import { policyDocument } from '../support/standaloneRuntime.ts';
import { startScenario, type Scenario } from '../support/operatorScenario.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const AGENT = 'support';
const CBP = 'support-breaker';
const BROKEN = 'broken';
const STATS_AGENT = 'stats';
const QUIET_AGENT = 'quiet';
const STAND_IN_NODE = 'plugin-test-stand-in';

let scenario: Scenario;
let nsA: TestNamespace;
let nsB: TestNamespace;
let sim: SimulatorHandle;
let binDir: string;
let policyDir: string;
let savedPath: string | undefined;
const runtimes: RuntimeHandle[] = [];

/** `kubectl breakwater …` through the real kubectl; never rejects, the test reads the code. */
function plugin(...args: string[]): Promise<KubectlResult> {
  return kubectl(['breakwater', ...args], { allowFailure: true, timeoutMs: 60_000 });
}

function hostAddress(): string {
  const address = Object.values(networkInterfaces())
    .flatMap((list) => list ?? [])
    .find((a) => a.family === 'IPv4' && !a.internal)?.address;
  if (address === undefined) throw new Error('this host has no non-loopback IPv4 address');
  return address;
}

/** A runtime on a policy file, listening on every address, so the API server can reach it. */
async function statsRuntime(
  name: string,
  debug: boolean,
  fallbacks: string[],
): Promise<RuntimeHandle> {
  const file = join(policyDir, `${name}.json`);
  writeFileSync(
    file,
    JSON.stringify(
      policyDocument(sim.url, (d) => {
        d.model.fallbacks = fallbacks;
        if (!debug) d.debugEndpoints = false;
      }),
    ),
  );
  const runtime = await startRuntime(['--policy', file, '--host', '0.0.0.0'], {
    ANTHROPIC_API_KEY: 'sk-test-plugin',
  });
  runtimes.push(runtime);
  return runtime;
}

/** A pod object for a runtime process on this host, "running" on the stand-in Node. */
async function standInPod(agent: string, name: string, runtime: RuntimeHandle): Promise<void> {
  const metricsPort = Number(new URL(runtime.metricsUrl).port);
  await api().create(Kinds.Pod, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: nsB.name, labels: { 'breakwater.dev/agent': agent } },
    spec: {
      nodeName: STAND_IN_NODE,
      containers: [
        {
          name: 'runtime',
          image: 'breakwater-runtime:stand-in',
          ports: [{ name: 'metrics', containerPort: metricsPort }],
        },
      ],
      // The stand-in Node never reports: keep the node controller from evicting its pods.
      tolerations: [
        { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' },
        { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' },
      ],
    },
  } as KubeObject);
  const ip = hostAddress();
  await api().patch(
    Kinds.Pod,
    nsB.name,
    name,
    {
      status: {
        phase: 'Running',
        podIP: ip,
        podIPs: [{ ip }],
        conditions: [{ type: 'Ready', status: 'True' }],
      },
    },
    'merge',
    'status',
  );
}

async function call(runtime: RuntimeHandle, model: string): Promise<number> {
  const response = await fetch(`${runtime.url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({ model, max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }),
  });
  await response.arrayBuffer();
  return response.status;
}

/** Whether the installed CRD declares the operator's override acknowledgement (issue 15, item 4). */
async function acknowledgementInstalled(): Promise<boolean> {
  const crd = await api().get<
    KubeObject & {
      spec?: {
        versions?: {
          schema?: { openAPIV3Schema?: { properties?: { status?: { properties?: object } } } };
        }[];
      };
    }
  >(Kinds.CustomResourceDefinition, undefined, 'circuitbreakerpolicies.breakwater.dev');
  const status = crd?.spec?.versions?.[0]?.schema?.openAPIV3Schema?.properties?.status;
  return status?.properties !== undefined && 'override' in status.properties;
}

beforeAll(async () => {
  binDir = mkdtempSync(join(tmpdir(), 'bw-plugin-bin-'));
  policyDir = mkdtempSync(join(tmpdir(), 'bw-plugin-policies-'));
  const launcher = join(binDir, 'kubectl-breakwater');
  writeFileSync(
    launcher,
    `#!/bin/sh\nexec "${process.execPath}" --no-warnings=ExperimentalWarning "${join(REPO, 'plugin/src/main.ts')}" "$@"\n`,
  );
  chmodSync(launcher, 0o755);
  savedPath = process.env['PATH'];
  process.env['PATH'] = `${binDir}${delimiter}${savedPath ?? ''}`;

  // Namespace A: the operator's, through the scenario helper.
  scenario = await startScenario({ prefix: 'plugin-a', seed: 6 }, (s) => [
    circuitBreakerPolicy(CBP, { failureThreshold: 50 }),
    agentDeployment(AGENT, { providerURL: s.url, replicas: 2, circuitBreakerPolicy: CBP }),
    agentDeployment(BROKEN, {
      providerURL: s.url,
      replicas: 0,
      circuitBreakerPolicy: 'no-such-policy',
    }),
  ]);
  ({ ns: nsA, sim } = scenario);
  nsB = await uniqueNamespace('plugin-b');
  // Namespace B: agents the operator does not watch, with stand-in pods of real runtimes.
  const agentB = (name: string, debug: boolean): AgentDeployment => ({
    apiVersion: GROUP_VERSION,
    kind: 'AgentDeployment',
    metadata: { name },
    spec: {
      model: { name: PRIMARY_MODEL },
      provider: { apiKeySecretRef: { name: 'llm-provider-key', key: 'api-key' } },
      ...(debug ? {} : { monitoring: { debugEndpoints: false } }),
    },
  });
  await applyObjects(nsB.name, agentB(STATS_AGENT, true), agentB(QUIET_AGENT, false));
  await kubectl(['create', '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name: STAND_IN_NODE } }),
  });
}, 180_000);

afterAll(async () => {
  process.env['PATH'] = savedPath;
  await Promise.all(runtimes.map((r) => r.stop()));
  await kubectl(['delete', 'node', STAND_IN_NODE, '--ignore-not-found', '--wait=false']);
  await scenario.end();
  await nsB.cleanup();
  rmSync(binDir, { recursive: true, force: true });
  rmSync(policyDir, { recursive: true, force: true });
});

describe('kubectl breakwater, found by kubectl on PATH', () => {
  it('status lists the agent, its two replicas, their breakers and the policy hash they run', async () => {
    const agent = await eventually(
      async () => {
        const a = await getAgent(nsA.name, AGENT);
        return isReadyAgent(a) && a?.status?.policy?.appliedReplicas === 2 && a;
      },
      { timeoutMs: 120_000, description: `${AGENT} Ready with 2 replicas on the policy` },
    );
    // One call each, so every replica reports the breaker of the model it called.
    for (const pod of (await agentPods(nsA.name, AGENT)).filter(isPodReady))
      expect(await sendMessage(podHttpUrl(pod))).toBe(200);
    const json = await eventually(
      async () => {
        const run = await plugin('status', AGENT, '-n', nsA.name, '-o', 'json');
        expect(run.code).toBe(0);
        const data = JSON.parse(run.stdout) as {
          agents: { name: string; replicas: { breakers: unknown[] }[] }[];
        };
        return data.agents[0]?.replicas.every((r) => r.breakers.length > 0) === true && data;
      },
      { timeoutMs: 30_000, description: 'both replicas to report a breaker' },
    );
    const hash = agent.status?.policy?.hash ?? '';
    expect(json.agents).toHaveLength(1);
    expect(json.agents[0]).toMatchObject({
      namespace: nsA.name,
      name: AGENT,
      ready: '2/2',
      breaker: 'Closed',
      policyHash: hash,
    });
    expect(json.agents[0]?.replicas).toHaveLength(2);
    expect(json.agents[0]?.replicas[0]).toMatchObject({
      ready: true,
      policyHash: hash,
      policyCurrent: true,
      breakers: [expect.objectContaining({ name: `default/${FALLBACK_MODEL}`, state: 'Closed' })],
    });

    const table = await plugin('status', '-n', nsA.name);
    expect(table.code).toBe(0);
    const lines = table.stdout.split('\n');
    expect(lines[0]).toMatch(/^AGENT\s+READY\s+BREAKER\s+POLICY\s+OVERRIDE$/);
    expect(lines).toContainEqual(
      expect.stringMatching(new RegExp(`^${AGENT}\\s+2/2\\s+Closed\\s+${hash}\\s+-$`)),
    );
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^${BROKEN}\\s+`)));
    expect(lines).toContainEqual(
      expect.stringMatching(/^POD\s+AGENT\s+READY\s+POLICY\s+OVERRIDE\s+BREAKERS$/),
    );
    const podRows = lines.filter((l) => l.startsWith(`${AGENT}-`));
    expect(podRows).toHaveLength(2);
    for (const row of podRows)
      expect(row).toMatch(
        new RegExp(`\\s+${AGENT}\\s+True\\s+${hash}\\s+-\\s+default/${FALLBACK_MODEL}=Closed$`),
      );
  });

  it('takes --kubeconfig as kubectl does', async () => {
    const run = await kubectl(
      ['breakwater', 'status', AGENT, '-n', nsA.name, '--kubeconfig', kubeconfigPath()],
      { allowFailure: true },
    );
    expect(run.stderr).toBe('');
    expect(run.stdout).toMatch(new RegExp(`^${AGENT}\\s+2/2\\s`, 'm'));
  });

  it('status -A covers every namespace, with a NAMESPACE column', async () => {
    const run = await plugin('status', '-A', '-o', 'yaml');
    expect(run.code).toBe(0);
    for (const [ns, name] of [
      [nsA.name, AGENT],
      [nsB.name, STATS_AGENT],
    ])
      expect(run.stdout).toMatch(new RegExp(`namespace: ${ns}\\n\\s+name: ${name}\\n`));
    const table = await plugin('status', '-A');
    expect(table.stdout.split('\n')[0]).toMatch(/^NAMESPACE\s+AGENT\s+READY/);
  });

  it('trip forces the breakers open with an end time and waits for every replica', async () => {
    const ack = await acknowledgementInstalled();
    const before = Date.now();
    const run = await plugin(
      'trip',
      CBP,
      '-n',
      nsA.name,
      '--for',
      '10m',
      '--reason',
      'INC-42: provider outage',
      '--timeout',
      ack ? '60s' : '3s',
    );
    const policy = (await getBreakerPolicy(nsA.name, CBP)) as CircuitBreakerPolicy;
    expect(policy.spec.override).toMatchObject({
      state: 'ForcedOpen',
      reason: 'INC-42: provider outage',
    });
    const until = Date.parse(policy.spec.override?.until ?? '');
    expect(until - before).toBeGreaterThanOrEqual(600_000 - 1_000);
    expect(until - Date.now()).toBeLessThanOrEqual(600_000 + 1_000);
    const head = `circuitbreakerpolicy.breakwater.dev/${CBP} ForcedOpen until ${policy.spec.override?.until ?? ''} (INC-42: provider outage)`;
    if (ack) {
      // With the operator's acknowledgement (status.override) installed.
      expect(run.code).toBe(0);
      expect(run.stdout).toContain(`${head}: applied on 2/2 replicas after`);
      expect(run.stdout).toMatch(new RegExp(`^${AGENT}\\s+2/2$`, 'm'));
    } else {
      // Without it the override is in place, but nothing says every replica applied it.
      expect(run.code).toBe(1);
      expect(run.stdout).toContain(`${head}: NOT acknowledged on every replica after`);
      expect(run.stdout).toContain(
        `the operator has not yet acknowledged generation ${String(policy.metadata.generation)}`,
      );
    }
    // Either way, each replica reports its breakers forced open, and status shows it.
    await eventually(
      async () => {
        const status = await plugin('status', AGENT, '-n', nsA.name);
        const rows = status.stdout.split('\n').filter((l) => l.startsWith(`${AGENT}-`));
        return rows.length === 2 && rows.every((r) => /\sForcedOpen\s+default\//.test(r)) && status;
      },
      { timeoutMs: 30_000, description: 'both replicas ForcedOpen in kubectl breakwater status' },
    );
    const status = await plugin('status', AGENT, '-n', nsA.name);
    expect(status.stdout).toMatch(
      new RegExp(
        `^${AGENT}\\s+2/2\\s+\\S+\\s+\\S+\\s+ForcedOpen( 2/2)? until ${policy.spec.override?.until ?? ''} \\(INC-42: provider outage\\)$`,
        'm',
      ),
    );
  });

  it('reset clears the override and waits until no replica reports a forced breaker', async () => {
    const run = await plugin('reset', CBP, '-n', nsA.name, '-o', 'json', '--timeout', '60s');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(result).toMatchObject({
      circuitBreakerPolicy: CBP,
      namespace: nsA.name,
      state: 'Auto',
      acknowledged: true,
      applied: '2/2',
      agents: [{ name: AGENT, applied: 2, replicas: 2 }],
    });
    expect((await getBreakerPolicy(nsA.name, CBP))?.spec.override).toBeUndefined();
    for (const pod of await agentPods(nsA.name, AGENT))
      expect(pod.metadata?.annotations?.['breakwater.dev/breakers']).not.toContain('Forced');
  });

  it('explain says a Ready agent is Ready, and why another is not', async () => {
    const ready = await plugin('explain', AGENT, '-n', nsA.name);
    expect(ready.code).toBe(0);
    expect(ready.stdout).toContain(
      `agentdeployment.breakwater.dev/${AGENT} is Ready (2/2 replicas) (namespace ${nsA.name})`,
    );
    expect(ready.stdout).toMatch(/^Deployment\s+support\s+2\/2 ready, 2 up to date$/m);
    expect(ready.stdout.match(/^Pod\s+support-\S+\s+Running, ready$/gm)).toHaveLength(2);

    await eventually(async () => (await getAgent(nsA.name, BROKEN))?.status !== undefined, {
      timeoutMs: 30_000,
      description: `status of ${BROKEN}`,
    });
    const broken = await plugin('explain', BROKEN, '-n', nsA.name, '-o', 'json');
    expect(broken.code).toBe(0);
    const x = JSON.parse(broken.stdout) as { ready: boolean; verdict: string; reasons: string[] };
    expect(x.ready).toBe(false);
    expect(x.verdict).toBe(`agentdeployment.breakwater.dev/${BROKEN} is not Ready`);
    expect(x.reasons[0]).toMatch(
      /^Ready=False \(PolicyNotFound\): not found: CircuitBreakerPolicy no-such-policy/,
    );
    expect(x.reasons).toContain(
      "CircuitBreakerPolicy no-such-policy does not exist: the agent runs with that policy's defaults until it does",
    );
  });

  it('names the object it cannot find, and refuses a trip without a reason', async () => {
    const missing = await plugin('explain', 'nobody', '-n', nsA.name);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(
      `kubectl-breakwater: agentdeployment.breakwater.dev/nobody not found in namespace ${nsA.name}\n`,
    );
    const noPolicy = await plugin(
      'trip',
      'nothing',
      '-n',
      nsA.name,
      '--for',
      '1m',
      '--reason',
      'x',
    );
    expect(noPolicy.code).toBe(1);
    expect(noPolicy.stderr).toContain(
      `circuitbreakerpolicy.breakwater.dev/nothing not found in namespace ${nsA.name}`,
    );
    const badContext = await plugin('status', '-n', nsA.name, '--context', 'no-such-context');
    expect(badContext.code).toBe(1);
    expect(badContext.stderr).toMatch(
      /^kubectl-breakwater: cannot load the kubeconfig: kubeconfig .*: no context named no-such-context\n$/,
    );
    const noReason = await plugin('trip', CBP, '-n', nsA.name, '--for', '1m');
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toContain('trip needs --reason');
  });

  it("top merges the replicas' /debug/stats read through the pod proxy, and names the replicas it cannot read", async () => {
    const a = await statsRuntime('a', true, [FALLBACK_MODEL]);
    const b = await statsRuntime('b', true, []);
    const c = await statsRuntime('c', false, []);
    await standInPod(STATS_AGENT, 'stats-a', a);
    await standInPod(STATS_AGENT, 'stats-b', b);
    await standInPod(STATS_AGENT, 'stats-c', c);
    await standInPod(QUIET_AGENT, 'quiet-a', c);
    // a: 10 answers, then 4 whose primary model fails and the fallback answers.
    for (let i = 0; i < 10; i++) expect(await call(a, PRIMARY_MODEL)).toBe(200);
    await sim.setFault({ status: 529, model: PRIMARY_MODEL, count: 4 });
    for (let i = 0; i < 4; i++) expect(await call(a, PRIMARY_MODEL)).toBe(200);
    // b: 10 answers and 2 failures (no fallback).
    for (let i = 0; i < 10; i++) expect(await call(b, PRIMARY_MODEL)).toBe(200);
    await sim.setFault({ status: 529, model: PRIMARY_MODEL, count: 2 });
    for (let i = 0; i < 2; i++) expect(await call(b, PRIMARY_MODEL)).not.toBe(200);
    await sim.clearFaults();
    for (let i = 0; i < 3; i++) expect(await call(c, PRIMARY_MODEL)).toBe(200);

    const run = await plugin('top', '-n', nsB.name, '-o', 'json');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const data = JSON.parse(run.stdout) as { agents: Record<string, unknown>[] };
    // Ranked by throughput: the busy agent first, the one nobody can read last.
    expect(data.agents.map((x) => x['name'])).toEqual([STATS_AGENT, QUIET_AGENT]);
    const stats = data.agents[0] as {
      replicas: number;
      running: number;
      count: number;
      successRate: number;
      fallbackShare: number;
      topErrors: { type: string; count: number }[];
      latencyMs: { p50: number; p95: number; p99: number };
      unread: { pod: string; reason: string }[];
    };
    expect(stats).toMatchObject({ replicas: 2, running: 3, count: 26 });
    expect(stats.successRate).toBeCloseTo(24 / 26);
    expect(stats.fallbackShare).toBeCloseTo(4 / 26);
    expect(stats.topErrors).toEqual([{ type: 'Overloaded', count: 2 }]);
    expect(stats.latencyMs.p50).toBeGreaterThan(0);
    expect(stats.latencyMs.p99).toBeGreaterThanOrEqual(stats.latencyMs.p50);
    expect(stats.unread).toEqual([
      {
        pod: 'stats-c',
        reason:
          'its /debug endpoints are off (spec.monitoring.debugEndpoints: false); set it to true to read its stats',
      },
    ]);
    expect(data.agents[1]).toMatchObject({ replicas: 0, running: 1, count: 0 });

    const table = await plugin('top', '-n', nsB.name);
    const lines = table.stdout.split('\n');
    expect(lines[0]).toMatch(
      /^AGENT\s+REPLICAS\s+REQ\/S\s+SUCCESS\s+P50\s+P95\s+P99\s+FALLBACK\s+TOP ERRORS$/,
    );
    expect(lines[1]).toMatch(
      /^stats\s+2\/3\s+0\.09\s+92\.3%\s+\S+ms\s+\S+\s+\S+\s+15\.4%\s+Overloaded=2$/,
    );
    expect(lines[2]).toMatch(/^quiet\s+0\/1\s+0\s+-\s+-\s+-\s+-\s+-\s+-$/);
    expect(table.stdout).toContain('stats: pod stats-c not read: its /debug endpoints are off');
  });
});
