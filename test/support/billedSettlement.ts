/**
 * A budget's settled spend set against what the simulator billed, for the tests that hold the
 * runtime to "never less than billed": the simulator's log priced with the agent's prices, as
 * the runtime prices a call, and the account read once every reservation is settled.
 */
import type Anthropic from '@anthropic-ai/sdk';
import { callCost, priceBook } from '../../contract/src/spend/callCost.ts';
import { sdk } from './budgetStoreFixture.ts';
import { PRICING, type BudgetAgent, type StoredAccount } from './budgetStoreFixture.ts';
import type { BilledCall } from './simulator.ts';
import { waitFor } from './waitFor.ts';

const book = priceBook(PRICING);

/** What the simulator billed for `calls`, priced with the agent's prices, in picodollars. */
export function billedPico(calls: readonly BilledCall[]): bigint {
  let pico = 0n;
  for (const call of calls) {
    const cost = callCost(call.model, call.usage, book);
    if (!cost.priced) throw new Error(cost.message);
    pico += cost.picoUsd;
  }
  return pico;
}

/** The one account, once every reservation is settled or released. */
export async function settledAccount(agent: BudgetAgent): Promise<StoredAccount> {
  return waitFor(
    async () => {
      const [account] = await agent.accounts();
      return account !== undefined && account.reservedPico === 0n && account;
    },
    { description: 'every reservation settled in Redis', timeoutMs: 10_000 },
  );
}

/**
 * Runs `calls` and answers what they added to the budget's settled spend and what the
 * simulator billed for them (once it has billed `expected` calls).
 */
export async function settledAndBilled(
  agent: BudgetAgent,
  expected: number,
  calls: () => Promise<unknown>,
): Promise<{ settled: bigint; billed: bigint; log: BilledCall[] }> {
  const before = (await agent.accounts())[0]?.spentPico ?? 0n;
  await agent.sim.resetBilled();
  await calls();
  const log = await waitFor(
    async () => {
      const billed = await agent.sim.billed();
      return billed.length >= expected && billed;
    },
    { description: `the simulator billed ${String(expected)} calls`, timeoutMs: 10_000 },
  );
  // Settled after the provider has billed: the runtime settles once the attempt has ended.
  const after = await waitFor(
    async () => {
      const account = await settledAccount(agent);
      return account.spentPico > before && account;
    },
    { description: 'the call settled in Redis', timeoutMs: 10_000 },
  ).catch(() => settledAccount(agent));
  return { settled: after.spentPico - before, billed: billedPico(log), log };
}

/** Streams `request` through the SDK and hangs up when `type` arrives; resolves once the SDK gave up. */
export async function streamUntil(
  url: string,
  request: Anthropic.MessageCreateParamsNonStreaming,
  type: string,
): Promise<void> {
  const stream = sdk(url).messages.stream(request);
  try {
    for await (const event of stream) {
      if (event.type === type) {
        stream.controller.abort();
        break;
      }
    }
  } catch {
    // the abort, as the SDK reports it
  }
}
