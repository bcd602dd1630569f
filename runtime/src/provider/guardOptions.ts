/**
 * The guard's options from the policy document's settings: what a breaker, the agent's rate
 * limiter and its bulkheads are built and reconfigured with.
 */
import type { BreakerOptionsInput } from '../guard/breakerOptions.ts';
import type { BulkheadOptionsInput } from '../guard/bulkhead.ts';
import type { RateLimiterOptionsInput } from '../guard/rateLimiter.ts';
import type {
  BreakerSettings,
  RateLimitSettings,
} from '../../../contract/src/policy/policyDocument.ts';

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

export function breakerOptions(s: BreakerSettings): BreakerOptionsInput {
  return {
    failureThreshold: s.failureThreshold,
    successThreshold: s.successThreshold,
    openDurationMs: s.openDurationMs,
    ...(s.maxOpenDurationMs === undefined ? {} : { maxOpenDurationMs: s.maxOpenDurationMs }),
    halfOpenMaxCalls: s.halfOpenMaxCalls,
    ...(s.failureRate === undefined
      ? {}
      : {
          failureRate: {
            thresholdPercent: s.failureRate.thresholdPercent,
            minimumCalls: s.failureRate.minimumCalls,
            window: s.failureRate.window,
          },
        }),
    ...(s.slowCall === undefined
      ? {}
      : {
          slowCall: {
            durationMs: s.slowCall.durationMs,
            thresholdPercent: s.slowCall.thresholdPercent,
          },
        }),
    failOn: s.failOn,
    override: {
      state: s.override.state,
      reason: s.override.reason ?? '',
      ...(s.override.untilMs === undefined ? {} : { untilMs: s.override.untilMs }),
    },
    mode: s.mode,
  };
}

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
