/**
 * What the kind cluster's store failover suites share: an agent of two pods whose
 * RateLimitPolicy (a request limit and a dollar budget, Cluster scope) names a replicated store
 * (by sentinels, or as a Redis Cluster), and one failover measured under load — calls lost, time
 * until a replica is promoted, time until both pods decide on the store again, spend past the
 * budget from the simulator's own bills, and what the promoted replica settled. The suites
 * differ in the store's shape, where it runs and how its primary dies: sentinelStore.test.ts
 * (processes on this machine, SIGKILL), sentinelInPods.test.ts and clusterInPods.test.ts (pods,
 * the primary's force-deleted).
 */
import { expect } from '@jest/globals';
import { callCost, priceBook } from '../../contract/src/spend/callCost.ts';
import { moneyToUsdNumber, parseMoney } from '../../contract/src/spend/money.ts';
import { agentDeployment, MODEL, rateLimitPolicy } from '../support/agentFixtures.ts';
import {
  agentPods,
  getRateLimitPolicy,
  isPodReady,
  podHttpUrl,
  scrapePod,
  sendMessage,
  type PodView,
} from '../support/breakwaterCluster.ts';
import { kubectl } from '../support/kube.ts';
import { eventually } from '../support/operator.ts';
import type { Scenario } from '../support/operatorScenario.ts';
import type { SimulatorHandle } from '../support/simulator.ts';
import { storedPico } from '../support/budgetStoreFixture.ts';
import { createClient } from '@redis/client';

export const AGENT = 'steadfast';
const RLP = 'steadfast-store';
/** About a hundred and fifty short calls at the prices below: spent in well under a minute. */
const BUDGET_USD = '0.01';
const LIMIT_PICO = parseMoney(BUDGET_USD);

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
/** The same prices as the runtime reads them, to cost the simulator's bills. */
const PRICES = priceBook([
  {
    model: MODEL,
    inputMicroUsdPerMTok: 3_000_000,
    outputMicroUsdPerMTok: 15_000_000,
    cacheWrite5mMicroUsdPerMTok: 3_750_000,
    cacheWrite1hMicroUsdPerMTok: 6_000_000,
    cacheReadMicroUsdPerMTok: 300_000,
  },
]);

/** How the policy names a replicated store: by its sentinels, or as a Redis Cluster. */
export type ReplicatedStore =
  | { readonly sentinel: { readonly masterName: string; readonly addresses: readonly string[] } }
  | { readonly cluster: { readonly addresses: readonly string[] } };

/**
 * The policy naming the replicated store, and the agent of two pods that takes it;
 * `acknowledge` as the policy sets it (the store's own default, Primary, when left out).
 */
export function failoverStoreObjects(
  sim: SimulatorHandle,
  redis: ReplicatedStore,
  acknowledge?: 'Primary' | 'Replicas',
): object[] {
  const shape =
    'sentinel' in redis
      ? {
          sentinel: {
            masterName: redis.sentinel.masterName,
            addresses: [...redis.sentinel.addresses],
          },
        }
      : { cluster: { addresses: [...redis.cluster.addresses] } };
  return [
    rateLimitPolicy(RLP, {
      requests: { perSecond: 20, burst: 20 },
      budgets: [{ name: 'daily', period: 'Day', usd: BUDGET_USD, onExhausted: 'Refuse' }],
      // A store keeps the whole agent's counters, which admission asks to say with Cluster scope.
      scope: 'Cluster',
      store: {
        redis: {
          ...shape,
          ...(acknowledge === undefined ? {} : { acknowledge }),
        },
        waitBudget: '1s',
      },
    }),
    agentDeployment(AGENT, {
      providerURL: sim.url,
      replicas: 2,
      rateLimitPolicy: RLP,
      // The budget records (budget_reserved, budget_settled) the bound is measured from.
      spec: { pricing: PRICING, audit: { enabled: true } },
    }),
  ];
}

/** How the suite's store fails over: its primary killed, the replica promoted in its place. */
export interface FailoverFault {
  /** What the StoreAvailable condition's message names the store by (e.g. its master name). */
  readonly named: string;
  /** For the figures' log line: `sentinel`, `cluster`. */
  readonly shape: string;
  /** Kills the primary that holds the agent's budget account; its host:port. */
  killPrimary(): Promise<string>;
  /** The replica promoted in place of `was`, once it is; its host:port. */
  waitForNewPrimary(was: string, timeoutMs: number): Promise<string>;
}

export interface FailoverFigures {
  readonly calls: number;
  readonly served: number;
  readonly refused: number;
  readonly failed: number;
  readonly failedStatuses: number[];
  /** For calls with no answer (status 0): the target and why, once each. */
  readonly unanswered: string[];
  readonly promotedAfterMs: number;
  readonly backOnStoreAfterMs: number;
  readonly billedUsd: number;
  readonly pastBudgetUsd: number;
  readonly settledOnPromotedUsd: number;
  /** What the calls the pods decided on their shares cost (B3; their audit records). */
  readonly spentOnSharesUsd: number;
  /**
   * What the calls whose holds were in the store when the primary died cost: holds a replica
   * may never have received (B4), so the promoted primary may have let others spend them too.
   */
  readonly heldAtKillUsd: number;
  /** How many `budget_settled` records the pods wrote: the two terms above are read from them. */
  readonly settlements: number;
}

