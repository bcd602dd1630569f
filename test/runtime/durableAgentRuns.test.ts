/**
 * The runs the runtime owns (issue 36, phase 2), with real parts: runtime processes, a real
 * redis-server holding journals and leases, the simulator at its normal pacing following a
 * scripted plan of tool steps, and an MCP server from the official SDK that counts each
 * tool's effects. A runtime is SIGKILLed with its process group mid-run; another on the same
 * store takes the run over when the lease lapses and finishes it from the journal.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { createClient } from '@redis/client';
import { callCost, priceBook } from '../../contract/src/spend/callCost.ts';
import { PRICING } from '../support/budgetStoreFixture.ts';
import { startMcpServer, type McpTestServer } from '../support/mcpServer.ts';
import { startRedis, type RedisHandle } from '../support/redisServer.ts';
import { startSimulator, type SimulatorHandle } from '../support/simulator.ts';
import { sample, type StandaloneRuntime } from '../support/standaloneRuntime.ts';
import { waitFor } from '../support/waitFor.ts';
import {
  JOURNAL_PREFIX,
  KEY_A,
  KEY_B,
  durableRuntime,
  killRuntime,
} from '../support/durableRunFixture.ts';

const STEPS = 6;
/** Short, so that a lapsed lease is found soon; renewals go three times a lease. */
const LEASE_ENV = { BREAKWATER_RUN_LEASE_MS: '2000' };
const PLAN = `File the tickets: use tool tools__file_ticket ${String(STEPS)} times.`;

let sim: SimulatorHandle;
let redis: RedisHandle;
let mcp: McpTestServer;
const runtimes: StandaloneRuntime[] = [];

const setup = () => ({ simUrl: sim.url, redis, mcp });

async function runtime(
  env: Record<string, string> = LEASE_ENV,
  args: readonly string[] = [],
): Promise<StandaloneRuntime> {
  const rt = await durableRuntime(setup(), env, { ownGroup: true, args });
  runtimes.push(rt);
  return rt;
}

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
  mcp.onEffect = undefined;
  await sim.clearFaults();
  await sim.resetStats();
});

afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((rt) => rt.stop()));
});

