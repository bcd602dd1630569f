/**
 * Prompt caches kept warm across backends, seen from the unmodified Anthropic SDK through real
 * runtime processes: two Anthropic API backends with two keys (each on its own simulator, so
 * that one can fail alone) and Bedrock behind them, conversations that put `cache_control` on
 * their system prompt and newest message. The simulators cache per account, as the API does:
 * a conversation read back from cache has to come back to the backend that wrote it.
 *
 * - 20 conversations of 10 turns through a runtime with cacheAffinity Sticky and, in the same
 *   run, through one with it Off (round-robin): the share of cacheable input read from cache;
 * - a failover mid-conversation and the primary's recovery: the conversation moves, then stays
 *   where its prefix now is (no failback before the TTL);
 * - both keys failing: the conversation moves to Bedrock and reads its prefix back there, plain
 *   and streamed through the runtime's event-stream transcoding;
 * - a named session (x-breakwater-session, the agent's sessionId) stays on one backend;
 * - two runtimes sharing one redis-server keep a conversation on one backend.
 */
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { PolicyDocument } from '../../contract/src/policy/policyDocument.ts';
import {
  CACHE_MODEL,
  Conversation,
  converse,
  costUsd,
  shareReadFromCache,
  type TurnRecord,
} from '../support/cacheConversations.ts';
import { startRedis, type RedisHandle } from '../support/redisServer.ts';
import { startCacheBackends, type CacheBackends } from '../support/cacheBackends.ts';
import {
  policyDocument,
  sample,
  standaloneRuntime,
  type Mutable,
  type StandaloneRuntime,
} from '../support/standaloneRuntime.ts';

const CONVERSATIONS = 20;
const TURNS = 10;

let sims: CacheBackends;
const runtimes: StandaloneRuntime[] = [];

async function runtime(
  affinity: 'Sticky' | 'Off',
  change: (d: Mutable<PolicyDocument>) => void = () => undefined,
): Promise<{ client: Anthropic; rt: StandaloneRuntime }> {
  const rt = await standaloneRuntime(
    policyDocument(sims.sim1.url, (d) => {
      sims.route(d, affinity);
      change(d);
    }),
    sims.env,
  );
  runtimes.push(rt);
  return {
    rt,
    client: new Anthropic({ baseURL: rt.runtime.url, apiKey: 'unused', maxRetries: 0 }),
  };
}

beforeAll(async () => {
  sims = await startCacheBackends({ label: 'cache-affinity', seeds: [35, 36] });
});

afterAll(async () => {
  await Promise.all(runtimes.map((r) => r.stop()));
  await sims.stop();
});

const backendsOf = (records: readonly TurnRecord[], id: string) =>
  new Set(records.filter((r) => r.conversation === id).map((r) => r.backend));

