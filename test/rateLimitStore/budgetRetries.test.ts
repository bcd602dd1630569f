/**
 * Retries under a budget the store holds (guarantees M10), in a real redis-server through
 * RedisStore: the room a retry needs for an attempt that timed out unheard is asked of the store
 * with the retry's admission, so a budget that cannot hold two worst cases refuses the retry,
 * and the spend Redis settles stays within the limit.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { moneyFromMicros, moneyFromScript } from '../../contract/src/spend/money.ts';
import { createClient } from '@redis/client';
import type { StoreSettings } from '../../contract/src/policy/policyDocument.ts';
import { systemClock } from '../../platform/src/time/clock.ts';
import type { BudgetAuditEvent } from '../../runtime/src/budget/budgets.ts';
import { GuardSet } from '../../runtime/src/guard/guardSet/guardSet.ts';
import type { NamedBackend } from '../../runtime/src/guard/guardSet/providerGuard.ts';
import {
  ANSWERED_PICO,
  WORST_MICRO,
  WORST_PICO,
  retriedCall,
  retryingPolicy,
  type Outcome,
} from '../../runtime/src/guard/guardSet/budgetRetriesFixture.ts';
import { anthropicClassifier } from '../../runtime/src/provider/anthropic/errorClassification.ts';
import { serverHost } from '../support/podReach.ts';
import { startRedis } from '../support/redisServer.ts';
import { openRedisStore } from '../support/redisStoreOpen.ts';
import { waitFor } from '../support/waitFor.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** One call through a GuardSet whose budget Redis holds; what Redis holds once it settles. */
async function call(limitMicroUsd: number, outcomes: readonly Outcome[]) {
  const redis = await startRedis();
  cleanups.push(() => redis.remove());
  const reader = createClient({ socket: { host: serverHost(), port: redis.port } });
  await reader.connect();
  cleanups.push(() => {
    reader.destroy();
  });
  const store: StoreSettings = {
    redis: { address: redis.address },
    waitBudgetMs: 5_000,
    keyPrefix: 'breakwater:{test/retries}',
    requests: { perSecond: 1_000, burst: 1_000 },
  };
  const audit: BudgetAuditEvent[] = [];
  const guard = new GuardSet<NamedBackend>({
    classifier: anthropicClassifier,
    doc: retryingPolicy(limitMicroUsd, store),
    clock: systemClock,
    budgetAudit: { enabled: true, record: (event) => audit.push(event) },
    openStore: openRedisStore,
  });
  cleanups.push(() => {
    guard.close();
  });
  await waitFor(() => guard.storeReport()?.state === 'Shared', {
    timeoutMs: 10_000,
    description: 'the store to be shared',
  });
  const account = async () => {
    const [key] = await reader.keys('breakwater:{test/retries}:budget:*');
    if (key === undefined) return { spent: 0n, held: 0n };
    const hash = await reader.hGetAll(key);
    const money = (field: string) =>
      moneyFromScript(Number(hash[`${field}_micro`] ?? '0'), Number(hash[`${field}_pico`] ?? '0'));
    return { spent: money('spent'), held: money('reserved') };
  };
  /** What Redis holds as each attempt starts: the store, not the replica's share, decides. */
  const heldAtAttempts: bigint[] = [];
  const result = await retriedCall(guard, outcomes, async () => {
    heldAtAttempts.push((await account()).held);
  });
  // Settlements reach Redis in the background: read once nothing is held any more.
  const settled = await waitFor(
    async () => {
      const now = await account();
      return now.held === 0n ? now : undefined;
    },
    { timeoutMs: 10_000, description: 'the budget to hold nothing in Redis' },
  );
  return { result: { ...result, heldAtAttempts, spent: settled.spent }, audit };
}

describe('a retried call under a budget the store holds', () => {
  it('ends with the budget refusal, not a retry, when an attempt timed out unheard and two worst cases do not fit', async () => {
    const limitMicroUsd = WORST_MICRO + WORST_MICRO / 2;
    const { result } = await call(limitMicroUsd, ['timed out unheard', 'answered']);
    expect(result).toEqual({
      outcome: 'refused: daily',
      made: [1],
      heldAtAttempts: [WORST_PICO],
      spent: WORST_PICO,
    });
    expect(result.spent).toBeLessThanOrEqual(moneyFromMicros(limitMicroUsd));
  });

  it('never settles past the limit when every attempt times out unheard', async () => {
    const limitMicroUsd = 2 * WORST_MICRO + WORST_MICRO / 2;
    const { result } = await call(limitMicroUsd, [
      'timed out unheard',
      'timed out unheard',
      'timed out unheard',
    ]);
    expect(result).toEqual({
      outcome: 'refused: daily',
      made: [1, 2],
      heldAtAttempts: [WORST_PICO, 2n * WORST_PICO],
      spent: 2n * WORST_PICO,
    });
    expect(result.spent).toBeLessThanOrEqual(moneyFromMicros(limitMicroUsd));
  });

  it('retries an attempt that timed out unheard when both worst cases fit, and releases the room it held', async () => {
    const { result } = await call(2 * WORST_MICRO, ['timed out unheard', 'answered']);
    expect(result).toEqual({
      outcome: 'answer',
      made: [1, 2],
      heldAtAttempts: [WORST_PICO, 2n * WORST_PICO],
      spent: WORST_PICO + ANSWERED_PICO,
    });
  });

  it("records the room a retry holds in the audit log, naming its call's reservation", async () => {
    const { result, audit } = await call(2 * WORST_MICRO, ['timed out unheard', 'answered']);
    expect(result.outcome).toBe('answer');
    const reserved = audit.find((e) => e.event === 'budget_reserved');
    const room = audit.find((e) => e.event === 'budget_room_reserved');
    expect(room).toMatchObject({
      of: reserved?.reservation,
      worstPico: String(WORST_PICO),
      accounts: [expect.objectContaining({ budget: 'daily' })],
    });
    expect(audit.map((e) => e.event)).toEqual([
      'budget_reserved',
      'budget_room_reserved',
      'budget_settled',
    ]);
  });
});