/**
 * The agent's two pods take the policy and decide on the store; under load (two callers a pod,
 * and `extraTargets`' callers) a quarter of the budget is spent, the primary dies, and the
 * figures are measured and held to B4: no call failed, the same pods without a restart, the
 * condition True again, past the budget by no more than the promoted replica never received
 * and what calls decided on the pods' shares while the store was away cost (B3: a pod back on
 * the promoted primary spends what the store has left while the other still spends its share).
 */
export async function measureFailover(
  scenario: Scenario,
  fault: FailoverFault,
  extraTargets: (pods: readonly PodView[]) => Promise<string[]> = () => Promise.resolve([]),
): Promise<FailoverFigures> {
  const ns = scenario.ns.name;
  const storeCondition = async (): Promise<{ status?: string; message?: string } | undefined> =>
    (await getRateLimitPolicy(ns, RLP))?.status?.conditions?.find(
      (c) => c.type === 'StoreAvailable',
    );
  const billedPico = (): Promise<bigint> => billedAtPrices(scenario.sim);
  const pods = await eventually(
    async () => {
      const ready = (await agentPods(ns, AGENT)).filter(isPodReady);
      return ready.length === 2 && ready;
    },
    { timeoutMs: 150_000, description: `two ready pods of ${AGENT}` },
  );
  const restarts = (p: PodView): number =>
    p.status?.containerStatuses?.reduce((n, c) => n + c.restartCount, 0) ?? 0;
  const restartsBefore = pods.map(restarts);
  // Admission took the sentinel shape, the pods reached the store through it.
  for (const pod of pods) await sendMessage(podHttpUrl(pod));
  const up = await eventually(
    async () => {
      const c = await storeCondition();
      return c?.status === 'True' && c;
    },
    { timeoutMs: 60_000, description: `StoreAvailable True through the ${fault.shape}` },
  );
  process.stderr.write(`[${fault.shape}] StoreAvailable: ${up.message ?? ''}\n`);
  expect(up.message).toContain(fault.named);

  const running = load([
    ...pods.flatMap((p) => [podHttpUrl(p), podHttpUrl(p)]),
    ...(await extraTargets(pods)),
  ]);
  await eventually(async () => (await billedPico()) > LIMIT_PICO / 4n, {
    timeoutMs: 60_000,
    description: 'a quarter of the budget spent',
  });
  const killedAt = Date.now();
  const was = await fault.killPrimary();
  const promoted = await fault.waitForNewPrimary(was, 30_000);
  const promotedAt = Date.now();
  const before = await Promise.all(pods.map(storeMetrics));
  await eventually(
    async () => {
      const now = await Promise.all(pods.map(storeMetrics));
      return now.every((m, i) => m.fallback === 0 && m.onStore > (before[i]?.onStore ?? 0));
    },
    { timeoutMs: 60_000, description: 'every pod deciding on the promoted primary' },
  );
  const backAt = Date.now();
  // Until the budget refuses both pods.
  await eventually(
    async () =>
      (await Promise.all(pods.map((p) => sendMessage(podHttpUrl(p))))).every((s) => s === 429),
    { timeoutMs: 90_000, description: 'the budget spent, refused on both pods' },
  );
  const calls = await running.stop();
  const billed = await billedPico();
  const { onShares, heldAtKill, settlements } = await auditedSpend(ns, pods, killedAt);
  const settledOnPromoted = await spentOn(promoted);
  const figures: FailoverFigures = {
    calls: calls.length,
    served: calls.filter((c) => c === 200).length,
    refused: calls.filter((c) => c === 429).length,
    failed: calls.filter((c) => c !== 200 && c !== 429).length,
    failedStatuses: [...new Set(calls)].filter((s) => s !== 200 && s !== 429),
    unanswered: [...unanswered],
    promotedAfterMs: promotedAt - killedAt,
    backOnStoreAfterMs: backAt - killedAt,
    billedUsd: moneyToUsdNumber(billed),
    pastBudgetUsd: moneyToUsdNumber(billed > LIMIT_PICO ? billed - LIMIT_PICO : 0n),
    settledOnPromotedUsd: moneyToUsdNumber(settledOnPromoted),
    spentOnSharesUsd: moneyToUsdNumber(onShares),
    heldAtKillUsd: moneyToUsdNumber(heldAtKill),
    settlements,
  };
  process.stderr.write(`[${fault.shape}] failover on kind: ${JSON.stringify(figures)}\n`);
  const after = await agentPods(ns, AGENT);
  expect({
    samePods: after.map((p) => p.metadata?.uid).sort(),
    restarts: pods.map((p) =>
      restarts(after.find((a) => a.metadata?.uid === p.metadata?.uid) ?? p),
    ),
    failed: figures.failedStatuses,
  }).toEqual({
    samePods: pods.map((p) => p.metadata?.uid).sort(),
    restarts: restartsBefore,
    failed: [],
  });
  // The condition ends True: the pods report the promoted primary deciding.
  await eventually(async () => (await storeCondition())?.status === 'True', {
    timeoutMs: 60_000,
    description: 'StoreAvailable True after the failover',
  });
  // The promoted replica holds the account; past the budget by no more than the writes it
  // may never have received (replication is asynchronous, B4: the settlements it lacks, the
  // holds in the store at the kill) and the calls decided on a share meanwhile (B3).
  expect(settledOnPromoted).toBeGreaterThan(0n);
  // The bound's terms come from the audit records: every served call settled, on some pod.
  expect(settlements).toBeGreaterThanOrEqual(figures.served);
  expect(billed - LIMIT_PICO).toBeLessThanOrEqual(
    (billed > settledOnPromoted ? billed - settledOnPromoted : 0n) + onShares + heldAtKill,
  );
  return figures;
}

