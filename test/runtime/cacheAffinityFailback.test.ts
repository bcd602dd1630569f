/**
 * Failback after a failover, end to end: real runtime processes, two Anthropic API keys (each
 * on its own simulator, so that one can fail alone) and Bedrock behind them, a conversation
 * with `cache_control` pinned to the key that served it first. That key fails (the
 * simulator's fault controls), the conversation moves, the key recovers, and the conversation
 * stays where its prefix now is until the prefix it left on the first key has expired there;
 * then it goes back. The runtime and the simulators are told the same short cache lifetime
 * (`--prompt-cache-ttl-ms`, `--cache-ttl-ms`), so the wait is seconds, not five minutes, and
 * the simulators expire the first key's copy when the runtime's pin says it has.
 *
 * Which backend served each turn is read from the simulators' own counters, not only from the
 * runtime's `x-breakwater-backend`.
 */
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startCacheBackends, type CacheBackends } from '../support/cacheBackends.ts';
import { Conversation } from '../support/cacheConversations.ts';
import type { SimulatorHandle } from '../support/simulator.ts';
import {
  policyDocument,
  sample,
  standaloneRuntime,
  type StandaloneRuntime,
} from '../support/standaloneRuntime.ts';
import { waitFor } from '../support/waitFor.ts';

/**
 * The cache's lifetime on both sides: short enough to wait out, long enough that the moved
 * conversation's next turn comes within it even on a loaded machine (each turn reads its copy
 * back, which renews it). At 4 s a CI run at load average 12 let a turn come 4 s after the one
 * before, and the moved copy had expired: a write where a read was due.
 */
const TTL_MS = 8_000;
const OVERLOADED = {
  status: 529,
  errorType: 'overloaded_error',
  rate: 1,
  provider: 'anthropic',
} as const;

let sims: CacheBackends;
const runtimes: StandaloneRuntime[] = [];

beforeAll(async () => {
  sims = await startCacheBackends({
    label: 'cache-failback',
    seeds: [135, 136],
    simulatorArgs: ['--cache-ttl-ms', String(TTL_MS)],
  });
});

afterAll(async () => {
  await Promise.all(runtimes.map((r) => r.stop()));
  await sims.stop();
});

/** a1 (key one, simulator 1) and a2 (key two, simulator 2) first, Bedrock (simulator 1) after. */
async function runtime(): Promise<{ client: Anthropic; rt: StandaloneRuntime }> {
  const rt = await standaloneRuntime(
    policyDocument(sims.sim1.url, (d) => {
      sims.route(d, 'Sticky');
    }),
    sims.env,
    { args: ['--prompt-cache-ttl-ms', String(TTL_MS)] },
  );
  runtimes.push(rt);
  return {
    rt,
    client: new Anthropic({ baseURL: rt.runtime.url, apiKey: 'unused', maxRetries: 0 }),
  };
}

/** Answers each backend's simulator counted as served: a1, a2 and Bedrock. */
async function servedCounts(): Promise<Record<string, number>> {
  const [one, two] = await Promise.all([sims.sim1.stats(), sims.sim2.stats()]);
  return {
    a1: one.byProvider.anthropic.byOutcome.ok ?? 0,
    a2: two.byProvider.anthropic.byOutcome.ok ?? 0,
    bedrock: one.byProvider.bedrock.byOutcome.ok ?? 0,
  };
}

interface Turn {
  readonly backend: string;
  readonly read: number;
  readonly written: number;
  readonly answeredAt: number;
}

/** One turn, and the backend whose simulator answered it (checked against the runtime's header). */
async function turn(conversation: Conversation, client: Anthropic, stream = false): Promise<Turn> {
  const before = await servedCounts();
  const record = await conversation.next(client, { stream });
  const answeredAt = Date.now();
  const after = await servedCounts();
  const served = Object.keys(after).filter((b) => (after[b] ?? 0) > (before[b] ?? 0));
  expect(served).toEqual([record.backend]);
  return {
    backend: record.backend,
    read: record.usage.cache_read_input_tokens ?? 0,
    written: record.usage.cache_creation_input_tokens ?? 0,
    answeredAt,
  };
}

describe('cache affinity: failback', () => {
  it.each([
    ['the other key', (failing: SimulatorHandle) => [failing]],
    ['Bedrock, when both keys fail', () => [sims.sim1, sims.sim2]],
  ])(
    'moves a conversation to %s, keeps it there after the key recovers until the prefix it left has expired, then brings it back',
    async (_name, failingOf) => {
      const { client, rt } = await runtime();
      const id = `failback-${String(runtimes.length)}`;
      const conversation = new Conversation(id, id);
      const sentFirst = Date.now();
      const first = await turn(conversation, client);
      const home = first.backend;
      expect(['a1', 'a2']).toContain(home);
      const failing = failingOf(home === 'a1' ? sims.sim1 : sims.sim2);
      await Promise.all(failing.map((s) => s.setFault(OVERLOADED)));
      let moved: Turn;
      try {
        moved = await turn(conversation, client);
      } finally {
        await Promise.all(failing.map((s) => s.clearFaults()));
      }
      expect(moved.backend).not.toBe(home);
      if (failing.length === 2) expect(moved.backend).toBe('bedrock');
      expect(moved.written).toBeGreaterThan(0);

      // The home key serves again: new conversations land there.
      const others = Array.from(
        { length: 4 },
        (_, i) => new Conversation(`${id}-other-${String(i)}`, `${id}-other`),
      );
      const served = await Promise.all(others.map((c) => c.next(client)));
      expect(served.map((r) => r.backend)).toContain(home);
      // Yet the moved conversation stays where its prefix is, reading it back, until the copy
      // on its home key has expired.
      const stayed: Turn[] = [];
      const back = await waitFor(
        async () => {
          const next = await turn(conversation, client, stayed.length % 2 === 1);
          if (next.backend === home) return next;
          stayed.push(next);
          return undefined;
        },
        { timeoutMs: 6 * TTL_MS, intervalMs: 250, description: `the conversation back on ${home}` },
      );
      expect(stayed.length).toBeGreaterThanOrEqual(2);
      for (const t of stayed) {
        expect(t.backend).toBe(moved.backend);
        expect(t.read).toBeGreaterThan(t.written);
      }
      // Not before the prefix left at home had expired: the first turn's pin ran out no
      // earlier than a lifetime after it was sent.
      expect(back.answeredAt).toBeGreaterThanOrEqual(sentFirst + TTL_MS);
      // Home's copy had expired, so it is written again there, then read back there.
      expect(back.written).toBeGreaterThan(back.read);
      const after = await turn(conversation, client, true);
      expect(after.backend).toBe(home);
      expect(after.read).toBeGreaterThan(after.written);

      const metrics = await rt.runtime.metrics();
      expect(sample(metrics, 'agent_cache_affinity_total', { result: 'moved' })).toBe(1);
      expect(sample(metrics, 'agent_cache_affinity_total', { result: 'failback' })).toBe(1);
      expect(sample(metrics, 'agent_cache_affinity_total', { result: 'pinned' })).toBe(
        stayed.length + 1,
      );
    },
  );
});
