/**
 * The soak's policy (bench/memory/soak.ts): every feature that keeps state per client key, per
 * run, per conversation or per session switched on at once, on one redis-server:
 *
 * - access control with `keys` client keys (BREAKWATER_CLIENT_KEYS: short keys, since one
 *   environment string is capped at 128 KiB);
 * - the limits kept in Redis with two dollar budgets, one for the agent and one `per:
 *   ClientKey`, far above what the soak spends (every call admitted: the accounts are what is
 *   measured, not refusals);
 * - the response cache at 1,000 entries;
 * - cache affinity (`Sticky`) over two Anthropic keys, so each conversation's prefix is pinned;
 * - durability: journals in the same redis-server, and an MCP server whose `echo` the bundled
 *   agent calls in its runs.
 */
import type { PolicyDocument } from '../../contract/src/policy/policyDocument.ts';
import { resolveRateLimit } from '../../contract/src/policy/policyResolution.ts';
import { PRIMARY_PRICE } from '../../test/support/budgetStoreFixture.ts';
import { policyDocument } from '../../test/support/standaloneRuntime.ts';
import { openStorePolicy } from '../runtime/storeRounds.ts';

export const SOAK_AGENT = 'soak-agent';
/** Far above anything a soak spends. */
const LARGE_USD = '999999';

/** The client keys, `k0` … `k<count-1>`. */
export function clientKeys(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `k${String(i)}`);
}

export function soakPolicy(simUrl: string, mcpUrl: string, redisAddress: string): PolicyDocument {
  const limits = openStorePolicy('soak', { address: redisAddress }, [
    { name: 'agent-monthly', period: 'Month', usd: LARGE_USD },
    { name: 'caller-daily', period: 'Day', usd: LARGE_USD, per: 'ClientKey' },
  ]);
  return policyDocument(simUrl, (d) => {
    d.agent = { ...d.agent, name: SOAK_AGENT, namespace: 'default' };
    d.access = { clientKeysSecret: 'soak' };
    d.pricing = [PRIMARY_PRICE];
    d.rateLimit = resolveRateLimit(limits, 1, SOAK_AGENT);
    d.cache = { enabled: true, maxEntries: 1_000, ttlMs: 300_000 };
    d.cacheAffinity = 'Sticky';
    d.loadBalancing = 'RoundRobin';
    d.backends = [
      { name: 'key-one', baseURL: simUrl, apiKeyEnv: 'SOAK_KEY_ONE', weight: 1 },
      { name: 'key-two', baseURL: simUrl, apiKeyEnv: 'SOAK_KEY_TWO', weight: 1 },
    ];
    d.mcpServers = [
      {
        name: 'tools',
        url: mcpUrl,
        timeoutMs: 10_000,
        maxConcurrent: 16,
        onUnknownOutcome: 'Fail',
      },
    ];
    d.durability = {
      store: { redis: { address: redisAddress } },
      retentionMs: 600_000,
      encryptionKeySecretRef: { name: 'soak', key: 'key' },
      keyPrefix: `breakwater:run:default/${SOAK_AGENT}`,
    };
  });
}

/** The runtime's environment for the policy: provider keys, client keys, journal key. */
export function soakEnv(keys: readonly string[], journalKeyFile: string): Record<string, string> {
  return {
    SOAK_KEY_ONE: 'sk-soak-one',
    SOAK_KEY_TWO: 'sk-soak-two',
    BREAKWATER_CLIENT_KEYS: keys.join(','),
    BREAKWATER_DURABILITY_KEY_FILE: journalKeyFile,
  };
}
