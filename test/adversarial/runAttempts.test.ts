/**
 * A caller's run named every way the run headers can be sent, against the public HTTP API of a
 * real runtime whose journal lives in a real redis-server: `Breakwater-Run-Attempt` missing,
 * empty, repeated, joined by a comma, too long, in characters it may not hold, or under a name
 * HTTP does not fold into it, on `/v1/messages` (plain and streamed) and on an `/mcp` tool
 * call. Each is refused with 400 naming the header, before the journal, the provider or the
 * tool is asked (D1, D4; decision 0060). Then an agent left behind after its restart: once a
 * newer attempt has begun, a call of the older one is refused with 409 and moves nothing (D4),
 * and no completed model call is paid twice (D2).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createClient } from '@redis/client';
import { serverHost } from '../support/podReach.ts';
import { PRIMARY_MODEL, type StandaloneRuntime } from '../support/standaloneRuntime.ts';
import { ALICE, BOB, backdrop, type Backdrop } from './adversaryAgents.ts';
import { INITIALIZE, send, type RawHeaders } from './publicHttp.ts';

const AGENT = 'adversary-attempts';
const JOURNAL = `breakwater:run:adversary/${AGENT}`;
const MISSING =
  'header Breakwater-Run-Attempt is missing: send Breakwater-Run-Attempt with Breakwater-Run-Id';
const MALFORMED = 'header Breakwater-Run-Attempt must be 1 to 128 letters, digits or . _ : -';

const ask = (content: string, stream = false) => ({
  model: PRIMARY_MODEL,
  max_tokens: 16,
  stream,
  messages: [{ role: 'user', content }],
});

let world: Backdrop;
let rt: StandaloneRuntime;
let store: ReturnType<typeof createClient>;
/** Alice's MCP session on the runtime: her key and the session's headers. */
let session: RawHeaders;

beforeAll(async () => {
  world = await backdrop();
  rt = await world.runtime(AGENT, { clientKeys: [ALICE, BOB] });
  store = createClient({ socket: { host: serverHost(), port: world.redis.port } });
  store.on('error', () => undefined);
  await store.connect();
  const opened = await send(rt.runtime.url, 'POST', '/mcp/tools', ['x-api-key', ALICE], INITIALIZE);
  session = [
    'x-api-key',
    ALICE,
    'mcp-session-id',
    String(opened.headers['mcp-session-id']),
    'mcp-protocol-version',
    '2025-03-26',
  ];
  await send(rt.runtime.url, 'POST', '/mcp/tools', session, {
    jsonrpc: '2.0',
    method: 'notifications/initialized',
  });
}, 60_000);
afterAll(async () => {
  store.destroy();
  await world.stop();
});

const journaled = async (run: string) => (await store.keys(`${JOURNAL}:{${run}}:*`)).length;
const modelCalls = async () => (await world.sim.stats()).requests;
const fileTicket = (headers: RawHeaders, title: string) =>
  send(rt.runtime.url, 'POST', '/mcp/tools', [...session, ...headers], {
    jsonrpc: '2.0',
    id: 2,
    method: 'tools/call',
    params: { name: 'file_ticket', arguments: { title } },
  });

