/**
 * A durable run survives its pod, as on-call sees it (issue 36). The team's own agent
 * (test/support/durableAgent.ts: the official Anthropic and MCP SDKs, the run named in their
 * default headers) runs in the agent container of an AgentDeployment with `spec.durability`,
 * the runtime beside it as a native sidecar, journals in a real redis-server on this machine and
 * a real MCP server here that counts each tool's effects. Mid-run the pod is deleted with
 * `--grace-period=0 --force`; in the replacement pod the agent runs again with the same run id:
 * every effect happened once, `kubectl breakwater runs` shows the resumption, the agent's
 * status counts it, and keeps counting it once that pod is gone too.
 *
 * Native sidecars and `kubectl exec` are the kubelet's: this runs on the real node only (the
 * local cluster's, `make e2e-node`); elsewhere it is skipped. The agent image is the in-cluster
 * suite's TypeScript agent (both SDKs in its node_modules), built here with podman.
 */
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { stripTypeScriptTypes } from 'node:module';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import {
  DURABLE_RUNS_ANNOTATION,
  decodeDurableReport,
} from '../../contract/src/reporting/durableReport.ts';
import { MCP_ANNOTATION, decodeMcpReport } from '../../contract/src/reporting/mcpReport.ts';
import { agentDeployment, MODEL } from '../support/agentFixtures.ts';
import {
  agentPods,
  condition,
  getAgent,
  isPodReady,
  type PodView,
} from '../support/breakwaterCluster.ts';
import { kubeconfigPath, kubectl, kubectlPath } from '../support/kube.ts';
import { startMcpServer, type McpTestServer } from '../support/mcpServer.ts';
import { eventually } from '../support/operator.ts';
import { startScenario, type Scenario } from '../support/operatorScenario.ts';
import { startRedis, type RedisHandle } from '../support/redisServer.ts';
import { buildAgentImage } from '../inCluster/agentImages.ts';
import { kubectlBreakwater } from '../inCluster/kubectlBreakwater.ts';

jest.setTimeout(300_000);

const realNode = process.env['BREAKWATER_CLUSTER_ROUTED'] === '1';
const describeOnRealNode = realNode ? describe : describe.skip;

const AGENT = 'resumer';
const KEY_SECRET = 'journal-key';
/** The agent container idles; the test runs the agent program in it with `kubectl exec`. */
const IDLE = ['/nodejs/bin/node', '-e', 'setInterval(() => undefined, 1 << 30)'];
const AGENT_SOURCE = stripTypeScriptTypes(
  readFileSync(new URL('../support/durableAgent.ts', import.meta.url), 'utf8'),
);

let scenario: Scenario;
let redis: RedisHandle;
let mcp: McpTestServer;

interface StepLine {
  readonly step: number;
  readonly messageId: string;
}

/**
 * durableAgent.ts in the pod's agent container, pointed at its runtime sidecar with the pod's
 * own key (the environment the operator gives the container), naming run `run`.
 */
