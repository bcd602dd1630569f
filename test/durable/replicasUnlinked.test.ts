/**
 * Durable runs under `acknowledge: Replicas` while the journal's primary has no replica linked
 * (decision 0062, issue 51), on real processes: a primary and one replica, the simulator, the
 * test MCP server counting each ticket it files, the own-agent program and runtime processes.
 * The replica is unlinked with `REPLICAOF NO ONE`: the primary answers, its journal is
 * readable, no replica confirms a write (as after a failover, before the promoted primary has
 * a replica). Every durable call is then refused with a retryable 503 naming the cause, and
 * none goes on live and unjournaled (D7's mode is for a store that does not answer): no step the
 * journal holds as done runs again, and a run the runtime owns is not held on a lease no
 * replica confirmed. Once the replica is linked again the runs complete, each effect once.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  durableRuntime,
  KEY_A,
  killRuntime,
  startAgent,
  ticketsByStep,
  toolRun,
  type AgentProcess,
  type DurableSetup,
} from '../support/durableRunFixture.ts';
import { startMcpServer, type McpTestServer } from '../support/mcpServer.ts';
import { startRedis, type RedisHandle } from '../support/redisServer.ts';
import { ask } from '../support/redisSentinel.ts';
import { startSimulator, type SimulatorHandle } from '../support/simulator.ts';
import {
  PRIMARY_MODEL,
  sample,
  type Mutable,
  type StandaloneRuntime,
} from '../support/standaloneRuntime.ts';
import { waitFor } from '../support/waitFor.ts';
import type { PolicyDocument } from '../../contract/src/policy/policyDocument.ts';

jest.setTimeout(120_000);

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

const STEPS = 4;
const LINKED_STEPS = 2;
/** The bundled agent's plan for a run the runtime owns: this many tickets. */
const PLANNED = 6;
const PLAN = `File the tickets: use tool tools__file_ticket ${String(PLANNED)} times.`;
const UNACKNOWLEDGED = 'agent_durable_unacknowledged_writes_total';
const UNJOURNALED = 'agent_durable_unjournaled_calls_total';
/** What a refused durable call says, whichever way it came in. */
const REFUSED_503 = {
  type: 'error',
  error: {
    type: 'api_error',
    message: expect.stringMatching(/no replica confirmed the write within 500ms.*ask again/),
  },
  // The runtime's own id: no provider answered this refusal.
  request_id: expect.stringMatching(/^req_/),
};

interface Pair {
  readonly sim: SimulatorHandle;
  readonly mcp: McpTestServer;
  readonly primary: RedisHandle;
  readonly replica: RedisHandle;
  readonly setup: DurableSetup;
  runtime(env?: Record<string, string>): Promise<StandaloneRuntime>;
  unlink(): Promise<void>;
  link(): Promise<void>;
}

/** Whether the primary at `address` has a replica online. */
async function replicaOnline(address: string): Promise<boolean> {
  return /slave\d+:[^\r\n]*state=online/.test(String(await ask(address, ['INFO', 'replication'])));
}

/** The simulator, the MCP server, a linked primary and replica, runtimes under Replicas. */
async function startPair(): Promise<Pair> {
  const sim = await startSimulator();
  cleanups.push(() => sim.stop());
  const mcp = await startMcpServer();
  cleanups.push(() => mcp.stop());
  const primary = await startRedis();
  cleanups.push(() => primary.remove());
  const replica = await startRedis({ replicaOf: primary.address });
  cleanups.push(() => replica.remove());
  const link = async (): Promise<void> => {
    await ask(replica.address, ['REPLICAOF', ...primary.address.split(':')]);
    await waitFor(() => replicaOnline(primary.address), {
      description: 'the replica linked',
      timeoutMs: 15_000,
    });
  };
  await link();
  const setup: DurableSetup = { simUrl: sim.url, redis: primary, mcp };
  const onReplicas = (d: Mutable<PolicyDocument>): void => {
    const durability = d.durability;
    if (durability === undefined) throw new Error('the fixture has no durability');
    d.durability = {
      ...durability,
      store: { redis: { address: primary.address, acknowledge: 'Replicas' } },
    };
  };
  const runtimes: StandaloneRuntime[] = [];
  cleanups.push(async () => {
    for (const rt of runtimes) await rt.stop().catch(() => undefined);
  });
  return {
    sim,
    mcp,
    primary,
    replica,
    setup,
    runtime: async (env = {}) => {
      const rt = await durableRuntime(setup, env, { policy: onReplicas });
      runtimes.push(rt);
      return rt;
    },
    // As a promoted primary is: no replica, and no script cached (each is sent again in full).
    unlink: async () => {
      await ask(replica.address, ['REPLICAOF', 'NO', 'ONE']);
      await ask(primary.address, ['SCRIPT', 'FLUSH']);
      await waitFor(async () => !(await replicaOnline(primary.address)), {
        description: 'the replica unlinked',
        timeoutMs: 10_000,
      });
    },
    link,
  };
}

