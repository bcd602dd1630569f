/**
 * The processes the adversarial suite attacks: the simulator, one redis-server (budgets and
 * run journals), the SDK's MCP server as `tools`, and runtime processes on one policy each:
 * durable runs, the MCP server, and a `per: ClientKey` budget in Redis, with client keys
 * enforced (alice's and bob's) or not. One replica each, so its share is the whole budget.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@redis/client';
import type { Budget } from '../../contract/src/api/v1alpha1/ratelimitpolicy.ts';
import type { PolicyDocument } from '../../contract/src/policy/policyDocument.ts';
import { resolveRateLimit } from '../../contract/src/policy/policyResolution.ts';
import { PRICING, storedPico } from '../support/budgetStoreFixture.ts';
import { durablePolicy } from '../support/durableRunFixture.ts';
import { startMcpServer, type McpTestServer } from '../support/mcpServer.ts';
import { serverHost } from '../support/podReach.ts';
import { ratePolicy } from '../support/rateLimitStoreFixture.ts';
import { startRedis, type RedisHandle } from '../support/redisServer.ts';
import {
  startSimulator,
  type SimulatorHandle,
  type SimulatorStartOptions,
} from '../support/simulator.ts';
import {
  standaloneRuntime,
  type Mutable,
  type StandaloneRuntime,
} from '../support/standaloneRuntime.ts';
import { waitFor } from '../support/waitFor.ts';
import { send } from './publicHttp.ts';

export const ALICE = 'bw-adversary-alice-key';
export const BOB = 'bw-adversary-bob-key';

export interface Backdrop {
  readonly sim: SimulatorHandle;
  readonly redis: RedisHandle;
  readonly mcp: McpTestServer;
  /** Budget accounts of `agent` in Redis, by key suffix (`key-…`, `no-key`). */
  accounts(agent: string): Promise<string[]>;
  /** What each account of `agent` has settled, in picodollars, by key suffix. */
  spent(agent: string): Promise<Record<string, bigint>>;
  /** What calls in flight hold in each account of `agent`, in picodollars, by key suffix. */
  held(agent: string): Promise<Record<string, bigint>>;
  /** A runtime for agent `agent`; `clientKeys` enforced when given. */
  runtime(
    agent: string,
    options: {
      readonly clientKeys?: readonly string[];
      readonly budget?: Omit<Budget, 'period'>;
      readonly change?: (doc: Mutable<PolicyDocument>) => void;
      /** The provider it calls. @default the backdrop's simulator */
      readonly provider?: SimulatorHandle;
    },
  ): Promise<StandaloneRuntime>;
  stop(): Promise<void>;
}

export async function backdrop(simulator: SimulatorStartOptions = {}): Promise<Backdrop> {
  const [sim, redis, mcp] = await Promise.all([
    startSimulator({ seed: 9, ...simulator }),
    startRedis(),
    startMcpServer(),
  ]);
  const store = createClient({ socket: { host: serverHost(), port: redis.port } });
  store.on('error', () => undefined);
  await store.connect();
  const dir = mkdtempSync(join(tmpdir(), 'bw-adversary-'));
  const keyFile = join(dir, 'journal-key');
  writeFileSync(keyFile, Buffer.alloc(32, 9).toString('base64'));
  const started: StandaloneRuntime[] = [];
  /** Agent `agent`'s budget accounts in Redis: key by its last part (`key-…`, `no-key`). */
  const accountKeys = async (agent: string) => {
    const keys: Record<string, string> = {};
    for await (const batch of store.scanIterator({ MATCH: `*:budget:${agent}:*`, COUNT: 1000 }))
      for (const key of batch) if (!key.endsWith(':leases')) keys[key.split(':').pop() ?? ''] = key;
    return keys;
  };
  const amounts = async (agent: string, amount: 'spent' | 'reserved') => {
    const found: Record<string, bigint> = {};
    for (const [suffix, key] of Object.entries(await accountKeys(agent)))
      found[suffix] = storedPico(await store.hGetAll(key), amount);
    return found;
  };
  return {
    sim,
    redis,
    mcp,
    async accounts(agent) {
      return Object.keys(await accountKeys(agent)).sort();
    },
    spent: (agent) => amounts(agent, 'spent'),
    held: (agent) => amounts(agent, 'reserved'),
    async runtime(agent, options) {
      const doc = structuredClone(
        durablePolicy({ simUrl: (options.provider ?? sim).url, redis, mcp }),
      ) as Mutable<PolicyDocument>;
      doc.agent = { ...doc.agent, name: agent, namespace: 'default' };
      const budget = options.budget ?? { name: 'per-key', usd: '100', per: 'ClientKey' };
      doc.rateLimit = resolveRateLimit(
        ratePolicy({
          budgets: [{ period: 'Day', ...budget }],
          store: { redis: { address: redis.address }, waitBudget: '1s' },
        }),
        1,
        agent,
      );
      doc.pricing = PRICING.map((p) => ({ ...p }));
      if (doc.durability !== undefined)
        doc.durability = { ...doc.durability, keyPrefix: `breakwater:run:adversary/${agent}` };
      options.change?.(doc);
      const rt = await standaloneRuntime(doc, {
        BREAKWATER_DURABILITY_KEY_FILE: keyFile,
        ...(options.clientKeys === undefined
          ? {}
          : { BREAKWATER_CLIENT_KEYS: options.clientKeys.join(',') }),
      });
      started.push(rt);
      // The MCP server's tools are listed in the background.
      const key = options.clientKeys?.[0] ?? 'any';
      await waitFor(
        async () => {
          const answer = await send(rt.runtime.url, 'POST', '/mcp/tools', ['x-api-key', key], {
            jsonrpc: '2.0',
            id: 1,
            method: 'tools/list',
            params: {},
          });
          return answer.status !== 404 && answer.status !== 503;
        },
        { timeoutMs: 10_000, intervalMs: 100, description: 'the MCP server behind the runtime' },
      );
      return rt;
    },
    async stop() {
      store.destroy();
      await Promise.all(started.map((rt) => rt.stop()));
      await Promise.all([sim.stop(), redis.remove(), mcp.stop()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
