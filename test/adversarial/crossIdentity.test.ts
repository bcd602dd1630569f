/**
 * One caller against another through the public HTTP API of a real runtime that enforces client
 * keys: bob, in every shape his key can take, tries alice's run (read, replay, continue on
 * `/v1/messages` and `/mcp`, list), her MCP session and her budget account; then the ways an
 * `Idempotency-Key` can be misused. Expected answers are the promise table's (I2, D4, D6, B5).
 * Every attempt also counts what the simulator was asked: nothing of alice's runs again.
 */
import { createHash, randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Anthropic from '@anthropic-ai/sdk';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  ambiguousShapes,
  callerShapes,
  type CredentialShape,
} from '../support/credentialShapes.ts';
import { PRIMARY_MODEL, type StandaloneRuntime } from '../support/standaloneRuntime.ts';
import { waitFor } from '../support/waitFor.ts';
import { ALICE, BOB, backdrop, type Backdrop } from './adversaryAgents.ts';
import { send, type RawHeaders } from './publicHttp.ts';

const named = (shapes: readonly CredentialShape[]) =>
  shapes.map(({ name, headers }) => [name, headers] as const);
/** Every shape that names bob alone. */
const BOB_SHAPES = named(callerShapes(BOB, ALICE));
/** Shapes that carry alice's key beside bob's, or beside an empty header: never let in. */
const MIXED_SHAPES = named(
  ambiguousShapes(ALICE, BOB).filter(
    (s) => s.headers.includes('') || s.headers.join().includes(BOB),
  ),
);

const ask = (content: string) => ({
  model: PRIMARY_MODEL,
  max_tokens: 16,
  messages: [{ role: 'user', content }],
});

let world: Backdrop;
let rt: StandaloneRuntime;
const AGENT = 'adversary-cross';

beforeAll(async () => {
  world = await backdrop();
  rt = await world.runtime(AGENT, { clientKeys: [ALICE, BOB] });
}, 60_000);
afterAll(async () => {
  await world.stop();
});

const models = async () => (await world.sim.stats()).requests;