/** Each step's ticket count at the tool server, for titles `step N …`. */
function effectsByStep(mcp: McpTestServer, steps: number): number[] {
  const out = Array.from({ length: steps }, () => 0);
  for (const [key, count] of mcp.effects) {
    const match = /^file_ticket:.*\bstep (\d+)/.exec(key);
    const at = match === null ? -1 : Number(match[1]) - 1;
    if (at >= 0 && at < steps) out[at] = (out[at] ?? 0) + count;
  }
  return out;
}

/** A response's status, Retry-After and JSON body. */
async function answer(
  response: Response,
): Promise<{ status: number; retryAfter: string | null; body: unknown }> {
  return {
    status: response.status,
    retryAfter: response.headers.get('retry-after'),
    body: await response.json(),
  };
}

const runHeaders = (run: string): Record<string, string> => ({
  'Breakwater-Run-Id': run,
  'Breakwater-Run-Attempt': randomUUID(),
});

/** One `/v1/messages` call of a new durable run, as it is on the wire. */
function modelCall(rt: StandaloneRuntime, run: string): Promise<Response> {
  return fetch(`${rt.runtime.url}/v1/messages`, {
    method: 'POST',
    signal: AbortSignal.timeout(20_000),
    headers: {
      'content-type': 'application/json',
      'x-api-key': KEY_A,
      'anthropic-version': '2023-06-01',
      ...runHeaders(run),
    },
    body: JSON.stringify({
      model: PRIMARY_MODEL,
      max_tokens: 16,
      messages: [{ role: 'user', content: 'Say hello.' }],
    }),
  });
}

/** One `tools/call` of `file_ticket` in a new durable run, on an MCP session the SDK opened. */
async function toolCall(rt: StandaloneRuntime, run: string, title: string): Promise<Response> {
  const headers = { authorization: `Bearer ${KEY_A}`, ...runHeaders(run) };
  const client = new Client({ name: 'unlinked', version: '1' });
  const transport = new StreamableHTTPClientTransport(new URL(`${rt.runtime.url}/mcp/tools`), {
    requestInit: { headers },
  });
  await client.connect(transport);
  try {
    return await fetch(`${rt.runtime.url}/mcp/tools`, {
      method: 'POST',
      signal: AbortSignal.timeout(20_000),
      headers: {
        ...headers,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-session-id': transport.sessionId ?? '',
        'mcp-protocol-version': '2025-03-26',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 7,
        method: 'tools/call',
        params: { name: 'file_ticket', arguments: { title } },
      }),
    });
  } finally {
    await client.close().catch(() => undefined);
  }
}