async function api(
  rt: StandaloneRuntime,
  path: string,
  init: { key?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const response = await fetch(`${rt.runtime.url}${path}`, {
    // A request the runtime never answers fails here, naming the path, not at jest's timeout.
    signal: AbortSignal.timeout(20_000),
    method: init.body === undefined ? 'GET' : 'POST',
    headers: {
      'x-api-key': init.key ?? KEY_A,
      ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...init.headers,
    },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  return {
    status: response.status,
    body: (await response.json()) as Record<string, unknown>,
    headers: response.headers,
  };
}

/** The journal's step headers in Redis (kind and state: `md`, `td`, `ts` …), in order. */
async function journalSteps(run: string): Promise<string[]> {
  const client = createClient({ url: `redis://${redis.address}` });
  await client.connect();
  try {
    const log = await client.lRange(`${JOURNAL_PREFIX}:{${run}}:log`, 0, -1);
    return log.map((entry) => entry.slice(0, 2));
  } finally {
    client.destroy();
  }
}

/** Every byte Redis holds for a run: its record and its journal. */
async function storedBytes(run: string): Promise<string> {
  const client = createClient({ url: `redis://${redis.address}` });
  await client.connect();
  try {
    const record = await client.get(`${JOURNAL_PREFIX}:{${run}}:agent`);
    const log = await client.lRange(`${JOURNAL_PREFIX}:{${run}}:log`, 0, -1);
    if (record === null) throw new Error(`no record for run ${run}`);
    return [record, ...log].join('\n');
  } finally {
    client.destroy();
  }
}

/** Each planned step's effect count, in step order. */
function effectsByStep(): number[] {
  return Array.from(
    { length: STEPS },
    (_, i) =>
      mcp.effects.get(`file_ticket:example title, step ${String(i + 1)} of ${String(STEPS)}`) ?? 0,
  );
}

async function metric(rt: StandaloneRuntime, family: string, labels: Record<string, string>) {
  return sample(await rt.runtime.metrics(), family, labels);
}

describe('a run of the bundled agent whose runtime is killed after its third step', () => {
  it('is taken over by another runtime when its lease lapses, each effect once, no model call served twice', async () => {
    const first = await runtime();
    // After the third effect every model call hangs: the fourth is in flight at the kill.
    mcp.onEffect = async (key) => {
      if (key.endsWith(`step 3 of ${String(STEPS)}`)) await sim.setFault({ hang: true });
    };
    const started = await api(first, '/v1/agent/runs', { body: { input: PLAN } });
    expect(started.status).toBe(202);
    const id = String(started.body.id);
    expect(started.headers.get('location')).toBe(`/v1/agent/runs/${id}`);

    await waitFor(async () => (await sim.stats()).inFlight === 1, {
      timeoutMs: 30_000,
      intervalMs: 20,
      description: 'the fourth model call to hang at the simulator',
    });
    // Three model calls and three tool calls, each completed in the journal.
    expect(await journalSteps(id)).toEqual(['md', 'td', 'md', 'td', 'md', 'td']);
    const running = await api(first, `/v1/agent/runs/${id}`);
    expect(running.body).toMatchObject({ id, state: 'running', steps: 6 });
    await killRuntime(first, true);
    await sim.clearFaults();
    const servedBeforeKill = (await sim.stats()).byOutcome.ok;
    expect(servedBeforeKill).toBe(3);

    const second = await runtime();
    const done = await waitFor(
      async () => {
        const view = await api(second, `/v1/agent/runs/${id}`);
        return view.body.state === 'running' ? undefined : view;
      },
      {
        timeoutMs: 30_000,
        intervalMs: 100,
        description: 'the run to finish on the second runtime',
      },
    );

    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ id, state: 'completed', steps: 2 * STEPS + 1 });
    const result = done.body.result as { output: string };
    expect(result.output).toContain(`step ${String(STEPS)} of ${String(STEPS)}`);
    expect(effectsByStep()).toEqual(Array.from({ length: STEPS }, () => 1));
    expect(mcp.calls.get('file_ticket')).toBe(STEPS);
    // Seven model calls in all, each answered once: three before the kill, four after it.
    const stats = await sim.stats();
    expect(stats.byOutcome.ok).toBe(STEPS + 1);
    expect(stats.requests).toBe(STEPS + 2);
    expect(await metric(second, 'agent_durable_replayed_calls_total', { kind: 'model' })).toBe(3);
    expect(await metric(second, 'agent_durable_replayed_calls_total', { kind: 'tool' })).toBe(3);
    expect(await metric(second, 'agent_durable_runs_total', { outcome: 'taken_over' })).toBe(1);
    expect(await metric(second, 'agent_durable_runs_total', { outcome: 'completed' })).toBe(1);
    const log = second.runtime.output.join('\n');
    expect(log).toContain('"event":"run_taken_over"');
    expect(log).toContain(`"run":"${id}"`);
  });
});

describe('a run on a runtime stopped gracefully', () => {
  it('is handed over when the grace runs out, and taken over at once, long before its lease would lapse', async () => {
    // A lease far longer than this test may wait: only the hand-over lets the run move.
    const long = { BREAKWATER_RUN_LEASE_MS: '600000' };
    const first = await runtime(long, ['--shutdown-grace-ms', '200']);
    mcp.onEffect = async (key) => {
      if (key.endsWith(`step 3 of ${String(STEPS)}`)) await sim.setFault({ hang: true });
    };
    const id = String((await api(first, '/v1/agent/runs', { body: { input: PLAN } })).body.id);
    await waitFor(async () => (await sim.stats()).inFlight === 1, {
      timeoutMs: 30_000,
      intervalMs: 20,
      description: 'the fourth model call to hang at the simulator',
    });
    // The hung call stays hung; the next ones are answered. Cleared before the second runtime
    // exists: it may take the run over as soon as the first one hands it over, and its own
    // fourth call must not meet the fault.
    await sim.clearFaults();
    const second = await runtime(long);

    await first.runtime.stop();
    const done = await waitFor(
      async () => {
        const view = await api(second, `/v1/agent/runs/${id}`);
        return view.body.state === 'running' ? undefined : view;
      },
      {
        timeoutMs: 30_000,
        intervalMs: 100,
        description: 'the run to finish on the second runtime',
      },
    );

    expect(done.body).toMatchObject({ id, state: 'completed', steps: 2 * STEPS + 1 });
    expect(effectsByStep()).toEqual(Array.from({ length: STEPS }, () => 1));
    expect((await sim.stats()).byOutcome.ok).toBe(STEPS + 1);
    expect(await metric(second, 'agent_durable_runs_total', { outcome: 'taken_over' })).toBe(1);
  });
});

describe('a run and its client key', () => {
  it('is read by the key that started it, and does not exist for any other', async () => {
    const rt = await runtime();
    const started = await api(rt, '/v1/agent/runs', {
      body: { input: 'File the tickets: use tool tools__file_ticket 2 times.' },
    });
    const id = String(started.body.id);
    const done = await waitFor(
      async () => {
        const view = await api(rt, `/v1/agent/runs/${id}`);
        return view.body.state === 'completed' ? view : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100, description: 'the run to complete' },
    );
    expect(done.body).toMatchObject({ state: 'completed', steps: 5 });
    // What the run keeps beside its journal is sealed: no prompt or answer in the clear.
    const kept = await storedBytes(id);
    expect(kept).not.toContain('File the tickets');
    expect(kept).not.toContain((done.body.result as { output: string }).output.slice(0, 24));

    const other = await api(rt, `/v1/agent/runs/${id}`, { key: KEY_B });
    const none = await api(rt, `/v1/agent/runs/${randomUUID()}`, { key: KEY_B });
    expect(other.status).toBe(404);
    expect(none.status).toBe(404);
    // Nothing tells the two apart but the id they name.
    expect(JSON.stringify(other.body).replace(id, 'ID')).toEqual(
      JSON.stringify(none.body)
        .replace(/"request_id":"[^"]*"/, `"request_id":"${String(other.body.request_id)}"`)
        .replace(/no run \\"[^"]*\\"/, 'no run \\"ID\\"'),
    );
  });
});

describe("a run's budgets", () => {
  it('charge every turn no less than the provider billed, under records naming the run', async () => {
    await sim.resetBilled();
    const rt = await durableRuntime(setup(), LEASE_ENV, {
      policy: (d) => {
        d.audit = { enabled: true };
        d.pricing = [...PRICING];
        d.rateLimit = {
          ...d.rateLimit,
          spend: {
            shareOf: 1,
            timeZone: 'UTC',
            budgets: [
              {
                name: 'daily',
                period: 'Day',
                limitMicroUsd: 1_000_000,
                per: 'Agent',
                onExhausted: 'Refuse',
                warnAtPercent: 80,
                waitForHeldMs: 0,
              },
            ],
          },
        };
      },
    });
    runtimes.push(rt);
    const started = await api(rt, '/v1/agent/runs', {
      body: { input: 'File the tickets: use tool tools__file_ticket 2 times.' },
    });
    const id = String(started.body.id);
    await waitFor(async () => (await api(rt, `/v1/agent/runs/${id}`)).body.state === 'completed', {
      timeoutMs: 30_000,
      intervalMs: 100,
      description: 'the run to complete',
    });
    const records = rt.runtime.output
      .flatMap((chunk) => chunk.split('\n'))
      .filter((line) => line.includes('"budget_'))
      .map((line) => JSON.parse(line) as { event: string; requestId?: string; costPico?: string });
    const bills = await sim.billed();
    const book = priceBook(PRICING);
    const billed = bills.reduce((sum, b) => {
      const cost = callCost(b.model, b.usage, book);
      if (!cost.priced) throw new Error(`the simulator billed ${b.model}, which has no price`);
      return sum + cost.picoUsd;
    }, 0n);
    const settled = records
      .filter((r) => r.event === 'budget_settled')
      .reduce((sum, r) => sum + BigInt(r.costPico ?? '0'), 0n);
    expect(bills.length).toBeGreaterThanOrEqual(3);
    expect({
      reserved: records.filter((r) => r.event === 'budget_reserved').length,
      settled: records.filter((r) => r.event === 'budget_settled').length,
      requestIds: [...new Set(records.map((r) => r.requestId))],
      settledAtLeastBilled: settled >= billed && billed > 0n,
    }).toEqual({
      reserved: bills.length,
      settled: bills.length,
      requestIds: [`run-${id}`],
      settledAtLeastBilled: true,
    });
  });
});

describe('/v1/agent/invoke with Idempotency-Key', () => {
  it('runs once, then returns the recorded answer without running anything', async () => {
    const rt = await runtime();
    const key = `order-${randomUUID()}`;
    const body = { input: 'File the tickets: use tool tools__file_ticket 3 times.' };
    const headers = { 'idempotency-key': key };

    const live = await api(rt, '/v1/agent/invoke', { body, headers });
    expect(live.status).toBe(200);
    expect(live.headers.get('x-breakwater-replayed')).toBeNull();
    const requests = (await sim.stats()).requests;
    expect(requests).toBe(4);

    const again = await api(rt, '/v1/agent/invoke', { body, headers });

    expect(again.status).toBe(200);
    expect(again.body).toEqual(live.body);
    expect(again.headers.get('x-breakwater-replayed')).toBe('true');
    expect((await sim.stats()).requests).toBe(requests);
    expect(mcp.calls.get('file_ticket')).toBe(3);
    // The run it named is the caller's to read, and no one else's.
    const run = String(live.headers.get('breakwater-run-id'));
    expect((await api(rt, `/v1/agent/runs/${run}`)).body).toMatchObject({
      state: 'completed',
      result: live.body,
    });
    expect((await api(rt, `/v1/agent/runs/${run}`, { key: KEY_B })).status).toBe(404);
  });

  it('runs again, live, once the journal key was rotated: its record cannot be read', async () => {
    const key = `order-${randomUUID()}`;
    const body = { input: 'File the tickets: use tool tools__file_ticket 1 times.' };
    const headers = { 'idempotency-key': key };
    const before = await runtime();
    expect((await api(before, '/v1/agent/invoke', { body, headers })).status).toBe(200);
    const dir = mkdtempSync(join(tmpdir(), 'bw-rotated-key-'));
    try {
      const keyFile = join(dir, 'key');
      writeFileSync(keyFile, Buffer.alloc(32, 9).toString('base64'));
      const after = await runtime({ ...LEASE_ENV, BREAKWATER_DURABILITY_KEY_FILE: keyFile });
      const again = await api(after, '/v1/agent/invoke', { body, headers });
      expect(again.status).toBe(200);
      expect(again.headers.get('x-breakwater-replayed')).toBeNull();
      expect(mcp.calls.get('file_ticket')).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is answered while the store holds its connections and answers nothing', async () => {
    const rt = await runtime();
    const body = { input: 'Say hello.' };
    // Connected and journaling first.
    expect(
      (await api(rt, '/v1/agent/invoke', { body, headers: { 'idempotency-key': randomUUID() } }))
        .status,
    ).toBe(200);
    redis.freeze();
    try {
      // An ordinary invocation, as with the store down; the runs endpoints say it is unavailable.
      const invoked = await api(rt, '/v1/agent/invoke', {
        body,
        headers: { 'idempotency-key': `frozen-${randomUUID()}` },
      });
      expect(invoked.status).toBe(200);
      expect((await api(rt, '/v1/agent/runs', { body })).status).toBe(503);
      expect((await api(rt, `/v1/agent/runs/${randomUUID()}`)).status).toBe(503);
    } finally {
      redis.thaw();
    }
  });

  it('reused with another body is refused with 422 naming the key, and runs nothing', async () => {
    const rt = await runtime();
    const key = `order-${randomUUID()}`;
    const headers = { 'idempotency-key': key };
    const first = { input: 'File the tickets: use tool tools__file_ticket 1 times.' };
    expect((await api(rt, '/v1/agent/invoke', { body: first, headers })).status).toBe(200);
    const requests = (await sim.stats()).requests;

    const other = await api(rt, '/v1/agent/invoke', {
      body: { input: 'File the tickets: use tool tools__file_ticket 2 times.' },
      headers,
    });
    // The same body in another key order and spacing is the same request.
    const same = await fetch(`${rt.runtime.url}/v1/agent/invoke`, {
      method: 'POST',
      headers: { 'x-api-key': KEY_A, 'content-type': 'application/json', ...headers },
      body: `{ "input" : ${JSON.stringify(first.input)} }`,
    });

    expect(other.status).toBe(422);
    expect(other.body).toMatchObject({
      type: 'error',
      error: { type: 'invalid_request_error' },
    });
    expect(JSON.stringify(other.body)).toContain(`Idempotency-Key \\"${key}\\"`);
    expect(same.status).toBe(200);
    expect(same.headers.get('x-breakwater-replayed')).toBe('true');
    expect((await sim.stats()).requests).toBe(requests);
    expect(mcp.calls.get('file_ticket')).toBe(1);
  });

  it('is refused with stream, naming the field and the fix', async () => {
    const rt = await runtime();
    const refused = await api(rt, '/v1/agent/invoke', {
      body: { input: 'hello', stream: true },
      headers: { 'idempotency-key': 'k1' },
    });
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.body)).toContain('stream: an invocation with Idempotency-Key');
  });
});
