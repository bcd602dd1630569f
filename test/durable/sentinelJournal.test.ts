/**
 * A durable run's journal through a Sentinel failover (issue 51, fault d), on real processes:
 * a primary, two replicas and three sentinels (test/support/redisSentinel.ts), the simulator,
 * the test MCP server counting each ticket it files, the own-agent program and runtime
 * processes whose `durability.store.redis` is the Sentinel set. After the run's second step the
 * replicas are cut off the primary (as acknowledgedFailover.test.ts does) while the run goes on;
 * then the agent, its runtime and the primary are SIGKILLed, the sentinels promote a replica
 * that never received the later steps, and the run resumes (same run id, new attempt) on a new
 * runtime. Under `acknowledge: Primary` the steps taken while cut off were acknowledged and are
 * lost with the primary: their effects may run again (D1's outside). Under `Replicas` those
 * claims were refused, so no effect runs twice. The figures are printed for docs/guarantees.md
 * and bench/results/sentinel-faults.json.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import {
  durableRuntime,
  killRuntime,
  startAgent,
  type AgentProcess,
  type DurableSetup,
} from '../support/durableRunFixture.ts';
import { startMcpServer } from '../support/mcpServer.ts';
import { ask, cutReplicasOff, startSentinelSet } from '../support/redisSentinel.ts';
import { startSimulator } from '../support/simulator.ts';
import { sample, type Mutable, type StandaloneRuntime } from '../support/standaloneRuntime.ts';
import { waitFor } from '../support/waitFor.ts';
import type { PolicyDocument } from '../../contract/src/policy/policyDocument.ts';

jest.setTimeout(150_000);

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

const STEPS = 8;
/** Steps taken with the replicas linked, before they are cut off. */
const LINKED_STEPS = 2;
/** How long the run goes on with the replicas cut off (or until its agent gives up). */
const CUT_OFF_MS = 4_000;
/** How long a resumed run has to finish, counted from the primary's kill. */
const RESUME_BOUND_MS = 60_000;

/** Each step's ticket count at the tool server, for titles `step N <id>`. */
function effectsByStep(effects: ReadonlyMap<string, number>): Map<number, number> {
  const out = new Map<number, number>();
  for (const [key, count] of effects) {
    const match = /^file_ticket:step (\d+) /.exec(key);
    if (match === null) continue;
    const step = Number(match[1]);
    out.set(step, (out.get(step) ?? 0) + count);
  }
  return out;
}

/** Resolves once the agent exits or `ms` pass, whichever is first. */
const exitedWithin = (agent: AgentProcess, ms: number): Promise<unknown> =>
  Promise.race([agent.exited, new Promise((resolve) => setTimeout(resolve, ms))]);