describe("alice's run, tried by bob", () => {
  let run: string;
  let attemptHeaders: RawHeaders;

  beforeAll(async () => {
    const started = await send(rt.runtime.url, 'POST', '/v1/agent/runs', ['x-api-key', ALICE], {
      input: 'hi',
    });
    expect(started.status).toBe(202);
    run = String(started.body.id);
    await waitFor(
      async () =>
        (await send(rt.runtime.url, 'GET', `/v1/agent/runs/${run}`, ['x-api-key', ALICE])).body
          .state === 'completed',
      { timeoutMs: 20_000, intervalMs: 50, description: "alice's run to complete" },
    );
    // A run of alice's own agent, named on /v1/messages, with an attempt.
    attemptHeaders = ['breakwater-run-id', randomUUID(), 'breakwater-run-attempt', 'a1'];
    const first = await send(
      rt.runtime.url,
      'POST',
      '/v1/messages',
      ['x-api-key', ALICE, ...attemptHeaders],
      ask('Ticket?'),
    );
    expect(first.status).toBe(200);
  });

  it.each([...BOB_SHAPES, ...MIXED_SHAPES])(
    'is neither read, replayed nor continued with %s',
    async (_name, headers) => {
      const before = await models();
      const read = await send(rt.runtime.url, 'GET', `/v1/agent/runs/${run}`, headers);
      const head = await send(rt.runtime.url, 'HEAD', `/v1/agent/runs/${run}`, headers);
      const replay = await send(
        rt.runtime.url,
        'POST',
        '/v1/messages',
        [...headers, ...attemptHeaders],
        ask('Ticket?'),
      );
      const newAttempt = await send(
        rt.runtime.url,
        'POST',
        '/v1/messages',
        [
          ...headers,
          attemptHeaders[0] ?? '',
          attemptHeaders[1] ?? '',
          'breakwater-run-attempt',
          'b2',
        ],
        ask('Ticket?'),
      );
      const bobs = BOB_SHAPES.some(([, shape]) => shape === headers);
      expect({
        read: read.status,
        head: head.status,
        replay: replay.status,
        newAttempt: newAttempt.status,
        leaked: [read, replay, newAttempt].some((a) => a.text.includes('"completed"')),
        replayed: replay.headers['x-breakwater-replayed'],
      }).toEqual({
        read: bobs ? 404 : 401,
        head: bobs ? 404 : 401,
        replay: bobs ? 403 : 401,
        newAttempt: bobs ? 403 : 401,
        leaked: false,
        replayed: undefined,
      });
      expect(await models()).toBe(before);
    },
  );

  it('is listed to no caller on the API port: /debug/runs is on the metrics port alone', async () => {
    const fingerprint = `fp:${createHash('sha256').update(run).digest('hex').slice(0, 12)}`;
    const callers: readonly RawHeaders[] = [['x-api-key', ALICE], ...BOB_SHAPES.map(([, h]) => h)];
    for (const headers of callers) {
      const listing = await send(rt.runtime.url, 'GET', '/debug/runs', headers);
      expect({
        status: listing.status,
        named: listing.text.includes(run) || listing.text.includes(fingerprint),
      }).toEqual({ status: 404, named: false });
    }
    // On-call's listing, on the metrics port, shows her run by its fingerprint alone.
    const onCall = await fetch(`${rt.runtime.metricsUrl}/debug/runs?limit=200`);
    const text = await onCall.text();
    expect([onCall.status, text.includes(fingerprint), text.includes(run)]).toEqual([
      200,
      true,
      false,
    ]);
  });

  it.each([
    '/debug/runs/',
    '//debug/runs',
    '/debug//runs',
    '/debug%2Fruns',
    '/%64ebug/runs',
    '/DEBUG/RUNS',
    '/debug/./runs',
    '/debug/x/../runs',
    '/debug/runs;x',
    '/debug/runs%00',
    '/debug/runs.json',
    '/debug/runs?limit=200',
    'http://runtime/debug/runs',
  ])('is listed on the API port in no spelling of /debug/runs: %s, by any method', async (path) => {
    const fingerprint = `fp:${createHash('sha256').update(run).digest('hex').slice(0, 12)}`;
    for (const method of ['GET', 'HEAD', 'OPTIONS', 'POST']) {
      const listing = await send(rt.runtime.url, method, path, ['x-api-key', ALICE]);
      expect({
        method,
        status: listing.status,
        named: listing.text.includes(run) || listing.text.includes(fingerprint),
      }).toEqual({ method, status: 404, named: false });
    }
  });

  it('is still alice’s: she reads it and replays her step from the journal', async () => {
    const before = await models();
    const read = await send(rt.runtime.url, 'GET', `/v1/agent/runs/${run}`, [
      'authorization',
      `Bearer ${ALICE}`,
    ]);
    const again = await send(
      rt.runtime.url,
      'POST',
      '/v1/messages',
      [
        'authorization',
        `Bearer ${ALICE}`,
        attemptHeaders[0] ?? '',
        attemptHeaders[1] ?? '',
        'breakwater-run-attempt',
        'a2',
      ],
      ask('Ticket?'),
    );
    expect([read.status, read.body.state]).toEqual([200, 'completed']);
    expect([again.status, again.headers['x-breakwater-replayed']]).toEqual([200, 'true']);
    expect(await models()).toBe(before);
  });
});

