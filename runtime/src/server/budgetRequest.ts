/**
 * What budgets (RateLimitPolicy `spec.budgets[]`) need of a request beyond its token estimate:
 * the caller's account when a budget counts per key (its identity's fingerprint; none for the
 * callers of an agent without client keys, who share one account), the request's size as the
 * most input tokens it can be, and the longest prompt-cache lifetime its `cache_control` asks
 * for (its input may be written to the cache at that price). Nothing is built for an agent
 * without budgets.
 */
import type { BudgetRequest } from '../guard/guardSet/providerGuard.ts';
import type { PolicyDocument } from '../../../contract/src/policy/policyDocument.ts';

const ONE_HOUR_TTL = /"ttl"\s*:\s*"1h"/;

export function budgetRequest(
  doc: PolicyDocument,
  /** The caller's fingerprint (access/callerIdentity.ts), asked for only when a budget needs it. */
  clientKey: () => string | undefined,
  /** The request body as sent (JSON text). */
  text: string,
  maxTokens?: number,
): BudgetRequest | undefined {
  const spend = doc.rateLimit.spend;
  if (spend === undefined) return undefined;
  const perKey = spend.budgets.some((b) => b.per === 'ClientKey');
  const cacheWrite = !text.includes('"cache_control"')
    ? undefined
    : ONE_HOUR_TTL.test(text)
      ? '1h'
      : '5m';
  return {
    ...(perKey ? { clientKey: clientKey() } : {}),
    // No token is shorter than the byte that carries it.
    inputTokensAtMost: Buffer.byteLength(text),
    ...(maxTokens === undefined ? {} : { maxTokens }),
    ...(cacheWrite === undefined ? {} : { cacheWrite }),
  };
}
