/**
 * Cache affinity through the real router and guard, with a manual clock: conversations stay
 * where their prefix is cached, move when that backend fails, and go back only after the
 * prefix left there would have expired, or once they went idle.
 */
import { APIError } from '@anthropic-ai/sdk';
import { describe, expect, it } from '@jest/globals';
import type { PolicyDocument } from '../../../../contract/src/policy/policyDocument.ts';
import { samplePolicyDocument } from '../../../../contract/src/policy/policyFixtures.ts';
import { ManualClock } from '../../../../test/support/manualClock.ts';
import { GuardSet } from '../../guard/guardSet/guardSet.ts';
import { anthropicClassifier } from '../anthropic/errorClassification.ts';
import type { Backend, BackendPool } from '../backendPool.ts';
import { AnthropicWire } from '../backendWire.ts';
import type { MessagesForwarder } from '../messagesForwarder.ts';
import { ModelRouter } from '../modelRouter.ts';
import { streamLimits } from '../providerAttempt.ts';
import { CacheAffinity, type SharedPins } from './cacheAffinity.ts';
import type { PinOutcome } from './pinRules.ts';

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends object ? Mutable<T[K]> : T[K] };

const MINUTE = 60_000;
const overloaded = () =>
  APIError.generate(
    529,
    { type: 'error', error: { type: 'overloaded_error', message: 'overloaded' } },
    undefined,
    new Headers(),
  );

/** Backends that answer unless told to be down; each remembers the conversations it served. */
function backend(name: string, priority: number, down: Set<string>): Backend {
  return {
    name,
    type: 'Anthropic',
    weight: 1,
    priority,
    inFlight: 0,
    models: undefined,
    wire: new AnthropicWire({
      send: () =>
        down.has(name)
          ? Promise.reject(overloaded())
          : Promise.resolve({
              kind: 'plain',
              status: 200,
              headers: { get: () => null },
              text: '{"usage":{"input_tokens":2,"output_tokens":3}}',
            }),
    } as unknown as MessagesForwarder),
  } as unknown as Backend;
}

function setup(options: { on?: boolean; shared?: SharedPins; clock?: ManualClock } = {}) {
  const doc = structuredClone(samplePolicyDocument()) as Mutable<PolicyDocument>;
  doc.retry.maxAttempts = 3;
  const clock = options.clock ?? new ManualClock(1_000_000);
  const guard = new GuardSet<Backend>({ classifier: anthropicClassifier, doc, clock });
  const down = new Set<string>();
  const outcomes: PinOutcome[] = [];
  const affinity = new CacheAffinity({
    clock,
    ...(options.shared === undefined ? {} : { shared: options.shared }),
    onOutcome: (o) => outcomes.push(o),
  });
  const router = new ModelRouter({
    pool: {
      backends: [backend('a', 0, down), backend('b', 0, down), backend('bedrock', 1, down)],
    } as unknown as BackendPool,
    guard: () => guard,
    clock,
    strategy: () => 'RoundRobin',
    streamLimits: () => streamLimits(doc),
    observe: () => undefined,
    affinity,
    affinityOn: () => options.on ?? true,
  });
  const turns = new Map<string, number>();
  /** The next turn of conversation `id`, with its breakpoint on the newest message. */
  const say = async (id: string, session?: string) => {
    const n = (turns.get(id) ?? 0) + 1;
    turns.set(id, n);
    const messages: unknown[] = [];
    for (let i = 1; i <= n; i++) {
      const text = `${id}: question ${String(i)}`;
      const block = { type: 'text', text };
      messages.push({
        role: 'user',
        content: [i === n ? { ...block, cache_control: { type: 'ephemeral' } } : block],
      });
      if (i < n) messages.push({ role: 'assistant', content: `answer ${String(i)}` });
    }
    const routed = await router.send({
      via: 'forward',
      body: { model: doc.model.name, max_tokens: 16, messages },
      stream: false,
      models: [doc.model.name],
      signal: new AbortController().signal,
      ...(session === undefined ? {} : { session }),
    });
    return routed.backend;
  };
  return { clock, down, say, outcomes, affinity };
}

