/**
 * The policy document's settings for the guard's tests: the schema's defaults (read through the
 * same resolution the operator runs, and `specLimits.ts`) with a test's own values on top, so a
 * test states only what it is about and no default is restated here.
 */
import { parseDuration } from '../../../contract/src/api/duration.ts';
import {
  AGENT_DEPLOYMENT_LIMITS as AGENT,
  RATE_LIMIT_POLICY_LIMITS as RATE,
} from '../../../contract/src/api/specLimits.ts';
import type { RateLimitSettings } from '../../../contract/src/policy/policyDocument.ts';
import { resolveRateLimit } from '../../../contract/src/policy/policyResolution.ts';
import type { ConcurrencySettings } from './bulkhead.ts';
import type { RateLimiterOptions } from './rateLimiter.ts';
import type { RetryOptions } from './retry.ts';

/** A RateLimitPolicy that says nothing: no limits, the schema's defaults for the rest. */
const NO_LIMITS: RateLimitSettings = resolveRateLimit(undefined, 1);

export interface LimiterPatch extends Partial<
  Omit<RateLimiterOptions, 'requests' | 'tokens' | 'adaptive'>
> {
  /** `burst` unset: the whole second's worth (at least one), as a test most often means. */
  readonly requests?: { readonly perSecond: number; readonly burst?: number };
  /** The replica's budgets, spelled as the policy spells them. */
  readonly tokens?: { readonly inputPerMinute?: number; readonly outputPerMinute?: number };
  readonly adaptive?: Partial<RateLimiterOptions['adaptive']>;
}

export function limiterSettings(patch: LimiterPatch = {}): RateLimiterOptions {
  const { requests, tokens, adaptive, ...rest } = patch;
  return {
    ...NO_LIMITS,
    adaptive: { ...NO_LIMITS.adaptive, ...adaptive },
    ...(requests === undefined
      ? {}
      : {
          requests: {
            replicaPerSecond: requests.perSecond,
            replicaBurst: requests.burst ?? Math.max(1, Math.ceil(requests.perSecond)),
          },
        }),
    ...(tokens === undefined
      ? {}
      : {
          tokens: {
            ...(tokens.inputPerMinute === undefined
              ? {}
              : { replicaInputPerMinute: tokens.inputPerMinute }),
            ...(tokens.outputPerMinute === undefined
              ? {}
              : { replicaOutputPerMinute: tokens.outputPerMinute }),
          },
        }),
    ...rest,
  };
}

/** Concurrency numbers as a test spells them; `maxQueue` unset: the schema's default. */
export interface ConcurrencyPatch extends Partial<
  Pick<ConcurrencySettings, 'queueTimeoutMs' | 'mode'>
> {
  readonly maxConcurrent: number;
  readonly maxQueue?: number;
}

export function concurrencySettings(patch: ConcurrencyPatch): ConcurrencySettings {
  const { maxConcurrent, maxQueue, ...rest } = patch;
  return {
    replicaMaxConcurrent: maxConcurrent,
    replicaMaxQueue: maxQueue ?? RATE['concurrency.maxQueue'].default,
    queueTimeoutMs: parseDuration(RATE['concurrency.queueTimeout'].default),
    mode: RATE.mode.default,
    ...rest,
  };
}

export function retrySettings(patch: Partial<RetryOptions> = {}): RetryOptions {
  return {
    maxAttempts: AGENT['retry.maxAttempts'].default,
    initialDelayMs: parseDuration(AGENT['retry.backoff.initialDelay'].default),
    maxDelayMs: parseDuration(AGENT['retry.backoff.maxDelay'].default),
    honorRetryAfter: RATE['adaptive.honorRetryAfter'].default,
    ...patch,
  };
}