/** `rate_limiter_store_decisions_total{decided_by="store"}` and the fallback gauge of a pod. */
async function storeMetrics(pod: PodView): Promise<{ onStore: number; fallback: number }> {
  let onStore = 0;
  let fallback = 0;
  for (const line of (await scrapePod(pod)).split('\n')) {
    if (line.startsWith('rate_limiter_store_decisions_total{') && line.includes('"store"'))
      onStore += Number(line.split(' ').at(-1));
    if (line.startsWith('rate_limiter_store_fallback{')) fallback += Number(line.split(' ').at(-1));
  }
  return { onStore, fallback };
}

/**
 * From the pods' budget audit records (runtime/src/budget/budgetAudit.ts), in picodollars: what
 * the calls decided on their shares cost (`budget_settled` with the share's decision), and what
 * the calls reserved before `killedAt` and settled after it cost (their holds were in the store
 * when its primary died).
 */
async function auditedSpend(
  namespace: string,
  pods: readonly PodView[],
  killedAt: number,
): Promise<{ onShares: bigint; heldAtKill: bigint; settlements: number }> {
  let onShares = 0n;
  let heldAtKill = 0n;
  let settlements = 0;
  for (const pod of pods) {
    const { stdout } = await kubectl([
      'logs',
      '-n',
      namespace,
      pod.metadata?.name ?? '',
      '--all-containers=true',
    ]);
    const reservedAt = new Map<string, number>();
    for (const line of stdout.split('\n')) {
      if (!line.includes('"budget_')) continue;
      const record = JSON.parse(line) as {
        event?: string;
        time?: string;
        reservation?: string;
        decision?: string;
        costPico?: string;
      };
      const at = Date.parse(record.time ?? '');
      if (record.event === 'budget_reserved') reservedAt.set(record.reservation ?? '', at);
      if (record.event !== 'budget_settled') continue;
      settlements += 1;
      const cost = BigInt(record.costPico ?? '0');
      if (record.decision === 'local') onShares += cost;
      const reserved = reservedAt.get(record.reservation ?? '');
      if (reserved !== undefined && reserved < killedAt && at >= killedAt) heldAtKill += cost;
    }
  }
  return { onShares, heldAtKill, settlements };
}

/** What the simulator billed, in picodollars, at the agent's prices. */
async function billedAtPrices(sim: SimulatorHandle): Promise<bigint> {
  return (await sim.billed()).reduce((sum, c) => {
    const cost = callCost(c.model, c.usage, PRICES);
    if (!cost.priced) throw new Error(cost.message);
    return sum + cost.picoUsd;
  }, 0n);
}

/** The budget account's settled spend on the server at `address`, in picodollars. */
async function spentOn(address: string): Promise<bigint> {
  const client = createClient({ url: `redis://${address}` });
  client.on('error', () => undefined);
  await client.connect();
  try {
    let spent = 0n;
    for await (const batch of client.scanIterator({ MATCH: `*:budget:${AGENT}:daily:*` }))
      for (const key of batch.filter((k) => !k.endsWith(':leases')))
        spent += storedPico(await client.hGetAll(key), 'spent');
    return spent;
  } finally {
    client.destroy();
  }
}

/** A caller a URL until stopped; each call's status, or 0 when it failed outright. */
/** Why calls got no answer (status 0), once each: what a failed run's figures print. */
const unanswered = new Set<string>();

function load(urls: readonly string[]): { stop(): Promise<number[]> } {
  const statuses: number[] = [];
  unanswered.clear();
  let running = true;
  const callers = urls.map(async (url) => {
    while (running) {
      statuses.push(
        await sendMessage(url).catch((err: unknown) => {
          const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
          unanswered.add(`${url}: ${cause instanceof Error ? cause.message : String(cause)}`);
          return 0;
        }),
      );
      await new Promise((r) => setTimeout(r, 50));
    }
  });
  return {
    stop: async () => {
      running = false;
      await Promise.all(callers);
      return statuses;
    },
  };
}
