/**
 * Budgets kept in a real redis-server by an agent of three runtime processes (the rate-limit
 * store fixture's agent, with `spec.budgets` and the agent's prices), the simulator behind
 * them, and readers for what Redis and the runtimes' metrics say was spent:
 *
 *   const s = await budgetAgent({ budgets: [{ name: 'daily', period: 'Day', usd: '0.01' }] });
 *   ... sdk(s.urls[0]).messages.create(...) ...
 *   expect((await s.accounts())[0]?.spentPico).toBeLessThanOrEqual(10_000_000_000n);
 *   await s.stop();
 */
import Anthropic from '@anthropic-ai/sdk';
import { moneyFromScript, moneyFromUsd } from '../../contract/src/spend/money.ts';
import { createClient } from '@redis/client';
import type { RateLimitPolicySpec } from '../../contract/src/api/v1alpha1/ratelimitpolicy.ts';
import type {
  ModelPriceSettings,
  PolicyDocument,
} from '../../contract/src/policy/policyDocument.ts';
import { serverHost } from './podReach.ts';
import { agentDocument, ratePolicy, startAgent, type StoreAgent } from './rateLimitStoreFixture.ts';
import { startRedis, type RedisHandle } from './redisServer.ts';
import { startSimulator, type SimulatorHandle, type SimulatorStartOptions } from './simulator.ts';
import { FALLBACK_MODEL, PRIMARY_MODEL, sample, type Mutable } from './standaloneRuntime.ts';

/** Sonnet's list prices, for the primary model. */
export const PRIMARY_PRICE: ModelPriceSettings = {
  model: PRIMARY_MODEL,
  inputMicroUsdPerMTok: 3_000_000,
  outputMicroUsdPerMTok: 15_000_000,
  cacheWrite5mMicroUsdPerMTok: 3_750_000,
  cacheWrite1hMicroUsdPerMTok: 6_000_000,
  cacheReadMicroUsdPerMTok: 300_000,
};

/** The primary model's list prices; a fifth of them for the fallback. */
export const PRICING: readonly ModelPriceSettings[] = [
  PRIMARY_PRICE,
  {
    model: FALLBACK_MODEL,
    inputMicroUsdPerMTok: 600_000,
    outputMicroUsdPerMTok: 3_000_000,
    cacheWrite5mMicroUsdPerMTok: 750_000,
    cacheWrite1hMicroUsdPerMTok: 1_200_000,
    cacheReadMicroUsdPerMTok: 60_000,
  },
];

export const PICO_PER_USD = moneyFromUsd(1);

/** One account as Redis holds it. */
export interface StoredAccount {
  readonly key: string;
  readonly spentPico: bigint;
  readonly reservedPico: bigint;
  readonly spentTokens: bigint;
  readonly reservedTokens: bigint;
  /** Epoch ms it expires at. */
  readonly expiresAtMs: number;
  /** The reservations it holds under a lease (`lease:<id>`). */
  readonly leases: readonly string[];
  /** The reservations whose lease lapsed unsettled, charged at their worst case (`lapsed:<id>`). */
  readonly lapsed: readonly string[];
}

export interface BudgetAgent {
  readonly redis: RedisHandle;
  readonly sim: SimulatorHandle;
  readonly agent: StoreAgent;
  /** The replicas' addresses now (a replaced replica's successor listens elsewhere). */
  readonly urls: readonly string[];
  /** The document every replica runs; `rewrite` changes it on all of them. */
  readonly doc: PolicyDocument;
  rewrite(change: (doc: Mutable<PolicyDocument>) => void): PolicyDocument;
  /** Every budget account in Redis, by key. */
  accounts(): Promise<StoredAccount[]>;
  /** `budget_spend_usd_total` summed over the three runtimes, in dollars. */
  metricsSpentUsd(): Promise<number>;
  stop(): Promise<void>;
}

