/**
 * One identity per request, seen from outside: a runtime process with two client keys, a
 * per-ClientKey budget in a real redis-server, the audit trail, durable runs and the test MCP
 * server. Headers that could name two callers get 401 naming the header on every route; the
 * shapes that name one caller are one budget account, one audit fingerprint and one run owner.
 * And an agent without client keys counts every caller as one account, however many keys
 * callers make up. Requests go out with their headers exactly as written (repeats kept), or
 * through the real SDK without retries.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createClient } from '@redis/client';
import type { RateLimitPolicySpec } from '../../contract/src/api/v1alpha1/ratelimitpolicy.ts';
import type { PolicyDocument } from '../../contract/src/policy/policyDocument.ts';
import { PRICING } from '../support/budgetStoreFixture.ts';
import { ambiguousShapes } from '../support/credentialShapes.ts';
import { startMcpServer, type McpTestServer } from '../support/mcpServer.ts';
import { serverHost } from '../support/podReach.ts';
import { agentDocument, ratePolicy } from '../support/rateLimitStoreFixture.ts';
import { startRedis, type RedisHandle } from '../support/redisServer.ts';
import { startSimulator, type SimulatorHandle } from '../support/simulator.ts';
import {
  PRIMARY_MODEL,
  standaloneRuntime,
  type Mutable,
  type StandaloneRuntime,
} from '../support/standaloneRuntime.ts';
import { waitFor } from '../support/waitFor.ts';

const ALICE = 'bw-identity-alice-key';
const BOB = 'bw-identity-bob-key';
/** The pod's own key: the test's requests come from loopback, as the agent container's do. */
const POD_KEY = 'breakwater-pod-6a1d2c3e-identity';
const fingerprint = (key: string) =>
  `key-${createHash('sha256').update(key).digest('hex').slice(0, 12)}`;

let sim: SimulatorHandle;
let redis: RedisHandle;
let mcp: McpTestServer;
let store: ReturnType<typeof createClient>;
let keyDir: string;

beforeAll(async () => {
  [sim, redis, mcp] = await Promise.all([
    startSimulator({ seed: 50 }),
    startRedis(),
    startMcpServer(),
  ]);
  store = createClient({ socket: { host: serverHost(), port: redis.port } });
  await store.connect();
  keyDir = mkdtempSync(join(tmpdir(), 'bw-identity-'));
  writeFileSync(join(keyDir, 'key'), Buffer.alloc(32, 5).toString('base64'));
});

afterAll(async () => {
  store.destroy();
  await Promise.all([sim.stop(), redis.remove(), mcp.stop()]);
  rmSync(keyDir, { recursive: true, force: true });
});

/**
 * The `client` of each `model_interaction` audit record `rt` wrote, once there are at least
 * `count`: a record is written as its call ends, which may be after the caller has its answer.
 */
async function auditedClients(
  rt: StandaloneRuntime,
  count: number,
): Promise<(string | undefined)[]> {
  return waitFor(
    () => {
      const clients = rt.runtime.output
        .flatMap((chunk) => chunk.split('\n'))
        .filter((line) => line.includes('"model_interaction"'))
        .map((line) => (JSON.parse(line) as { client?: string }).client);
      return clients.length >= count && clients;
    },
    { timeoutMs: 10_000, intervalMs: 50, description: `${String(count)} audit records` },
  );
}

/** Agent `agent`: a per-key budget in Redis, and `change` on top. */
function identityPolicy(
  agent: string,
  change: (doc: Mutable<PolicyDocument>) => void,
): PolicyDocument {
  const spec: RateLimitPolicySpec = {
    budgets: [{ name: 'per-key', period: 'Day', usd: '100', per: 'ClientKey' }],
    store: { redis: { address: redis.address }, waitBudget: '1s' },
  };
  const doc = structuredClone(agentDocument(sim.url, ratePolicy(spec))) as Mutable<PolicyDocument>;
  doc.pricing = PRICING.map((p) => ({ ...p }));
  doc.agent = { ...doc.agent, name: agent };
  change(doc);
  return doc;
}

/** Agent `agent`'s budget accounts in Redis, counted with SCAN. */
async function budgetKeys(agent: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const batch of store.scanIterator({ MATCH: `*:budget:${agent}:*`, COUNT: 1000 }))
    keys.push(...batch);
  return keys.filter((k) => !k.endsWith(':leases')).sort();
}

interface Answer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: { error?: { type?: string; message?: string }; id?: string } & Record<
    string,
    unknown
  >;
}

