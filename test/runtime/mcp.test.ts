/**
 * MCP tools guarded one by one, seen from outside: caller → runtime (/v1/agent/invoke) →
 * simulator (the model) and a real MCP server from the official SDK over Streamable HTTP.
 * A failing tool opens its own breaker while another tool of the same server still works; a
 * slow one is cut by its timeout; maxConcurrent bounds what the server sees at once; a
 * restarted server is re-initialised without failing the invocation; a tool outside the
 * allow-list is never offered; a model stuck calling one tool is stopped by the loop breaker;
 * an injection string in a tool result is flagged.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startMcpServer, type McpTestServer } from '../support/mcpServer.ts';
import { startSimulator, type SimulatorHandle } from '../support/simulator.ts';
import { waitFor } from '../support/waitFor.ts';
import {
  policyDocument,
  sample,
  standaloneRuntime,
  type StandaloneRuntime,
} from '../support/standaloneRuntime.ts';

let sim: SimulatorHandle;
let mcp: McpTestServer;
let rt: StandaloneRuntime;

interface Answer {
  readonly status: number;
  readonly output?: string;
  readonly stopReason?: string;
  readonly error?: { type: string; message: string };
}

async function invoke(input: string, requestId?: string): Promise<Answer> {
  const response = await fetch(`${rt.runtime.url}/v1/agent/invoke`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(requestId === undefined ? {} : { 'x-request-id': requestId }),
    },
    body: JSON.stringify({ input }),
  });
  const body = (await response.json()) as Omit<Answer, 'status'>;
  return { status: response.status, ...body };
}

/** Waits until the runtime lists the server's tools (it connects in the background). */
async function connected(): Promise<void> {
  await waitFor(
    async () => {
      const answer = await invoke('Please use tool local__echo');
      if (answer.output?.startsWith('local__echo returned') === true) return true;
      throw new Error(`the agent answered ${JSON.stringify(answer)}`);
    },
    {
      timeoutMs: 10_000,
      intervalMs: 100,
      description: 'the runtime to offer the MCP server’s tools',
    },
  );
}

const ALLOWED = ['echo', 'flaky', 'slow', 'held', 'notes', 'boom', 'down', 'files.read'];

/** The agent's policy, its MCP server allowing `tools`. */
function policy(tools: string[]) {
  return policyDocument(sim.url, (d) => {
    d.mcpServers = [
      {
        name: 'local',
        url: mcp.url,
        tools,
        timeoutMs: 500,
        maxConcurrent: 2,
        onUnknownOutcome: 'Fail',
      },
    ];
    d.security = { promptInjection: 'Flag' };
    d.audit = { enabled: true };
  });
}

/** The runtime's audit records so far (one JSON line each, `audit: true`). */
function auditRecords(): Record<string, unknown>[] {
  return rt.runtime.output
    .flatMap((chunk) => chunk.split('\n'))
    .flatMap((line) => {
      try {
        const parsed = JSON.parse(line) as Record<string, unknown>;
        return parsed.audit === true ? [parsed] : [];
      } catch {
        return [];
      }
    });
}

beforeAll(async () => {
  sim = await startSimulator({ seed: 23 });
  mcp = await startMcpServer();
  rt = await standaloneRuntime(policy(ALLOWED));
  await connected();
  mcp.calls.clear();
});

afterEach(() => {
  mcp.calls.clear();
});

afterAll(async () => {
  await rt.stop();
  await mcp.stop();
  await sim.stop();
});

