/**
 * Builders for guard tests: a guard on a manual clock with named targets, scripted
 * outcomes for the guarded function, and a driver that moves the clock until a call settles.
 */
import { anthropicClassifier } from '../provider/anthropic/errorClassification.ts';
import { APIError } from '@anthropic-ai/sdk/core/error';
import { breakerSettings, type BreakerSettingsPatch } from './breakerFixture.ts';
import { Bulkhead } from './bulkhead.ts';
import { CircuitBreaker } from './circuitBreaker.ts';
import { Guard } from './guard.ts';
import type { GuardConfig } from './guardConfig.ts';
import type { GuardAttempt } from './guardAttempt.ts';
import { RateLimiter } from './rateLimiter.ts';
import type { RetryOptions } from './retry.ts';
import {
  concurrencySettings,
  limiterSettings,
  retrySettings,
  type ConcurrencyPatch,
  type LimiterPatch,
} from './settingsFixture.ts';
import { ManualClock } from '../../../test/support/manualClock.ts';

export interface GuardFixtureOptions {
  /** The target's name. @default 'primary' */
  readonly target?: string;
  readonly breaker?: BreakerSettingsPatch;
  readonly limiter?: LimiterPatch;
  readonly bulkhead?: ConcurrencyPatch;
  readonly guard?: Partial<
    Pick<GuardConfig, 'timeout' | 'random' | 'deadlineResolutionMs' | 'retryBudget'>
  > & { readonly retry?: Partial<RetryOptions> };
}

export function guardFixture(options: GuardFixtureOptions = {}) {
  const clock = new ManualClock(Date.parse('2025-06-01T12:00:00Z'));
  const name = options.target ?? 'primary';
  const breaker = new CircuitBreaker({ name, clock, options: breakerSettings(options.breaker) });
  const limiter =
    options.limiter &&
    new RateLimiter({ name: 'agent', clock, options: limiterSettings(options.limiter) });
  const bulkhead =
    options.bulkhead &&
    new Bulkhead({ name: 'agent', clock, options: concurrencySettings(options.bulkhead) });
  const { retry, ...guardOptions } = options.guard ?? {};
  const guard = new Guard({
    name: 'agent',
    clock,
    classifier: anthropicClassifier,
    random: () => 0.5,
    target: { name, breaker },
    ...(limiter ? { limiter } : {}),
    ...(bulkhead ? { bulkhead } : {}),
    ...guardOptions,
    ...(retry === undefined ? {} : { retry: retrySettings(retry) }),
  });
  return {
    clock,
    guard,
    limiter,
    bulkhead,
    breaker: () => breaker,
  };
}

/** What one scripted attempt does. */
export type Outcome = 'ok' | 'hang' | number | Error;

/** A guarded function that plays `script` one outcome per attempt and records each attempt. */
export function scripted(clock: { now(): number }, script: readonly Outcome[]) {
  const attempts: { target: string; attempt: number; at: number }[] = [];
  const fn = (a: GuardAttempt): Promise<string> => {
    attempts.push({
      target: a.target,
      attempt: a.attempt,
      at: clock.now(),
    });
    const outcome = script[attempts.length - 1] ?? 'ok';
    if (outcome === 'ok') return Promise.resolve(`ok from ${a.target}`);
    if (outcome === 'hang') return new Promise(() => undefined);
    if (typeof outcome === 'number') return Promise.reject(httpError(outcome));
    return Promise.reject(outcome);
  };
  return { fn, attempts };
}

export function httpError(
  status: number,
  headers: Record<string, string> = {},
  errorCode?: string,
): APIError {
  const type =
    status === 529
      ? 'overloaded_error'
      : status === 429
        ? 'rate_limit_error'
        : status >= 500
          ? 'api_error'
          : 'invalid_request_error';
  const error = {
    type,
    message: `${status}`,
    ...(errorCode ? { details: { error_code: errorCode } } : {}),
  };
  return APIError.generate(status, { type: 'error', error }, undefined, new Headers(headers));
}

async function flush(): Promise<void> {
  for (let i = 0; i < 30; i++) await Promise.resolve();
}

/** Moves the clock in `stepMs` steps until `promise` settles; returns how it settled. */
export async function drive<T>(
  clock: ManualClock,
  promise: Promise<T>,
  stepMs = 10,
): Promise<{ value?: T; error?: unknown }> {
  let result: { value?: T; error?: unknown } | undefined;
  promise.then(
    (value) => (result = { value }),
    (error: unknown) => (result = { error }),
  );
  for (let i = 0; i < 1_000_000; i++) {
    await flush();
    if (result !== undefined) return result;
    clock.advance(stepMs);
  }
  throw new Error('the call never settled');
}
