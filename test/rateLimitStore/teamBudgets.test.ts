/**
 * A team's budget (`per: Policy`, issue 52 item 3): two agents on one RateLimitPolicy, two real
 * runtime processes each, every replica on the document the operator renders for its own agent
 * (`resolveRateLimit` with two ready replicas and the agent's name), one real redis-server, the
 * simulator billing. The agents' calls together never pass the team's budget, each agent's
 * part is counted, a call must also fit its agent's own budget, and each refusal names the
 * budget that refused. While the store is down, no replica spends the team's budget on a share
 * it was not given; without a store, each replica holds the share the operator renders (the
 * team's limit over every agent's ready replicas), and the agents together stay within it.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import Anthropic from '@anthropic-ai/sdk';
import { createClient } from '@redis/client';
import type { RateLimitPolicySpec } from '../../contract/src/api/v1alpha1/ratelimitpolicy.ts';
import type { PolicyDocument } from '../../contract/src/policy/policyDocument.ts';
import { resolveRateLimit } from '../../contract/src/policy/policyResolution.ts';
import { callCost, priceBook } from '../../contract/src/spend/callCost.ts';
import { moneyToUsdNumber } from '../../contract/src/spend/money.ts';
import { PRICING, exhaust, spend, storedPico } from '../support/budgetStoreFixture.ts';
import { serverHost } from '../support/podReach.ts';
import { ratePolicy } from '../support/rateLimitStoreFixture.ts';
import { startRedis, type RedisHandle } from '../support/redisServer.ts';
import { startSimulator, type SimulatorHandle } from '../support/simulator.ts';
import {
  policyDocument,
  sample,
  standaloneRuntime,
  type StandaloneRuntime,
} from '../support/standaloneRuntime.ts';
import { waitFor } from '../support/waitFor.ts';

const AGENTS = ['alpha', 'beta'] as const;
const REPLICAS = 2;
/** A cent a day for the team: about seven worst cases ($0.0013 each) at once. */
const TEAM = { name: 'team', period: 'Day' as const, usd: '0.01', per: 'Policy' as const };
const TEAM_PICO = 10_000_000_000n;
/** The team's account as the store keeps it: the policy's (default/shared), no agent named. */
const TEAM_KEY = /^breakwater:\{default\/shared\}:budget:team:\d+$/;

interface Team {
  readonly redis: RedisHandle;
  readonly sim: SimulatorHandle;
  /** Each agent's replicas, by agent name. */
  readonly replicas: ReadonlyMap<string, readonly StandaloneRuntime[]>;
  /** Every replica's address, the agents' interleaved. */
  readonly urls: readonly string[];
  /** Budget hashes in Redis: key, spent and reserved picodollars. */
  accounts(): Promise<{ key: string; spentPico: bigint; reservedPico: bigint }[]>;
  /** `budget_spend_usd_total` of one agent's replicas, in dollars. */
  spentUsd(agent: string): Promise<number>;
  stop(): Promise<void>;
}

let team: Team | undefined;
afterEach(async () => {
  await team?.stop();
  team = undefined;
});

/**
 * The document the operator writes for `agent`'s replicas; `teamReplicas`, the ready replicas
 * of every agent on the policy, as the operator counts them (teamReplicas.ts).
 */
function documentFor(
  simUrl: string,
  spec: RateLimitPolicySpec,
  agent: string,
  teamReplicas?: number,
): PolicyDocument {
  const doc = policyDocument(simUrl, (d) => {
    d.agent = { ...d.agent, name: agent, namespace: 'default' };
    d.rateLimit = resolveRateLimit(ratePolicy(spec), REPLICAS, agent, teamReplicas);
  });
  return { ...doc, pricing: PRICING.map((p) => ({ ...p })) };
}

/**
 * The team's agents on a store (the default), or on the operator's shares: without a store, or
 * with one (`store: true`) as the operator renders every document, the share beside the store.
 */
