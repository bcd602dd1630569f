/**
 * The guard's options from the policy document's settings: what the agent's rate limiter and
 * its bulkheads are built and reconfigured with. A breaker takes the document's settings as
 * they are.
 */
import type { BulkheadOptionsInput } from '../bulkhead.ts';
import type { RateLimiterOptionsInput } from '../rateLimiter.ts';
import type { RateLimitSettings } from '../../../../contract/src/policy/policyDocument.ts';

/** Tool calls share one bulkhead of their own, not the policy's. */
export const TOOL_BULKHEAD: BulkheadOptionsInput = {
  maxConcurrent: 32,
  maxQueue: 64,
  queueTimeoutMs: 10_000,
};
const UNLIMITED_BULKHEAD: BulkheadOptionsInput = {
  maxConcurrent: 10_000,
  maxQueue: 0,
  // Nothing ever queues (maxQueue 0), but the bulkhead refuses a timeout that is not positive.
  queueTimeoutMs: 1,
};

export function rateLimiterOptions(s: RateLimitSettings): RateLimiterOptionsInput {
  return {
    ...(s.requests === undefined ? {} : { requests: s.requests }),
    ...(s.tokens === undefined ? {} : { tokens: s.tokens }),
    adaptive: s.adaptive,
    onLimit: s.onLimit,
    maxWaitMs: s.maxWaitMs,
    mode: s.mode,
  };
}

export function bulkheadOptions(s: RateLimitSettings): BulkheadOptionsInput {
  return s.concurrency === undefined ? UNLIMITED_BULKHEAD : { ...s.concurrency, mode: s.mode };
}
