/**
 * Failover within one request: a retry the retry policy allows goes to the next backend the
 * picker names, at once (no backoff), under that backend's own breaker; a failure that is not
 * retried (a 400) stays where it happened; with every backend tried, the retry goes back to
 * waiting out its backoff.
 */
import { describe, expect, it } from '@jest/globals';
import { APIError } from '@anthropic-ai/sdk';
import type { PolicyDocument } from '../../../../contract/src/policy/policyDocument.ts';
import { samplePolicyDocument } from '../../../../contract/src/policy/policyFixtures.ts';
import { ManualClock } from '../../../../test/support/manualClock.ts';
import { anthropicClassifier } from '../../provider/anthropic/errorClassification.ts';
import { GuardSet } from './guardSet.ts';
import type { NamedBackend } from './providerGuard.ts';

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends object ? Mutable<T[K]> : T[K] };

const failure = (status: number, type: string) =>
  APIError.generate(
    status,
    { type: 'error', error: { type, message: type } },
    undefined,
    new Headers(),
  );

const names = ['anthropic', 'bedrock', 'vertex'] as const;
const backends: NamedBackend[] = names.map((name) => ({ name }));

function setup(maxAttempts = 3) {
  const doc = structuredClone(samplePolicyDocument()) as Mutable<PolicyDocument>;
  doc.backends = names.map((name) => ({
    name,
    baseURL: `http://${name}`,
    apiKeyEnv: 'K',
    weight: 1,
  }));
  doc.retry = { maxAttempts, initialDelayMs: 5_000, maxDelayMs: 5_000 };
  const clock = new ManualClock(0);
  const guard = new GuardSet<NamedBackend>({ classifier: anthropicClassifier, doc, clock });
  /** Priority order, skipping what this request tried and what the breakers refuse. */
  const pick = (tried?: ReadonlySet<string>) =>
    backends.find((b) => tried?.has(b.name) !== true && guard.permits(b.name, 'sonnet'));
  return { guard, clock, pick };
}

describe('GuardSet.callModel failover', () => {
  it('moves a retryable failure to the next backend at once, and answers from there', async () => {
    const { guard, clock, pick } = setup();
    const calls: string[] = [];
    const answer = await guard.callModel(
      'sonnet',
      pick,
      (info) => {
        calls.push(`${info.backend.name}@${clock.now()}#${info.attempt}`);
        if (info.backend.name === 'anthropic')
          return Promise.reject(failure(529, 'overloaded_error'));
        if (info.backend.name === 'bedrock')
          return Promise.reject(failure(429, 'rate_limit_error'));
        return Promise.resolve(info.backend.name);
      },
      new AbortController().signal,
    );
    expect(answer).toBe('vertex');
    // No backoff between backends: all three at the same instant.
    expect(calls).toEqual(['anthropic@0#1', 'bedrock@0#2', 'vertex@0#3']);
  });

  it('never fails over a request the provider refused as wrong', async () => {
    const { guard, pick } = setup();
    const calls: string[] = [];
    await expect(
      guard.callModel(
        'sonnet',
        pick,
        (info) => {
          calls.push(info.backend.name);
          return Promise.reject(failure(400, 'invalid_request_error'));
        },
        new AbortController().signal,
      ),
    ).rejects.toMatchObject({ status: 400 });
    expect(calls).toEqual(['anthropic']);
  });

  it('stays within the retry policy: maxAttempts bounds the backends one request reaches', async () => {
    const { guard, pick } = setup(2);
    const calls: string[] = [];
    await expect(
      guard.callModel(
        'sonnet',
        pick,
        (info) => {
          calls.push(info.backend.name);
          return Promise.reject(failure(529, 'overloaded_error'));
        },
        new AbortController().signal,
      ),
    ).rejects.toMatchObject({ status: 529 });
    expect(calls).toEqual(['anthropic', 'bedrock']);
  });

  it('counts each failure against the breaker of the backend it happened at', async () => {
    const { guard, pick } = setup();
    for (let i = 0; i < 10; i++) {
      await guard.callModel(
        'sonnet',
        pick,
        (info) =>
          info.backend.name === 'anthropic'
            ? Promise.reject(failure(529, 'overloaded_error'))
            : Promise.resolve(info.backend.name),
        new AbortController().signal,
      );
    }
    expect(guard.permits('anthropic', 'sonnet')).toBe(false);
    expect(guard.permits('bedrock', 'sonnet')).toBe(true);
    const breakers = guard.breakers();
    expect(breakers['anthropic/sonnet']?.state).toBe('Open');
    expect(breakers['bedrock/sonnet']?.state).toBe('Closed');
  });
});
