/**
 * A durable run whose journal missed some of its calls keeps every later call at its own place
 * (D1 after a gap; an outside attack's worst break, issue 51), on real processes: a
 * redis-server, the test MCP server counting each ticket it files, a runtime, and a caller that
 * files one ticket per step through `/mcp/tools` with the MCP SDK. Mid-run the store is full
 * (`maxmemory 1` under noeviction: every write answered OOM, as a store that filled up is) for a
 * few steps, which go on live and unjournaled; then the run resumes as a new attempt. Before,
 * the steps after the gap had been written where the gap's first step belonged, the resumed run
 * diverged there and every later step ran again (29 of 36 effects in the attack). Now each
 * unjournaled call is written in its own place with the attempt's next claim: the resumed run
 * replays every journaled step and answers the gap's steps "outcome unknown" (the tool is not
 * marked idempotent), so every ticket is filed once.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  durableRuntime,
  ticketsByStep,
  toolRun,
  type DurableSetup,
  type ToolStep,
} from '../support/durableRunFixture.ts';
import { startMcpServer, type McpTestServer } from '../support/mcpServer.ts';
import { startRedis, type RedisHandle } from '../support/redisServer.ts';
import { ask } from '../support/redisSentinel.ts';
import { startSimulator, type SimulatorHandle } from '../support/simulator.ts';
import { sample } from '../support/standaloneRuntime.ts';

const STEPS = 12;
/** The steps made while the store is full. */
const GAP = [4, 5, 6];
/** The step of a resumed run before which the store stalls. */
const STALL_AT = 5;

let sim: SimulatorHandle;
let redis: RedisHandle;
let mcp: McpTestServer;

beforeAll(async () => {
  sim = await startSimulator();
  redis = await startRedis();
  mcp = await startMcpServer();
});

afterAll(async () => {
  await Promise.all([sim.stop(), redis.remove(), mcp.stop()]);
});

const setup = (): DurableSetup => ({ simUrl: sim.url, redis, mcp });
const full = async (on: boolean): Promise<void> => {
  await ask(redis.address, ['CONFIG', 'SET', 'maxmemory', on ? '1' : '0']);
};

describe('a run whose journal store was full for a few of its steps', () => {
  it('resumes with every journaled step replayed and each ticket filed once', async () => {
    const rt = await durableRuntime(setup());
    try {
      const runs = [randomUUID(), randomUUID()];
      const first: ToolStep[][] = [];
      for (const run of runs)
        first.push(
          await toolRun(rt.runtime.url, run, STEPS, {
            before: async (step) => {
              if (step === GAP[0]) await full(true);
              if (step === (GAP.at(-1) ?? 0) + 1) await full(false);
            },
          }),
        );
      const unjournaled = sample(
        await rt.runtime.metrics(),
        'agent_durable_unjournaled_calls_total',
      );
      const resumed = [];
      for (const run of runs) resumed.push(await toolRun(rt.runtime.url, run, STEPS));
      const figures = {
        unjournaled,
        tickets: runs.map((run) => ticketsByStep(mcp, run, STEPS)),
        unknown: resumed.map((steps) => steps.filter((s) => s.isError).map((s) => s.step)),
        replayed: sample(await rt.runtime.metrics(), 'agent_durable_replayed_calls_total', {
          kind: 'tool',
        }),
      };
      console.log(`journal gap, resumed: ${JSON.stringify(figures)}`);

      expect(first.flat().every((s) => !s.isError)).toBe(true);
      expect(figures.unjournaled).toBe(runs.length * GAP.length);
      expect(figures.tickets).toEqual(runs.map(() => Array.from({ length: STEPS }, () => 1)));
      // The gap's steps: their outcome unknown to the journal, the tool not called again.
      expect(figures.unknown).toEqual(runs.map(() => GAP));
      for (const steps of resumed)
        for (const s of steps.filter((s) => s.isError))
          expect(s.text).toMatch(/outcome of tools__file_ticket is unknown/);
      // Every other step answered as it was the first time, from the journal.
      resumed.forEach((steps, i) => {
        const journaled = (s: { step: number }) => !GAP.includes(s.step);
        expect(steps.filter(journaled)).toEqual(first[i]?.filter(journaled));
      });
      expect(figures.replayed).toBe(runs.length * (STEPS - GAP.length));
    } finally {
      await full(false);
      await rt.stop();
    }
  });
});

describe('a run resumed while its journal store stalls', () => {
  it('refuses the replayed tool call it cannot match (503, retryable) rather than run it again, and replays it when asked again', async () => {
    const rt = await durableRuntime(setup());
    try {
      const run = randomUUID();
      const first = await toolRun(rt.runtime.url, run, STEPS);
      const refused: string[] = [];
      const resumed = await toolRun(rt.runtime.url, run, STEPS, {
        // Writes held for 1.5 s, past the journal's one-second deadline: the claim lands late.
        before: async (step) => {
          if (step === STALL_AT) await ask(redis.address, ['CLIENT', 'PAUSE', '1500', 'WRITE']);
        },
        retry: async (_step, err) => {
          refused.push(String(err));
          await new Promise((resolve) => setTimeout(resolve, 250));
          return refused.length < 20;
        },
      });
      const figures = { refused: refused.length, tickets: ticketsByStep(mcp, run, STEPS) };
      console.log(`resumed through a stall: ${JSON.stringify(figures)}`);

      expect(figures.tickets).toEqual(Array.from({ length: STEPS }, () => 1));
      expect(refused.length).toBeGreaterThan(0);
      for (const r of refused) expect(r).toMatch(/replaying its journal.*ask again/);
      // Every step answered from the journal, the stalled one too.
      expect(resumed).toEqual(first);
    } finally {
      await ask(redis.address, ['CLIENT', 'UNPAUSE']);
      await rt.stop();
    }
  });
});
