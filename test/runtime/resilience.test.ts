/**
 * The guard seen from outside, SDK → runtime → simulator: a 429 storm paced within the retry
 * budget, a latency spike answered with 504s and tripping the slow-call rule, local
 * rate-limit refusals counted once per caller request, and a fallback model serving while
 * a storm hits only the primary.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import Anthropic from '@anthropic-ai/sdk';
import { RETRY_BUDGET } from '../../runtime/src/guard/retryBudget.ts';
import { startSimulator, type SimulatorHandle } from '../support/simulator.ts';
import {
  FALLBACK_MODEL,
  PRIMARY_MODEL,
  policyDocument,
  sample,
  standaloneRuntime,
  type StandaloneRuntime,
} from '../support/standaloneRuntime.ts';

let sim: SimulatorHandle;
let running: StandaloneRuntime | undefined;

async function start(...args: Parameters<typeof policyDocument>): Promise<StandaloneRuntime> {
  running = await standaloneRuntime(policyDocument(...args));
  return running;
}

/** One caller request; resolves with the model that answered or the HTTP status it got. */
function call(rt: StandaloneRuntime, model = PRIMARY_MODEL): Promise<string | number> {
  return new Anthropic({ baseURL: rt.runtime.url, apiKey: 'unused', maxRetries: 0 }).messages
    .create({ model, max_tokens: 16, messages: [{ role: 'user', content: 'hello' }] })
    .then(
      (m) => m.model,
      (e: unknown) => {
        const status: unknown = (e as { status?: unknown }).status;
        return typeof status === 'number' ? status : String(e);
      },
    );
}

beforeAll(async () => {
  sim = await startSimulator({ seed: 5 });
});

afterEach(async () => {
  await running?.stop();
  running = undefined;
  await sim.clearFaults();
  await sim.resetStats();
});

afterAll(async () => {
  await sim.stop();
});

describe('a 429 storm', () => {
  it('is paced: the provider sees no more attempts than the callers plus what the retry budget allows', async () => {
    const CALLERS = 30;
    const rt = await start(sim.url, (d) => {
      // Five attempts each would be 150 calls without a budget.
      d.retry = { maxAttempts: 5, initialDelayMs: 10, maxDelayMs: 50 };
      d.rateLimit.onLimit = 'Wait';
      d.rateLimit.maxWaitMs = 10_000;
    });
    await sim.setFault({ status: 429 });
    await sim.resetStats();

    const started = performance.now();
    const outcomes = await Promise.all(Array.from({ length: CALLERS }, () => call(rt)));
    const elapsedSeconds = (performance.now() - started) / 1000;

    const attempts = (await sim.stats()).requests;
    const scrape = await rt.runtime.metrics();
    // retryBudget.ts: each first attempt deposits percent/100 of a retry, time deposits
    // minPerSecond, and a full budget holds maxBurst.
    const budget = RETRY_BUDGET;
    const allowed =
      CALLERS * (1 + budget.percent / 100) +
      budget.maxBurst +
      Math.ceil(elapsedSeconds) * budget.minPerSecond;
    process.stderr.write(
      `429 storm: ${CALLERS} callers, ${attempts} provider attempts, at most ${allowed} allowed\n`,
    );
    expect(outcomes).toEqual(Array.from({ length: CALLERS }, () => 429));
    expect(sample(scrape, 'guard_retries_total')).toBeGreaterThan(0);
    expect(sample(scrape, 'guard_retry_budget_exhausted_total')).toBeGreaterThan(0);
    expect(attempts).toBeLessThanOrEqual(allowed);
    expect(attempts).toBe(
      sample(scrape, 'circuit_breaker_requests_total', { name: `default/${PRIMARY_MODEL}` }),
    );
  });
});

describe('a latency spike', () => {
  it('answers 504 once the policy timeout passes, and slow answers open the slow-call breaker', async () => {
    const name = `default/${PRIMARY_MODEL}`;
    const rt = await start(sim.url, (d) => {
      d.timeoutMs = 1_000;
      d.circuitBreaker.failureThreshold = 100; // only the slow-call rule may trip
      d.circuitBreaker.openDurationMs = 60_000;
      d.circuitBreaker.slowCall = { durationMs: 150, thresholdPercent: 50 };
    });
    await sim.setFault({ latencyMs: 3_000, count: 2 });
    const timedOut = [await call(rt), await call(rt)];
    expect(timedOut).toEqual([504, 504]);
    let scrape = await rt.runtime.metrics();
    expect(sample(scrape, 'guard_timeouts_total', { name })).toBe(2);
    expect(sample(scrape, 'circuit_breaker_failures_total', { name, class: 'Timeout' })).toBe(2);
    // The attempts stopped when the guard gave up on them, not at undici's coarser timer a
    // second later: they are counted by the time their callers have the 504.
    expect(
      sample(scrape, 'agent_llm_attempts_total', { model: PRIMARY_MODEL, outcome: 'Timeout' }),
    ).toBe(2);
    expect(sample(scrape, 'circuit_breaker_state', { name, state: 'closed' })).toBe(1);

    // Slow but within the timeout: every one succeeds, and the breaker opens on their rate
    // once minimumCalls (10 without a failureRate rule) are in its window.
    await sim.setFault({ latencyMs: 300 });
    const slow: (string | number)[] = [];
    while (slow.length < 20 && slow.at(-1) !== 503) slow.push(await call(rt));
    expect(slow.at(-1)).toBe(503);
    expect(slow.slice(0, -1).every((o) => o === PRIMARY_MODEL)).toBe(true);
    scrape = await rt.runtime.metrics();
    expect(sample(scrape, 'circuit_breaker_state', { name, state: 'open' })).toBe(1);
    expect(sample(scrape, 'circuit_breaker_trips_total', { name })).toBe(1);
    expect(sample(scrape, 'circuit_breaker_failures_total', { name })).toBe(2);
  });
});