describe('a run named without a usable attempt, on every route that journals', () => {
  /** The run headers a shape sends for run `run`, and the refusal it should get. */
  const SHAPES: readonly (readonly [string, (run: string) => RawHeaders, string])[] = [
    ['no attempt', (run) => ['breakwater-run-id', run], MISSING],
    [
      'an empty attempt',
      (run) => ['breakwater-run-id', run, 'breakwater-run-attempt', ''],
      MALFORMED,
    ],
    [
      'an attempt of spaces (HTTP trims them)',
      (run) => ['breakwater-run-id', run, 'breakwater-run-attempt', '   '],
      MALFORMED,
    ],
    [
      'two attempts',
      (run) => [
        'breakwater-run-id',
        run,
        'breakwater-run-attempt',
        'a1',
        'Breakwater-Run-Attempt',
        'a2',
      ],
      MALFORMED,
    ],
    [
      'one attempt sent twice',
      (run) => [
        'breakwater-run-id',
        run,
        'breakwater-run-attempt',
        'a1',
        'breakwater-run-attempt',
        'a1',
      ],
      MALFORMED,
    ],
    [
      'an empty attempt, then one',
      (run) => [
        'breakwater-run-id',
        run,
        'breakwater-run-attempt',
        '',
        'breakwater-run-attempt',
        'a1',
      ],
      MALFORMED,
    ],
    [
      'two attempts joined by a comma',
      (run) => ['breakwater-run-id', run, 'breakwater-run-attempt', 'a1,a2'],
      MALFORMED,
    ],
    [
      '129 characters',
      (run) => ['breakwater-run-id', run, 'breakwater-run-attempt', 'a'.repeat(129)],
      MALFORMED,
    ],
    [
      '8000 characters',
      (run) => ['breakwater-run-id', run, 'breakwater-run-attempt', 'a'.repeat(8000)],
      MALFORMED,
    ],
    [
      'a space and a slash',
      (run) => ['breakwater-run-id', run, 'breakwater-run-attempt', 'a b/c'],
      MALFORMED,
    ],
    [
      'a latin1 byte',
      (run) => ['breakwater-run-id', run, 'breakwater-run-attempt', 'caf\u00e9'],
      MALFORMED,
    ],
    [
      'the attempt under an underscore name',
      (run) => ['breakwater-run-id', run, 'breakwater_run_attempt', 'a1'],
      MISSING,
    ],
    ['the run id between spaces, no attempt', (run) => ['breakwater-run-id', `  ${run} `], MISSING],
  ];

  it.each(SHAPES)(
    'is refused with 400 naming Breakwater-Run-Attempt with %s, and nothing is journaled, asked or run',
    async (_name, shape, message) => {
      const run = randomUUID();
      const before = await modelCalls();
      const answers = [
        await send(
          rt.runtime.url,
          'POST',
          '/v1/messages',
          ['x-api-key', ALICE, ...shape(run)],
          ask('hi'),
        ),
        await send(
          rt.runtime.url,
          'POST',
          '/v1/messages',
          ['x-api-key', ALICE, ...shape(run)],
          ask('hi', true),
        ),
        await fileTicket(shape(run), `refused-${run}`),
      ];
      expect(
        answers.map((a) => [
          a.status,
          a.body.error?.type,
          a.body.error?.message?.startsWith(message),
        ]),
      ).toEqual(answers.map(() => [400, 'invalid_request_error', true]));
      expect({
        journaled: await journaled(run),
        modelCalls: (await modelCalls()) - before,
        tickets: world.mcp.effects.get(`file_ticket:refused-${run}`),
      }).toEqual({ journaled: 0, modelCalls: 0, tickets: undefined });
    },
  );

  // docs/agents/durable-runs.md and decision 0060: "a request with Breakwater-Run-Id and no
  // Breakwater-Run-Attempt, on /v1/messages and /mcp/<name>, is refused with 400".
  it.each([
    ['initialize', () => ['x-api-key', ALICE], INITIALIZE],
    ['tools/list', () => session, { jsonrpc: '2.0', id: 4, method: 'tools/list', params: {} }],
  ] as const)(
    'is refused on /mcp %s too, with 400 naming Breakwater-Run-Attempt',
    async (_method, headers, body) => {
      const run = randomUUID();
      const answer = await send(
        rt.runtime.url,
        'POST',
        '/mcp/tools',
        [...headers(), 'breakwater-run-id', run],
        body,
      );
      expect([answer.status, answer.text.includes(MISSING)]).toEqual([400, true]);
      expect(await journaled(run)).toBe(0);
    },
  );

  it('takes an attempt in any case of the header name, of 128 characters or a leading dash', async () => {
    for (const shape of [
      (run: string) => ['BREAKWATER-RUN-ID', run, 'BREAKWATER-RUN-ATTEMPT', 'a1'],
      (run: string) => ['breakwater-run-id', run, 'breakwater-run-attempt', 'a'.repeat(128)],
      (run: string) => ['breakwater-run-id', run, 'breakwater-run-attempt', '-1'],
    ]) {
      const run = randomUUID();
      const first = await send(
        rt.runtime.url,
        'POST',
        '/v1/messages',
        ['x-api-key', ALICE, ...shape(run)],
        ask('hi'),
      );
      const again = await send(
        rt.runtime.url,
        'POST',
        '/v1/messages',
        ['x-api-key', ALICE, 'breakwater-run-id', run, 'breakwater-run-attempt', 'next'],
        ask('hi'),
      );
      expect([first.status, again.status, again.headers['x-breakwater-replayed']]).toEqual([
        200,
        200,
        'true',
      ]);
    }
  });
});