describe("alice's MCP session, tried by bob", () => {
  it.each([...BOB_SHAPES, ...MIXED_SHAPES])(
    'cannot be used or closed with %s',
    async (_name, headers) => {
      const client = new Client({ name: 'alice', version: '1' });
      const transport = new StreamableHTTPClientTransport(new URL(`${rt.runtime.url}/mcp/tools`), {
        requestInit: { headers: { 'x-api-key': ALICE } },
      });
      await client.connect(transport);
      const session = transport.sessionId ?? '';
      expect(session).not.toBe('');
      const onSession = [
        ...headers,
        'mcp-session-id',
        session,
        'mcp-protocol-version',
        '2025-03-26',
      ];
      const ticket = `adversary ${randomUUID()}`;
      const call = {
        jsonrpc: '2.0',
        id: 7,
        method: 'tools/call',
        params: { name: 'file_ticket', arguments: { title: ticket } },
      };
      const bobs = BOB_SHAPES.some(([, shape]) => shape === headers);
      const statuses = [
        (await send(rt.runtime.url, 'POST', '/mcp/tools', onSession, call)).status,
        (await send(rt.runtime.url, 'GET', '/mcp/tools', onSession)).status,
        (await send(rt.runtime.url, 'DELETE', '/mcp/tools', onSession)).status,
      ];
      expect(statuses).toEqual(bobs ? [404, 404, 404] : [401, 401, 401]);
      expect(world.mcp.effects.get(`file_ticket:${ticket}`)).toBeUndefined();
      // Alice's session is untouched.
      const { tools } = await client.listTools();
      expect(tools.length).toBeGreaterThan(0);
      await client.close();
    },
  );
});

