/**
 * Every route the runtime serves × every shape a credential can take, against the public HTTP
 * API of real runtime processes: one that enforces client keys (alice's and bob's) and one that
 * does not. The answer each cell should get comes from the promise table (docs/guarantees.md):
 * I1, a credential read two ways is refused with 401 naming the header, and a missing or wrong
 * one with 401; I2, every shape that carries alice's key alone is alice, the same caller on
 * every route (her run is hers, bob's is not); I4, without client keys every shape is the one
 * open caller and nothing is refused for its credential. Probes answer whatever is sent.
 *
 * A route is one row of ROUTES, a shape one of test/support/credentialShapes.ts's. The route list is read from the
 * server the runtime builds (its router), so a route added without a row fails the first test.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { buildApiServer } from '../../runtime/src/server/apiServer.ts';
import type { RuntimeContext } from '../../runtime/src/server/runtimeContext.ts';
import { credentialShapes, type CredentialShape } from '../support/credentialShapes.ts';
import { PRIMARY_MODEL, type StandaloneRuntime } from '../support/standaloneRuntime.ts';
import { waitFor } from '../support/waitFor.ts';
import { ALICE, BOB, backdrop, type Backdrop } from './adversaryAgents.ts';
import { INITIALIZE, send, type RawHeaders } from './publicHttp.ts';

/** Alice's credential in every shape, bob's key beside it. */
const SHAPES: readonly CredentialShape[] = credentialShapes(ALICE, BOB);

const MESSAGE = {
  model: PRIMARY_MODEL,
  max_tokens: 16,
  messages: [{ role: 'user', content: 'hi' }],
};

/** The runs each agent's tests read: started by alice and by bob before the table. */
interface Runs {
  readonly alice: string;
  readonly bob: string;
}

interface Route {
  readonly name: string;
  readonly method: string;
  /** As the router has it (`/v1/agent/runs/:id`). */
  readonly route: string;
  readonly path: (runs: Runs) => string;
  readonly body?: unknown;
  /** Answers whatever credential is sent (the kubelet sends none). */
  readonly open?: true;
  /** What alice gets from an agent with client keys; bob's row is `bob` when it differs. */
  readonly served: number;
  readonly bob?: number;
  /** What every caller gets from an agent without client keys. */
  readonly unenforced?: number;
}

const ROUTES: readonly Route[] = [
  ...['/health', '/health/live', '/health/ready'].flatMap((route) =>
    ['GET', 'HEAD'].map((method): Route => ({
      name: route,
      method,
      route,
      path: () => route,
      open: true,
      served: 200,
    })),
  ),
  {
    name: 'messages',
    method: 'POST',
    route: '/v1/messages',
    path: () => '/v1/messages',
    body: MESSAGE,
    served: 200,
  },
  {
    name: 'count_tokens',
    method: 'POST',
    route: '/v1/messages/count_tokens',
    path: () => '/v1/messages/count_tokens',
    body: { model: PRIMARY_MODEL, messages: MESSAGE.messages },
    served: 200,
  },
  {
    name: 'invoke',
    method: 'POST',
    route: '/v1/agent/invoke',
    path: () => '/v1/agent/invoke',
    body: { input: 'hi' },
    served: 200,
  },
  {
    name: 'start a run',
    method: 'POST',
    route: '/v1/agent/runs',
    path: () => '/v1/agent/runs',
    body: { input: 'hi' },
    served: 202,
  },
  ...['GET', 'HEAD'].flatMap((method): Route[] => [
    {
      name: "alice's run",
      method,
      route: '/v1/agent/runs/:id',
      path: (runs) => `/v1/agent/runs/${runs.alice}`,
      served: 200,
      bob: 404,
    },
    {
      name: "bob's run",
      method,
      route: '/v1/agent/runs/:id',
      path: (runs) => `/v1/agent/runs/${runs.bob}`,
      served: 404,
      bob: 200,
    },
  ]),
  ...['GET', 'HEAD'].flatMap((method): Route[] => [
    { name: 'models', method, route: '/v1/models', path: () => '/v1/models', served: 200 },
    {
      name: 'a model',
      method,
      route: '/v1/models/:id',
      path: () => `/v1/models/${PRIMARY_MODEL}`,
      served: 200,
    },
  ]),
  {
    name: 'MCP initialize',
    method: 'POST',
    route: '/mcp/:server',
    path: () => '/mcp/tools',
    body: INITIALIZE,
    served: 200,
  },
  // The Streamable HTTP transport's GET and DELETE need a session: without one, 400.
  {
    name: 'MCP stream, no session',
    method: 'GET',
    route: '/mcp/:server',
    path: () => '/mcp/tools',
    served: 400,
  },
  {
    name: 'MCP stream, no session',
    method: 'HEAD',
    route: '/mcp/:server',
    path: () => '/mcp/tools',
    served: 400,
  },
  {
    name: 'MCP close, no session',
    method: 'DELETE',
    route: '/mcp/:server',
    path: () => '/mcp/tools',
    served: 400,
  },
  ...[
    '/debug/breakers',
    '/debug/ratelimiter',
    '/debug/policy',
    '/debug/stats',
    '/debug/durable',
    '/debug/budgets',
  ].flatMap((route) =>
    ['GET', 'HEAD'].map((method): Route => ({
      name: route,
      method,
      route,
      path: () => route,
      served: 200,
    })),
  ),
];

