/**
 * What the two budget benchmarks share (budgetCost.ts, part of `make bench-global`, and
 * budgetBeforeAfter.ts, one change against the checkout before it): the policy documents of
 * the runtimes they compare, the wait until a runtime's store decides, and admit.lua called the
 * way the runtime calls it with one budget account and the previous call's settlement riding.
 */
import type { RedisClientType } from '@redis/client';
import type {
  ModelPriceSettings,
  PolicyDocument,
} from '../../contract/src/policy/policyDocument.ts';
import { runScript, type LuaScript } from '../../runtime/src/rateLimitStore/luaScripts.ts';
import {
  budgetAdmitArgs,
  budgetKeys,
  settlementCall,
} from '../../runtime/src/rateLimitStore/storeScriptCalls.ts';
import type {
  StoreBudgetAccount,
  StoreBudgetRequest,
} from '../../runtime/src/guard/rateLimitStore.ts';
import { PRIMARY_PRICE } from '../../test/support/budgetStoreFixture.ts';
import { agentDocument, ratePolicy } from '../../test/support/rateLimitStoreFixture.ts';
import type { RuntimeHandle } from '../../test/support/runtimeProcess.ts';
import type { Mutable } from '../../test/support/standaloneRuntime.ts';
import { waitFor } from '../../test/support/waitFor.ts';

/** Limits far above anything the benchmarks offer: every call is admitted. */
export const FAR_ABOVE = { perSecond: 100_000, burst: 100_000 };
export const PRICE: ModelPriceSettings = PRIMARY_PRICE;
/** The largest budget there is: never exhausted by a run, so every call is admitted. */
export const BUDGET = { name: 'monthly', period: 'Month' as const, usd: '999999' };

export const round = (n: number, digits = 3): number => Number(n.toFixed(digits));

/** The baseline: limits in the Redis at `address`, no budget. */
export function limitsDocument(simulatorUrl: string, address: string): PolicyDocument {
  const store = { redis: { address } };
  return agentDocument(simulatorUrl, ratePolicy({ requests: FAR_ABOVE, store }));
}

/** The same limits and BUDGET, priced, under keys of their own (`-<suffix>`). */
export function budgetDocument(
  simulatorUrl: string,
  address: string,
  suffix: string,
): PolicyDocument {
  const store = { redis: { address } };
  const doc = structuredClone(
    agentDocument(simulatorUrl, ratePolicy({ requests: FAR_ABOVE, store, budgets: [BUDGET] })),
  ) as Mutable<PolicyDocument>;
  doc.pricing = [PRICE];
  if (doc.rateLimit.store !== undefined)
    doc.rateLimit.store = {
      ...doc.rateLimit.store,
      keyPrefix: `${doc.rateLimit.store.keyPrefix}-${suffix}`,
    };
  return doc;
}

/** Until `runtime`'s store decides (its first PING answered). */
export async function deciding(runtime: RuntimeHandle): Promise<void> {
  await waitFor(
    async () => {
      const view = (await runtime.debug('/debug/ratelimiter')) as {
        rateLimiter: { store?: { report: { state: string } } };
      };
      return view.rateLimiter.store?.report.state === 'Shared';
    },
    { description: 'the store to decide', timeoutMs: 20_000, intervalMs: 20 },
  );
}

const LIMIT_ARGS = ['100', '100000', '1', '0', '0', '0', '0', '0', '0', '0', '0'];
const ACCOUNT: StoreBudgetAccount = {
  key: 'bench:monthly:0',
  limitPico: 999_999_000_000_000_000n,
  limitTokens: undefined,
  keepUntilMs: 99_999_999_999_999,
  refuses: true,
};

/**
 * admit.lua on `client` under keys of `prefix`: limits alone, or with one budget account and,
 * when `riding`, the previous call's settlement in front (as the runtime sends it).
 */
export function scriptCalls(client: RedisClientType, prefix: string) {
  const keys = ['requests', 'input_tokens', 'output_tokens', 'provider_pause'].map(
    (k) => `${prefix}:${k}`,
  );
  const accountKeys = budgetKeys(prefix, [ACCOUNT]);
  let id = 0;
  let previous: StoreBudgetRequest | undefined;
  return {
    limits: (script: LuaScript) => runScript(client, script, keys, LIMIT_ARGS),
    budget: async (script: LuaScript, riding: boolean) => {
      const request: StoreBudgetRequest = {
        accounts: [ACCOUNT],
        reservationId: `${prefix}-${String(++id)}`,
        leaseMs: 600_000,
        worstPico: 600_000_000_000n,
        worstTokens: 3_024n,
      };
      const settling =
        !riding || previous === undefined
          ? { keys: [...keys, ...accountKeys], args: [] }
          : settlementCall(
              prefix,
              [{ ...previous, costPico: 1_000_000n, costTokens: 100n }],
              [...keys, ...accountKeys],
            );
      await runScript(client, script, settling.keys, [
        ...LIMIT_ARGS,
        ...budgetAdmitArgs(request, false),
        ...settling.args,
      ]);
      previous = request;
    },
  };
}
