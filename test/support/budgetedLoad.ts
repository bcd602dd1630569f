/**
 * A budgeted, rate-limited load on a StoreAgent's runtimes through the real SDK (no retries),
 * and what it cost: the simulator's own bills at the agent's prices, and the budget account's
 * settled spend on one Redis server. Shared by the Sentinel fault tests
 * (test/rateLimitStore/sentinelFailover.test.ts, sentinelFaults.test.ts).
 */
import Anthropic from '@anthropic-ai/sdk';
import { createClient } from '@redis/client';
import { callCost, priceBook } from '../../contract/src/spend/callCost.ts';
import { PRICING, REQUEST, sdk, storedPico } from './budgetStoreFixture.ts';
import type { StoreAgent } from './rateLimitStoreFixture.ts';
import type { SimulatorHandle } from './simulator.ts';

export interface LimiterView {
  readonly counters: { readonly sharedDecisions: number };
  readonly store?: {
    readonly report: { readonly state: string; readonly reason?: string };
    readonly counters?: { readonly unacknowledged?: number };
  };
}

export const limiterView = async (agent: StoreAgent, i: number): Promise<LimiterView> =>
  ((await agent.replicas[i]?.runtime.debug('/debug/ratelimiter')) as { rateLimiter: LimiterView })
    .rateLimiter;

export const views = (agent: StoreAgent): Promise<LimiterView[]> =>
  Promise.all(agent.replicas.map((_, i) => limiterView(agent, i)));

export type Outcome = 'served' | 'rateLimited' | 'budgetRefused' | 'failed';

export interface Call {
  readonly at: number;
  /** How long its answer took, ms. */
  readonly ms: number;
  /** Under `load`: which of its urls it went to. */
  readonly replica?: number;
  readonly outcome: Outcome;
  readonly detail?: string;
}

/** One call through the SDK, what became of it. */
export async function call(url: string): Promise<Call> {
  const at = Date.now();
  const ms = () => Date.now() - at;
  try {
    await sdk(url).messages.create(REQUEST);
    return { at, ms: ms(), outcome: 'served' };
  } catch (error) {
    if (error instanceof Anthropic.RateLimitError) {
      const body = error.error as { error?: { message?: string } };
      const message = body.error?.message ?? '';
      const outcome = message.startsWith('budget') ? 'budgetRefused' : 'rateLimited';
      return { at, ms: ms(), outcome };
    }
    return { at, ms: ms(), outcome: 'failed', detail: String(error) };
  }
}

/**
 * One caller per replica, a call every 50 ms or so, until `stop()`: about thirty calls a
 * second offered against a limit of ten.
 */
export function load(urls: readonly string[]): { stop(): Promise<Call[]> } {
  const calls: Call[] = [];
  let running = true;
  const callers = urls.map(async (url, replica) => {
    while (running) {
      calls.push({ ...(await call(url)), replica });
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

/** The budget account's settled spend on the server at `address`, in picodollars. */
export async function spentOn(address: string): Promise<bigint> {
  const [host, port] = address.split(':');
  const client = createClient({ socket: { host: host ?? '', port: Number(port) } });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const [key] = (await client.keys('*:budget:*')).filter((k) => !k.endsWith(':leases'));
    if (key === undefined) return 0n;
    return storedPico(await client.hGetAll(key), 'spent');
  } finally {
    client.destroy();
  }
}

/** How many of `calls` had each outcome. */
export function outcomes(calls: readonly Call[]): Record<Outcome, number> {
  const count = (o: Outcome) => calls.filter((c) => c.outcome === o).length;
  return {
    served: count('served'),
    rateLimited: count('rateLimited'),
    budgetRefused: count('budgetRefused'),
    failed: count('failed'),
  };
}