describe('durable runs under acknowledge Replicas with no replica linked', () => {
  it('refuse a resumed run with a retryable 503 until a replica links, then complete it, each effect once', async () => {
    const pair = await startPair();
    const agents: AgentProcess[] = [];
    cleanups.push(async () => {
      for (const agent of agents) await agent.kill();
    });
    const run = randomUUID();
    const first = await pair.runtime();
    const agent = startAgent(first.runtime.url, run, {
      STEPS: String(STEPS),
      STOP_AFTER: String(LINKED_STEPS),
    });
    agents.push(agent);
    await agent.step(LINKED_STEPS);
    await agent.kill();
    await killRuntime(first);
    await pair.unlink();

    const second = await pair.runtime();
    // The resumed run as its agent's SDK sees it (no retries of its own): each start refused.
    const refusedStarts: { code: number | null; stderr: string }[] = [];
    for (let i = 0; i < 2; i++) {
      const resumed = startAgent(second.runtime.url, run, { STEPS: String(STEPS) });
      agents.push(resumed);
      refusedStarts.push({ code: await resumed.exited, stderr: resumed.stderr.join('') });
    }
    // A model call and a tool call of another run, on the wire: refused the same way.
    const model = await answer(await modelCall(second, randomUUID()));
    const tool = await answer(await toolCall(second, randomUUID(), 'probe'));
    const whileUnlinked = {
      effects: effectsByStep(pair.mcp, STEPS),
      probes: [...pair.mcp.effects.keys()].filter((k) => k.includes('probe')).length,
      metrics: await second.runtime.metrics(),
    };

    await pair.link();
    const last = startAgent(second.runtime.url, run, { STEPS: String(STEPS) });
    agents.push(last);
    const code = await last.exited;
    const metrics = await second.runtime.metrics();
    const figures = {
      refusedStartCodes: refusedStarts.map((r) => r.code),
      model,
      tool,
      effectsWhileUnlinked: whileUnlinked.effects,
      unjournaledWhileUnlinked: sample(whileUnlinked.metrics, UNJOURNALED),
      refusedClaims: sample(whileUnlinked.metrics, UNACKNOWLEDGED, { write: 'claim' }),
      completedCode: code,
      effects: effectsByStep(pair.mcp, STEPS),
      unjournaled: sample(metrics, UNJOURNALED),
      replayed: sample(metrics, 'agent_durable_replayed_calls_total'),
    };
    console.log(`replicas unlinked, resumed run: ${JSON.stringify(figures)}`);

    expect(figures.refusedStartCodes).toEqual([1, 1]);
    for (const start of refusedStarts) expect(start.stderr).toMatch(/503.*no replica confirmed/s);
    expect(model).toEqual({ status: 503, retryAfter: '1', body: REFUSED_503 });
    expect(tool).toEqual({ status: 503, retryAfter: '1', body: REFUSED_503 });
    expect(whileUnlinked.probes).toBe(0);
    expect(figures.effectsWhileUnlinked).toEqual([1, 1, 0, 0]);
    expect(figures.unjournaledWhileUnlinked).toBe(0);
    // The two starts' first calls, the model call and the tool call.
    expect(figures.refusedClaims).toBe(4);
    expect({ code, effects: figures.effects, unjournaled: figures.unjournaled }).toEqual({
      code: 0,
      effects: [1, 1, 1, 1],
      unjournaled: 0,
    });
    // Steps 1 and 2 came from the journal: model and tool each.
    expect(figures.replayed).toBe(2 * LINKED_STEPS);
  });

  it('takes back each claim it refused: a run its caller retried through the refusals resumes with every step replayed, each effect once', async () => {
    const pair = await startPair();
    const rt = await pair.runtime();
    const run = randomUUID();
    const refused: string[] = [];
    // Unlinked before step 3: its claims are made on the primary, refused, and asked again.
    const first = await toolRun(rt.runtime.url, run, STEPS, {
      before: (step) => (step === LINKED_STEPS + 1 ? pair.unlink() : Promise.resolve()),
      retry: async (_step, err) => {
        refused.push(String(err));
        if (refused.length === 2) await pair.link();
        // The lanes ask a short WAIT again every 250 ms: the first calls after the link may
        // still be refused.
        await new Promise((resolve) => setTimeout(resolve, 300));
        return refused.length < 20;
      },
    });
    const resumed = await toolRun(rt.runtime.url, run, STEPS);
    const figures = {
      refused: refused.length,
      tickets: ticketsByStep(pair.mcp, run, STEPS),
      resumedErrors: resumed.filter((s) => s.isError).map((s) => s.step),
    };
    console.log(`replicas unlinked, refused claims taken back: ${JSON.stringify(figures)}`);

    expect(refused.length).toBeGreaterThanOrEqual(2);
    for (const r of refused) expect(r).toMatch(/api_error.*no replica confirmed.*ask again/);
    expect(figures.tickets).toEqual([1, 1, 1, 1]);
    // Step 3's refused claims left nothing behind: no step answered "outcome unknown".
    expect(resumed).toEqual(first);
  });

  it('neither starts nor holds a run the runtime owns on writes no replica confirmed, then completes it once one links', async () => {
    const pair = await startPair();
    // A short lease: renewals go every 667 ms, and one not confirmed for 5/6 of it is given up.
    const rt = await pair.runtime({ BREAKWATER_RUN_LEASE_MS: '2000' });
    const api = async (path: string, body?: unknown): Promise<Response> =>
      fetch(`${rt.runtime.url}${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        signal: AbortSignal.timeout(20_000),
        headers: { 'x-api-key': KEY_A, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    const state = async (id: string): Promise<unknown> =>
      ((await (await api(`/v1/agent/runs/${id}`)).json()) as { state?: unknown }).state;
    const leaseWrites = async (): Promise<number> =>
      sample(await rt.runtime.metrics(), UNACKNOWLEDGED, { write: 'lease' });
    // The run's model hangs after its second ticket, holding the run mid-execution.
    pair.mcp.onEffect = async (key) => {
      if (key.includes('step 2 of')) await pair.sim.setFault({ hang: true });
    };
    const started = await api('/v1/agent/runs', { input: PLAN });
    const id = String(((await started.json()) as { id?: unknown }).id);
    await waitFor(async () => (await pair.sim.stats()).inFlight === 1, {
      description: 'the third model call to hang at the simulator',
      timeoutMs: 30_000,
    });
    await pair.unlink();
    // Its renewals go unconfirmed: the lease is given up, counted.
    await waitFor(
      async () =>
        (await leaseWrites()) >= 1 &&
        rt.runtime.output.join('\n').includes('lost the lease on a run'),
      { description: 'the lease given up', timeoutMs: 15_000 },
    );
    await pair.sim.clearFaults();
    const lost = await leaseWrites();
    // Its lapsed lease is looked for and found, and each take-over goes unconfirmed: not held.
    await waitFor(async () => (await leaseWrites()) >= lost + 2, {
      description: 'take-overs no replica confirmed',
      timeoutMs: 15_000,
    });
    const whileUnlinked = {
      state: await state(id),
      effects: effectsByStep(pair.mcp, PLANNED),
      refused: await answer(await api('/v1/agent/runs', { input: 'Say hello.' })),
      metrics: await rt.runtime.metrics(),
    };

    await pair.link();
    const done = await waitFor(
      async () => {
        const now = await state(id);
        return now === 'running' ? undefined : now;
      },
      { description: 'the run to finish once the replica links', timeoutMs: 30_000 },
    );
    const metrics = await rt.runtime.metrics();
    const figures = {
      whileUnlinked: { ...whileUnlinked, metrics: undefined },
      leaseWritesUnconfirmed: sample(whileUnlinked.metrics, UNACKNOWLEDGED, { write: 'lease' }),
      unjournaledWhileUnlinked: sample(whileUnlinked.metrics, UNJOURNALED),
      done,
      effects: effectsByStep(pair.mcp, PLANNED),
      takenOver: sample(metrics, 'agent_durable_runs_total', { outcome: 'taken_over' }),
    };
    console.log(`replicas unlinked, owned run: ${JSON.stringify(figures)}`);

    expect(whileUnlinked.state).toBe('running');
    expect(whileUnlinked.effects).toEqual([1, 1, 0, 0, 0, 0]);
    expect(whileUnlinked.refused).toEqual({ status: 503, retryAfter: '1', body: REFUSED_503 });
    // A renewal, two take-overs and the refused start, at least.
    expect(figures.leaseWritesUnconfirmed).toBeGreaterThanOrEqual(4);
    expect(figures.unjournaledWhileUnlinked).toBe(0);
    expect({ done, effects: figures.effects }).toEqual({
      done: 'completed',
      effects: [1, 1, 1, 1, 1, 1],
    });
    expect(figures.takenOver).toBeGreaterThanOrEqual(1);
  });
});
