/**
 * A durable run's journal on a Redis Cluster (issue 51), on real processes: six redis-server
 * nodes in cluster mode (test/support/redisCluster.ts), the simulator, the test MCP server, the
 * own-agent program. The agent and its runtime are SIGKILLed after the third step and the run
 * resumes on a new runtime over the same cluster: the journal's keys lie in the run's hash tag's
 * slot (keySlots.test.ts proves it for every script), so they all live on one primary, and the
 * resumed run replays the first three steps from it.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { createClient } from '@redis/client';
import {
  durableRuntime,
  finished,
  killRuntime,
  startAgent,
  type DurableSetup,
} from '../support/durableRunFixture.ts';
import { startMcpServer, type McpTestServer } from '../support/mcpServer.ts';
import { startRedisCluster, type RedisCluster } from '../support/redisCluster.ts';
import { startSimulator, type SimulatorHandle } from '../support/simulator.ts';
import type { Mutable } from '../support/standaloneRuntime.ts';
import type { PolicyDocument } from '../../contract/src/policy/policyDocument.ts';

jest.setTimeout(120_000);

let sim: SimulatorHandle;
let cluster: RedisCluster;
let mcp: McpTestServer;

beforeAll(async () => {
  sim = await startSimulator();
  cluster = await startRedisCluster();
  mcp = await startMcpServer();
});

afterAll(async () => {
  await Promise.all([sim.stop(), cluster.remove(), mcp.stop()]);
});

const setup = (): DurableSetup => ({
  simUrl: sim.url,
  redis: cluster.nodes[0] ?? (undefined as never),
  mcp,
});

/** The journal on the cluster instead of the one server the fixture names. */
const onCluster = (d: Mutable<PolicyDocument>): void => {
  const durability = d.durability;
  if (durability === undefined) throw new Error('the fixture has no durability');
  d.durability = {
    ...durability,
    store: { redis: { cluster: { addresses: [...cluster.addresses] } } },
  };
};

/** The keys naming `run` on each primary. */
async function runKeysByPrimary(run: string): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const address of await cluster.primaries()) {
    const [host, port] = address.split(':');
    const client = createClient({ socket: { host: host ?? '', port: Number(port) } });
    client.on('error', () => undefined);
    await client.connect();
    try {
      const keys = await client.keys(`*${run}*`);
      if (keys.length > 0) out.set(address, keys);
    } finally {
      client.destroy();
    }
  }
  return out;
}

describe("a durable run's journal on a Redis Cluster", () => {
  it('resumes after its third step on a new runtime from a journal that lives on one primary', async () => {
    let rt = await durableRuntime(setup(), {}, { policy: onCluster });
    try {
      const run = randomUUID();
      const first = startAgent(rt.runtime.url, run, { STOP_AFTER: '3' });
      await first.step(3);
      await first.kill();
      await killRuntime(rt);
      const journal = await runKeysByPrimary(run);
      rt = await durableRuntime(setup(), {}, { policy: onCluster });
      await sim.resetStats();

      const second = startAgent(rt.runtime.url, run);
      const steps = await finished(second);

      expect({
        primariesHoldingTheRun: journal.size,
        steps: steps.map((s) => s.step),
        replayedIds: steps.slice(0, 3).map((s) => s.messageId),
        modelCallsAfterResume: (await sim.stats()).requests,
      }).toEqual({
        primariesHoldingTheRun: 1,
        steps: [1, 2, 3, 4, 5, 6],
        replayedIds: first.lines.slice(0, 3).map((s) => s.messageId),
        modelCallsAfterResume: 3,
      });
    } finally {
      await rt.stop();
    }
  });
});