describe('MCP tools in the agent loop', () => {
  it('offers the allowed tools and answers with what the tool returned', async () => {
    const answer = await invoke('Please use tool local__echo');
    expect(answer).toMatchObject({ status: 200, output: 'local__echo returned: example text' });
    expect(mcp.calls.get('echo')).toBe(1);
    const scrape = await rt.runtime.metrics();
    expect(
      sample(scrape, 'agent_tool_calls_total', {
        server: 'local',
        tool: 'echo',
        status: 'success',
      }),
    ).toBeGreaterThanOrEqual(1);
  });

  it('says why it does not offer a tool whose name the Messages API would refuse', async () => {
    await invoke('hello');
    const said = rt.runtime.output.filter((line) =>
      line.includes("MCP tool local__files.read is not offered to the bundled agent's model"),
    );
    // Once, however many invocations listed the tools.
    expect(said).toHaveLength(1);
  });

  it('never offers a tool outside the allow-list', async () => {
    const answer = await invoke('Please use tool local__secret');
    expect(answer.status).toBe(200);
    expect(answer.output).not.toContain('returned');
    expect(mcp.calls.get('secret')).toBeUndefined();
  });

  it('opens a failing tool’s own breaker; another tool of the server still works', async () => {
    mcp.failures = 100;
    const outputs: string[] = [];
    for (let i = 0; i < 7; i++)
      outputs.push((await invoke('Please use tool local__flaky')).output ?? '');
    // The sample policy's failureThreshold is 5: five calls reached the tool, then its breaker refused.
    expect(mcp.calls.get('flaky')).toBe(5);
    expect(
      outputs.slice(0, 5).every((o) => o === 'local__flaky failed: the warehouse database is down'),
    ).toBe(true);
    expect(
      outputs.slice(5).every((o) => o.includes('"local__flaky" is unavailable (Rejected)')),
    ).toBe(true);
    expect((await invoke('Please use tool local__echo')).output).toBe(
      'local__echo returned: example text',
    );
    const scrape = await rt.runtime.metrics();
    expect(
      sample(scrape, 'circuit_breaker_state', { name: 'tool:local__flaky', state: 'open' }),
    ).toBe(1);
    expect(
      sample(scrape, 'circuit_breaker_state', { name: 'tool:local__echo', state: 'closed' }),
    ).toBe(1);
    mcp.failures = 0;
  });

  it('cuts a slow tool at the server’s timeout and goes on', async () => {
    mcp.slowMs = 5_000;
    const answer = await invoke('Please use tool local__slow');
    expect(answer).toMatchObject({ status: 200 });
    expect(answer.output).toContain('"local__slow" is unavailable (Timeout)');
    expect(mcp.calls.get('slow')).toBe(1);
  });

  it('holds the server to maxConcurrent calls at once, as the server counts them', async () => {
    mcp.maxInFlight = 0;
    mcp.heldMs = 100;
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => invoke('Please use tool local__held')),
    );
    expect(answers.every((a) => a.output === 'local__held returned: held is done')).toBe(true);
    expect(mcp.calls.get('held')).toBe(6);
    expect(mcp.maxInFlight).toBe(2);
  });

  it('opens a new session with a restarted server without failing the invocation', async () => {
    const before = mcp.sessions;
    await mcp.restart();
    const answer = await invoke('Please use tool local__echo');
    expect(answer.output).toBe('local__echo returned: example text');
    expect(mcp.sessions).toBe(before + 1);
  });

  it('flags an injection string in a tool result', async () => {
    const answer = await invoke('Please use tool local__notes');
    expect(answer.status).toBe(200);
    const scrape = await rt.runtime.metrics();
    expect(
      sample(scrape, 'agent_security_incidents_total', {
        kind: 'override-instructions',
        action: 'flagged',
      }),
    ).toBeGreaterThanOrEqual(1);
  });

  it('records the tools a run called in its audit record, by name', async () => {
    // Found by its own request id: an earlier test's record may still be on its way in.
    const requestId = `tools-audited-${String(Date.now())}`;
    expect((await invoke('Please use tool local__echo 2 times', requestId)).status).toBe(200);
    const record = await waitFor(
      () =>
        auditRecords().find(
          (r) =>
            r.event === 'model_interaction' &&
            r.route === '/v1/agent/invoke' &&
            r.requestId === requestId,
        ),
      { timeoutMs: 5_000, intervalMs: 50, description: 'the invocation audited' },
    );
    expect(record.toolCalls).toEqual(['local__echo', 'local__echo']);
  });

  it('says when it stopped a model that still asked for tools after its last turn', async () => {
    const finished = await invoke('Please use tool local__echo');
    expect(finished).toMatchObject({ status: 200, stopReason: 'end_turn' });
    mcp.calls.clear();
    const cut = await invoke('Please use tool local__echo 12 times');
    expect(cut.status).toBe(200);
    expect(cut.stopReason).toBe('max_turns');
    // Eight model turns: seven of them asked for a tool, and each was run.
    expect(mcp.calls.get('echo')).toBe(7);
  });

  it('stops a model that calls the same tool with the same input over and over', async () => {
    const answer = await invoke('Please use tool local__echo over and over');
    expect(answer.status).toBe(422);
    expect(answer.error?.message).toMatch(/loop was detected — local__echo called 5 times/);
    expect(mcp.calls.get('echo')).toBe(4);
    const scrape = await rt.runtime.metrics();
    expect(
      sample(scrape, 'agent_loops_detected_total', { tool: 'local__echo', mode: 'Enforce' }),
    ).toBe(1);
    // On-call's view names it too, not as an Unknown error.
    expect(JSON.stringify(await rt.runtime.debug('/debug/stats'))).toContain('"LoopDetected"');
  });
});

