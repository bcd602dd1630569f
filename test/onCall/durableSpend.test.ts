/**
 * Spend is durable across pod replacement, with a store and without one. An agent with a small
 * dollar budget spends it through real calls into the simulator until its runtime refuses,
 * and then its pod is deleted and replaced.
 *
 * Without a store, `kubectl get rlp` shows SPENT and RESETS, the spend the status recorded is
 * still there (the agent's spend ledger moved the gone process into its baseline), and the new
 * pod, which started its budget from that record, refuses the call the old total forbids rather
 * than starting from zero. With a store (a real redis-server the pods reach), Redis holds the
 * spend past the period's end and the new pod is refused by it.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { moneyToUsdNumber, parseFormattedMoney } from '../../contract/src/spend/money.ts';
import { Kinds } from '../../platform/src/kube/resourceKinds.ts';
import { agentDeployment, MODEL, rateLimitPolicy } from '../support/agentFixtures.ts';
import {
  agentPods,
  api,
  getAgent,
  getRateLimitPolicy,
  isPodReady,
  kubectlRow,
  podHttpUrl,
  scrapePod,
  sendMessage,
  type PodView,
} from '../support/breakwaterCluster.ts';
import { eventually } from '../support/operator.ts';
import { startScenario, type Scenario } from '../support/operatorScenario.ts';
import { kubectlBreakwater } from '../inCluster/kubectlBreakwater.ts';
import { startRedis, type RedisHandle } from '../support/redisServer.ts';
import { createClient } from '@redis/client';
import { storedPico } from '../support/budgetStoreFixture.ts';
import {
  BUDGETS_ANNOTATION,
  decodeBudgetReport,
} from '../../contract/src/reporting/budgetReport.ts';

jest.setTimeout(300_000);

const AGENT = 'thrifty';
const RLP = 'thrifty-spend';
/**
 * A fifth of a cent. At the prices below a short answer costs about $0.00006 and a call's worst
 * case (its request bytes at the dearest input rate, 16 output tokens) several times that:
 * about two dozen calls fit, then the next worst case does not.
 */
const DAILY_USD = '0.002';

/** Sonnet's list prices, set on the agent so that the test does not depend on the table. */
const PRICING = [
  {
    model: MODEL,
    inputPerMTok: '3',
    outputPerMTok: '15',
    cacheWrite5mPerMTok: '3.75',
    cacheWrite1hPerMTok: '6',
    cacheReadPerMTok: '0.3',
  },
];

/** The agent and its daily dollar budget; with `redis`, the budget lives in that store. */
function startSpendScenario(seed: number, redis?: RedisHandle): Promise<Scenario> {
  return startScenario({ prefix: 'oncall-spend', seed }, (sim) => [
    rateLimitPolicy(RLP, {
      budgets: [
        { name: 'daily', period: 'Day', usd: DAILY_USD, onExhausted: 'Refuse', warnAtPercent: 10 },
      ],
      // A store keeps the whole agent's counters, which admission asks to say with Cluster scope.
      ...(redis === undefined
        ? {}
        : { scope: 'Cluster', store: { redis: { address: redis.address } } }),
    }),
    agentDeployment(AGENT, {
      providerURL: sim.url,
      rateLimitPolicy: RLP,
      spec: { pricing: PRICING },
    }),
  ]);
}

/** The agent's one ready pod that reports its budgets, other than the pods in `not`. */
function reportingPod(
  scenario: Scenario,
  not: ReadonlySet<string | undefined> = new Set(),
): Promise<PodView> {
  return eventually(
    async () => {
      const pods = (await agentPods(scenario.ns.name, AGENT)).filter(
        (p) => isPodReady(p) && !not.has(p.metadata?.uid),
      );
      const pod = pods[0];
      return (
        pods.length === 1 &&
        pod !== undefined &&
        decodeBudgetReport(pod.metadata?.annotations?.[BUDGETS_ANNOTATION])?.budgets['daily'] !==
          undefined &&
        pod
      );
    },
    { timeoutMs: 150_000, description: `one ready pod of ${AGENT} reporting its budgets` },
  );
}

/** Picodollars of a decimal dollar string. */
const pico = parseFormattedMoney;

const agentSpent = async (scenario: Scenario): Promise<bigint> =>
  pico((await getAgent(scenario.ns.name, AGENT))?.status?.spend?.budgets?.[0]?.spent?.usd);

