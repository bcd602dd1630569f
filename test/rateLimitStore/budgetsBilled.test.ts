/**
 * A budget's settled spend against what the provider billed: three real runtime processes with
 * their budgets in a real redis-server, the simulator behind them keeping its own log of what
 * it billed for every call (streams cut by their client, plain calls whose caller left), and
 * the real SDK (no retries) as the client. Each test prices the simulator's log with the
 * agent's prices, as the runtime does, and holds the runtime to two promises: what it settles
 * is never less than what was billed, and a budget's settled spend never passes its limit.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { request as httpRequest } from 'node:http';
import Anthropic from '@anthropic-ai/sdk';
import { moneyToUsdNumber } from '../../contract/src/spend/money.ts';
import {
  billedPico,
  settledAccount,
  settledAndBilled,
  streamUntil,
} from '../support/billedSettlement.ts';
import { waitFor } from '../support/waitFor.ts';
import {
  PRICING,
  REQUEST,
  budgetAgent,
  exhaust,
  sdk,
  type BudgetAgent,
} from '../support/budgetStoreFixture.ts';
import { agentDocument, ratePolicy } from '../support/rateLimitStoreFixture.ts';
import { startSimulator, type SimulatorHandle } from '../support/simulator.ts';
import {
  FALLBACK_MODEL,
  PRIMARY_MODEL,
  sample,
  standaloneRuntime,
  type Mutable,
  type StandaloneRuntime,
} from '../support/standaloneRuntime.ts';
import type { PolicyDocument } from '../../contract/src/policy/policyDocument.ts';

/** A prompt long enough that the answer (which echoes it) takes many events. */
const LONG_PROMPT = 'Tell me about the sea, its tides and its weather. '.repeat(6);

const longRequest = {
  model: PRIMARY_MODEL,
  max_tokens: 512,
  messages: [{ role: 'user' as const, content: LONG_PROMPT }],
};

describe('what a budget settles against what the provider billed', () => {
  let s: BudgetAgent;
  beforeAll(async () => {
    s = await budgetAgent({
      spec: { budgets: [{ name: 'daily', period: 'Day', usd: '1' }] },
      // Every answer takes 300 ms to begin, as a provider's does.
      sim: { latencyMs: 300 },
      change: (doc) => {
        doc.streamIdleTimeoutMs = 1_000;
      },
    });
  });
  afterAll(async () => {
    await s.stop();
  });

  it.each(['content_block_start', 'content_block_delta', 'content_block_stop', 'message_delta'])(
    'settles a stream its client hangs up on at %s at no less than the provider billed',
    async (type) => {
      const { settled, billed, log } = await settledAndBilled(s, 1, () =>
        streamUntil(s.urls[0] ?? '', longRequest, type),
      );
      expect(log[0]?.stream).toBe(true);
      expect(billed).toBeGreaterThan(0n);
      expect(settled).toBeGreaterThanOrEqual(billed);
    },
  );

  it('settles a stream the provider cuts after content began at no less than it billed', async () => {
    await s.sim.setFault({ drop: true, inStream: 'after-content', count: 1 });
    const { settled, billed, log } = await settledAndBilled(s, 1, () =>
      sdk(s.urls[0] ?? '')
        .messages.stream(longRequest)
        .finalMessage()
        .catch(() => undefined),
    );
    expect(log[0]?.ending).toBe('provider_cut');
    expect(settled).toBeGreaterThanOrEqual(billed);
  });

  it('settles a stream that stalls past the idle timeout at no less than the provider billed', async () => {
    await s.sim.setFault({ hang: true, inStream: 'after-content', count: 1 });
    const { settled, billed, log } = await settledAndBilled(s, 1, () =>
      sdk(s.urls[0] ?? '')
        .messages.stream(longRequest)
        .finalMessage()
        .catch(() => undefined),
    );
    expect(log[0]?.ending).toBe('provider_cut');
    expect(settled).toBeGreaterThanOrEqual(billed);
  });
});

/** How a caller leaves a plain call: the SDK aborts it, or its connection is destroyed. */
type Leaving = 'the SDK aborts it' | 'its socket is destroyed';

/**
 * Sends `longRequest` plainly to `url` and leaves as `how` says once the simulator has it
 * (before the answer, which the simulator's latency holds back); resolves with how the call
 * ended for the caller.
 */