async function startTeam(
  budgets: RateLimitPolicySpec['budgets'],
  shares?: { readonly teamReplicas: number; readonly store?: true },
): Promise<Team> {
  const redis = await startRedis();
  const sim = await startSimulator({ seed: 52 });
  const spec: RateLimitPolicySpec =
    shares === undefined || shares.store === true
      ? { budgets, store: { redis: { address: redis.address }, waitBudget: '1s' } }
      : { budgets };
  const started = await Promise.allSettled(
    AGENTS.flatMap((agent) =>
      Array.from({ length: REPLICAS }, () =>
        standaloneRuntime(documentFor(sim.url, spec, agent, shares?.teamReplicas)).then((r) => ({
          agent,
          r,
        })),
      ),
    ),
  );
  const running = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = started.find((s) => s.status === 'rejected');
  if (failed !== undefined) {
    await Promise.all(running.map(({ r }) => r.stop()));
    await sim.stop();
    await redis.remove();
    throw failed.reason;
  }
  const replicas = new Map<string, readonly StandaloneRuntime[]>(
    AGENTS.map((a) => [a, running.filter((x) => x.agent === a).map((x) => x.r)]),
  );
  const client = createClient({ socket: { host: serverHost(), port: redis.port } });
  client.on('error', () => undefined);
  await client.connect();
  return {
    redis,
    sim,
    replicas,
    // alpha, beta, alpha, beta: calls spread round-robin reach both agents evenly.
    urls: [0, 1].flatMap((i) => AGENTS.map((a) => replicas.get(a)?.[i]?.runtime.url ?? '')),
    async accounts() {
      const keys = (await client.keys('*:budget:*')).sort();
      return Promise.all(
        keys.map(async (key) => {
          const h = await client.hGetAll(key);
          return {
            key,
            spentPico: storedPico(h, 'spent'),
            reservedPico: storedPico(h, 'reserved'),
          };
        }),
      );
    },
    async spentUsd(agent) {
      let sum = 0;
      for (const r of replicas.get(agent) ?? [])
        sum += sample(await r.runtime.metrics(), 'budget_spend_usd_total');
      return sum;
    },
    async stop() {
      client.destroy();
      await Promise.all(running.map(({ r }) => r.stop()));
      await sim.stop();
      await redis.remove();
    },
  };
}

/** What the simulator billed, in picodollars, at the agents' prices. */
async function billedPico(t: Team): Promise<bigint> {
  return (await t.sim.billed()).reduce((sum, call) => {
    const cost = callCost(call.model, call.usage, priceBook(PRICING));
    if (!cost.priced) throw new Error(cost.message);
    return sum + cost.picoUsd;
  }, 0n);
}

/** The budget accounts once every reservation is settled or released. */
function settled(t: Team): ReturnType<Team['accounts']> {
  return waitFor(
    async () => {
      const accounts = await t.accounts();
      return accounts.length > 0 && accounts.every((a) => a.reservedPico === 0n) && accounts;
    },
    { description: 'every reservation settled in Redis', timeoutMs: 10_000 },
  );
}

/** The refusal's message, from the Anthropic error body of a 429. */
function refusalMessage(error: unknown): string {
  expect(error).toBeInstanceOf(Anthropic.RateLimitError);
  const body = (error as InstanceType<typeof Anthropic.RateLimitError>).error as {
    error?: { message?: string };
  };
  return body.error?.message ?? '';
}

const PER_POLICY = /^budget "team" \(Day, per Policy\) of every agent on the RateLimitPolicy/;