/** One request with `headers` written as given, in order, repeats and empty values kept. */
function send(
  url: string,
  method: string,
  path: string,
  headers: readonly string[],
  body?: unknown,
): Promise<Answer> {
  const text = body === undefined ? '' : JSON.stringify(body);
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: hostname,
        port,
        method,
        path,
        headers: [
          'host',
          `${hostname}:${port}`,
          ...(body === undefined ? [] : ['content-type', 'application/json']),
          'accept',
          'application/json, text/event-stream',
          'content-length',
          String(Buffer.byteLength(text)),
          ...headers,
        ],
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const raw = Buffer.concat(chunks).toString('utf8');
          let parsed: Answer['body'] = {};
          try {
            parsed = JSON.parse(raw) as Answer['body'];
          } catch {
            parsed = { raw };
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed });
        });
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

const MESSAGE = {
  model: PRIMARY_MODEL,
  max_tokens: 16,
  messages: [{ role: 'user', content: 'hello' }],
};
const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: {
    protocolVersion: '2025-03-26',
    capabilities: {},
    clientInfo: { name: 't', version: '1' },
  },
};

const ROUTES: readonly (readonly [string, string, unknown])[] = [
  ['POST', '/v1/messages', MESSAGE],
  ['POST', '/v1/agent/invoke', { input: 'hello' }],
  ['POST', '/v1/agent/runs', { input: 'hello' }],
  ['GET', '/v1/agent/runs/some-run', undefined],
  ['POST', '/mcp/tools', INITIALIZE],
];