describe('an Idempotency-Key misused', () => {
  const invoke = (headers: RawHeaders, key: string, body: unknown = { input: 'hi' }) =>
    send(rt.runtime.url, 'POST', '/v1/agent/invoke', [...headers, 'idempotency-key', key], body);

  it('with another body: 422 naming the key, and nothing runs', async () => {
    const key = `order-${randomUUID()}`;
    expect((await invoke(['x-api-key', BOB], key)).status).toBe(200);
    const before = await models();
    const other = await invoke(['x-api-key', BOB], key, { input: 'something else' });
    expect([other.status, other.body.error?.type]).toEqual([422, 'invalid_request_error']);
    expect(other.body.error?.message).toContain(`Idempotency-Key "${key}"`);
    expect(await models()).toBe(before);
    // Key order and spacing are not another body.
    const same = await invoke(['x-api-key', BOB], key, '{ "input" : "hi" }');
    expect([same.status, same.headers['x-breakwater-replayed']]).toEqual([200, 'true']);
  });

  it.each(BOB_SHAPES.slice(0, 3))(
    "with another identity (bob as %s): a run of bob's own, never alice's answer",
    async (_name, headers) => {
      const key = `order-${randomUUID()}`;
      const first = await invoke(['x-api-key', ALICE], key);
      // Alice's budget may be spent by now: what matters is that bob never gets her record.
      const bobs = await invoke(headers, key);
      expect(bobs.headers['x-breakwater-replayed']).toBeUndefined();
      expect(bobs.headers['breakwater-run-id']).not.toBe(first.headers['breakwater-run-id']);
    },
  );

  it('sent again while its first is running: one execution, the second told it is in progress', async () => {
    const key = `order-${randomUUID()}`;
    const before = await models();
    // The provider holds the first call a second: the second request comes while it runs.
    await world.sim.setFault({ latencyMs: 1_000, count: 1 });
    try {
      const first = invoke(['x-api-key', BOB], key, { input: 'twice' });
      await waitFor(async () => (await models()) > before, {
        timeoutMs: 10_000,
        intervalMs: 5,
        description: 'the first call to reach the simulator',
      });
      const second = await invoke(['authorization', `Bearer ${BOB}`], key, { input: 'twice' });
      const answered = await first;
      expect([answered.status, answered.headers['x-breakwater-replayed']]).toEqual([
        200,
        undefined,
      ]);
      expect([second.status, second.body.error?.message]).toEqual([
        409,
        expect.stringContaining('is still in progress'),
      ]);
    } finally {
      await world.sim.clearFaults();
    }
    expect(await models()).toBe(before + 1);
  });

  it('after its first call was cut: asked again, the recorded answer, executed once', async () => {
    const key = `order-${randomUUID()}`;
    const before = await models();
    const body = JSON.stringify({ input: 'cut me off' });
    const { port } = new URL(rt.runtime.url);
    const socket = connect({ port: Number(port), host: '127.0.0.1' });
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(
      `POST /v1/agent/invoke HTTP/1.1\r\nhost: runtime\r\ncontent-type: application/json\r\n` +
        `x-api-key: ${BOB}\r\nidempotency-key: ${key}\r\ncontent-length: ${String(Buffer.byteLength(body))}\r\n\r\n${body}`,
    );
    // Hung up once the provider has the call, before any answer.
    await waitFor(async () => (await models()) > before, {
      timeoutMs: 10_000,
      intervalMs: 5,
      description: 'the call to reach the simulator',
    });
    socket.destroy();
    const answer = await waitFor(
      async () => {
        const again = await invoke(['x-api-key', BOB], key, { input: 'cut me off' });
        return again.status !== 409 && again;
      },
      { timeoutMs: 20_000, intervalMs: 100, description: 'the run to finish' },
    );
    expect([answer.status, answer.headers['x-breakwater-replayed']]).toEqual([200, 'true']);
    expect(await models()).toBe(before + 1);
  });

  it.each<[string, string]>([
    ['empty', ''],
    ['129 characters long', 'k'.repeat(129)],
    ['with a space', 'order 1'],
    ['with a latin1 letter', 'ordér-1'],
    ['with a slash', 'order/1'],
  ])('%s: 400 naming the header, and nothing runs', async (_name, key) => {
    const before = await models();
    const answer = await invoke(['x-api-key', BOB], key);
    expect([answer.status, answer.body.error?.type]).toEqual([400, 'invalid_request_error']);
    expect(answer.body.error?.message).toContain('header Idempotency-Key must be');
    expect(await models()).toBe(before);
  });

  it('sent twice in one request: 400 naming the header, and nothing runs', async () => {
    const before = await models();
    const answer = await send(
      rt.runtime.url,
      'POST',
      '/v1/agent/invoke',
      ['x-api-key', BOB, 'idempotency-key', 'order-a', 'idempotency-key', 'order-b'],
      { input: 'hi' },
    );
    expect([answer.status, answer.body.error?.message]).toEqual([
      400,
      expect.stringContaining('header Idempotency-Key must be'),
    ]);
    expect(await models()).toBe(before);
  });

  it('on POST /v1/agent/runs, sent again: the same run, not a second one; another body 422', async () => {
    const key = `order-${randomUUID()}`;
    const start = (body: unknown) =>
      send(
        rt.runtime.url,
        'POST',
        '/v1/agent/runs',
        ['x-api-key', BOB, 'idempotency-key', key],
        body,
      );
    const before = await models();
    const first = await start({ input: 'once' });
    expect(first.status).toBe(202);
    const run = String(first.body.id);
    await waitFor(
      async () =>
        (await send(rt.runtime.url, 'GET', `/v1/agent/runs/${run}`, ['x-api-key', BOB])).body
          .state === 'completed',
      { timeoutMs: 20_000, intervalMs: 50, description: 'the run to complete' },
    );
    // A client that never saw the 202 (its connection cut) sends it again.
    const again = await start({ input: 'once' });
    const other = await start({ input: 'twice' });
    expect([again.status, again.body.id]).toEqual([202, run]);
    expect([other.status, other.body.error?.message]).toEqual([
      422,
      expect.stringContaining(`Idempotency-Key "${key}"`),
    ]);
    expect(await models()).toBe(before + 1);
  });

  it('on POST /v1/agent/runs, sent twice at once: one run, both told its id', async () => {
    const key = `order-${randomUUID()}`;
    const before = await models();
    const both = await Promise.all(
      [0, 1].map(() =>
        send(rt.runtime.url, 'POST', '/v1/agent/runs', ['x-api-key', BOB, 'idempotency-key', key], {
          input: 'at once',
        }),
      ),
    );
    expect(both.map((a) => a.status)).toEqual([202, 202]);
    expect(both[1]?.body.id).toBe(both[0]?.body.id);
    await waitFor(
      async () =>
        (
          await send(rt.runtime.url, 'GET', `/v1/agent/runs/${String(both[0]?.body.id)}`, [
            'x-api-key',
            BOB,
          ])
        ).body.state === 'completed',
      { timeoutMs: 20_000, intervalMs: 50, description: 'the run to complete' },
    );
    expect(await models()).toBe(before + 1);
  });

  it('128 characters long, the most allowed: runs, and is answered from its record after', async () => {
    const key = 'k'.repeat(120) + randomUUID().slice(0, 8);
    expect((await invoke(['x-api-key', BOB], key)).status).toBe(200);
    expect((await invoke(['x-api-key', BOB], key)).headers['x-breakwater-replayed']).toBe('true');
  });
});