export async function budgetAgent(options: {
  readonly spec: RateLimitPolicySpec;
  readonly change?: (doc: Mutable<PolicyDocument>) => void;
  readonly env?: Readonly<Record<string, string>>;
  readonly sim?: SimulatorStartOptions;
  /**
   * How long a replica waits for the store before deciding on its share; null: left out, the
   * policy's default. @default '1s'
   */
  readonly waitBudget?: string | null;
  /** Something between the runtimes and Redis (a fault), given Redis's address. */
  readonly through?: (
    address: string,
  ) => Promise<{ readonly address: string; close(): Promise<void> }>;
}): Promise<BudgetAgent> {
  const redis = await startRedis();
  const between = await options.through?.(redis.address);
  const sim = await startSimulator({ seed: 35, ...options.sim });
  const waitBudget = options.waitBudget === undefined ? '1s' : options.waitBudget;
  const store = {
    redis: { address: between?.address ?? redis.address },
    ...(waitBudget === null ? {} : { waitBudget }),
  };
  const build = (change: (doc: Mutable<PolicyDocument>) => void): PolicyDocument => {
    const doc = structuredClone(
      agentDocument(sim.url, ratePolicy({ ...options.spec, store })),
    ) as Mutable<PolicyDocument>;
    doc.pricing = PRICING.map((p) => ({ ...p }));
    options.change?.(doc);
    change(doc);
    return doc;
  };
  let doc = build(() => undefined);
  const agent = await startAgent(doc, options.env).catch(async (error: unknown) => {
    // A replica that never listened (a loaded machine) leaves nothing running behind it.
    await sim.stop();
    await between?.close();
    await redis.remove();
    throw error;
  });
  const client = createClient({ socket: { host: serverHost(), port: redis.port } });
  // A test that stops Redis reads nothing meanwhile; the client reconnects by itself.
  client.on('error', () => undefined);
  await client.connect();
  return {
    redis,
    sim,
    agent,
    get urls() {
      return agent.replicas.map((r) => r.runtime.url);
    },
    get doc() {
      return doc;
    },
    rewrite(change) {
      doc = build(change);
      agent.writePolicy(doc);
      return doc;
    },
    async accounts() {
      const keys = (await client.keys('*:budget:*')).filter((k) => !k.endsWith(':leases'));
      keys.sort();
      return Promise.all(
        keys.map(async (key) => {
          const [h, expiresAt] = await Promise.all([client.hGetAll(key), client.pExpireTime(key)]);
          return {
            key,
            spentPico: storedPico(h, 'spent'),
            reservedPico: storedPico(h, 'reserved'),
            spentTokens: BigInt(h.spent_tokens ?? '0'),
            reservedTokens: BigInt(h.reserved_tokens ?? '0'),
            expiresAtMs: expiresAt,
            leases: fieldsNamed(h, 'lease:'),
            lapsed: fieldsNamed(h, 'lapsed:'),
          };
        }),
      );
    },
    async metricsSpentUsd() {
      let sum = 0;
      for (const r of agent.replicas) {
        if (r.runtime.child.exitCode !== null || r.runtime.child.signalCode !== null) continue;
        sum += sample(await r.runtime.metrics(), 'budget_spend_usd_total');
      }
      return sum;
    },
    async stop() {
      client.destroy();
      await agent.stop();
      await sim.stop();
      await between?.close();
      await redis.remove();
    },
  };
}

/** The real SDK against one runtime, never retrying. */
export const sdk = (url: string, apiKey = 'unused'): Anthropic =>
  new Anthropic({ baseURL: url, apiKey, maxRetries: 0 });

export const REQUEST = {
  model: PRIMARY_MODEL,
  max_tokens: 64,
  messages: [{ role: 'user' as const, content: 'hello' }],
};

/** A call through the SDK, streamed or not; resolves with the outcome, never rejects. */
export async function spend(
  url: string,
  streamed: boolean,
  apiKey?: string,
): Promise<{ ok: true; fallback: boolean } | { ok: false; error: unknown }> {
  try {
    const client = sdk(url, apiKey);
    if (streamed) {
      const stream = client.messages.stream(REQUEST);
      await stream.finalMessage();
      return { ok: true, fallback: false };
    }
    const { response } = await client.messages.create(REQUEST).withResponse();
    return { ok: true, fallback: response.headers.get('x-breakwater-budget') === 'fallback' };
  } catch (error) {
    return { ok: false, error };
  }
}

/**
 * Calls `urls` in turn, plain and streamed alternately, until the budget refuses; a streamed
 * call's worst case is the larger (its body says `stream`), so after one is refused plain
 * calls go on until one of those is refused too: then every call of either kind would be.
 */
export async function exhaust(
  urls: readonly string[],
  apiKey?: string,
  most = 200,
): Promise<{ served: number; refusal: unknown }> {
  let served = 0;
  let plainOnly = false;
  for (let i = 0; i < most; i++) {
    const streamed = !plainOnly && i % 2 === 1;
    const outcome = await spend(urls[i % urls.length] ?? '', streamed, apiKey);
    if (outcome.ok) served++;
    else if (streamed) plainOnly = true;
    else return { served, refusal: outcome.error };
  }
  throw new Error(`${String(most)} calls and the budget refused none`);
}

/** Picodollars an account's hash holds (budget.lua): microdollars and the picodollars past them. */
export function storedPico(hash: Record<string, string>, amount: 'spent' | 'reserved'): bigint {
  return moneyFromScript(
    Number(hash[`${amount}_micro`] ?? '0'),
    Number(hash[`${amount}_pico`] ?? '0'),
  );
}

/** The ids after `prefix` in a hash's field names: `lease:<reservation>` gives the reservation. */
function fieldsNamed(hash: Record<string, string>, prefix: string): string[] {
  return Object.keys(hash)
    .filter((field) => field.startsWith(prefix))
    .map((field) => field.slice(prefix.length));
}