/** The pod's own budget report, as its runtime last wrote it on the pod. */
async function podReport(scenario: Scenario, pod: PodView) {
  return decodeBudgetReport(
    (await agentPods(scenario.ns.name, AGENT)).find((p) => p.metadata?.uid === pod.metadata?.uid)
      ?.metadata?.annotations?.[BUDGETS_ANNOTATION],
  )?.budgets['daily'];
}

/** What the pod's process has settled, from its own metrics (a live figure, not a report). */
async function settledOnPod(pod: PodView): Promise<number> {
  let usd = 0;
  for (const line of (await scrapePod(pod)).split('\n'))
    if (line.startsWith('budget_spend_usd_total{')) usd += Number(line.split(' ').at(-1));
  return usd;
}

/**
 * Calls the pod until it refuses (at most 40 calls) and waits until the agent's status holds
 * everything the pod spent: the pod's report must cover every call made (its spend equal to
 * what the process's metrics say it settled, nothing in flight), not an earlier report the
 * status happened to match; returns that spend.
 */
async function spendUntilRefused(scenario: Scenario, pod: PodView): Promise<bigint> {
  const statuses: number[] = [];
  while (statuses.length < 40 && statuses.at(-1) !== 429)
    statuses.push(await sendMessage(podHttpUrl(pod)));
  process.stderr.write(`[spend] the pod answered ${statuses.join(',')}\n`);
  expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(0);
  expect(statuses.at(-1)).toBe(429);
  return eventually(
    async () => {
      const settled = await settledOnPod(pod);
      const report = await podReport(scenario, pod);
      const status = await agentSpent(scenario);
      return (
        report !== undefined &&
        report.spent.picoUsd > 0n &&
        report.held.picoUsd === 0n &&
        // A picodollar is 1e-12; the metric is a float sum of a few dozen prices.
        Math.abs(moneyToUsdNumber(report.spent.picoUsd) - settled) < 1e-9 &&
        status === report.spent.picoUsd &&
        status
      );
    },
    { timeoutMs: 60_000, description: "the agent's status holding all the pod spent" },
  );
}

describe('a dollar budget without a store, across pod replacement', () => {
  let scenario: Scenario;
  let spentBefore = 0n;
  let firstPod: PodView;

  beforeAll(async () => {
    scenario = await startSpendScenario(35);
  }, 120_000);

  afterAll(async () => {
    await scenario.end();
  });

  it('spends until the runtime refuses, and kubectl get rlp shows SPENT and RESETS', async () => {
    firstPod = await reportingPod(scenario);
    spentBefore = await spendUntilRefused(scenario, firstPod);

    const row = await eventually(
      async () => {
        const r = await kubectlRow(scenario.ns.name, `rlp/${RLP}`);
        return /^\d+% of daily \(\$[0-9.]+ of \$0\.002\)$/.test(r['SPENT'] ?? '') && r;
      },
      { timeoutMs: 60_000, description: 'SPENT in kubectl get rlp' },
    );
    process.stderr.write(
      `[spend] kubectl get rlp: SPENT ${row['SPENT'] ?? ''} RESETS ${row['RESETS'] ?? ''}\n`,
    );
    expect(Date.parse(row['RESETS'] ?? '')).toBeGreaterThan(Date.now());
    const policy = await getRateLimitPolicy(scenario.ns.name, RLP);
    expect(policy?.status?.budgets?.[0]).toMatchObject({ name: 'daily', agent: AGENT, agents: 1 });
    expect(pico(policy?.status?.budgets?.[0]?.spent?.usd)).toBe(spentBefore);
    expect(policy?.status?.conditions?.find((c) => c.type === 'BudgetWarning')?.status).toBe(
      'True',
    );
    expect(policy?.status?.conditions?.find((c) => c.type === 'ModelsPriced')?.status).toBe('True');

    // On-call's view: the plugin lists the agent's spend from its status, pods read or not.
    const top = await kubectlBreakwater(['top', '-n', scenario.ns.name]);
    process.stderr.write(`[spend] kubectl breakwater top:\n${top.stdout}`);
    expect(top.stdout).toMatch(/^thrifty\s+daily\s+Agent\s+\$0\.00\d+\s+\$0\.0020\s+\d+%\s+\S+Z/m);
  });

  it('keeps the recorded spend when the pod is replaced, and the new pod refuses what it forbids', async () => {
    await api().delete(Kinds.Pod, scenario.ns.name, firstPod.metadata?.name ?? '');
    const second = await reportingPod(scenario, new Set([firstPod.metadata?.uid]));
    // The gone process's spend is in the baseline: the total did not fall.
    const ledger = await eventually(
      async () => {
        const agent = await getAgent(scenario.ns.name, AGENT);
        const l = agent?.status?.spend?.ledger;
        return (
          l?.processes?.every((p) => p.pod !== firstPod.metadata?.uid) === true &&
          l.processes.some((p) => p.pod === second.metadata?.uid) &&
          l
        );
      },
      { timeoutMs: 60_000, description: 'the first pod moved into the ledger baseline' },
    );
    expect(BigInt(ledger.baseline?.[0]?.picoUsd ?? '0')).toBe(spentBefore);
    expect(await agentSpent(scenario)).toBeGreaterThanOrEqual(spentBefore);

    // The new process counts the old total as spent: the call the budget no longer has room
    // for is refused at once, naming the budget.
    expect(await sendMessage(podHttpUrl(second))).toBe(429);
    // Its own report starts from zero: the seed is the ledger's already.
    expect((await podReport(scenario, second))?.spent.picoUsd).toBe(0n);
    expect(await agentSpent(scenario)).toBe(spentBefore);
  });
});

