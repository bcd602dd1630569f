/**
 * A closed-loop load through the real SDK (no retries) for the store's failover tests: one
 * caller per replica, a call every 50 ms or so, each call's outcome kept with its time; and what
 * the simulator billed at the agent's prices, the spend a budget is checked against.
 *
 *   const running = sdkLoad(urls);
 *   ... kill, migrate, fail over ...
 *   const calls = await running.stop();
 *   const billed = await billedPico(sim);
 */
import Anthropic from '@anthropic-ai/sdk';
import { callCost, priceBook } from '../../contract/src/spend/callCost.ts';
import { PRICING, REQUEST, sdk } from './budgetStoreFixture.ts';
import type { SimulatorHandle } from './simulator.ts';

export type Outcome = 'served' | 'rateLimited' | 'budgetRefused' | 'failed';

export interface SdkCall {
  /** When it was sent (Date.now()). */
  readonly at: number;
  readonly outcome: Outcome;
  readonly detail?: string;
}

/** One call through the SDK, what became of it. */
export async function sdkCall(url: string): Promise<SdkCall> {
  const at = Date.now();
  try {
    await sdk(url).messages.create(REQUEST);
    return { at, outcome: 'served' };
  } catch (error) {
    if (error instanceof Anthropic.RateLimitError) {
      const body = error.error as { error?: { message?: string } };
      const message = body.error?.message ?? '';
      return { at, outcome: message.startsWith('budget') ? 'budgetRefused' : 'rateLimited' };
    }
    return { at, outcome: 'failed', detail: String(error) };
  }
}

/**
 * One caller per url, a call every 50 ms or so, until `stop()`: about thirty calls a second
 * offered to three replicas.
 */
export function sdkLoad(urls: readonly string[]): { stop(): Promise<SdkCall[]> } {
  const calls: SdkCall[] = [];
  let running = true;
  const callers = urls.map(async (url) => {
    while (running) {
      calls.push(await sdkCall(url));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });
  return {
    stop: async () => {
      running = false;
      await Promise.all(callers);
      return calls;
    },
  };
}

/** What the simulator billed, in picodollars, at the agent's prices. */
export async function billedPico(sim: SimulatorHandle): Promise<bigint> {
  return (await sim.billed()).reduce((sum, c) => {
    const cost = callCost(c.model, c.usage, priceBook(PRICING));
    if (!cost.priced) throw new Error(cost.message);
    return sum + cost.picoUsd;
  }, 0n);
}

/** How many of `calls` had each outcome. */
export function outcomes(calls: readonly SdkCall[]): Record<Outcome, number> {
  const count = (o: Outcome) => calls.filter((c) => c.outcome === o).length;
  return {
    served: count('served'),
    rateLimited: count('rateLimited'),
    budgetRefused: count('budgetRefused'),
    failed: count('failed'),
  };
}
