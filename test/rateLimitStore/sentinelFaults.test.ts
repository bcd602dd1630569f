/**
 * The store through Sentinel faults other than a clean kill, under a budgeted, rate-limited load
 * on three runtime processes (the shape of sentinelFailover.test.ts), with `acknowledge:
 * Primary` and `Replicas`, on real processes (a primary, two replicas, three sentinels):
 *
 * - frozen: the primary SIGSTOPped past a budgeted call's 2 s store wait; the sentinels promote
 *   a replica; SIGCONT, and the old primary comes back as a replica of the new one.
 * - cutOff: the replicas cut off the primary (cutReplicasOff) for 1.5 s of load, then the
 *   primary SIGKILLed: the promoted replica never received that stretch's reservations and
 *   settlements.
 * - restarted, restartedWithAof: every redis-server stopped and started again, without
 *   persistence and with an append-only file (fsync always); the sentinels stay up.
 *
 * Each prints its figures (calls failed, spend past the budget from the simulator's own bills,
 * what the promoted replica holds, writes no replica confirmed, the time until every runtime is
 * back on the store) for docs/guarantees.md and bench/results/sentinel-faults.json.
 */
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { moneyToUsdNumber, parseMoney } from '../../contract/src/spend/money.ts';
import type { PolicyDocument } from '../../contract/src/policy/policyDocument.ts';
import { PRICING } from '../support/budgetStoreFixture.ts';
import { billedPico, call, load, spentOn, views, type Call } from '../support/budgetedLoad.ts';
import { agentDocument, ratePolicy, startAgent } from '../support/rateLimitStoreFixture.ts';
import {
  ask,
  cutReplicasOff,
  startSentinelSet,
  type SentinelSet,
} from '../support/redisSentinel.ts';
import { startSimulator } from '../support/simulator.ts';
import type { Mutable } from '../support/standaloneRuntime.ts';
import { waitFor } from '../support/waitFor.ts';

jest.setTimeout(240_000);

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

const BUDGET_USD = '0.015';
const LIMIT_PICO = parseMoney(BUDGET_USD);
/** Past a budgeted call's 2 s store wait (decision 0059), and the sentinels' 1 s down-after. */
const FROZEN_MS = 4000;
const CUT_OFF_MS = 1500;

type Fault = 'frozen' | 'cutOff' | 'restarted' | 'restartedWithAof';

/**
 * The fault on the set's primary: the promoted replica's host:port, when it was named, and the
 * fault's end (a frozen primary is thawed FROZEN_MS after the freeze, which may be after the
 * runtimes are back on the promoted replica: their return is timed from the fault, not from the
 * thaw).
 */
async function inflict(
  fault: Fault,
  set: SentinelSet,
): Promise<{ promoted: string; promotedAt: number; ended: Promise<void> }> {
  const was = set.primary.address;
  const faultAt = Date.now();
  const ended = Promise.resolve();
  if (fault === 'frozen') {
    set.primary.freeze();
    const promoted = await set.waitForNewPrimary(was, 30_000);
    const promotedAt = Date.now();
    const left = FROZEN_MS - (promotedAt - faultAt);
    const thawed = new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, left))).then(
      () => {
        set.primary.thaw();
      },
    );
    return { promoted, promotedAt, ended: thawed };
  }
  if (fault === 'restarted' || fault === 'restartedWithAof') {
    await set.restartServers();
    // The same primary, once it answers as one again (the sentinels did not fail over).
    const primary = await waitFor(
      async () => {
        const named = await set.currentPrimary();
        return (await ask(named, ['ROLE']).then((r) => (r as unknown[])[0])) === 'master' && named;
      },
      { description: 'a primary after the restart', timeoutMs: 30_000, intervalMs: 50 },
    );
    return { promoted: primary, promotedAt: Date.now(), ended };
  }
  await cutReplicasOff(was);
  await new Promise((resolve) => setTimeout(resolve, CUT_OFF_MS));
  await set.primary.kill();
  const promoted = await set.waitForNewPrimary(was, 30_000);
  return { promoted, promotedAt: Date.now(), ended };
}