describe('cache affinity', () => {
  it('reads back at least 95% of cacheable input with affinity, more than round-robin does', async () => {
    const sticky = await runtime('Sticky');
    const off = await runtime('Off');
    const make = (label: string) =>
      Array.from(
        { length: CONVERSATIONS },
        (_, i) => new Conversation(`${label}-${String(i)}`, label),
      );
    const [withAffinity, roundRobin] = await Promise.all([
      converse(sticky.client, make('sticky'), TURNS),
      converse(off.client, make('round-robin'), TURNS),
    ]);
    const share = { sticky: shareReadFromCache(withAffinity), off: shareReadFromCache(roundRobin) };
    process.stderr.write(
      `cache affinity: share read from cache ${share.sticky.toFixed(4)} (Sticky) vs ${share.off.toFixed(4)} (Off); cost $${costUsd(withAffinity).toFixed(4)} vs $${costUsd(roundRobin).toFixed(4)}\n`,
    );
    expect(withAffinity).toHaveLength(CONVERSATIONS * TURNS);
    expect(share.sticky).toBeGreaterThanOrEqual(0.95);
    expect(share.sticky).toBeGreaterThan(share.off);
    expect(costUsd(withAffinity)).toBeLessThan(costUsd(roundRobin));
    // Each conversation stayed on one backend, and the conversations used both keys.
    for (let i = 0; i < CONVERSATIONS; i++)
      expect(backendsOf(withAffinity, `sticky-${String(i)}`).size).toBe(1);
    expect(new Set(withAffinity.map((r) => r.backend))).toEqual(new Set(['a1', 'a2']));
    // The runtime's metrics say the same: reads per backend, and pins kept.
    const metrics = await sticky.rt.runtime.metrics();
    const read = sample(metrics, 'agent_llm_input_tokens_total', { kind: 'cache_read' });
    const written = sample(metrics, 'agent_llm_input_tokens_total', { kind: 'cache_write' });
    expect(read / (read + written)).toBeCloseTo(share.sticky, 6);
    expect(sample(metrics, 'agent_cache_affinity_total', { result: 'pinned' })).toBe(
      CONVERSATIONS * (TURNS - 1),
    );
  });

  it('moves a conversation off a failed backend and keeps it there after the backend recovers', async () => {
    const { client } = await runtime('Sticky');
    const conversation = new Conversation('failover', 'failover');
    const first = await conversation.next(client);
    expect(['a1', 'a2']).toContain(first.backend);
    const failing = first.backend === 'a1' ? sims.sim1 : sims.sim2;
    await failing.setFault({
      status: 529,
      errorType: 'overloaded_error',
      rate: 1,
      provider: 'anthropic',
    });
    const moved = await conversation.next(client);
    expect(moved.backend).not.toBe(first.backend);
    // Its prefix was written where it moved: that is where it is read from now.
    expect(moved.usage.cache_creation_input_tokens ?? 0).toBeGreaterThan(0);
    await failing.clearFaults();
    // Recovered and serving: a new conversation may land there again.
    const others = Array.from(
      { length: 4 },
      (_, i) => new Conversation(`other-${String(i)}`, 'failover'),
    );
    const served = await Promise.all(others.map((c) => c.next(client)));
    expect(served.map((r) => r.backend)).toContain(first.backend);
    // The moved conversation stays where its cache is, well inside the 5-minute TTL.
    for (let t = 0; t < 6; t++) {
      const next = await conversation.next(client, { stream: t % 2 === 1 });
      expect(next.backend).toBe(moved.backend);
      expect(next.usage.cache_read_input_tokens ?? 0).toBeGreaterThan(
        next.usage.cache_creation_input_tokens ?? 0,
      );
    }
  });

  it('moves a conversation to Bedrock when both keys fail, and reads its prefix back there, plain and streamed', async () => {
    const { client } = await runtime('Sticky');
    const conversation = new Conversation('to-bedrock', 'to-bedrock');
    await conversation.next(client);
    const overloaded = {
      status: 529,
      errorType: 'overloaded_error',
      rate: 1,
      provider: 'anthropic',
    } as const;
    await Promise.all([sims.sim1.setFault(overloaded), sims.sim2.setFault(overloaded)]);
    try {
      const moved = await conversation.next(client);
      expect(moved.backend).toBe('bedrock');
      expect(moved.usage.cache_creation_input_tokens ?? 0).toBeGreaterThan(0);
    } finally {
      await Promise.all([sims.sim1.clearFaults(), sims.sim2.clearFaults()]);
    }
    for (const stream of [false, true, false, true]) {
      const next = await conversation.next(client, { stream });
      expect(next.backend).toBe('bedrock');
      expect(next.usage.cache_read_input_tokens ?? 0).toBeGreaterThan(1_000);
    }
  });

  it("keeps a named session on one backend: x-breakwater-session and the agent's sessionId", async () => {
    const { client, rt } = await runtime('Sticky');
    const served = new Set<string>();
    for (let i = 0; i < 6; i++) {
      // No cache_control at all: the session alone keys the conversation.
      const { response } = await client.messages
        .create(
          {
            model: CACHE_MODEL,
            max_tokens: 16,
            messages: [{ role: 'user', content: `ask ${String(i)}` }],
          },
          { headers: { 'x-breakwater-session': 'ticket-4711' } },
        )
        .withResponse();
      served.add(response.headers.get('x-breakwater-backend') ?? '?');
    }
    expect(served.size).toBe(1);
    for (let i = 0; i < 4; i++) {
      const answer = await fetch(`${rt.runtime.url}/v1/agent/invoke`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ input: `question ${String(i)}`, sessionId: 'chat-42' }),
      });
      expect(answer.status).toBe(200);
    }
    const metrics = await rt.runtime.metrics();
    // Two sessions: each new once, then pinned on every later call.
    expect(sample(metrics, 'agent_cache_affinity_total', { result: 'new' })).toBe(2);
    expect(sample(metrics, 'agent_cache_affinity_total', { result: 'pinned' })).toBe(5 + 3);
  });

  describe('with a store', () => {
    let redis: RedisHandle;
    beforeAll(async () => {
      redis = await startRedis();
    });
    afterAll(async () => {
      await redis.remove();
    });

    it('keeps a conversation on one backend across two runtimes sharing the store', async () => {
      const shared = (d: Mutable<PolicyDocument>) => {
        d.rateLimit = {
          ...d.rateLimit,
          store: {
            redis: { address: redis.address },
            keyPrefix: 'breakwater:{default/cache-affinity}',
            waitBudgetMs: 1_000,
          },
        };
      };
      const one = await runtime('Sticky', shared);
      const two = await runtime('Sticky', shared);
      // One call moves the second runtime's round-robin a step: on its own, it would send
      // every conversation to the other key.
      await new Conversation('offset', 'offset').next(two.client);
      const conversations = Array.from(
        { length: 6 },
        (_, i) => new Conversation(`shared-${String(i)}`, 'shared'),
      );
      const records: TurnRecord[] = [];
      for (let t = 0; t < 6; t++) {
        const client = t % 2 === 0 ? one.client : two.client;
        records.push(...(await Promise.all(conversations.map((c) => c.next(client)))));
      }
      for (const c of conversations) expect(backendsOf(records, c.id).size).toBe(1);
      expect(shareReadFromCache(records)).toBeGreaterThanOrEqual(0.9);
    });
  });
});
