/**
 * Durable runs (issue 36), as a team's own agent lives them: the agent program (the official
 * SDKs, `Breakwater-Run-Id` and `Breakwater-Run-Attempt` in their default headers) → runtime
 * processes → the simulator and
 * a real MCP server that counts each tool's effects, journals in a real redis-server. The
 * agent and the runtime are SIGKILLed together mid-run, as a pod is; the agent runs again on a
 * new runtime over the same store with the same run id.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import Anthropic from '@anthropic-ai/sdk';
import { createClient } from '@redis/client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startMcpServer, type McpTestServer } from '../support/mcpServer.ts';
import { startRedis, type RedisHandle } from '../support/redisServer.ts';
import { startSimulator, type SimulatorHandle } from '../support/simulator.ts';
import { PRIMARY_MODEL, sample, type StandaloneRuntime } from '../support/standaloneRuntime.ts';
import { waitFor } from '../support/waitFor.ts';
import {
  JOURNAL_PREFIX,
  KEY_A,
  KEY_B,
  durableRuntime,
  finished,
  killRuntime,
  startAgent,
} from '../support/durableRunFixture.ts';

let sim: SimulatorHandle;
let redis: RedisHandle;
let mcp: McpTestServer;
let rt: StandaloneRuntime;

const setup = () => ({ simUrl: sim.url, redis, mcp });

beforeAll(async () => {
  sim = await startSimulator();
  redis = await startRedis();
  mcp = await startMcpServer();
});

afterAll(async () => {
  await Promise.all([sim.stop(), redis.remove(), mcp.stop()]);
});

beforeEach(async () => {
  mcp.effects.clear();
  mcp.calls.clear();
  mcp.ticketMs = 0;
  mcp.statusMs = 0;
  rt = await durableRuntime(setup());
  await sim.resetStats();
});

afterEach(async () => {
  await rt.stop();
});

/** Each effect's count, by step, for titles `step N <id>`. */
function effectsByStep(tool: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const [key, count] of mcp.effects) {
    const match = new RegExp(`^${tool}:step (\\d+) `).exec(key);
    if (match === null) continue;
    const step = Number(match[1]);
    out.set(step, (out.get(step) ?? 0) + count);
  }
  return out;
}

async function metric(family: string, labels: Record<string, string> = {}): Promise<number> {
  return sample(await rt.runtime.metrics(), family, labels);
}

describe('a run killed mid-way', () => {
  it.each([
    { name: 'plain answers', stream: '0' },
    { name: 'streamed answers', stream: '1' },
  ])(
    'resumes after its third step with every effect once and no model call served twice ($name)',
    async ({ stream }) => {
      const run = randomUUID();
      const first = startAgent(rt.runtime.url, run, { STOP_AFTER: '3', STREAM: stream });
      await first.step(3);
      await first.kill();
      await killRuntime(rt);
      rt = await durableRuntime(setup());

      const second = startAgent(rt.runtime.url, run, { STREAM: stream });
      const steps = await finished(second);

      expect(steps.map((s) => s.step)).toEqual([1, 2, 3, 4, 5, 6]);
      // The first three answers came back as they were: the same message ids.
      expect(steps.slice(0, 3).map((s) => s.messageId)).toEqual(
        first.lines.slice(0, 3).map((s) => s.messageId),
      );
      expect([...effectsByStep('file_ticket').entries()].sort()).toEqual(
        [1, 2, 3, 4, 5, 6].map((step) => [step, 1]),
      );
      expect((await sim.stats()).requests).toBe(6);
      expect(await metric('agent_durable_replayed_calls_total', { kind: 'model' })).toBe(3);
      expect(await metric('agent_durable_replayed_calls_total', { kind: 'tool' })).toBe(3);
      expect(await metric('agent_durable_runs_total', { outcome: 'resumed' })).toBe(1);
      expect(await metric('agent_durable_saved_tokens_total')).toBeGreaterThan(0);
    },
  );
});