/** `METHOD route` of every route the runtime's API server registers, from its router. */
async function servedRoutes(): Promise<string[]> {
  // Registering routes reads nothing of the context; serving them would.
  const app = buildApiServer({} as unknown as RuntimeContext);
  await app.ready();
  const tree = app.printRoutes({ commonPrefix: false });
  await app.close();
  const routes: string[] = [];
  const prefixes: string[] = [];
  for (const line of tree.split('\n')) {
    const match = /^([│ ]*)[├└]── (\S+)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (match === null) continue;
    const depth = (match[1] ?? '').length / 4;
    const path = (prefixes[depth - 1] ?? '') + (match[2] ?? '');
    prefixes.length = depth;
    prefixes[depth] = path;
    for (const method of (match[3] ?? '').split(', ').filter((m) => m !== ''))
      routes.push(`${method} ${path}`);
  }
  return routes.sort();
}

const KEYED = 'adversary-keys';
const OPEN = 'adversary-open';
let world: Backdrop;
/** The agent that enforces client keys, and the one that does not, started together. */
let keyed: StandaloneRuntime;
let open: StandaloneRuntime;
beforeAll(async () => {
  world = await backdrop();
  // One at a time: a runtime's start is mostly CPU, and a busy machine has little to spare.
  keyed = await world.runtime(KEYED, { clientKeys: [ALICE, BOB] });
  open = await world.runtime(OPEN, {});
}, 90_000);
afterAll(async () => {
  await world.stop();
});

it('lists every route the runtime serves, and none it does not', async () => {
  const listed = [...new Set(ROUTES.map((r) => `${r.method} ${r.route}`))].sort();
  const served = await servedRoutes();
  expect(served.length).toBeGreaterThan(10);
  expect(listed).toEqual(served);
});

/** A run `headers` start, once it has finished. */
async function finishedRun(rt: StandaloneRuntime, headers: RawHeaders): Promise<string> {
  const started = await send(rt.runtime.url, 'POST', '/v1/agent/runs', headers, { input: 'hi' });
  expect(started.status).toBe(202);
  const id = String(started.body.id);
  await waitFor(
    async () =>
      (await send(rt.runtime.url, 'GET', `/v1/agent/runs/${id}`, headers)).body.state ===
      'completed',
    { timeoutMs: 20_000, intervalMs: 50, description: `run ${id} to complete` },
  );
  return id;
}

