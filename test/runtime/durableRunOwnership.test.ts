/**
 * Whose a run is, through the public HTTP API only (so these hold however the runtime reads
 * its headers): a run started by one client key is neither read, nor replayed, nor continued by
 * another, in any shape the other key is presented in — `x-api-key`, `Authorization: Bearer`,
 * either case of the scheme, both headers, no key at all — on every route that names a run:
 * `GET /v1/agent/runs/{id}`, `/v1/agent/invoke` with `Idempotency-Key`, and `/v1/messages` and
 * `/mcp/<name>` with `Breakwater-Run-Id`. Real parts: a runtime process, redis-server, the
 * simulator and the SDK's MCP server.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startMcpServer, type McpTestServer } from '../support/mcpServer.ts';
import { startRedis, type RedisHandle } from '../support/redisServer.ts';
import { startSimulator, type SimulatorHandle } from '../support/simulator.ts';
import { PRIMARY_MODEL, type StandaloneRuntime } from '../support/standaloneRuntime.ts';
import { KEY_A, KEY_B, durableRuntime } from '../support/durableRunFixture.ts';
import { waitFor } from '../support/waitFor.ts';

let sim: SimulatorHandle;
let redis: RedisHandle;
let mcp: McpTestServer;
let rt: StandaloneRuntime;

beforeAll(async () => {
  sim = await startSimulator();
  redis = await startRedis();
  mcp = await startMcpServer();
  rt = await durableRuntime({ simUrl: sim.url, redis, mcp });
}, 60_000);

afterAll(async () => {
  await rt.stop();
  await Promise.all([sim.stop(), redis.remove(), mcp.stop()]);
});

/** The shapes key B is presented in: every one must stay B's, never A's. */
const OTHER_KEY_SHAPES: readonly {
  readonly name: string;
  readonly headers: Record<string, string>;
}[] = [
  { name: 'x-api-key', headers: { 'x-api-key': KEY_B } },
  { name: 'Authorization: Bearer', headers: { authorization: `Bearer ${KEY_B}` } },
  { name: 'authorization: bearer, lower case', headers: { authorization: `bearer ${KEY_B}` } },
  {
    name: 'both headers',
    headers: { 'x-api-key': KEY_B, authorization: `Bearer ${KEY_B}` },
  },
  { name: 'no key at all', headers: {} },
  { name: 'an empty x-api-key', headers: { 'x-api-key': '' } },
];

async function call(
  path: string,
  headers: Record<string, string>,
  body?: unknown,
): Promise<{ status: number; text: string; headers: Headers }> {
  const response = await fetch(`${rt.runtime.url}${path}`, {
    signal: AbortSignal.timeout(20_000),
    method: body === undefined ? 'GET' : 'POST',
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, text: await response.text(), headers: response.headers };
}

const ask = (content: string) => ({
  model: PRIMARY_MODEL,
  max_tokens: 32,
  messages: [{ role: 'user', content }],
});

/**
 * One `tools/call` of `file_ticket` through the SDK's client with `headers` on every request:
 * 'called', or 'refused' when the connection or the call was refused.
 */
async function fileTicket(headers: Record<string, string>, title: string): Promise<string> {
  const client = new Client({ name: 'ownership', version: '1' });
  try {
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${rt.runtime.url}/mcp/tools`), {
        requestInit: { headers },
      }),
    );
    const result = await client.callTool({ name: 'file_ticket', arguments: { title } });
    return result.isError === true ? 'refused' : 'called';
  } catch {
    return 'refused';
  } finally {
    await client.close().catch(() => undefined);
  }
}

describe('a run the runtime owns, read with another key', () => {
  it.each(OTHER_KEY_SHAPES)('is not found with the other key as $name', async ({ headers }) => {
    const started = await call('/v1/agent/runs', { 'x-api-key': KEY_A }, { input: 'Say hello.' });
    expect(started.status).toBe(202);
    const id = (JSON.parse(started.text) as { id: string }).id;
    const done = await waitFor(
      async () => {
        const view = await call(`/v1/agent/runs/${id}`, { 'x-api-key': KEY_A });
        return view.text.includes('"completed"') ? view : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100, description: 'the run to complete' },
    );

    const other = await call(`/v1/agent/runs/${id}`, headers);

    expect(other.status).not.toBe(200);
    expect([401, 403, 404]).toContain(other.status);
    expect(other.text).not.toContain('"completed"');
    expect(done.status).toBe(200);
  });
});

describe('an Idempotency-Key of another key', () => {
  it.each(OTHER_KEY_SHAPES)(
    'never returns the first key’s recorded answer, with the other key as $name',
    async ({ headers }) => {
      const key = `order-${randomUUID()}`;
      const body = { input: 'Say hello.' };
      const first = await call(
        '/v1/agent/invoke',
        { 'x-api-key': KEY_A, 'idempotency-key': key },
        body,
      );
      expect(first.status).toBe(200);

      const other = await call('/v1/agent/invoke', { ...headers, 'idempotency-key': key }, body);

      expect(other.headers.get('x-breakwater-replayed')).toBeNull();
      if (other.status === 200)
        expect(other.headers.get('breakwater-run-id')).not.toBe(
          first.headers.get('breakwater-run-id'),
        );
      else expect([401, 403]).toContain(other.status);
    },
  );
});

describe('a run named with Breakwater-Run-Id, called with another key', () => {
  it.each(OTHER_KEY_SHAPES)(
    'neither replays nor continues it on /v1/messages or /mcp, with the other key as $name',
    async ({ headers }) => {
      const run = randomUUID();
      const named = { 'breakwater-run-id': run, 'breakwater-run-attempt': randomUUID() };
      const asked = await call('/v1/messages', { 'x-api-key': KEY_A, ...named }, ask('Ticket?'));
      expect(asked.status).toBe(200);
      const ticket = `ownership ${run}`;
      expect(await fileTicket({ authorization: `Bearer ${KEY_A}`, ...named }, ticket)).toBe(
        'called',
      );
      const requests = (await sim.stats()).requests;

      const replay = await call('/v1/messages', { ...headers, ...named }, ask('Ticket?'));
      const again = await fileTicket({ ...headers, ...named }, ticket);

      expect([401, 403]).toContain(replay.status);
      expect(replay.headers.get('x-breakwater-replayed')).toBeNull();
      expect(again).toBe('refused');
      expect((await sim.stats()).requests).toBe(requests);
      expect(mcp.effects.get(`file_ticket:${ticket}`)).toBe(1);
    },
  );
});