function runAgent(pod: PodView, run: string, env: Readonly<Record<string, string>> = {}) {
  const settings = {
    RUN_ID: run,
    MODEL,
    TOOL: 'file_ticket',
    STEPS: '6',
    ...env,
  };
  // Set before the program's body reads them (its imports are hoisted, its body is not).
  const program =
    `process.env.RUNTIME_URL = process.env.ANTHROPIC_BASE_URL;\n` +
    `process.env.API_KEY = process.env.ANTHROPIC_API_KEY;\n` +
    Object.entries(settings)
      .map(([k, v]) => `process.env[${JSON.stringify(k)}] = ${JSON.stringify(v)};\n`)
      .join('') +
    AGENT_SOURCE;
  const child = spawn(
    kubectlPath(),
    [
      '--kubeconfig',
      kubeconfigPath(),
      'exec',
      '-n',
      scenario.ns.name,
      pod.metadata?.name ?? '',
      '-c',
      'agent',
      '--',
      '/nodejs/bin/node',
      '--input-type=module',
      '-e',
      program,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const lines: StepLine[] = [];
  const stderr: string[] = [];
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
  createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(JSON.parse(line) as StepLine);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return {
    lines,
    exited,
    stderr,
    step: (n: number) =>
      eventually(() => lines.find((l) => l.step === n), {
        timeoutMs: 60_000,
        description: `the agent in ${pod.metadata?.name ?? ''} to finish step ${String(n)} (stderr: ${stderr.join('')})`,
      }),
    stop: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

/** The agent's one ready pod whose runtime journals in the store, other than `not`. */
function journalingPod(not: ReadonlySet<string | undefined> = new Set()): Promise<PodView> {
  return eventually(
    async () => {
      const pods = (await agentPods(scenario.ns.name, AGENT)).filter(
        (p) =>
          isPodReady(p) && !not.has(p.metadata?.uid) && p.metadata?.deletionTimestamp === undefined,
      );
      const pod = pods[0];
      const annotations = pod?.metadata?.annotations;
      const report = decodeDurableReport(annotations?.[DURABLE_RUNS_ANNOTATION]);
      // The runtime lists the MCP server's tools in the background: the agent calls them next.
      const tools = decodeMcpReport(annotations?.[MCP_ANNOTATION]).servers['tools'];
      return (
        pods.length === 1 && report?.store.state === 'Available' && tools?.reachable === true && pod
      );
    },
    {
      timeoutMs: 180_000,
      description: `one ready pod of ${AGENT} journaling in the store and listing the tools`,
    },
  );
}

/** Each effect's count, by step, for the MCP server's titles `step N <id>`. */
function effectsByStep(): [number, number][] {
  const out = new Map<number, number>();
  for (const [key, count] of mcp.effects) {
    const match = /^file_ticket:step (\d+) /.exec(key);
    if (match === null) continue;
    out.set(Number(match[1]), (out.get(Number(match[1])) ?? 0) + count);
  }
  return [...out.entries()].sort((a, b) => a[0] - b[0]);
}

describeOnRealNode('a run whose pod is deleted mid-way', () => {
  beforeAll(async () => {
    const image = await buildAgentImage('typescript');
    redis = await startRedis();
    mcp = await startMcpServer();
    scenario = await startScenario({ prefix: 'oncall-runs', seed: 37 }, (sim) => [
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: KEY_SECRET },
        stringData: { key: randomBytes(32).toString('base64') },
      },
      agentDeployment(AGENT, {
        providerURL: sim.url,
        spec: {
          durability: {
            store: { redis: { address: redis.address } },
            retention: '1h',
            encryptionKeySecretRef: { name: KEY_SECRET, key: 'key' },
          },
          mcpServers: [{ name: 'tools', url: mcp.url, timeout: '20s' }],
          agent: { image, command: IDLE },
        },
      }),
    ]);
  }, 20 * 60_000);

  afterAll(async () => {
    await scenario.end();
    await Promise.all([redis.remove(), mcp.stop()]);
  });

  it('resumes in the new pod with every effect once, and on-call sees the resumption', async () => {
    const run = `ticket-${randomUUID()}`;
    const firstPod = await journalingPod();
    const first = runAgent(firstPod, run, { STOP_AFTER: '3' });
    await first.step(3);
    await kubectl([
      'delete',
      'pod',
      '-n',
      scenario.ns.name,
      firstPod.metadata?.name ?? '',
      '--grace-period=0',
      '--force',
      '--wait=false',
    ]);
    first.stop();

    const secondPod = await journalingPod(new Set([firstPod.metadata?.uid]));
    const second = runAgent(secondPod, run);
    const code = await second.exited;
    expect({ code, stderr: second.stderr.join('') }).toMatchObject({ code: 0 });
    expect(second.lines.map((l) => l.step)).toEqual([1, 2, 3, 4, 5, 6]);
    // The first three answers came back from the journal: the same message ids.
    expect(second.lines.slice(0, 3).map((l) => l.messageId)).toEqual(
      first.lines.slice(0, 3).map((l) => l.messageId),
    );
    expect(effectsByStep()).toEqual([1, 2, 3, 4, 5, 6].map((step) => [step, 1]));

    // kubectl breakwater runs: the run, in the clear (the agent's own pods' key), resumed once,
    // its six replayed calls, twelve steps.
    const listed = await kubectlBreakwater(['runs', AGENT, '-n', scenario.ns.name]);
    process.stderr.write(`[runs] kubectl breakwater runs:\n${listed.stdout}${listed.stderr}`);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(
      new RegExp(
        `^${run}\\s+running\\s+12\\s+6\\s+1\\s+0\\s+\\d+s ago\\s+m t m t m t m t m t m t$`,
        'm',
      ),
    );

    // The status counts it, with the store available.
    const counted = await eventually(
      async () => {
        const agent = await getAgent(scenario.ns.name, AGENT);
        const runs = agent?.status?.runs;
        return runs?.resumed === 1 && runs.replayedCalls === 6 && agent;
      },
      { timeoutMs: 60_000, description: 'status.runs counting the resumption' },
    );
    expect(counted.status?.runs).toMatchObject({ resumed: 1, diverged: 0, replayedCalls: 6 });
    expect(condition(counted, 'DurabilityStoreAvailable')?.status).toBe('True');
    // The totals line reads the status, which follows the pods' reports a moment later than
    // the journal's table: read again once the status counts the resumption.
    const totals = await kubectlBreakwater(['runs', AGENT, '-n', scenario.ns.name]);
    expect(totals.stdout).toContain('1 resumed, 0 diverged, 6 calls replayed');

    // The pod that resumed it goes too: its counts stay, in the ledger's baseline.
    await kubectl(['delete', 'pod', '-n', scenario.ns.name, secondPod.metadata?.name ?? '']);
    const third = await journalingPod(new Set([firstPod.metadata?.uid, secondPod.metadata?.uid]));
    const kept = await eventually(
      async () => {
        const runs = (await getAgent(scenario.ns.name, AGENT))?.status?.runs;
        return (
          runs?.ledger?.processes?.every((p) => p.pod === third.metadata?.uid) === true && runs
        );
      },
      { timeoutMs: 60_000, description: 'the gone pods moved into the run ledger baseline' },
    );
    expect(kept).toMatchObject({ resumed: 1, replayedCalls: 6 });
    expect(kept.ledger?.baseline).toMatchObject({ resumed: 1, replayedCalls: 6 });
  });
});