describe('a team budget (per: Policy) over two agents of two replicas each on one Redis', () => {
  it('never passes the team budget under calls from all four replicas at once, and counts each agent’s part', async () => {
    const t = (team = await startTeam([TEAM]));
    let served = 0;
    const refusals: unknown[] = [];
    // Waves of 16 at once, four on each replica, until the budget refuses a whole wave.
    for (let wave = 0; wave < 30; wave++) {
      const outcomes = await Promise.all(
        Array.from({ length: 16 }, (_, i) => spend(t.urls[i % 4] ?? '', i % 2 === 0)),
      );
      const ok = outcomes.filter((o) => o.ok).length;
      served += ok;
      for (const o of outcomes) if (!o.ok) refusals.push(o.error);
      if (ok === 0) break;
    }
    expect(served).toBeGreaterThan(0);
    expect(refusals.length).toBeGreaterThan(0);
    for (const error of refusals) expect(refusalMessage(error)).toMatch(PER_POLICY);

    // One account for the team, named by the namespace and the policy, none by an agent.
    const accounts = await settled(t);
    expect(accounts.map((a) => a.key)).toEqual([expect.stringMatching(TEAM_KEY)]);
    const spent = accounts[0]?.spentPico ?? 0n;
    expect(spent).toBeLessThanOrEqual(TEAM_PICO);
    expect(spent).toBeGreaterThanOrEqual(await billedPico(t));
    // Each agent's replicas counted what they spent: both spent, and together the team's.
    const parts = await Promise.all(AGENTS.map((a) => t.spentUsd(a)));
    for (const part of parts) expect(part).toBeGreaterThan(0);
    expect((parts[0] ?? 0) + (parts[1] ?? 0)).toBeCloseTo(moneyToUsdNumber(spent), 9);
  });

  it('refuses a call that fits the team but not its agent’s budget, and names which refused', async () => {
    // Each agent may spend 0.6 of the team's cent: alpha runs out of its own first, and what
    // alpha spent leaves beta less of the team's than its own.
    const own = { name: 'own', period: 'Day' as const, usd: '0.006' };
    const t = (team = await startTeam([TEAM, own]));
    const [alpha0, beta0] = t.urls;
    const first = await exhaust([alpha0 ?? '']);
    expect(refusalMessage(first.refusal)).toMatch(
      /^budget "own" \(Day, per Agent\) of agent alpha is exhausted/,
    );
    const second = await exhaust([beta0 ?? '']);
    expect(second.served).toBeGreaterThan(0);
    expect(refusalMessage(second.refusal)).toMatch(PER_POLICY);
    expect(refusalMessage(second.refusal)).toMatch(/\(this call's: agent beta\) is exhausted/);

    const accounts = await settled(t);
    const teamAccount = accounts.find((a) => TEAM_KEY.test(a.key));
    const alpha = accounts.find((a) => a.key.includes('{default/shared/alpha}'));
    const beta = accounts.find((a) => a.key.includes('{default/shared/beta}'));
    expect(accounts).toHaveLength(3);
    expect(teamAccount?.spentPico).toBeLessThanOrEqual(TEAM_PICO);
    expect(teamAccount?.spentPico).toBeGreaterThanOrEqual(await billedPico(t));
    // Each agent's own account holds its part; together they are the team's spend.
    expect((alpha?.spentPico ?? 0n) + (beta?.spentPico ?? 0n)).toBe(teamAccount?.spentPico);
    expect(alpha?.spentPico).toBeLessThanOrEqual(6_000_000_000n);
  });

  it('refuses calls under the team budget while Redis is down, and sends none to the provider', async () => {
    const t = (team = await startTeam([{ ...TEAM, waitForHeld: '0s' }]));
    const before = await spend(t.urls[0] ?? '', false);
    expect(before.ok).toBe(true);
    await t.sim.resetBilled();
    await t.redis.stop();
    for (const url of t.urls) {
      const outcome = await spend(url, false);
      expect(outcome.ok).toBe(false);
      if (!outcome.ok)
        expect(refusalMessage(outcome.error)).toMatch(/is counted only in the store/);
    }
    expect(await t.sim.billed()).toEqual([]);
  });
});

describe('a team budget (per: Policy) whose store is down, on the shares the operator renders beside it', () => {
  it('decides on each replica’s share while Redis is down: the agents together within the budget, each within its half', async () => {
    const t = (team = await startTeam([{ ...TEAM, waitForHeld: '0s' }], {
      teamReplicas: AGENTS.length * REPLICAS,
      store: true,
    }));
    await t.redis.stop();
    let served = 0;
    const refusals: unknown[] = [];
    for (let wave = 0; wave < 30; wave++) {
      const outcomes = await Promise.all(
        Array.from({ length: 8 }, (_, i) => spend(t.urls[i % 4] ?? '', i % 2 === 0)),
      );
      const ok = outcomes.filter((o) => o.ok).length;
      served += ok;
      for (const o of outcomes) if (!o.ok) refusals.push(o.error);
      if (ok === 0) break;
    }
    const parts = await Promise.all(AGENTS.map((a) => t.spentUsd(a)));
    const limitUsd = moneyToUsdNumber(TEAM_PICO);
    const billedUsd = moneyToUsdNumber(await billedPico(t));
    console.log(
      `team budget, store down: ${JSON.stringify({ served, refused: refusals.length, parts, billedUsd, limitUsd })}`,
    );
    expect(served).toBeGreaterThan(0);
    expect(refusals.length).toBeGreaterThan(0);
    for (const error of refusals)
      expect(refusalMessage(error)).toMatch(/this replica's share: the budget divided among 4/);
    for (const part of parts) expect(part).toBeLessThanOrEqual(limitUsd / 2 + 1e-12);
    // What the provider billed, not only what the runtimes counted, within the team's budget.
    expect(billedUsd).toBeLessThanOrEqual(limitUsd + 1e-12);
  });
});

describe('a team budget (per: Policy) on a replica started after the team spent it', () => {
  it('refuses on its share once Redis is down: what the store said the team spent counts on every share', async () => {
    const t = (team = await startTeam([{ ...TEAM, waitForHeld: '0s' }], {
      teamReplicas: AGENTS.length * REPLICAS,
      store: true,
    }));
    const limitUsd = moneyToUsdNumber(TEAM_PICO);
    const spent = await exhaust(t.urls);
    expect(refusalMessage(spent.refusal)).toMatch(/"team" \(Day, per Policy\)/);
    // A replica started now, as a restart or a rollout starts one: it has spent nothing itself.
    const spec: RateLimitPolicySpec = {
      budgets: [{ ...TEAM, waitForHeld: '0s' }],
      store: { redis: { address: t.redis.address }, waitBudget: '1s' },
    };
    const fresh = await standaloneRuntime(
      documentFor(t.sim.url, spec, 'alpha', AGENTS.length * REPLICAS),
    );
    try {
      // Its calls with the store up, to the team's end: it learns what the team spent.
      const more = await exhaust([fresh.runtime.url]);
      expect(refusalMessage(more.refusal)).toMatch(/"team" \(Day, per Policy\)/);
      const billedBefore = await billedPico(t);
      await t.redis.stop();
      const outage = await Promise.all(
        Array.from({ length: 12 }, () => spend(fresh.runtime.url, false)),
      );
      const served = outage.filter((o) => o.ok).length;
      const billedUsd = moneyToUsdNumber(await billedPico(t));
      console.log(
        `team budget, a replica started after the team spent it, store down: ${JSON.stringify({ servedBefore: spent.served + more.served, served, billedUsd, limitUsd })}`,
      );
      // Before, its share started from zero: a quarter of the limit more, each restart.
      expect(served).toBe(0);
      for (const o of outage)
        if (!o.ok) expect(refusalMessage(o.error)).toMatch(/this replica's share/);
      expect(await billedPico(t)).toBe(billedBefore);
      expect(billedUsd).toBeLessThanOrEqual(limitUsd + 1e-12);
    } finally {
      await fresh.stop();
    }
  });
});

describe('a team budget (per: Policy) without a store, on the shares the operator renders', () => {
  it('keeps the agents together within it: each replica a quarter, each agent half, under calls from all four at once', async () => {
    const t = (team = await startTeam([TEAM], { teamReplicas: AGENTS.length * REPLICAS }));
    let served = 0;
    const refusals: unknown[] = [];
    for (let wave = 0; wave < 30; wave++) {
      const outcomes = await Promise.all(
        Array.from({ length: 16 }, (_, i) => spend(t.urls[i % 4] ?? '', i % 2 === 0)),
      );
      const ok = outcomes.filter((o) => o.ok).length;
      served += ok;
      for (const o of outcomes) if (!o.ok) refusals.push(o.error);
      if (ok === 0) break;
    }
    expect(served).toBeGreaterThan(0);
    expect(refusals.length).toBeGreaterThan(0);
    for (const error of refusals) {
      expect(refusalMessage(error)).toMatch(PER_POLICY);
      expect(refusalMessage(error)).toMatch(/this replica's share: the budget divided among 4/);
    }
    // Nothing in Redis: no store was configured.
    expect(await t.accounts()).toEqual([]);
    const parts = await Promise.all(AGENTS.map((a) => t.spentUsd(a)));
    const limitUsd = moneyToUsdNumber(TEAM_PICO);
    for (const part of parts) {
      expect(part).toBeGreaterThan(0);
      // Each agent's part: its two replicas' shares of four.
      expect(part).toBeLessThanOrEqual(limitUsd / 2 + 1e-12);
    }
    const spentUsd = (parts[0] ?? 0) + (parts[1] ?? 0);
    expect(spentUsd).toBeLessThanOrEqual(limitUsd + 1e-12);
    expect(spentUsd).toBeGreaterThanOrEqual(moneyToUsdNumber(await billedPico(t)) - 1e-12);
  });
});