describe("a durable run's journal through a Sentinel failover", () => {
  it.each(['Primary', 'Replicas'] as const)('with acknowledge %s', async (acknowledge) => {
    const sim = await startSimulator();
    cleanups.push(() => sim.stop());
    const mcp = await startMcpServer();
    cleanups.push(() => mcp.stop());
    const set = await startSentinelSet();
    cleanups.push(() => set.remove());
    const setup: DurableSetup = { simUrl: sim.url, redis: set.primary, mcp };
    const onSentinel = (d: Mutable<PolicyDocument>): void => {
      const durability = d.durability;
      if (durability === undefined) throw new Error('the fixture has no durability');
      d.durability = {
        ...durability,
        store: {
          redis: {
            sentinel: { masterName: set.masterName, addresses: [...set.sentinels] },
            ...(acknowledge === 'Replicas' ? { acknowledge } : {}),
          },
        },
      };
    };
    const runtimes: StandaloneRuntime[] = [];
    cleanups.push(async () => {
      for (const rt of runtimes) await rt.stop().catch(() => undefined);
    });
    const agents: AgentProcess[] = [];
    cleanups.push(async () => {
      for (const agent of agents) await agent.kill();
    });

    const first = await durableRuntime(setup, {}, { policy: onSentinel });
    runtimes.push(first);
    const run = randomUUID();
    const agent = startAgent(first.runtime.url, run, { STEPS: String(STEPS) });
    agents.push(agent);
    await agent.step(LINKED_STEPS);
    const was = set.primary.address;
    await cutReplicasOff(was);
    await exitedWithin(agent, CUT_OFF_MS);
    const stepsWhileCutOff = agent.lines.filter((l) => (l.step ?? 0) > LINKED_STEPS).length;
    await agent.kill();
    const unjournaledCutOff = sample(
      await first.runtime.metrics(),
      'agent_durable_unjournaled_calls_total',
    );
    await killRuntime(first);
    const killedAt = Date.now();
    await set.primary.kill();
    const promoted = await set.waitForNewPrimary(was, 30_000);
    const promotedAfterMs = Date.now() - killedAt;
    // D1 assumes the journal store up: the run resumes once the promoted primary has a replica
    // linked again (before then, Replicas refuses each write, and a journal command that does
    // not answer in a second sends the call on live and unjournaled, D7).
    await waitFor(
      async () =>
        /slave\d+:[^\r\n]*state=online/.test(String(await ask(promoted, ['INFO', 'replication']))),
      { description: 'a replica linked to the promoted primary', timeoutMs: 30_000 },
    );
    const replicaLinkedAfterMs = Date.now() - killedAt;

    // The run resumes, a new attempt each start, until it finishes or the bound passes.
    let backOnStoreMs: number | undefined;
    let completed = false;
    let attempts = 0;
    let unjournaled = 0;
    const tries: unknown[] = [];
    while (!completed && Date.now() - killedAt < RESUME_BOUND_MS) {
      attempts++;
      const rt = await durableRuntime(setup, {}, { policy: onSentinel }).catch(() => undefined);
      if (rt === undefined) continue;
      runtimes.push(rt);
      const resumed = startAgent(rt.runtime.url, run, { STEPS: String(STEPS) });
      agents.push(resumed);
      const firstStep = resumed.step(1).then(
        () => (backOnStoreMs ??= Date.now() - killedAt),
        () => undefined,
      );
      const code = await Promise.race([
        resumed.exited,
        new Promise((resolve) => setTimeout(resolve, RESUME_BOUND_MS)),
      ]);
      await resumed.kill();
      await firstStep.catch(() => undefined);
      unjournaled += sample(await rt.runtime.metrics(), 'agent_durable_unjournaled_calls_total');
      tries.push({ code, steps: resumed.lines.length, err: resumed.stderr.join('').slice(-160) });
      completed = code === 0 && resumed.lines.some((l) => l.step === STEPS);
    }

    const byStep = effectsByStep(mcp.effects);
    const repeated = [...byStep.values()].filter((n) => n > 1).length;
    const figures = {
      test: 'test/durable/sentinelJournal.test.ts',
      acknowledge,
      steps: STEPS,
      stepsWhileCutOff,
      effectsRepeated: repeated,
      stepsWithoutEffect: Array.from({ length: STEPS }, (_, i) => i + 1).filter(
        (s) => (byStep.get(s) ?? 0) === 0,
      ).length,
      runsLostOrStuck: completed ? 0 : 1,
      resumeAttempts: attempts,
      promotedAfterMs,
      replicaLinkedAfterMs,
      backOnStoreMs,
      unjournaledWhileCutOff: unjournaledCutOff,
      unjournaledOnResume: unjournaled,
      byStep: [...byStep.entries()].sort(),
      tries,
    };
    console.log(`durable run sentinel failover figures: ${JSON.stringify(figures)}`);
    expect({ completed, stepsWithoutEffect: figures.stepsWithoutEffect }).toEqual({
      completed: true,
      stepsWithoutEffect: 0,
    });
    if (acknowledge === 'Replicas') {
      // No claim a tool ran on was acknowledged and then lost: every effect once.
      expect(figures.effectsRepeated).toBe(0);
    } else {
      // Only the steps taken while the replicas were cut off can have been lost.
      expect(figures.effectsRepeated).toBeLessThanOrEqual(stepsWhileCutOff);
    }
  });
});
