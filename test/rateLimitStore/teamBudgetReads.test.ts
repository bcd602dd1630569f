/**
 * A team budget's figure from the store's account (issue 52 item 3): two agents on one
 * RateLimitPolicy, a real runtime process each on the document the operator renders for it,
 * one real redis-server, the simulator billing. After calls from both, each runtime's budget
 * report (`/debug/budgets`, the `breakwater.dev/budgets` annotation's JSON) carries the team's
 * account as the store holds it, everyone's spend and not the runtime's own; the policy's
 * status made of those reports (the operator's policyBudgets) shows that account, not the sum
 * of the parts, where the two differ.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { createClient } from '@redis/client';
import type { AgentDeployment } from '../../contract/src/api/resources.ts';
import type { RateLimitPolicySpec } from '../../contract/src/api/v1alpha1/ratelimitpolicy.ts';
import { resolveRateLimit } from '../../contract/src/policy/policyResolution.ts';
import {
  BUDGETS_ANNOTATION,
  decodeBudgetReport,
} from '../../contract/src/reporting/budgetReport.ts';
import { formatMoney } from '../../contract/src/spend/money.ts';
import { policyBudgets } from '../../operator/src/spend/policyBudgets.ts';
import { PRICING, spend, storedPico } from '../support/budgetStoreFixture.ts';
import { serverHost } from '../support/podReach.ts';
import { ratePolicy } from '../support/rateLimitStoreFixture.ts';
import { startRedis } from '../support/redisServer.ts';
import { startSimulator } from '../support/simulator.ts';
import { policyDocument, standaloneRuntime } from '../support/standaloneRuntime.ts';
import { waitFor } from '../support/waitFor.ts';
import { IDLE_READ_MS } from '../../runtime/src/budget/teamAccountReads.ts';

const TEAM = { name: 'team', period: 'Day' as const, usd: '1', per: 'Policy' as const };
const TEAM_KEY = /^breakwater:\{default\/shared\}:budget:team:\d+$/;

const stops: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

/** The two agents' runtimes on one store, and the team's account as Redis holds it. */
async function startTeam() {
  const redis = await startRedis();
  stops.push(() => redis.remove());
  const sim = await startSimulator({ seed: 53 });
  stops.push(() => sim.stop());
  const spec: RateLimitPolicySpec = {
    budgets: [TEAM],
    store: { redis: { address: redis.address }, waitBudget: '1s' },
  };
  const runtimes = await Promise.all(
    ['alpha', 'beta'].map(async (agent) => {
      const doc = policyDocument(sim.url, (d) => {
        d.agent = { ...d.agent, name: agent, namespace: 'default' };
        d.rateLimit = resolveRateLimit(ratePolicy(spec), 1, agent, 2);
      });
      const rt = await standaloneRuntime({ ...doc, pricing: PRICING.map((p) => ({ ...p })) });
      stops.push(() => rt.stop());
      return rt.runtime;
    }),
  );
  const client = createClient({ socket: { host: serverHost(), port: redis.port } });
  client.on('error', () => undefined);
  await client.connect();
  stops.push(() => {
    client.destroy();
    return Promise.resolve();
  });
  /** The team's account once nothing is held: its spent picodollars. */
  const account = (): Promise<bigint> =>
    waitFor(
      async () => {
        const keys = await client.keys('*:budget:*');
        if (keys.length !== 1 || !TEAM_KEY.test(keys[0] ?? '')) return false;
        const h = await client.hGetAll(keys[0] ?? '');
        return storedPico(h, 'reserved') === 0n && storedPico(h, 'spent');
      },
      { description: 'the team account settled in Redis', timeoutMs: 10_000 },
    );
  /** The runtime's annotation, as the pod would carry it. */
  const annotation = async (i: number): Promise<string> =>
    JSON.stringify(
      ((await runtimes[i]?.debug('/debug/budgets')) as { budgets: unknown } | undefined)?.budgets,
    );
  const [alpha = '', beta = ''] = runtimes.map((r) => r.url);
  return { alpha, beta, account, annotation };
}

/** Makes `n` plain calls through `url`, each served. */
async function calls(url: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) expect((await spend(url, false)).ok).toBe(true);
}

/** Waits until runtime `i`'s report carries the team's account at `pico`; returns the report. */
function reportAt(t: Awaited<ReturnType<typeof startTeam>>, i: number, pico: bigint) {
  return waitFor(
    async () => {
      const text = await t.annotation(i);
      const e = decodeBudgetReport(text)?.budgets['team'];
      return e?.team?.spent.picoUsd === pico && e.team.held.picoUsd === 0n && { text, e };
    },
    {
      description: `runtime ${String(i)} reports the team account at ${String(pico)}`,
      // An idle runtime reads the account every IDLE_READ_MS, for the other agent's calls.
      timeoutMs: IDLE_READ_MS + 10_000,
    },
  );
}

const onPolicy = (name: string): AgentDeployment => ({
  apiVersion: 'breakwater.dev/v1alpha1',
  kind: 'AgentDeployment',
  metadata: { name, namespace: 'default', uid: name },
  spec: {
    model: { name: 'claude-sonnet-4-5' },
    provider: { apiKeySecretRef: { name: 'k', key: 'k' } },
    rateLimitPolicyRef: { name: 'shared' },
  },
});

describe('a team budget’s figure from the store’s account', () => {
  it('is in each runtime’s report after calls from two agents: everyone’s spend, not its own', async () => {
    const t = await startTeam();
    await calls(t.alpha, 3);
    await calls(t.beta, 2);
    const account = await t.account();
    for (const i of [0, 1]) {
      const { e } = await reportAt(t, i, account);
      // The process's own figure is its part; the team's is both agents'.
      expect(e.spent.picoUsd).toBeGreaterThan(0n);
      expect(e.spent.picoUsd).toBeLessThan(account);
      expect(e.team?.periodStart).toBe(e.periodStart);
      expect(Date.parse(e.team?.readAt ?? '')).toBeGreaterThan(0);
    }
  });

  it('is what the policy’s status shows, not the sum of the parts, where they differ', async () => {
    // beta spends, then leaves the policy: its spend stays in the team's account for the
    // period, while the parts are the agents on the policy now (alpha alone).
    const t = await startTeam();
    await calls(t.beta, 2);
    await calls(t.alpha, 2);
    const account = await t.account();
    const { text, e } = await reportAt(t, 0, account);
    const pod = { metadata: { uid: 'alpha-0', annotations: { [BUDGETS_ANNOTATION]: text } } };
    const status = policyBudgets(
      ratePolicy({ budgets: [TEAM] }),
      [{ agent: onPolicy('alpha'), pods: [pod] }],
      Date.now(),
    ).fields.budgets?.[0];
    expect(status).toMatchObject({
      source: 'Store',
      spent: { usd: formatMoney(account) },
      parts: [{ agent: 'alpha', usd: formatMoney(e.spent.picoUsd) }],
    });
    expect(e.spent.picoUsd).toBeLessThan(account);
  });
});