describe('an agent with client keys', () => {
  const AGENT = 'identity-keys';
  let rt: StandaloneRuntime;

  beforeAll(async () => {
    rt = await standaloneRuntime(
      identityPolicy(AGENT, (d) => {
        d.access = { clientKeysSecret: 'identity-keys' };
        d.audit = { enabled: true };
        d.mcpServers = [
          {
            name: 'tools',
            url: mcp.url,
            timeoutMs: 20_000,
            maxConcurrent: 10,
            onUnknownOutcome: 'Fail',
          },
        ];
        d.durability = {
          store: { redis: { address: redis.address } },
          retentionMs: 3_600_000,
          encryptionKeySecretRef: { name: 'journal-key', key: 'key' },
          keyPrefix: 'breakwater:run:tests/identity',
        };
      }),
      {
        BREAKWATER_CLIENT_KEYS: `${ALICE},${BOB}`,
        BREAKWATER_POD_CLIENT_KEY: POD_KEY,
        BREAKWATER_DURABILITY_KEY_FILE: join(keyDir, 'key'),
      },
    );
    // The MCP server's tools are listed in the background.
    await waitFor(
      async () => {
        const answer = await send(
          rt.runtime.url,
          'POST',
          '/mcp/tools',
          ['x-api-key', ALICE],
          INITIALIZE,
        );
        return answer.status === 200;
      },
      { timeoutMs: 10_000, intervalMs: 100, description: 'the MCP server behind the runtime' },
    );
  });

  afterAll(async () => {
    await rt.stop();
  });

  it.each(ambiguousShapes(ALICE, BOB).map((s) => [s.name, s.headers, s.reading] as const))(
    'refuses %s with 401 naming the header, on every route',
    async (_name, headers, reading) => {
      if (!('ambiguous' in reading)) throw new Error('an ambiguous shape names its header');
      const message = reading.ambiguous;
      for (const [method, path, body] of ROUTES) {
        const answer = await send(rt.runtime.url, method, path, headers, body);
        expect({
          route: `${method} ${path}`,
          status: answer.status,
          error: answer.body.error,
        }).toEqual({
          route: `${method} ${path}`,
          status: 401,
          error: { type: 'authentication_error', message: expect.stringContaining(message) },
        });
      }
    },
  );

  it('refuses the SDK sending an empty x-api-key beside its Bearer key, and opens no account for it', async () => {
    // What a proxy or a defaultHeaders left empty makes of an SDK call: let in as alice by
    // access control, and counted as "no key" by budgets, audit and runs, before.
    const sdk = new Anthropic({
      baseURL: rt.runtime.url,
      apiKey: ALICE,
      defaultHeaders: { 'x-api-key': '' },
      maxRetries: 0,
    });
    const refused = await sdk.messages
      .create(MESSAGE as Anthropic.MessageCreateParamsNonStreaming)
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Anthropic.AuthenticationError);
    expect((refused as Error).message).toContain('header x-api-key is empty beside Authorization');
    expect((await budgetKeys(AGENT)).filter((k) => k.endsWith(':no-key'))).toEqual([]);
  });

  it('opens no account for a call refused for its body (400)', async () => {
    const answer = await send(rt.runtime.url, 'POST', '/v1/messages', ['x-api-key', BOB], {
      model: PRIMARY_MODEL,
      max_tokens: -1,
      messages: [],
    });
    expect(answer.status).toBe(400);
    expect(await budgetKeys(AGENT)).toEqual([]);
  });

  it('accounts x-api-key, Bearer and both alike as one caller: budget account, audit fingerprint, run owner', async () => {
    const shapes: readonly (readonly [string, Anthropic])[] = [
      [
        'x-api-key',
        new Anthropic({
          baseURL: rt.runtime.url,
          apiKey: null,
          defaultHeaders: { 'x-api-key': ALICE },
          maxRetries: 0,
        }),
      ],
      ['Bearer', new Anthropic({ baseURL: rt.runtime.url, apiKey: ALICE, maxRetries: 0 })],
      [
        'both',
        new Anthropic({
          baseURL: rt.runtime.url,
          apiKey: ALICE,
          defaultHeaders: { 'x-api-key': ALICE },
          maxRetries: 0,
        }),
      ],
    ];
    for (const [, sdk] of shapes)
      await sdk.messages.create(MESSAGE as Anthropic.MessageCreateParamsNonStreaming);
    // One account for the three shapes, alice's.
    const accounts = await waitFor(
      async () => {
        const keys = await budgetKeys(AGENT);
        const held = await Promise.all(keys.map((k) => store.hGet(k, 'reserved_pico')));
        return keys.length > 0 && held.every((h) => h === '0') && keys;
      },
      { timeoutMs: 10_000, intervalMs: 50, description: 'the calls settled in Redis' },
    );
    expect(accounts).toEqual([
      expect.stringMatching(new RegExp(`:per-key:\\d+:${fingerprint(ALICE)}$`)),
    ]);
    // One audit name for the three.
    const clients = await auditedClients(rt, 3);
    expect(new Set(clients)).toEqual(new Set([fingerprint(ALICE)]));

    // One run owner: a run started with x-api-key is read with Bearer and with both; not by bob.
    const started = await send(rt.runtime.url, 'POST', '/v1/agent/runs', ['x-api-key', ALICE], {
      input: 'hello',
    });
    expect(started.status).toBe(202);
    const id = String(started.body.id);
    const read = (headers: readonly string[]) =>
      send(rt.runtime.url, 'GET', `/v1/agent/runs/${id}`, headers).then((a) => a.status);
    expect(await read(['authorization', `Bearer ${ALICE}`])).toBe(200);
    expect(await read(['x-api-key', ALICE, 'authorization', `Bearer ${ALICE}`])).toBe(200);
    expect(await read(['x-api-key', BOB])).toBe(404);
    // An Idempotency-Key's answer comes back to alice by any header, never to bob.
    const invoke = (headers: readonly string[]) =>
      send(
        rt.runtime.url,
        'POST',
        '/v1/agent/invoke',
        [...headers, 'idempotency-key', 'identity-1'],
        { input: 'hello' },
      );
    const first = await invoke(['x-api-key', ALICE]);
    expect(first.status).toBe(200);
    const again = await invoke(['authorization', `Bearer ${ALICE}`]);
    expect([again.status, again.headers['x-breakwater-replayed']]).toEqual([200, 'true']);
    const bobs = await invoke(['x-api-key', BOB]);
    expect([bobs.status, bobs.headers['x-breakwater-replayed']]).toEqual([200, undefined]);
  });

  it('names the pod key one caller, pod-key, to its budget account and its audit records', async () => {
    const sdk = new Anthropic({ baseURL: rt.runtime.url, apiKey: POD_KEY, maxRetries: 0 });
    await sdk.messages.create(MESSAGE as Anthropic.MessageCreateParamsNonStreaming);
    const accounts = await waitFor(
      async () => {
        const keys = await budgetKeys(AGENT);
        return keys.some((k) => k.endsWith(':pod-key')) && keys;
      },
      { timeoutMs: 10_000, intervalMs: 50, description: "the pod's account in Redis" },
    );
    // Beside alice's and bob's, from the tests before.
    const theirs = [ALICE, BOB].map(fingerprint);
    expect(accounts.filter((k) => !theirs.some((f) => k.endsWith(`:${f}`)))).toEqual([
      expect.stringMatching(/:per-key:\d+:pod-key$/),
    ]);
    const others = await waitFor(
      async () => {
        const found = (await auditedClients(rt, 1)).filter(
          (client) => !theirs.includes(client ?? ''),
        );
        return found.length > 0 && found;
      },
      { timeoutMs: 10_000, intervalMs: 50, description: "the pod key's audit record" },
    );
    expect(others).toEqual(['pod-key']);
  });

  it("keeps an MCP session to the caller that opened it: another key's request on it is 404", async () => {
    const client = new Client({ name: 'alice', version: '1' });
    const transport = new StreamableHTTPClientTransport(new URL(`${rt.runtime.url}/mcp/tools`), {
      requestInit: { headers: { 'x-api-key': ALICE } },
    });
    await client.connect(transport);
    const session = transport.sessionId ?? '';
    expect(session).not.toBe('');
    const list = { jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} };
    const call = {
      jsonrpc: '2.0',
      id: 3,
      method: 'tools/call',
      params: { name: 'echo', arguments: { text: 'hi' } },
    };
    const on = (headers: readonly string[], body: unknown) =>
      send(
        rt.runtime.url,
        'POST',
        '/mcp/tools',
        [...headers, 'mcp-session-id', session, 'mcp-protocol-version', '2025-03-26'],
        body,
      );
    // Alice, by either header, uses it.
    expect((await on(['authorization', `Bearer ${ALICE}`], list)).status).toBe(200);
    // Bob, with the id, finds no session: neither its tools nor a call on it.
    expect((await on(['x-api-key', BOB], list)).status).toBe(404);
    expect((await on(['x-api-key', BOB], call)).status).toBe(404);
    // Nor can he close it: alice goes on using it.
    const closed = await send(rt.runtime.url, 'DELETE', '/mcp/tools', [
      'x-api-key',
      BOB,
      'mcp-session-id',
      session,
    ]);
    expect(closed.status).toBe(404);
    const { tools } = await client.listTools();
    expect(tools.length).toBeGreaterThan(0);
    await client.close();
  });

  it("keeps a caller's MCP session while another key opens more sessions than a replica holds", async () => {
    const client = new Client({ name: 'alice', version: '1' });
    const transport = new StreamableHTTPClientTransport(new URL(`${rt.runtime.url}/mcp/tools`), {
      requestInit: { headers: { 'x-api-key': ALICE } },
    });
    await client.connect(transport);
    const initialize = {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: {
        protocolVersion: '2025-03-26',
        capabilities: {},
        clientInfo: { name: 'bob', version: '1' },
      },
    };
    // 1,005 sessions of bob's, past the 1,000 a replica holds, eight at a time.
    let opened = 0;
    let next = 0;
    const worker = async () => {
      while (next < 1_005) {
        next++;
        const answer = await send(
          rt.runtime.url,
          'POST',
          '/mcp/tools',
          ['x-api-key', BOB],
          initialize,
        );
        if (answer.status === 200) opened++;
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    expect(opened).toBe(1_005);
    // Alice's session was never bob's to close: it still answers.
    const { tools } = await client.listTools();
    expect(tools.length).toBeGreaterThan(0);
    await client.close();
  });
});