describe('a run that polls with the same call mid-run', () => {
  it('is matched by place, not taken for a restart: killed after its third step and resumed, every effect once', async () => {
    const run = randomUUID();
    const agentEnv = { POLL: '1' };
    const first = startAgent(rt.runtime.url, run, { ...agentEnv, STOP_AFTER: '3' });
    await first.step(3);
    await first.kill();
    await killRuntime(rt);
    rt = await durableRuntime(setup());

    const steps = await finished(startAgent(rt.runtime.url, run, agentEnv));

    expect(steps.map((s) => s.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect([...effectsByStep('file_ticket').entries()].sort()).toEqual(
      [1, 2, 3, 4, 5, 6].map((step) => [step, 1]),
    );
    expect((await sim.stats()).requests).toBe(6);
    // The first attempt's ten steps (four polls, three model calls, three tickets) replayed.
    expect(await metric('agent_durable_replayed_calls_total', { kind: 'tool' })).toBe(7);
    expect(await metric('agent_durable_runs_total', { outcome: 'diverged' })).toBe(0);
  });
});

describe('a run that asks for something else', () => {
  it('diverges at its third step, where the prompt holds the time, and finishes live', async () => {
    const run = randomUUID();
    const first = startAgent(rt.runtime.url, run, { STOP_AFTER: '4', TIME_AT: '3' });
    await first.step(4);
    await first.kill();

    const second = startAgent(rt.runtime.url, run, { TIME_AT: '3' });
    const steps = await finished(second);

    expect(steps.map((s) => s.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(steps.slice(0, 2).map((s) => s.messageId)).toEqual(
      first.lines.slice(0, 2).map((s) => s.messageId),
    );
    expect(steps[2]?.messageId).not.toBe(first.lines[2]?.messageId);
    // Four model calls the first time, and the four from the third step on the second.
    expect((await sim.stats()).requests).toBe(8);
    // Steps one and two once; from three on, each attempt's own effects.
    const effects = effectsByStep('file_ticket');
    expect([effects.get(1), effects.get(2), effects.get(3), effects.get(5)]).toEqual([1, 1, 2, 1]);
    expect(await metric('agent_durable_runs_total', { outcome: 'diverged' })).toBe(1);
    expect(await metric('agent_durable_replayed_calls_total', { kind: 'model' })).toBe(2);
    expect(rt.runtime.output.join('')).toContain('durable run diverged from its journal');
  });
});

describe('a tool call in flight when the pod died', () => {
  it.each([
    {
      name: 'a tool with no hints (onUnknownOutcome Fail) is not called again: the model is told',
      tool: 'file_ticket',
      calls: 6,
      step3Effects: 1,
      action: 'failed',
    },
    {
      name: 'an idempotent tool is called again, once',
      tool: 'set_status',
      calls: 7,
      step3Effects: 2,
      action: 'retried',
    },
  ])('$name', async ({ tool, calls, step3Effects, action }) => {
    const run = randomUUID();
    // Every call of the tool takes a while, so that the third is surely in flight at the kill.
    mcp.ticketMs = mcp.statusMs = 700;
    const first = startAgent(rt.runtime.url, run, { TOOL: tool });
    await waitFor(() => mcp.calls.get(tool) === 3, {
      timeoutMs: 20_000,
      intervalMs: 10,
      description: `the third ${tool} call to reach the server`,
    });
    await first.kill();
    await killRuntime(rt);
    // The call the runtime made goes on at the server and takes effect: its outcome was unknown.
    await waitFor(() => effectsByStep(tool).get(3) === 1, {
      timeoutMs: 10_000,
      intervalMs: 20,
      description: 'the interrupted call to take effect',
    });
    mcp.ticketMs = mcp.statusMs = 0;
    rt = await durableRuntime(setup());

    const steps = await finished(startAgent(rt.runtime.url, run, { TOOL: tool }));

    expect(steps.map((s) => s.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(mcp.calls.get(tool)).toBe(calls);
    expect(effectsByStep(tool).get(3)).toBe(step3Effects);
    expect(steps[2]?.isError).toBe(action === 'failed');
    if (action === 'failed') expect(steps[2]?.text).toContain('is unknown');
    // A tool that may be called again leaves no started marker at the run's live tail (it is
    // journaled in one round trip): lost, it is simply called again, not an unknown outcome.
    expect(await metric('agent_durable_unknown_outcomes_total', { action })).toBe(
      action === 'failed' ? 1 : 0,
    );
  });
});

describe('what the journal holds while a tool call runs', () => {
  it.each([
    {
      name: 'a tool with an effect is marked started before it is called',
      tool: 'file_ticket',
      headers: ['md', 'ts'],
    },
    {
      name: 'a tool that may be called again is not marked: its result is appended after it',
      tool: 'set_status',
      headers: ['md'],
    },
  ])('$name', async ({ tool, headers }) => {
    const run = randomUUID();
    const client = createClient({ url: `redis://${redis.address}` });
    await client.connect();
    // Read when the first call took effect, before its result goes back to the runtime.
    let during: string[] | undefined;
    mcp.onEffect = async () => {
      during ??= await client.lRange(`${JOURNAL_PREFIX}:{${run}}:log`, 0, -1);
    };
    try {
      const steps = await finished(startAgent(rt.runtime.url, run, { TOOL: tool, STEPS: '2' }));
      expect(steps.map((s) => s.step)).toEqual([1, 2]);
      const after = await client.lRange(`${JOURNAL_PREFIX}:{${run}}:log`, 0, -1);
      expect(during?.map((entry) => entry.slice(0, 2))).toEqual(headers);
      expect(after.map((entry) => entry.slice(0, 2))).toEqual(['md', 'td', 'md', 'td']);
    } finally {
      mcp.onEffect = undefined;
      client.destroy();
    }
  });
});

/** The SDK as a team's agent builds it: the run and this start's attempt in its default headers. */
function sdk(key: string, run: string, attempt = randomUUID()): Anthropic {
  return new Anthropic({
    baseURL: rt.runtime.url,
    apiKey: key,
    maxRetries: 0,
    defaultHeaders: { 'Breakwater-Run-Id': run, 'Breakwater-Run-Attempt': attempt },
  });
}

const ask = (content: string) => ({
  model: PRIMARY_MODEL,
  max_tokens: 64,
  messages: [{ role: 'user' as const, content }],
});

describe('a run and its journal', () => {
  it('belongs to the key that started it: another key can neither replay nor continue it', async () => {
    const run = randomUUID();
    await sdk(KEY_A, run).messages.create(ask('Summarise ticket 4512.'));

    const refused = sdk(KEY_B, run).messages.create(ask('Summarise ticket 4512.'));
    await expect(refused).rejects.toMatchObject({
      status: 403,
      error: { type: 'error', error: { type: 'permission_error' } },
    });
    const mcpB = new Client({ name: 'someone-else', version: '1' });
    await mcpB.connect(
      new StreamableHTTPClientTransport(new URL(`${rt.runtime.url}/mcp/tools`), {
        requestInit: {
          headers: {
            authorization: `Bearer ${KEY_B}`,
            'Breakwater-Run-Id': run,
            'Breakwater-Run-Attempt': randomUUID(),
          },
        },
      }),
    );
    await expect(
      mcpB.callTool({ name: 'file_ticket', arguments: { title: 'not yours' } }),
    ).rejects.toThrow(/permission_error.*started with another client key/);
    await mcpB.close();
    expect(mcp.calls.get('file_ticket')).toBeUndefined();
    expect((await sim.stats()).requests).toBe(1);
    expect(await metric('agent_durable_refused_calls_total')).toBe(2);
  });

  it('goes on live for the key that started it once the journal key was rotated', async () => {
    const run = randomUUID();
    await sdk(KEY_A, run).messages.create(ask('Summarise ticket 4513.'));
    const dir = mkdtempSync(join(tmpdir(), 'bw-rotated-key-'));
    const keyFile = join(dir, 'key');
    writeFileSync(keyFile, Buffer.alloc(32, 9).toString('base64'));
    const rotated = await durableRuntime(setup(), { BREAKWATER_DURABILITY_KEY_FILE: keyFile });
    try {
      const through = (key: string) =>
        new Anthropic({
          baseURL: rotated.runtime.url,
          apiKey: key,
          maxRetries: 0,
          defaultHeaders: { 'Breakwater-Run-Id': run, 'Breakwater-Run-Attempt': randomUUID() },
        });
      // The old steps cannot be read under the new key: the run begins again, live, its own.
      const again = await through(KEY_A).messages.create(ask('Summarise ticket 4513.'));
      expect(again.type).toBe('message');
      expect((await sim.stats()).requests).toBe(2);
      await expect(
        through(KEY_B).messages.create(ask('Summarise ticket 4513.')),
      ).rejects.toMatchObject({ status: 403 });
    } finally {
      await rotated.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a call that names a run without its attempt with a 400 naming Breakwater-Run-Attempt, on /v1/messages and /mcp, and journals nothing', async () => {
    const run = randomUUID();
    const fix =
      'header Breakwater-Run-Attempt is missing: send Breakwater-Run-Attempt with Breakwater-Run-Id: a new value, e.g. a UUID, at each start of your agent, the same for every call of that start';
    const unnamed = new Anthropic({
      baseURL: rt.runtime.url,
      apiKey: KEY_A,
      maxRetries: 0,
      defaultHeaders: { 'Breakwater-Run-Id': run },
    });
    await expect(unnamed.messages.create(ask('Summarise ticket 4515.'))).rejects.toMatchObject({
      status: 400,
      error: { type: 'error', error: { type: 'invalid_request_error', message: fix } },
    });
    // On /mcp the session's first request already names the run, and is refused.
    const mcpA = new Client({ name: 'own-agent', version: '1' });
    try {
      await expect(
        mcpA.connect(
          new StreamableHTTPClientTransport(new URL(`${rt.runtime.url}/mcp/tools`), {
            requestInit: {
              headers: { authorization: `Bearer ${KEY_A}`, 'Breakwater-Run-Id': run },
            },
          }),
        ),
      ).rejects.toThrow(/invalid_request_error.*header Breakwater-Run-Attempt is missing: send/);
    } finally {
      await mcpA.close();
    }
    expect(mcp.calls.get('file_ticket')).toBeUndefined();
    expect((await sim.stats()).requests).toBe(0);
    const client = createClient({ url: `redis://${redis.address}` });
    await client.connect();
    try {
      expect(await client.keys(`${JOURNAL_PREFIX}:{${run}}:*`)).toEqual([]);
    } finally {
      client.destroy();
    }
  });

  it('refuses a request nested thousands deep with a 400 naming it, before its run is matched', async () => {
    const deep = `${'['.repeat(5_000)}${']'.repeat(5_000)}`;
    const body = JSON.stringify(ask('Summarise ticket 4514.')).replace(
      '"content":"Summarise ticket 4514."',
      `"content":[{"type":"text","text":"x","z":${deep}}]`,
    );
    const response = await fetch(`${rt.runtime.url}/v1/messages`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-api-key': KEY_A,
        'breakwater-run-id': randomUUID(),
        'breakwater-run-attempt': randomUUID(),
      },
      body,
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({
      type: 'error',
      error: {
        type: 'invalid_request_error',
        message: expect.stringContaining('nests deeper than 256') as unknown,
      },
    });
  });

  it('holds no prompt, answer or tool result in the clear', async () => {
    const run = randomUUID();
    const canary = `zebra-canary-${randomUUID()}`;
    const answer = await sdk(KEY_A, run).messages.create(ask(`Repeat ${canary} back.`));
    const said = answer.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
    const client = createClient({ url: `redis://${redis.address}` });
    await client.connect();
    const keys = await client.keys(`${JOURNAL_PREFIX}:{${run}}:*`);
    const log = await client.lRange(`${JOURNAL_PREFIX}:{${run}}:log`, 0, -1);
    const owner = await client.get(`${JOURNAL_PREFIX}:{${run}}:owner`);
    const ttl = await client.pTTL(`${JOURNAL_PREFIX}:{${run}}:log`);
    client.destroy();
    // The steps, the cursor, the owner and the attempts the run had (names the caller chose).
    expect(keys).toHaveLength(4);
    expect(log).toHaveLength(1);
    const bytes = [...log, owner ?? ''].join('\n');
    expect(bytes).not.toContain(canary);
    expect(bytes).not.toContain(said.slice(0, 24));
    expect(bytes).not.toContain(KEY_A);
    // Expires after the retention (1h here) from the last step.
    expect(ttl).toBeGreaterThan(3_500_000);
    expect(ttl).toBeLessThanOrEqual(3_600_000);
  });

  it('replays a stream to the SDK as the same events, without the provider', async () => {
    const run = randomUUID();
    const events = async () => {
      const seen: unknown[] = [];
      const stream = sdk(KEY_A, run, randomUUID()).messages.stream(
        ask('Tell me about durable runs.'),
      );
      for await (const event of stream) seen.push(event);
      return seen;
    };
    const live = await events();
    // The same request again, from a new attempt: a restarted agent's first step.
    const replayed = await events();
    expect(replayed).toEqual(live);
    expect(live.length).toBeGreaterThan(4);
    expect((await sim.stats()).requests).toBe(1);
    expect(await metric('agent_durable_replayed_calls_total', { kind: 'model' })).toBe(1);
  });
});

describe('the journal store down', () => {
  it('lets runs go on live and unjournaled, counted', async () => {
    await redis.stop();
    try {
      const steps = await finished(startAgent(rt.runtime.url, randomUUID()));
      expect(steps.map((s) => s.step)).toEqual([1, 2, 3, 4, 5, 6]);
      expect((await sim.stats()).requests).toBe(6);
      // Each of the twelve calls once: not the store's reconnect attempts, not twice a call.
      expect(await metric('agent_durable_unjournaled_calls_total')).toBe(12);
    } finally {
      await redis.start();
    }
  });
});