describe('per-key budgets, alice against bob', () => {
  const BUDGET_AGENT = 'adversary-budget';
  /** Enough for a few calls of `ask` each. */
  const LIMIT_USD = '0.002';
  let budgeted: StandaloneRuntime;
  beforeAll(async () => {
    budgeted = await world.runtime(BUDGET_AGENT, {
      clientKeys: [ALICE, BOB],
      budget: { name: 'per-key', usd: LIMIT_USD, per: 'ClientKey' },
    });
  }, 60_000);

  /** Calls `ask` as `sdk` until the budget refuses: how many were served. */
  async function spendAll(sdk: Anthropic): Promise<{ served: number; refusal: string }> {
    for (let served = 0; served < 200; served++) {
      const answer = await sdk.messages
        .create(ask('hello') as Anthropic.MessageCreateParamsNonStreaming)
        .then(
          () => undefined,
          (err: unknown) => err,
        );
      if (answer instanceof Anthropic.RateLimitError) return { served, refusal: answer.message };
      if (answer !== undefined)
        throw answer instanceof Error ? answer : new Error(JSON.stringify(answer));
    }
    throw new Error('the budget never refused');
  }

  it("charges each key its own spend: alice's spent budget leaves bob's whole, and the other way round", async () => {
    const sdk = (headers: Record<string, string>) =>
      new Anthropic({
        baseURL: budgeted.runtime.url,
        apiKey: null,
        defaultHeaders: headers,
        maxRetries: 0,
      });
    // Alice spends all of hers, by two headers in turn.
    const aliceX = await spendAll(sdk({ 'x-api-key': ALICE }));
    const aliceBearer = await spendAll(sdk({ authorization: `Bearer ${ALICE}` }));
    expect(aliceX.served).toBeGreaterThan(1);
    expect(aliceBearer.served).toBe(0);
    expect(aliceX.refusal).toContain('exhausted');
    // Bob's account is his own: he spends what the limit holds, whatever alice spent.
    const bob = await spendAll(sdk({ authorization: `Bearer ${BOB}`, 'x-api-key': BOB }));
    expect(bob.served).toBeGreaterThan(1);
    // And alice is still refused: bob's calls gave her nothing back.
    expect((await spendAll(sdk({ 'x-api-key': ALICE }))).served).toBe(0);
    // Each account settled most of its own limit, and none past it: two budgets, not one.
    const limit = BigInt(Number(LIMIT_USD) * 1e6) * 1_000_000n;
    const spent = await waitFor(
      async () => {
        const accounts = await world.spent(BUDGET_AGENT);
        const values = Object.values(accounts);
        return values.length === 2 && values.every((v) => v * 2n > limit) && accounts;
      },
      { timeoutMs: 10_000, intervalMs: 50, description: 'both accounts settled' },
    ).catch(() => world.spent(BUDGET_AGENT));
    expect(Object.values(spent)).toHaveLength(2);
    for (const value of Object.values(spent)) {
      expect(value * 2n).toBeGreaterThan(limit);
      expect(value).toBeLessThanOrEqual(limit);
    }
  });
});