describe('/mcp/<name>, the guarded endpoint for any agent', () => {
  async function client(): Promise<Client> {
    const c = new Client({ name: 'team-agent', version: '1.0.0' });
    await c.connect(new StreamableHTTPClientTransport(new URL(`${rt.runtime.url}/mcp/local`)));
    return c;
  }

  it('lists only the allowed tools and calls them through the guard', async () => {
    const c = await client();
    try {
      const { tools } = await c.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual([
        'boom',
        'down',
        'echo',
        'files.read',
        'flaky',
        'held',
        'notes',
        'slow',
      ]);
      // Listed and answered whole: the output schema and annotations, the structured result.
      expect(tools.find((t) => t.name === 'echo')).toMatchObject({
        outputSchema: { type: 'object', properties: { echoed: { type: 'string' } } },
        annotations: { readOnlyHint: true },
      });
      const echoed = await c.callTool({ name: 'echo', arguments: { text: 'through the runtime' } });
      expect(echoed).toEqual({
        content: [{ type: 'text', text: 'through the runtime' }],
        structuredContent: { echoed: 'through the runtime', length: 19 },
      });
      const secret = await c.callTool({ name: 'secret', arguments: {} });
      expect(secret.isError).toBe(true);
      expect(mcp.calls.get('secret')).toBeUndefined();
      const scrape = await rt.runtime.metrics();
      expect(
        sample(scrape, 'agent_tool_calls_total', {
          server: 'local',
          tool: 'echo',
          status: 'success',
        }),
      ).toBeGreaterThanOrEqual(1);
    } finally {
      await c.close();
    }
  });

  it('counts calls to names outside the allow-list under one label, not one series each', async () => {
    const c = await client();
    try {
      for (let i = 0; i < 20; i++) {
        const refused = await c.callTool({ name: `made-up-${String(i)}`, arguments: {} });
        expect(refused.isError).toBe(true);
      }
      const scrape = await rt.runtime.metrics();
      expect(scrape).not.toContain('made-up-');
      expect(
        sample(scrape, 'agent_tool_calls_total', {
          server: 'local',
          tool: '_not_allowed',
          status: 'error',
        }),
      ).toBeGreaterThanOrEqual(20);
      expect(JSON.stringify(await rt.runtime.debug('/debug/stats'))).not.toContain('made-up-');
    } finally {
      await c.close();
    }
  });

  it("counts a server's JSON-RPC error against the tool's breaker, and says what the server said", async () => {
    const c = await client();
    try {
      for (let i = 0; i < 2; i++) {
        const failed = await c.callTool({ name: 'boom', arguments: {} });
        expect(failed.isError).toBe(true);
        expect(JSON.stringify(failed.content)).toContain('the ledger service crashed');
      }
      expect(mcp.calls.get('boom')).toBe(2);
      const scrape = await rt.runtime.metrics();
      expect(
        sample(scrape, 'circuit_breaker_failures_total', {
          name: 'tool:local__boom',
          class: 'ServerError',
        }),
      ).toBe(2);
    } finally {
      await c.close();
    }
  });

  it("counts a server's HTTP 5xx against the tool's breaker, and keeps the session", async () => {
    const c = await client();
    try {
      const sessions = mcp.sessions;
      for (let i = 0; i < 2; i++) {
        const failed = await c.callTool({ name: 'down', arguments: {} });
        expect(failed.isError).toBe(true);
        expect(JSON.stringify(failed.content)).toContain('ServerError');
      }
      expect(mcp.calls.get('down')).toBe(2);
      const scrape = await rt.runtime.metrics();
      expect(
        sample(scrape, 'circuit_breaker_failures_total', {
          name: 'tool:local__down',
          class: 'ServerError',
        }),
      ).toBe(2);
      // The server answered: its session is fine, and nobody opened another.
      expect((await c.callTool({ name: 'echo', arguments: { text: 'still here' } })).isError).toBe(
        undefined,
      );
      expect(mcp.sessions).toBe(sessions);
    } finally {
      await c.close();
    }
  });

  it('names the session in the audit record of a flagged tool result', async () => {
    const transport = new StreamableHTTPClientTransport(new URL(`${rt.runtime.url}/mcp/local`));
    const c = new Client({ name: 'team-agent', version: '1.0.0' });
    await c.connect(transport);
    try {
      await c.callTool({ name: 'notes', arguments: {} });
      const session = transport.sessionId;
      expect(session).toBeDefined();
      const record = await waitFor(
        () =>
          auditRecords().find((r) => r.event === 'security_incident' && r.requestId === session),
        {
          timeoutMs: 5_000,
          intervalMs: 50,
          description: 'the incident recorded under the session',
        },
      );
      expect(record).toMatchObject({ kind: expect.any(String) as unknown, action: 'flagged' });
    } finally {
      await c.close();
    }
  });

  it('tells an open session when the allow-list changes, and lists what it allows now', async () => {
    let told = 0;
    const c = new Client(
      { name: 'team-agent', version: '1.0.0' },
      {
        listChanged: {
          tools: {
            onChanged: () => {
              told++;
            },
          },
        },
      },
    );
    await c.connect(new StreamableHTTPClientTransport(new URL(`${rt.runtime.url}/mcp/local`)));
    try {
      expect((await c.listTools()).tools.map((t) => t.name)).toContain('notes');
      rt.writePolicy(policy(ALLOWED.filter((t) => t !== 'notes')));
      await waitFor(async () => !(await c.listTools()).tools.some((t) => t.name === 'notes'), {
        timeoutMs: 5_000,
        intervalMs: 50,
        description: 'the session to list notes no more',
      });
      await waitFor(() => told > 0, {
        timeoutMs: 5_000,
        intervalMs: 50,
        description: 'notifications/tools/list_changed on the open session',
      });
    } finally {
      rt.writePolicy(policy(ALLOWED));
      await connected();
      await c.close();
    }
  });

  it('shares the tool breakers with the bundled agent: an open one answers without a call', async () => {
    // The bundled agent's calls above opened local__flaky's breaker.
    mcp.failures = 100;
    const c = await client();
    try {
      const refused = await c.callTool({ name: 'flaky', arguments: {} });
      expect(refused.isError).toBe(true);
      expect(JSON.stringify(refused.content)).toContain('unavailable (Rejected)');
      expect(mcp.calls.get('flaky')).toBeUndefined();
    } finally {
      mcp.failures = 0;
      await c.close();
    }
  });

  it('stops a session that repeats one call, and says so', async () => {
    const c = await client();
    try {
      const results = [];
      for (let i = 0; i < 5; i++)
        results.push(await c.callTool({ name: 'echo', arguments: { text: 'again' } }));
      expect(results.slice(0, 4).every((r) => r.isError !== true)).toBe(true);
      expect(results[4]?.isError).toBe(true);
      expect(JSON.stringify(results[4]?.content)).toContain(
        'loop detected: local__echo called 5 times',
      );
    } finally {
      await c.close();
    }
  });

  it('answers a body that is not JSON with a JSON-RPC parse error', async () => {
    const response = await fetch(`${rt.runtime.url}/mcp/local`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: '{"jsonrpc": "2.0", "method": ',
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({
      jsonrpc: '2.0',
      id: null,
      error: { code: -32700, message: expect.stringMatching(/^Parse error: /) as unknown },
    });
  });

  it('answers an undeclared server with a 404 in the Anthropic shape', async () => {
    const response = await fetch(`${rt.runtime.url}/mcp/nowhere`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({
      type: 'error',
      error: { type: 'not_found_error' },
    });
  });
});