interface Cell {
  readonly shape: string;
  readonly status: number;
  /** The refusal's error, or a matcher of it. */
  readonly error?: unknown;
}

/** Alice's and bob's runs on `rt`, started together, once they have finished. */
async function runsOf(rt: StandaloneRuntime): Promise<Runs> {
  const [alice, bob] = await Promise.all([
    finishedRun(rt, ['x-api-key', ALICE]),
    finishedRun(rt, ['authorization', `Bearer ${BOB}`]),
  ]);
  return { alice, bob };
}

/** What `rt` answers `route` for each shape, the shapes sent at once: no cell reads another's. */
function answersTo(rt: StandaloneRuntime, route: Route, runs: Runs) {
  return Promise.all(
    SHAPES.map((shape) =>
      send(rt.runtime.url, route.method, route.path(runs), shape.headers, route.body),
    ),
  );
}

describe('an agent that enforces client keys', () => {
  const AGENT = KEYED;
  let rt: StandaloneRuntime;
  let runs: Runs;

  beforeAll(async () => {
    rt = keyed;
    runs = await runsOf(rt);
  }, 60_000);

  const expected = (route: Route, shape: CredentialShape): Cell => {
    const { reading } = shape;
    const head = route.method === 'HEAD';
    if (route.open === true) return { shape: shape.name, status: route.served };
    if ('as' in reading)
      return {
        shape: shape.name,
        status: reading.as === 'other' ? (route.bob ?? route.served) : route.served,
      };
    const message =
      'ambiguous' in reading
        ? reading.ambiguous
        : route.route.startsWith('/debug/')
          ? 'a client key is required for /debug'
          : reading.refused === 'missing'
            ? 'missing client key'
            : 'invalid client key';
    return {
      shape: shape.name,
      status: 401,
      ...(head
        ? {}
        : {
            error: {
              type: 'authentication_error',
              message: expect.stringContaining(message),
            },
          }),
    };
  };

  it.each(ROUTES.map((r) => [`${r.method} ${r.name}`, r] as const))(
    'answers %s as the promise table says, for every credential shape',
    async (_name, route) => {
      const answers = await answersTo(rt, route, runs);
      const cells = answers.map((answer, i): Cell => {
        const refusedWith = answer.status === 401 && route.method !== 'HEAD';
        return {
          shape: SHAPES[i]?.name ?? '',
          status: answer.status,
          ...(refusedWith ? { error: answer.body.error } : {}),
        };
      });
      expect(cells).toEqual(SHAPES.map((shape) => expected(route, shape)));
    },
  );

  it("opens budget accounts for alice's and bob's keys alone, whatever shape carried them", async () => {
    const fingerprints = await world.accounts(AGENT);
    expect(fingerprints).toHaveLength(2);
    expect(fingerprints.every((f) => /^key-[0-9a-f]{12}$/.test(f))).toBe(true);
  });
});

describe('an agent that enforces no client keys', () => {
  const AGENT = OPEN;
  let rt: StandaloneRuntime;
  let runs: Runs;

  beforeAll(async () => {
    rt = open;
    runs = await runsOf(rt);
  }, 60_000);

  it.each(ROUTES.map((r) => [`${r.method} ${r.name}`, r] as const))(
    'answers %s alike for every credential shape: one open caller, nothing refused',
    async (_name, route) => {
      const answers = await answersTo(rt, route, runs);
      const cells = answers.map((answer, i) => ({
        shape: SHAPES[i]?.name ?? '',
        status: answer.status,
      }));
      // Each caller's run is every caller's (I4): one open caller.
      const status =
        route.unenforced ?? (route.route === '/v1/agent/runs/:id' ? 200 : route.served);
      expect(cells).toEqual(SHAPES.map((shape) => ({ shape: shape.name, status })));
    },
  );

  it('counts every shape in one account of its per-ClientKey budget, no-key', async () => {
    expect(await world.accounts(AGENT)).toEqual(['no-key']);
  });
});
