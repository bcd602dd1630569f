/**
 * MCP servers under the real operator, on the suites' kind cluster: a server's
 * circuitBreakerPolicyRef that does not exist yet is a status (PoliciesResolved names it), and
 * resolves into the policy document once it appears; its headers Secret is mounted into the
 * runtime container; what a replica reports in its breakwater.dev/mcp annotation becomes
 * status.mcpServers, McpServersReachable (the agent stays Ready) and the CircuitBreakerPolicy's
 * lastLoop. And one agent end to end: its runtime pod reaches a real MCP server (the
 * official SDK's, on the host) and the bundled agent calls its tool.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import {
  MCP_ANNOTATION,
  decodeMcpReport,
  encodeMcpReport,
} from '../../contract/src/reporting/mcpReport.ts';
import { agentDeployment, circuitBreakerPolicy } from '../support/agentFixtures.ts';
import {
  agentPods,
  appliedPolicyDocument,
  applyObjects,
  condition,
  getAgent,
  getBreakerPolicy,
  isPodReady,
  mergePatch,
  podHttpUrl,
} from '../support/breakwaterCluster.ts';
import { kubectl } from '../support/kube.ts';
import { eventually } from '../support/operator.ts';
import { startMcpServer, type McpTestServer } from '../support/mcpServer.ts';
import { startScenario, type Scenario } from '../support/operatorScenario.ts';

jest.setTimeout(180_000);

const AGENT = 'with-tools';
const AGENT_CBP = 'agent-breaker';
const TOOLS_CBP = 'tool-breakers';

const LIVE = 'with-live-tools';

let scenario: Scenario;
let mcp: McpTestServer;

beforeAll(async () => {
  mcp = await startMcpServer();
  scenario = await startScenario({ prefix: 'op-mcp', seed: 29 }, (sim) => [
    agentDeployment(LIVE, {
      providerURL: sim.url,
      spec: { mcpServers: [{ name: 'local', url: mcp.url, tools: ['echo', 'flaky'] }] },
    }),
    circuitBreakerPolicy(AGENT_CBP, { loopDetection: { maxRepeats: 5 } }),
    agentDeployment(AGENT, {
      providerURL: sim.url,
      circuitBreakerPolicy: AGENT_CBP,
      spec: {
        mcpServers: [
          {
            name: 'github',
            url: 'http://127.0.0.1:9/mcp',
            headersSecretRef: { name: 'github-token' },
            circuitBreakerPolicyRef: { name: TOOLS_CBP },
          },
        ],
      },
    }),
  ]);
}, 150_000);

afterAll(async () => {
  await scenario.end();
  await mcp.stop();
});

describe('an agent with an MCP server', () => {
  it('names the server policy that does not exist yet, and resolves it once it appears', async () => {
    const ns = scenario.ns.name;
    const missing = await eventually(
      async () => {
        const a = await getAgent(ns, AGENT);
        return condition(a, 'PoliciesResolved')?.status === 'False' && a;
      },
      { timeoutMs: 30_000, description: 'PoliciesResolved=False' },
    );
    expect(condition(missing, 'PoliciesResolved')?.message).toContain(
      `CircuitBreakerPolicy ${TOOLS_CBP} (mcpServers github)`,
    );
    await applyObjects(ns, circuitBreakerPolicy(TOOLS_CBP, { failureThreshold: 4 }));
    await eventually(
      async () => condition(await getAgent(ns, AGENT), 'PoliciesResolved')?.status === 'True',
      { timeoutMs: 30_000, description: 'PoliciesResolved=True' },
    );
    const doc = await appliedPolicyDocument(ns, AGENT);
    expect(doc?.mcpServers?.[0]).toMatchObject({
      name: 'github',
      headersSecret: 'github-token',
      circuitBreaker: { policyName: TOOLS_CBP, failureThreshold: 4 },
    });
  });

  it('mounts the headers Secret into the runtime container', async () => {
    const { stdout } = await kubectl([
      'get',
      'deploy',
      AGENT,
      '-n',
      scenario.ns.name,
      '-o',
      'json',
    ]);
    const pod = (
      JSON.parse(stdout) as {
        spec: {
          template: {
            spec: {
              volumes?: { name: string; secret?: { secretName: string } }[];
              containers: { volumeMounts?: { name: string; mountPath: string }[] }[];
            };
          };
        };
      }
    ).spec.template.spec;
    // The API server adds defaultMode.
    expect(pod.volumes?.find((v) => v.name === 'mcp-github')?.secret).toMatchObject({
      secretName: 'github-token',
      optional: true,
    });
    expect(pod.containers[0]?.volumeMounts).toContainEqual({
      name: 'mcp-github',
      mountPath: '/var/run/secrets/breakwater.dev/mcp/github',
      readOnly: true,
    });
  });

  it('shows what the replica reports: the server out, the agent Ready, and the loop on the policy', async () => {
    const ns = scenario.ns.name;
    const pod = await eventually(async () => (await agentPods(ns, AGENT)).find(isPodReady), {
      timeoutMs: 90_000,
      description: `a ready pod of ${AGENT}`,
    });
    // The runtime reports the server it cannot reach (nothing listens on its port) by itself.
    const agent = await eventually(
      async () => {
        const a = await getAgent(ns, AGENT);
        // Ready follows the pod's readiness a moment later than the report may arrive.
        return (
          a?.status?.mcpServers?.[0]?.lastError !== undefined &&
          condition(a, 'Ready')?.status === 'True' &&
          a
        );
      },
      { timeoutMs: 60_000, intervalMs: 500, description: 'status.mcpServers from the report' },
    );
    expect(agent.status?.mcpServers).toEqual([
      {
        name: 'github',
        reachable: 0,
        replicas: 1,
        tools: 0,
        openToolBreakers: 0,
        lastError: expect.any(String),
      },
    ]);
    expect(agent.status?.mcpSummary).toBe('github reachable 0/1, 0 tools');
    expect(condition(agent, 'McpServersReachable')).toMatchObject({
      status: 'False',
      reason: 'Unreachable',
    });
    expect(condition(agent, 'Ready')?.status).toBe('True');
    // A loop needs a model that loops; the replica's report of one is written here, beside
    // what the runtime reported of its servers.
    const at = new Date().toISOString();
    const current = (await agentPods(ns, AGENT)).find(isPodReady)?.metadata?.annotations?.[
      MCP_ANNOTATION
    ];
    const report = encodeMcpReport({
      ...decodeMcpReport(current),
      lastLoop: { tool: 'github__search', count: 5, at, shadow: false },
    });
    await mergePatch(ns, `pod/${pod.metadata?.name ?? ''}`, {
      metadata: { annotations: { [MCP_ANNOTATION]: report } },
    });
    const policy = await eventually(
      async () => {
        const p = await getBreakerPolicy(ns, AGENT_CBP);
        return p?.status?.lastLoop !== undefined && p;
      },
      { timeoutMs: 30_000, description: 'the CircuitBreakerPolicy lastLoop' },
    );
    expect(policy.status?.lastLoop).toEqual({
      agent: `${ns}/${AGENT}`,
      tool: 'github__search',
      count: 5,
      time: at,
      shadow: false,
    });
  });

  it('reaches a real MCP server from the runtime pod: status counts its tools, and the agent calls one', async () => {
    const ns = scenario.ns.name;
    const pod = await eventually(async () => (await agentPods(ns, LIVE)).find(isPodReady), {
      timeoutMs: 90_000,
      description: `a ready pod of ${LIVE}`,
    });
    const agent = await eventually(
      async () => {
        const a = await getAgent(ns, LIVE);
        return a?.status?.mcpServers?.[0]?.reachable === 1 && a;
      },
      { timeoutMs: 60_000, intervalMs: 500, description: 'the server reachable in status' },
    );
    expect(agent.status?.mcpServers?.[0]).toMatchObject({
      name: 'local',
      reachable: 1,
      replicas: 1,
      tools: 2,
      openToolBreakers: 0,
    });
    expect(condition(agent, 'McpServersReachable')?.status).toBe('True');
    const response = await fetch(`${podHttpUrl(pod)}/v1/agent/invoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: 'Please use tool local__echo' }),
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { output: string }).output).toBe(
      'local__echo returned: example text',
    );
    expect(mcp.calls.get('echo')).toBe(1);
  });
});