describe('the agent’s own rate limit', () => {
  it('counts one rejection per refused caller request, fallback models or not', async () => {
    const rt = await start(sim.url, (d) => {
      d.model.fallbacks = [FALLBACK_MODEL, 'claude-opus-5-5'];
      d.rateLimit.requests = { replicaPerSecond: 0.001, replicaBurst: 1 };
      d.rateLimit.onLimit = 'Reject';
    });
    const outcomes: (string | number)[] = [];
    for (let i = 0; i < 10; i++) outcomes.push(await call(rt));
    expect(outcomes).toEqual([PRIMARY_MODEL, ...Array.from({ length: 9 }, () => 429)]);
    const scrape = await rt.runtime.metrics();
    expect(sample(scrape, 'rate_limiter_rejected_total', { reason: 'requests' })).toBe(9);
    expect(sample(scrape, 'rate_limiter_requests_total')).toBe(10);
    expect((await sim.stats()).requests).toBe(1);
  });
});

describe('a ForcedOpen override', () => {
  it("stops the agent's model without a call, and the fallback model still serves", async () => {
    const rt = await start(sim.url, (d) => {
      d.model.fallbacks = [FALLBACK_MODEL];
      d.circuitBreaker.override = { state: 'ForcedOpen', reason: 'INC-9: garbage answers' };
    });
    expect(await call(rt)).toBe(FALLBACK_MODEL);
    expect((await sim.stats()).requests).toBe(1);
    const scrape = await rt.runtime.metrics();
    const state = (model: string, s: string) =>
      sample(scrape, 'circuit_breaker_state', { name: `default/${model}`, state: s });
    expect(state(PRIMARY_MODEL, 'forced_open')).toBe(1);
    expect(state(FALLBACK_MODEL, 'forced_open')).toBe(0);
    expect(state(FALLBACK_MODEL, 'closed')).toBe(1);
  });
});

describe('a provider that asks the runtime to wait', () => {
  it('is retried once its retry-after is over, never refused by the pause it asked for', async () => {
    const rt = await start(sim.url, (d) => {
      d.rateLimit.requests = { replicaPerSecond: 100, replicaBurst: 100 };
      d.retry = { ...d.retry, maxAttempts: 2 };
    });
    // The retry waits the provider's second; the limiter holds every call for that same
    // second. A timer that fires a millisecond early found the pause not yet over (one run in
    // five, seen from outside): each of these must be served.
    const outcomes: (string | number)[] = [];
    for (let i = 0; i < 6; i++) {
      await sim.addFault({ status: 429, retryAfterSeconds: 1, count: 1 });
      outcomes.push(await call(rt));
    }
    expect(outcomes).toEqual(Array.from({ length: 6 }, () => PRIMARY_MODEL));
    const scrape = await rt.runtime.metrics();
    expect(sample(scrape, 'rate_limiter_rejected_total', { reason: 'provider' })).toBe(0);
  });
});

describe('a storm on the primary model only', () => {
  it('is served by the fallback model while the primary’s breaker opens', async () => {
    const rt = await start(sim.url, (d) => {
      d.model.fallbacks = [FALLBACK_MODEL];
      d.circuitBreaker.failureThreshold = 3;
    });
    await sim.setFault({ status: 529, model: PRIMARY_MODEL });
    const outcomes: (string | number)[] = [];
    for (let i = 0; i < 6; i++) outcomes.push(await call(rt));
    expect(outcomes).toEqual(Array.from({ length: 6 }, () => FALLBACK_MODEL));
    const scrape = await rt.runtime.metrics();
    expect(
      sample(scrape, 'circuit_breaker_state', { name: `default/${PRIMARY_MODEL}`, state: 'open' }),
    ).toBe(1);
    expect(
      sample(scrape, 'circuit_breaker_state', {
        name: `default/${FALLBACK_MODEL}`,
        state: 'closed',
      }),
    ).toBe(1);
    // Three 529s opened the primary's breaker; after that only the fallback was called.
    expect((await sim.stats()).byOutcome).toMatchObject({ error_529: 3, ok: 6 });
    expect(sample(scrape, 'agent_fallbacks_total', { to: FALLBACK_MODEL })).toBe(6);
  });
});