describe('a dollar budget in the store, across pod replacement', () => {
  let scenario: Scenario;
  let redis: RedisHandle;
  let spentBefore = 0n;
  let firstPod: PodView;

  /** What Redis holds for the budget's current period: its key, spent picodollars and TTL. */
  async function storedBudget(): Promise<{ key: string; spent: bigint; ttlSeconds: number }> {
    const client = createClient({ url: `redis://${redis.address}` });
    await client.connect();
    try {
      const keys: string[] = [];
      for await (const batch of client.scanIterator({ MATCH: `*:budget:${AGENT}:daily:*` }))
        keys.push(...batch);
      const key = keys.find((k) => !k.endsWith(':leases'));
      if (key === undefined) throw new Error(`no budget key in Redis (keys: ${keys.join(', ')})`);
      const fields = await client.hGetAll(key);
      return {
        key,
        spent: storedPico(fields, 'spent'),
        ttlSeconds: await client.ttl(key),
      };
    } finally {
      client.destroy();
    }
  }

  beforeAll(async () => {
    redis = await startRedis();
    scenario = await startSpendScenario(36, redis);
  }, 120_000);

  afterAll(async () => {
    await scenario.end();
    await redis.remove();
  });

  it('refuses once the store says the budget is spent, and Redis holds the spend past the period', async () => {
    firstPod = await reportingPod(scenario);
    spentBefore = await spendUntilRefused(scenario, firstPod);
    const stored = await storedBudget();
    process.stderr.write(
      `[spend] Redis ${stored.key}: spent ${String(stored.spent)} pico, TTL ${String(stored.ttlSeconds)} s\n`,
    );
    expect(stored.spent).toBe(spentBefore);
    // Kept past the period's end (a day from now at the most): a late settlement still lands.
    expect(stored.ttlSeconds).toBeGreaterThan(24 * 3600);
  });

  it('keeps the spend when the pod is replaced: the new pod refuses from the store at once', async () => {
    await api().delete(Kinds.Pod, scenario.ns.name, firstPod.metadata?.name ?? '');
    const second = await reportingPod(scenario, new Set([firstPod.metadata?.uid]));
    expect(await sendMessage(podHttpUrl(second))).toBe(429);
    expect((await storedBudget()).spent).toBe(spentBefore);
    // The status still counts what the gone pod spent, once.
    const spent = await eventually(
      async () => {
        const agent = await getAgent(scenario.ns.name, AGENT);
        const l = agent?.status?.spend?.ledger;
        return (
          l?.processes?.every((p) => p.pod !== firstPod.metadata?.uid) === true &&
          (await agentSpent(scenario))
        );
      },
      { timeoutMs: 60_000, description: 'the first pod moved into the ledger baseline' },
    );
    expect(spent).toBe(spentBefore);
  });
});