/** The backends each conversation was served by over `turns` turns, interleaved. */
async function conversations(say: (id: string) => Promise<string>, count: number, turns: number) {
  const served = new Map<string, Set<string>>();
  for (let t = 0; t < turns; t++) {
    for (let c = 0; c < count; c++) {
      const id = `c${String(c)}`;
      const b = await say(id);
      served.set(id, (served.get(id) ?? new Set()).add(b));
    }
  }
  return served;
}

describe('cache affinity in the router', () => {
  it('keeps each conversation on one backend, and still spreads conversations', async () => {
    const { say } = setup();
    const served = await conversations(say, 6, 5);
    for (const backends of served.values()) expect(backends.size).toBe(1);
    const used = new Set([...served.values()].flatMap((s) => [...s]));
    expect(used).toEqual(new Set(['a', 'b']));
  });

  it('spreads every conversation by the balancer when affinity is Off', async () => {
    const { say } = setup({ on: false });
    const served = await conversations(say, 3, 4);
    for (const backends of served.values()) expect(backends.size).toBe(2);
  });

  it('moves a conversation when its backend fails, and keeps it there after recovery until the left prefix expired', async () => {
    const { say, down, clock, outcomes } = setup();
    const home = await say('x');
    const other = home === 'a' ? 'b' : 'a';
    clock.advance(MINUTE);
    expect(await say('x')).toBe(home);
    const leftExpires = clock.now() + 5 * MINUTE;
    clock.advance(MINUTE);
    down.add(home);
    expect(await say('x')).toBe(other);
    down.delete(home);
    // Recovered, but the prefix cached there is still live: no failback yet.
    while (clock.now() + MINUTE < leftExpires) {
      clock.advance(MINUTE);
      expect(await say('x')).toBe(other);
    }
    clock.advance(leftExpires - clock.now());
    expect(await say('x')).toBe(home);
    expect(outcomes).toEqual(['new', 'pinned', 'moved', 'pinned', 'pinned', 'pinned', 'failback']);
  });

  it('moves a conversation whose backend has no usable peer to the next priority, and back home after', async () => {
    const { say, down, clock } = setup();
    const home = await say('y');
    down.add('a').add('b');
    expect(await say('y')).toBe('bedrock');
    down.clear();
    clock.advance(4 * MINUTE);
    expect(await say('y')).toBe('bedrock');
    clock.advance(MINUTE + 1);
    expect(await say('y')).toBe(home);
  });

  it('balances an idle conversation afresh once its pin has expired', async () => {
    const { say, clock, outcomes } = setup();
    await say('z');
    clock.advance(5 * MINUTE);
    await say('z');
    expect(outcomes).toEqual(['new', 'new']);
  });

  it('keys a named session on the session, whatever its prompt', async () => {
    const { say, outcomes } = setup();
    const first = await say('p', 'session-1');
    expect(await say('q', 'session-1')).toBe(first);
    expect(outcomes).toEqual(['new', 'pinned']);
  });

  it('shares pins between routers through a store, and keeps its own while the store is down', async () => {
    const kept = new Map<number, string>();
    let up = true;
    const shared: SharedPins = {
      get available() {
        return up;
      },
      find: (keys) => Promise.resolve(keys.map((k) => kept.get(k) ?? null)),
      save: (key, value) => {
        if (up) kept.set(key, value);
      },
    };
    const clock = new ManualClock(1_000_000);
    const one = setup({ shared, clock });
    const two = setup({ shared, clock });
    const first = await one.say('w');
    // The second replica's balancer would now pick `b`; the pin says where the cache is.
    await two.say('other');
    expect(await two.say('w')).toBe(first);
    up = false;
    expect(await one.say('w')).toBe(first);
    expect(kept.size).toBeGreaterThan(0);
  });
});