async function leavePlainCall(url: string, sim: SimulatorHandle, how: Leaving): Promise<unknown> {
  await sim.resetStats();
  const arrived = () =>
    waitFor(async () => (await sim.stats()).requests > 0, {
      description: 'the simulator has the request',
      timeoutMs: 10_000,
      intervalMs: 5,
    });
  if (how === 'the SDK aborts it') {
    const controller = new AbortController();
    const call = sdk(url)
      .messages.create(longRequest, { signal: controller.signal })
      .then(
        () => 'answered',
        (err: unknown) => err,
      );
    await arrived();
    controller.abort();
    return call;
  }
  const sent = httpRequest(`${url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
  });
  const ended = new Promise<string>((resolve) => {
    sent.once('response', () => {
      resolve('answered');
    });
    sent.once('close', () => {
      resolve('destroyed');
    });
    sent.once('error', () => undefined);
  });
  sent.end(JSON.stringify(longRequest));
  await arrived();
  sent.destroy();
  return ended;
}

const LEAVINGS: readonly Leaving[] = ['the SDK aborts it', 'its socket is destroyed'];

/**
 * Retries, a second backend to fail over to at once, and a fallback model: none may start once
 * the caller has left.
 */
function withRetryAndFallback(doc: Mutable<PolicyDocument>): void {
  doc.retry = { maxAttempts: 2, initialDelayMs: 10, maxDelayMs: 50 };
  const [first] = doc.backends;
  if (first !== undefined) doc.backends = [first, { ...first, name: 'second' }];
  doc.model = { ...doc.model, fallbacks: [FALLBACK_MODEL] };
}

/** A plain answer begins a second after its request, as a provider's first token does. */
const FIRST_TOKEN = { latencyMs: 1_000 } as const;

describe('a plain call under a budget whose caller hangs up mid-call', () => {
  let s: BudgetAgent;
  beforeAll(async () => {
    s = await budgetAgent({
      spec: { budgets: [{ name: 'daily', period: 'Day', usd: '1' }] },
      sim: FIRST_TOKEN,
      change: withRetryAndFallback,
    });
  });
  afterAll(async () => {
    await s.stop();
  });

  it.each(LEAVINGS)(
    'is read to its end and settles exactly what the provider billed when %s',
    async (how) => {
      let ended: unknown;
      const { settled, billed, log } = await settledAndBilled(s, 1, async () => {
        ended = await leavePlainCall(s.urls[0] ?? '', s.sim, how);
      });
      expect(ended).not.toBe('answered');
      expect(settled).toBe(billed);
      expect(log.map((c) => [c.stream, c.ending])).toEqual([[false, 'complete']]);
      expect((await s.sim.stats()).requests).toBe(1);
    },
  );

  it('starts no retry and no fallback once its caller has left, when the provider fails', async () => {
    const before = (await s.accounts())[0]?.spentPico ?? 0n;
    await s.sim.setFault({ status: 529, count: 1, latencyMs: FIRST_TOKEN.latencyMs });
    const ended = await leavePlainCall(s.urls[0] ?? '', s.sim, 'the SDK aborts it');
    // Settled once the call has ended: any retry or fallback would have come before.
    const after = await settledAccount(s);
    expect(ended).toBeInstanceOf(Anthropic.APIUserAbortError);
    const outcomes = Object.entries((await s.sim.stats()).byOutcome).filter(([, n]) => n > 0);
    expect(outcomes).toEqual([['error_529', 1]]);
    expect(after.spentPico).toBe(before);
  });
});

describe('a plain call under a budget without a store whose caller hangs up mid-call', () => {
  let sim: SimulatorHandle;
  let rt: StandaloneRuntime;
  beforeAll(async () => {
    sim = await startSimulator({ seed: 35, ...FIRST_TOKEN });
    const doc = structuredClone(
      agentDocument(sim.url, ratePolicy({ budgets: [{ name: 'daily', period: 'Day', usd: '1' }] })),
    ) as Mutable<PolicyDocument>;
    doc.pricing = PRICING.map((p) => ({ ...p }));
    withRetryAndFallback(doc);
    rt = await standaloneRuntime(doc);
  });
  afterAll(async () => {
    await rt.stop();
    await sim.stop();
  });

  it('is read to its end and its replica settles exactly what the provider billed', async () => {
    await sim.resetBilled();
    const ended = await leavePlainCall(rt.runtime.url, sim, 'the SDK aborts it');
    const spentUsd = await waitFor(
      async () => sample(await rt.runtime.metrics(), 'budget_spend_usd_total') || false,
      { description: 'the call settled on its replica', timeoutMs: 10_000 },
    );
    const log = await sim.billed();
    expect(ended).toBeInstanceOf(Anthropic.APIUserAbortError);
    expect(log.map((c) => c.ending)).toEqual(['complete']);
    expect(spentUsd).toBe(moneyToUsdNumber(billedPico(log)));
  });
});

describe('a tight dollar budget and a request with one tool', () => {
  const LIMIT_PICO = 10_000_000_000n; // a cent
  let s: BudgetAgent;
  beforeAll(async () => {
    s = await budgetAgent({ spec: { budgets: [{ name: 'daily', period: 'Day', usd: '0.01' }] } });
  });
  afterAll(async () => {
    await s.stop();
  });

  it('never settles past the budget, called one at a time until refused, nor less than billed', async () => {
    const client = sdk(s.urls[0] ?? '');
    const request = {
      model: PRIMARY_MODEL,
      max_tokens: 1,
      tools: [
        {
          name: 'lookup',
          description: 'Looks a word up in the dictionary.',
          input_schema: { type: 'object' as const, properties: { word: { type: 'string' } } },
        },
      ],
      messages: [{ role: 'user' as const, content: 'What does ebb mean?' }],
    };
    let served = 0;
    let refusal: unknown;
    for (let i = 0; i < 60 && refusal === undefined; i++) {
      await client.messages.create(request).then(
        () => served++,
        (err: unknown) => (refusal = err),
      );
    }
    expect(refusal).toBeInstanceOf(Anthropic.RateLimitError);
    const account = await settledAccount(s);
    const billed = billedPico(await s.sim.billed());
    expect(served).toBeGreaterThan(1);
    expect(account.spentPico).toBeGreaterThanOrEqual(billed);
    expect(account.spentPico).toBeLessThanOrEqual(LIMIT_PICO);
  });
});

describe('count_tokens and response-cache hits under a dollar budget (M15)', () => {
  let s: BudgetAgent;
  beforeAll(async () => {
    s = await budgetAgent({
      spec: { budgets: [{ name: 'daily', period: 'Day', usd: '0.01' }] },
      change: (doc) => {
        doc.cache = { enabled: true, maxEntries: 16, ttlMs: 600_000 };
      },
    });
  });
  afterAll(async () => {
    await s.stop();
  });

  it('spend nothing, and are answered once the budget refuses every call', async () => {
    // The response cache is each replica's own: every cached call goes to the first.
    const client = sdk(s.urls[0] ?? '');
    const cacheable = { ...REQUEST, temperature: 0 };
    const first = await client.messages.create(cacheable).withResponse();
    expect(first.response.headers.get('x-breakwater-cache')).toBeNull();
    const afterMiss = await settledAccount(s);
    expect(afterMiss.spentPico).toBeGreaterThan(0n);

    await s.sim.resetBilled();
    const hit = await client.messages.create(cacheable).withResponse();
    expect(hit.response.headers.get('x-breakwater-cache')).toBe('hit');
    const counted = await client.messages.countTokens({
      model: REQUEST.model,
      messages: REQUEST.messages,
    });
    expect(counted.input_tokens).toBeGreaterThan(0);
    expect(await s.sim.billed()).toEqual([]);
    expect((await settledAccount(s)).spentPico).toBe(afterMiss.spentPico);

    const { refusal } = await exhaust(s.urls);
    expect(refusal).toBeInstanceOf(Anthropic.RateLimitError);
    const exhausted = await settledAccount(s);
    await s.sim.resetBilled();
    // Neither reserves: both are answered when no call's worst case fits.
    const late = await client.messages.create(cacheable).withResponse();
    expect(late.response.headers.get('x-breakwater-cache')).toBe('hit');
    expect(late.data).toEqual(first.data);
    await expect(
      client.messages.countTokens({ model: REQUEST.model, messages: REQUEST.messages }),
    ).resolves.toEqual(counted);
    expect(await s.sim.billed()).toEqual([]);
    const after = await settledAccount(s);
    expect(after.spentPico).toBe(exhausted.spentPico);
    expect(after.leases).toEqual([]);
  });
});
