/**
 * Retries under a budget, end to end (guarantees M10): three real runtime processes with their
 * budget in a real redis-server, the simulator behind them holding requests past the policy's
 * timeout (a `hang` fault: no byte ever comes), and the real SDK (no retries of its own) as the
 * client. An attempt the runtime gives up on unheard may have been billed in full and settles at
 * its worst case; a retry goes only with room for that and its own worst case, so the budget's
 * settled spend never passes its limit, however many attempts the retry policy allows.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import Anthropic from '@anthropic-ai/sdk';
import { waitFor } from '../support/waitFor.ts';
import {
  PICO_PER_USD,
  REQUEST,
  budgetAgent,
  sdk,
  type BudgetAgent,
  type StoredAccount,
} from '../support/budgetStoreFixture.ts';

let s: BudgetAgent | undefined;
afterEach(async () => {
  await s?.stop();
  s = undefined;
});

/** An agent whose attempts time out after a second, three of them to a call. */
async function agentWithBudget(usd: string): Promise<BudgetAgent> {
  return budgetAgent({
    spec: { budgets: [{ name: 'daily', period: 'Day', usd, waitForHeld: '0s' }] },
    change: (doc) => {
      doc.timeoutMs = 1_000;
      doc.retry = { maxAttempts: 3, initialDelayMs: 50, maxDelayMs: 50 };
    },
  });
}

/** The one account, once every reservation is settled or released. */
async function settledAccount(agent: BudgetAgent): Promise<StoredAccount> {
  return waitFor(
    async () => {
      const [account] = await agent.accounts();
      return account !== undefined && account.reservedPico === 0n && account;
    },
    { description: 'every reservation settled in Redis', timeoutMs: 10_000 },
  );
}

/** A plain call through the SDK: what the caller got, and how many requests the provider saw. */
async function plainCall(agent: BudgetAgent): Promise<{ answer: string; requests: number }> {
  let answer: string;
  try {
    await sdk(agent.urls[0] ?? '').messages.create(REQUEST);
    answer = 'answered';
  } catch (error) {
    // A refusal's own message, from the Anthropic error body: the budget it names.
    const body: unknown = error instanceof Anthropic.RateLimitError ? error.error : undefined;
    const message = (body as { error?: { message?: string } } | undefined)?.error?.message;
    const refusal = /^budget "[^"]+"/.exec(message ?? '');
    answer = refusal === null ? String(error) : `429: ${refusal[0]}`;
  }
  return { answer, requests: (await agent.sim.stats()).requests };
}

describe('a retried call under a budget the store holds, end to end', () => {
  it('is refused its retry when its first attempt timed out unheard and two worst cases do not fit', async () => {
    // A worst case of REQUEST is about $0.0013: one fits, two do not.
    const limitPico = (PICO_PER_USD * 2n) / 1_000n;
    s = await agentWithBudget('0.002');
    await s.sim.setFault({ hang: true, count: 1 });
    const call = await plainCall(s);
    expect(call).toEqual({ answer: '429: budget "daily"', requests: 1 });
    const account = await settledAccount(s);
    expect(account.spentPico).toBeGreaterThan(0n);
    expect(account.spentPico).toBeLessThanOrEqual(limitPico);
  });

  it('never settles past the limit when every attempt times out unheard', async () => {
    // Two worst cases fit, three do not.
    const limitPico = (PICO_PER_USD * 3n) / 1_000n;
    s = await agentWithBudget('0.003');
    await s.sim.setFault({ hang: true });
    const call = await plainCall(s);
    expect(call).toEqual({ answer: '429: budget "daily"', requests: 2 });
    const account = await settledAccount(s);
    expect(account.spentPico).toBeGreaterThan(0n);
    expect(account.spentPico).toBeLessThanOrEqual(limitPico);
  });
});
