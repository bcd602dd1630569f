/**
 * A durable run's replayed model calls under a dollar budget (M11): three real runtime
 * processes with their budgets and the run's journal in one real redis-server, the simulator
 * behind them keeping its log of what it billed, and the real SDK (no retries) with
 * `Breakwater-Run-Id` and `Breakwater-Run-Attempt` as a team's agent sends them. A second
 * attempt of the run is answered its first attempt's calls from the journal: the provider bills
 * nothing for them and the budget's settled spend does not grow.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Anthropic from '@anthropic-ai/sdk';
import { settledAccount, settledAndBilled } from '../support/billedSettlement.ts';
import { budgetAgent, type BudgetAgent } from '../support/budgetStoreFixture.ts';
import { PRIMARY_MODEL, sample } from '../support/standaloneRuntime.ts';

const KEY = 'bw-replayed-key';

/** One start of the run's agent: the run and this start's attempt in its default headers. */
function attemptOf(url: string, run: string): Anthropic {
  return new Anthropic({
    baseURL: url,
    apiKey: KEY,
    maxRetries: 0,
    defaultHeaders: { 'Breakwater-Run-Id': run, 'Breakwater-Run-Attempt': randomUUID() },
  });
}

const ask = (content: string) => ({
  model: PRIMARY_MODEL,
  max_tokens: 64,
  messages: [{ role: 'user' as const, content }],
});

const STEPS = ['Summarise ticket 4512.', 'File a follow-up for it.'];

describe('a durable run replayed under a dollar budget in Redis', () => {
  let s: BudgetAgent;
  let keyDir: string;
  beforeAll(async () => {
    keyDir = mkdtempSync(join(tmpdir(), 'bw-replayed-journal-key-'));
    const keyFile = join(keyDir, 'key');
    writeFileSync(keyFile, `${Buffer.alloc(32, 5).toString('base64')}\n`);
    s = await budgetAgent({
      spec: { budgets: [{ name: 'daily', period: 'Day', usd: '1' }] },
      env: { BREAKWATER_DURABILITY_KEY_FILE: keyFile, BREAKWATER_CLIENT_KEYS: KEY },
      // The journal in the budgets' Redis.
      change: (doc) => {
        const redis = doc.rateLimit.store?.redis;
        if (redis === undefined) throw new Error('the budgets have no store');
        doc.durability = {
          store: { redis },
          retentionMs: 3_600_000,
          encryptionKeySecretRef: { name: 'journal-key', key: 'key' },
          keyPrefix: 'breakwater:run:tests/replayed',
        };
      },
    });
  });
  afterAll(async () => {
    await s.stop();
    rmSync(keyDir, { recursive: true, force: true });
  });

  it("spends nothing on a second attempt's replayed calls, and its live call as billed", async () => {
    const url = s.urls[0] ?? '';
    const replica = s.agent.replicas[0];
    if (replica === undefined) throw new Error('the agent has no replica');
    const metrics = async (family: string, labels: Record<string, string> = {}) =>
      sample(await replica.runtime.metrics(), family, labels);
    const run = randomUUID();
    const answered: Anthropic.Message[] = [];
    const first = await settledAndBilled(s, STEPS.length, async () => {
      const attempt = attemptOf(url, run);
      for (const step of STEPS) answered.push(await attempt.messages.create(ask(step)));
    });
    expect(first.log).toHaveLength(STEPS.length);
    expect(first.settled).toBeGreaterThanOrEqual(first.billed);
    const spentBefore = (await settledAccount(s)).spentPico;

    // The agent starts again: its first calls are the first attempt's, then one more.
    await s.sim.resetBilled();
    await s.sim.resetStats();
    const second = attemptOf(url, run);
    const replayed: Anthropic.Message[] = [];
    for (const step of STEPS) replayed.push(await second.messages.create(ask(step)));
    expect(replayed.map((m) => m.id)).toEqual(answered.map((m) => m.id));
    expect(await s.sim.billed()).toEqual([]);
    expect((await s.sim.stats()).requests).toBe(0);
    const afterReplay = await settledAccount(s);
    expect(afterReplay.spentPico).toBe(spentBefore);
    expect(afterReplay.leases).toEqual([]);
    expect(await metrics('agent_durable_replayed_calls_total', { kind: 'model' })).toBe(
      STEPS.length,
    );
    expect(await metrics('agent_durable_saved_usd_total')).toBeGreaterThan(0);

    // The budget still counts the run's live calls: the next step is billed and settled.
    const live = await settledAndBilled(s, 1, () =>
      second.messages.create(ask('Close ticket 4512.')),
    );
    expect(live.billed).toBeGreaterThan(0n);
    expect(live.settled).toBeGreaterThanOrEqual(live.billed);
  });
});