describe('an agent without client keys', () => {
  it('counts 4,000 made-up keys as one account of its per-ClientKey budget, and says so at load', async () => {
    const AGENT = 'identity-open';
    const rt = await standaloneRuntime(
      identityPolicy(AGENT, (d) => {
        d.audit = { enabled: true };
      }),
    );
    try {
      const warning = rt.runtime.output
        .join('')
        .split('\n')
        .find((line) => line.includes('budgets[0].per'));
      expect(warning).toContain('access.clientKeysSecretRef');
      let next = 0;
      const statuses = new Map<number, number>();
      const worker = async () => {
        while (next < 4_000) {
          const i = next++;
          const answer = await send(
            rt.runtime.url,
            'POST',
            '/v1/messages',
            ['x-api-key', `made-up-${String(i)}`],
            MESSAGE,
          );
          statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        }
      };
      await Promise.all(Array.from({ length: 16 }, worker));
      expect(Object.fromEntries(statuses)).toEqual({ 200: 4_000 });
      expect(await budgetKeys(AGENT)).toEqual([expect.stringMatching(/:per-key:\d+:no-key$/)]);
      // Nothing tells callers apart, so the audit trail names none of them (I4).
      const audited = await auditedClients(rt, 4_000);
      expect(audited).toHaveLength(4_000);
      expect(audited.filter((client) => client !== undefined)).toEqual([]);
    } finally {
      await rt.stop();
    }
  });
});