describe("alice's attempt, and bob's attempts on her run", () => {
  it('goes on: bob’s attempts on /v1/messages and /mcp are refused with 403 and supersede nothing', async () => {
    const run = randomUUID();
    const named = (key: string, attempt: string) => [
      'x-api-key',
      key,
      'breakwater-run-id',
      run,
      'breakwater-run-attempt',
      attempt,
    ];
    expect(
      (await send(rt.runtime.url, 'POST', '/v1/messages', named(ALICE, 'hers'), ask('one'))).status,
    ).toBe(200);
    const bobs = await send(rt.runtime.url, 'POST', '/mcp/tools', ['x-api-key', BOB], INITIALIZE);
    const bobSession = ['mcp-session-id', String(bobs.headers['mcp-session-id'])];
    const tries = [
      await send(rt.runtime.url, 'POST', '/v1/messages', named(BOB, 'his'), ask('one')),
      await send(rt.runtime.url, 'POST', '/v1/messages', named(BOB, 'his-2'), ask('other')),
      await send(
        rt.runtime.url,
        'POST',
        '/mcp/tools',
        [...named(BOB, 'his-3'), ...bobSession, 'mcp-protocol-version', '2025-03-26'],
        {
          jsonrpc: '2.0',
          id: 3,
          method: 'tools/call',
          params: { name: 'file_ticket', arguments: { title: `bob-${run}` } },
        },
      ),
    ];
    // A tool call asks the journal whether a newer attempt began (a model call after a live
    // one on this runtime does not: see the test below).
    const hers = await fileTicket(
      ['breakwater-run-id', run, 'breakwater-run-attempt', 'hers'],
      `alice-${run}`,
    );
    expect({
      bob: tries.map((a) => a.status),
      alice: hers.status,
      effects: [
        world.mcp.effects.get(`file_ticket:bob-${run}`),
        world.mcp.effects.get(`file_ticket:alice-${run}`),
      ],
    }).toEqual({ bob: [403, 403, 403], alice: 200, effects: [undefined, 1] });
  });
});

describe('an agent left behind after it started again', () => {
  // The old process (attempt `old`) made two model calls live; the new one (attempt `new`),
  // on the same runtime (a sidecar outlives its agent's restarts), has replayed the first.
  // The old one then asks for its third step.
  it('is refused with 409 on /v1/messages, though its last call went live on this runtime: the provider is not asked, and the new attempt pays each step once', async () => {
    const run = randomUUID();
    const call = (attempt: string, content: string) =>
      send(
        rt.runtime.url,
        'POST',
        '/v1/messages',
        ['x-api-key', ALICE, 'breakwater-run-id', run, 'breakwater-run-attempt', attempt],
        ask(content),
      );
    const before = await modelCalls();
    expect((await call('old', 'one')).status).toBe(200);
    expect((await call('old', 'two')).status).toBe(200);
    expect((await call('new', 'one')).headers['x-breakwater-replayed']).toBe('true');
    const stale = await call('old', 'three');
    const staleCalls = (await modelCalls()) - before;
    const two = await call('new', 'two');
    const three = await call('new', 'three');
    expect({
      stale: [stale.status, stale.body.error?.type],
      staleCalls,
      two: two.headers['x-breakwater-replayed'],
      three: three.status,
      modelCalls: (await modelCalls()) - before,
    }).toEqual({
      stale: [409, 'invalid_request_error'],
      // "one" and "two", live once each, before the restart.
      staleCalls: 2,
      two: 'true',
      three: 200,
      // "three" once, by the new attempt.
      modelCalls: 3,
    });
  });
});
