/**
 * Budgets in Redis across three runtime processes, the cases beyond one agent-wide budget:
 * each caller's key with a budget of its own (`per: ClientKey`), `onExhausted: Fallback`
 * serving the cheaper model while its worst case still fits, and a store that goes away (the
 * replicas decide on their shares). Real SDK without retries, the simulator, redis-server.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { moneyToUsdNumber } from '../../contract/src/spend/money.ts';
import Anthropic from '@anthropic-ai/sdk';
import { FALLBACK_MODEL } from '../../contract/src/api/sampleModels.ts';
import { waitFor } from '../support/waitFor.ts';
import { sample } from '../support/standaloneRuntime.ts';
import { budgetAgent, exhaust, spend, type BudgetAgent } from '../support/budgetStoreFixture.ts';

let s: BudgetAgent | undefined;
afterEach(async () => {
  await s?.stop();
  s = undefined;
});

const KEY_A = 'bw-budget-key-a';
const KEY_B = 'bw-budget-key-b';

function refusalMessage(error: unknown): string {
  expect(error).toBeInstanceOf(Anthropic.RateLimitError);
  const body = (error as InstanceType<typeof Anthropic.RateLimitError>).error as {
    error?: { type?: string; message?: string };
  };
  expect(body.error?.type).toBe('rate_limit_error');
  return body.error?.message ?? '';
}

describe('budgets in Redis beyond one budget for the agent', () => {
  it("refuses one caller's key once its budget is spent while another key is still served", async () => {
    s = await budgetAgent({
      spec: {
        budgets: [{ name: 'per-key', period: 'Day', usd: '0.004', per: 'ClientKey' }],
      },
      change: (doc) => {
        doc.access = { ...doc.access, clientKeysSecret: 'keys' };
      },
      env: { BREAKWATER_CLIENT_KEYS: `${KEY_A},${KEY_B}` },
    });
    // One replica, in turn: each settlement reaches Redis before the next admission, so the
    // refusal is the spend's, not a reservation still in flight.
    const { refusal } = await exhaust([s.urls[0] ?? ''], KEY_A);
    expect(refusalMessage(refusal)).toMatch(
      /^budget "per-key" \(Day, per ClientKey\) of client key key-\S+ of agent shared-agent is exhausted/,
    );
    // Key A is refused on every replica; key B, on the same replicas, is served.
    for (const url of s.urls) {
      expect((await spend(url, false, KEY_A)).ok).toBe(false);
      expect((await spend(url, true, KEY_B)).ok).toBe(true);
    }
    const accounts = await waitFor(
      async () => {
        const all = await s?.accounts();
        return all?.length === 2 && all.every((a) => a.reservedPico === 0n) && all;
      },
      { description: 'two settled key accounts in Redis', timeoutMs: 10_000 },
    );
    for (const a of accounts) {
      expect(a.key).toMatch(/:budget:shared-agent:per-key:\d+:key-[0-9a-f]+$/);
      expect(a.spentPico).toBeLessThanOrEqual(4_000_000_000n);
    }
    // Neither key's account names the key itself.
    expect(JSON.stringify(accounts.map((a) => a.key))).not.toContain(KEY_A);
  });

  it("serves the cheaper fallback while its worst case fits the agent's budget, then refuses", async () => {
    s = await budgetAgent({
      spec: {
        budgets: [{ name: 'daily', period: 'Day', usd: '0.004', onExhausted: 'Fallback' }],
      },
      change: (doc) => {
        doc.model = { ...doc.model, fallbacks: [FALLBACK_MODEL] };
      },
    });
    const served: ('primary' | 'fallback')[] = [];
    let refusal: unknown;
    // One replica, in turn, each call's settlement in Redis before the next admission (the
    // runtime settles after the answer is written: a next call sent at once can be decided
    // while the last worst case is still held, and serve the fallback one call early); its
    // share ($0.00133) would hold one primary call: the store decides.
    for (let i = 0; i < 200 && refusal === undefined; i++) {
      const outcome = await spend(s.urls[0] ?? '', false);
      if (outcome.ok) served.push(outcome.fallback ? 'fallback' : 'primary');
      else refusal = outcome.error;
      await waitFor(
        async () => (await s?.accounts())?.every((a) => a.reservedPico === 0n) === true,
        { description: `call ${String(i)} settled in Redis`, timeoutMs: 10_000, intervalMs: 20 },
      );
    }
    const firstFallback = served.indexOf('fallback');
    expect(firstFallback).toBeGreaterThan(1);
    // Once the primary's worst case no longer fits, only the fallback serves, until it no
    // longer fits either.
    expect(served.slice(firstFallback).every((m) => m === 'fallback')).toBe(true);
    expect(served.length - firstFallback).toBeGreaterThan(1);
    expect(refusalMessage(refusal)).toMatch(/^budget "daily" \(Day, per Agent\)/);
    // The calls the fallback served are counted as such; only the last one as refused.
    const metrics = (await s.agent.replicas[0]?.runtime.metrics()) ?? '';
    const turnedAway = (reason: string) =>
      sample(metrics, 'budget_rejected_total', { budget: 'daily', reason });
    expect(turnedAway('fallback')).toBe(served.length - firstFallback);
    expect(turnedAway('exhausted')).toBe(1);
    const [account] = await waitFor(
      async () => {
        const all = await s?.accounts();
        return all?.length === 1 && all[0]?.reservedPico === 0n && all;
      },
      { description: 'the account settled in Redis', timeoutMs: 10_000 },
    );
    expect(account?.spentPico).toBeLessThanOrEqual(4_000_000_000n);
  });

  it("falls back to each replica's share of the budget while Redis is down", async () => {
    s = await budgetAgent({
      spec: { budgets: [{ name: 'daily', period: 'Day', usd: '0.006' }] },
    });
    expect((await spend(s.urls[0] ?? '', false)).ok).toBe(true);
    await s.redis.stop();
    // A share is $0.002: replica 0 spends it (less what it spent while Redis decided) alone.
    const { refusal } = await exhaust([s.urls[0] ?? '']);
    expect(refusalMessage(refusal)).toMatch(
      /this replica's share: the budget divided among 3 replicas/,
    );
    // Another replica still holds its own share.
    expect((await spend(s.urls[1] ?? '', false)).ok).toBe(true);
    const metrics = await s.agent.replicas[0]?.runtime.metrics();
    expect(sample(metrics ?? '', 'rate_limiter_store_fallback')).toBe(1);
    await s.redis.start();
    await waitFor(async () => (await spend(s?.urls[0] ?? '', false)).ok, {
      description: 'the store to decide again',
      timeoutMs: 15_000,
    });
  });

  it('holds nothing in Redis for calls decided on the share while it was frozen, once it answers', async () => {
    // Calls the share refuses are refused at once (waitForHeld 0s), not served after waiting.
    s = await budgetAgent({
      spec: { budgets: [{ name: 'daily', period: 'Day', usd: '0.009', waitForHeld: '0s' }] },
    });
    const agent = s;
    expect((await spend(agent.urls[0] ?? '', false)).ok).toBe(true);
    // Frozen, Redis takes every admission into its queue and runs them when it wakes: about
    // seven of these fit the budget there, while the replica's share ($0.003) decided two.
    agent.redis.freeze();
    const outcomes = await Promise.all(
      Array.from({ length: 15 }, (_, i) => spend(agent.urls[0] ?? '', i % 2 === 1)),
    );
    const served = outcomes.filter((o) => o.ok).length;
    expect(served).toBeGreaterThan(0);
    expect(served).toBeLessThan(15);
    agent.redis.thaw();
    // What the late admissions held is given back at once, not when their leases lapse
    // (minutes); what the served calls cost is counted.
    const settled = await waitFor(
      async () => {
        const [account] = await agent.accounts();
        return account?.reservedPico === 0n ? account : undefined;
      },
      { description: 'no worst case held in Redis', timeoutMs: 10_000 },
    );
    expect(moneyToUsdNumber(settled.spentPico)).toBeCloseTo(await agent.metricsSpentUsd(), 6);
  });
});