describe('the rate-limit store through Sentinel faults, under a budgeted load', () => {
  it.each([
    ['frozen', 'Primary'],
    ['frozen', 'Replicas'],
    ['cutOff', 'Primary'],
    ['cutOff', 'Replicas'],
    ['restarted', 'Primary'],
    ['restartedWithAof', 'Primary'],
  ] as const)('%s primary, acknowledge %s', async (fault, acknowledge) => {
    const set = await startSentinelSet({ persist: fault === 'restartedWithAof' });
    cleanups.push(() => set.remove());
    // A frozen process takes no SIGTERM: thawed before anything stops it.
    cleanups.push(() => {
      set.primary.thaw();
      return Promise.resolve();
    });
    const sim = await startSimulator({ seed: 51 });
    cleanups.push(() => sim.stop());
    const policy = ratePolicy({
      requests: { perSecond: 10, burst: 10 },
      budgets: [{ name: 'daily', period: 'Day', usd: BUDGET_USD }],
      store: {
        redis: {
          sentinel: { masterName: set.masterName, addresses: [...set.sentinels] },
          acknowledge,
        },
        waitBudget: '1s',
      },
    });
    const doc = structuredClone(agentDocument(sim.url, policy)) as Mutable<PolicyDocument>;
    doc.pricing = PRICING.map((p) => ({ ...p }));
    const agent = await startAgent(doc);
    cleanups.push(() => agent.stop());
    const pids = agent.replicas.map((r) => r.runtime.child.pid);
    await waitFor(
      async () => (await views(agent)).every((v) => v.store?.report.state === 'Shared'),
      { description: 'every replica to decide on the store', timeoutMs: 30_000, intervalMs: 50 },
    );
    const urls = agent.replicas.map((r) => r.runtime.url);
    const running = load(urls);
    await waitFor(async () => (await billedPico(sim)) > LIMIT_PICO / 4n, {
      description: 'a quarter of the budget spent',
      timeoutMs: 30_000,
      intervalMs: 50,
    });
    const faultAt = Date.now();
    const { promoted, promotedAt, ended } = await inflict(fault, set);
    const promotedAfterMs = promotedAt - faultAt;
    const before = (await views(agent)).map((v) => v.counters.sharedDecisions);
    await waitFor(
      async () =>
        (await views(agent)).every(
          (v, i) =>
            v.store?.report.state === 'Shared' && v.counters.sharedDecisions > (before[i] ?? 0),
        ),
      { description: 'every replica back on the store', timeoutMs: 60_000, intervalMs: 25 },
    );
    const backAt = Date.now();
    await ended;
    await waitFor(
      async () => {
        const refused = await Promise.all(urls.map(async (u) => (await call(u)).outcome));
        return refused.every((o) => o === 'budgetRefused');
      },
      {
        description: 'the budget spent, refused on every replica',
        timeoutMs: 90_000,
        intervalMs: 100,
      },
    );
    const calls = await running.stop();
    const billed = await billedPico(sim);
    const settled = await spentOn(promoted);
    const unacknowledged = (await views(agent)).reduce(
      (sum, v) => sum + (v.store?.counters?.unacknowledged ?? 0),
      0,
    );
    const count = (outcome: Call['outcome']) => calls.filter((c) => c.outcome === outcome).length;
    const figures = {
      test: 'test/rateLimitStore/sentinelFaults.test.ts',
      fault,
      acknowledge,
      calls: calls.length,
      served: count('served'),
      failed: count('failed'),
      failedDetails: [...new Set(calls.flatMap((c) => (c.detail === undefined ? [] : [c.detail])))],
      promotedAfterMs,
      backOnStoreAfterMs: backAt - faultAt,
      budgetUsd: BUDGET_USD,
      billedUsd: moneyToUsdNumber(billed),
      pastBudgetUsd: moneyToUsdNumber(billed > LIMIT_PICO ? billed - LIMIT_PICO : 0n),
      settledOnPromotedUsd: moneyToUsdNumber(settled),
      forgottenUsd: moneyToUsdNumber(billed > settled ? billed - settled : 0n),
      unacknowledged,
    };
    console.log(`sentinel fault figures: ${JSON.stringify(figures)}`);
    expect({
      samePids: agent.replicas.map((r) => r.runtime.child.pid),
      alive: agent.replicas.every((r) => r.runtime.child.exitCode === null),
      settledOnPromoted: settled > 0n,
      // Past the budget by no more than the spend the promoted replica does not hold.
      pastBudgetWithinForgotten: billed - LIMIT_PICO <= (billed > settled ? billed - settled : 0n),
      // Only Replicas waits for a replica; a fault that keeps them away shows in its count.
      unacknowledgedCounted:
        acknowledge === 'Primary' ? unacknowledged === 0 : fault !== 'cutOff' || unacknowledged > 0,
    }).toEqual({
      samePids: pids,
      alive: true,
      settledOnPromoted: true,
      pastBudgetWithinForgotten: true,
      unacknowledgedCounted: true,
    });
  });
});
