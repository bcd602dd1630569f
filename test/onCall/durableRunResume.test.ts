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
 * A second agent journals through Sentinel under `acknowledge: Replicas` (a primary, two
 * replicas and three sentinels on this machine, issue 51): mid-run the journal's primary is
 * SIGKILLed and a replica promoted; the run goes on in the same pod, as the agent started
 * again (a 503 while no replica confirms is retryable: it is started again until it finishes),
 * and every effect happened once.
 *
 * Native sidecars and `kubectl exec` are the kubelet's: this runs on a node routed from this
 * machine (the suites' kind cluster); elsewhere it is skipped. The agent image is the in-cluster
 * suite's TypeScript agent (both SDKs in its node_modules), built here with podman.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { condition, getAgent, type PodView } from '../support/breakwaterCluster.ts';
import {
  durableAgent,
  durableAgentObjects,
  effectsByStep,
  journalingPod as journalingPodOf,
  runAgent as runAgentIn,
  type AgentProcess,
} from '../support/durableAgentPod.ts';
import { kubectl } from '../support/kube.ts';
import { startMcpServer, type McpTestServer } from '../support/mcpServer.ts';
import { eventually } from '../support/operator.ts';
import { startScenario, type Scenario } from '../support/operatorScenario.ts';
import { startRedis, type RedisHandle } from '../support/redisServer.ts';
import { ask, startSentinelSet, type SentinelSet } from '../support/redisSentinel.ts';
import { buildAgentImage } from '../inCluster/agentImages.ts';
import { kubectlBreakwater } from '../inCluster/kubectlBreakwater.ts';

jest.setTimeout(300_000);

const realNode = process.env['BREAKWATER_CLUSTER_ROUTED'] === '1';
const describeOnRealNode = realNode ? describe : describe.skip;

const AGENT = 'resumer';
/** The agent whose journal is a Sentinel-watched primary under acknowledge: Replicas. */
const AGENT_HA = 'resumer-ha';

let scenario: Scenario;
let redis: RedisHandle;
let set: SentinelSet;
let mcp: McpTestServer;

function runAgent(pod: PodView, run: string, env?: Readonly<Record<string, string>>): AgentProcess {
  return runAgentIn(scenario.ns.name, pod, run, env);
}

function journalingPod(not?: ReadonlySet<string | undefined>): Promise<PodView> {
  return journalingPodOf(scenario.ns.name, AGENT, not);
}

describeOnRealNode('a run whose pod is deleted mid-way', () => {
  beforeAll(async () => {
    const image = await buildAgentImage('typescript');
    redis = await startRedis();
    set = await startSentinelSet();
    mcp = await startMcpServer();
    scenario = await startScenario({ prefix: 'oncall-runs', seed: 37 }, (sim) => [
      ...durableAgentObjects(AGENT, {
        providerURL: sim.url,
        redis: redis.address,
        mcp: mcp.url,
        image,
      }),
      durableAgent(AGENT_HA, {
        providerURL: sim.url,
        redis: {
          sentinel: { masterName: set.masterName, addresses: [...set.sentinels] },
          acknowledge: 'Replicas',
        },
        mcp: mcp.url,
        image,
      }),
    ]);
  }, 20 * 60_000);

  afterAll(async () => {
    await scenario.end();
    await Promise.all([redis.remove(), set.remove(), mcp.stop()]);
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
    // On a mismatch, what each run printed and what the tool server saw say where a step went.
    expect({
      effects: effectsByStep(mcp.effects),
      first: first.lines,
      second: second.lines,
      seen: [...mcp.effects.keys()],
    }).toMatchObject({ effects: [1, 2, 3, 4, 5, 6].map((step) => [step, 1]) });

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
  it("goes on through its journal's failover under acknowledge: Replicas, every effect once", async () => {
    const run = `ticket-${randomUUID()}`;
    const before = new Map(mcp.effects);
    const pod = await journalingPodOf(scenario.ns.name, AGENT_HA);
    const first = runAgent(pod, run, { STOP_AFTER: '3' });
    await first.step(3);
    first.stop();

    const was = set.primary.address;
    await set.primary.kill();
    const promoted = await set.waitForNewPrimary(was, 30_000);
    // A replica linked to the promoted primary again: until then its writes are unconfirmed.
    await eventually(
      async () =>
        /slave\d+:.*state=online/.test(String(await ask(promoted, ['INFO', 'replication']))),
      { timeoutMs: 60_000, description: `a replica linked to the promoted ${promoted}` },
    );

    // The agent started again on the run until it finishes, as an orchestrator would: an
    // attempt that meets the store mid-failover gets a retryable 503 and exits.
    const attempts: AgentProcess[] = [];
    let code: number | null = null;
    while (code !== 0 && attempts.length < 20) {
      if (attempts.length > 0) await new Promise((resolve) => setTimeout(resolve, 1000));
      const attempt = runAgent(pod, run);
      attempts.push(attempt);
      code = await attempt.exited;
    }
    const last = attempts.at(-1);
    process.stderr.write(
      `[runs] journal failover under Replicas: promoted ${promoted}, ${String(attempts.length)} attempt(s) to finish\n`,
    );
    expect({ code, stderr: last?.stderr.join('') }).toMatchObject({ code: 0 });
    expect(last?.lines.map((l) => l.step)).toEqual([1, 2, 3, 4, 5, 6]);
    // The first three answers came back from the journal on the promoted primary.
    expect(last?.lines.slice(0, 3).map((l) => l.messageId)).toEqual(
      first.lines.slice(0, 3).map((l) => l.messageId),
    );
    expect({
      effects: effectsByStep(mcp.effects, before),
      attempts: attempts.map((a) => ({ lines: a.lines, stderr: a.stderr.join('').slice(0, 400) })),
    }).toMatchObject({ effects: [1, 2, 3, 4, 5, 6].map((step) => [step, 1]) });
  });
});
