/**
 * The GuardSet's time-driven edges and breaker memory: an idle agent's report moves on time
 * with one timer for the whole process, and a replica told that its siblings hold a breaker
 * open starts it Open, then probes like them.
 */
import { anthropicClassifier } from '../../provider/anthropic/errorClassification.ts';
import { describe, expect, it } from '@jest/globals';
import { HttpStatusError } from '../../provider/anthropic/errorClassification.ts';
import { CircuitOpenError } from '../errors.ts';
import type { PolicyDocument } from '../../../../contract/src/policy/policyDocument.ts';
import { samplePolicyDocument } from '../../../../contract/src/policy/policyFixtures.ts';
import { ManualClock } from '../../../../test/support/manualClock.ts';
import { runtimeReport } from '../../reporting/runtimeReport.ts';
import type { Backend } from '../../provider/backendPool.ts';
import { GuardSet } from './guardSet.ts';

const OPEN_MS = 10_000;

function policy(override: PolicyDocument['circuitBreaker']['override'] = { state: 'Auto' }) {
  const doc = samplePolicyDocument();
  return {
    ...doc,
    backends: [
      { name: 'east', baseURL: 'http://east', apiKeyEnv: 'K', weight: 1 },
      { name: 'west', baseURL: 'http://west', apiKeyEnv: 'K', weight: 1 },
    ],
    model: { name: 'sonnet', fallbacks: [], maxTokens: 64 },
    retry: { maxAttempts: 1, initialDelayMs: 0, maxDelayMs: 0 },
    circuitBreaker: {
      ...doc.circuitBreaker,
      policyGeneration: 4,
      failureThreshold: 1,
      successThreshold: 2,
      openDurationMs: OPEN_MS,
      halfOpenMaxCalls: 2,
      override,
    },
  } satisfies PolicyDocument;
}

const backend = (name: string): Backend =>
  ({
    name,
    baseURL: `http://${name}`,
    apiKeyEnv: 'K',
    weight: 1,
    hasKey: true,
  }) as unknown as Backend;
const signal = new AbortController().signal;

async function fail(set: GuardSet<Backend>, b: string): Promise<void> {
  await set
    .callModel(
      'sonnet',
      () => backend(b),
      () => Promise.reject(new HttpStatusError('provider', { status: 529, body: undefined })),
      signal,
    )
    .catch(() => undefined);
}

function watched(set: GuardSet<Backend>) {
  const seen = { changes: 0 };
  set.onBreakerChange(() => seen.changes++);
  return seen;
}

describe('GuardSet edges', () => {
  it('reports an idle breaker HalfOpen when its open time ends, with no call to settle it', async () => {
    const clock = new ManualClock(1_000);
    const set = new GuardSet<Backend>({ classifier: anthropicClassifier, doc: policy(), clock });
    await fail(set, 'east');
    expect(set.breakerSummary()['east/sonnet']?.state).toBe('Open');
    const seen = watched(set);
    clock.advance(OPEN_MS);
    expect(seen.changes).toBeGreaterThan(0);
    expect(set.breakerSummary()['east/sonnet']).toMatchObject({
      state: 'HalfOpen',
      since: new Date(1_000 + OPEN_MS).toISOString(),
    });
  });

  it('arms its one edge timer for the soonest of its open breakers, then the next', async () => {
    const clock = new ManualClock(0);
    const set = new GuardSet<Backend>({ classifier: anthropicClassifier, doc: policy(), clock });
    await fail(set, 'east');
    clock.advance(3_000);
    await fail(set, 'west');
    expect(set.nextEdgeTimer).toBe(OPEN_MS);
    clock.advance(OPEN_MS - 3_000);
    expect(set.nextEdgeTimer).toBe(3_000 + OPEN_MS);
  });

  it('holds no timer while every breaker is closed or half-open', async () => {
    const clock = new ManualClock(0);
    const set = new GuardSet<Backend>({ classifier: anthropicClassifier, doc: policy(), clock });
    await set.callModel(
      'sonnet',
      () => backend('east'),
      () => Promise.resolve('ok'),
      signal,
    );
    expect(set.nextEdgeTimer).toBeUndefined();
    await fail(set, 'east');
    expect(set.nextEdgeTimer).toBe(OPEN_MS);
    clock.advance(OPEN_MS);
    expect(set.breakerSummary()['east/sonnet']?.state).toBe('HalfOpen');
    expect(set.nextEdgeTimer).toBeUndefined();
  });

  it('tells its listeners when the override lapses, and lets the breakers it held go', () => {
    const clock = new ManualClock(0);
    const doc = policy({ state: 'ForcedOpen', reason: 'INC-7', untilMs: 5_000 });
    const set = new GuardSet<Backend>({ classifier: anthropicClassifier, doc, clock });
    expect(runtimeReport(0, doc, clock.now()).override).toEqual({
      state: 'ForcedOpen',
      reason: 'INC-7',
      until: new Date(5_000).toISOString(),
      generation: 4,
    });
    // The override holds the primary model's breakers before any call.
    expect(set.breakerSummary()['east/sonnet']?.state).toBe('ForcedOpen');
    const seen = watched(set);
    clock.advance(5_000);
    expect(seen.changes).toBeGreaterThanOrEqual(1);
    expect(set.breakerSummary()['east/sonnet']?.state).toBe('Closed');
    expect(runtimeReport(0, doc, clock.now()).override).toBeUndefined();
    expect(set.nextEdgeTimer).toBeUndefined();
  });
});

describe('GuardSet breaker memory', () => {
  it('starts a breaker its siblings hold open Open, and reports it before any call', () => {
    const clock = new ManualClock(0);
    const set = new GuardSet<Backend>({ classifier: anthropicClassifier, doc: policy(), clock });
    set.rememberOpen([{ name: 'east/sonnet', untilMs: 20_000 }]);
    expect(set.breakerSummary()['east/sonnet']).toMatchObject({
      state: 'Open',
      trips: 0,
      openUntil: new Date(20_000).toISOString(),
    });
    expect(set.nextEdgeTimer).toBe(20_000);
  });

  it('refuses calls until then without calling the provider, then lets halfOpenMaxCalls probes through', async () => {
    const clock = new ManualClock(0);
    const set = new GuardSet<Backend>({ classifier: anthropicClassifier, doc: policy(), clock });
    set.rememberOpen([{ name: 'east/sonnet', untilMs: 20_000 }]);
    let providerCalls = 0;
    const release: (() => void)[] = [];
    const call = () =>
      set.callModel(
        'sonnet',
        () => backend('east'),
        () => {
          providerCalls++;
          return new Promise<string>((resolve) => {
            release.push(() => {
              resolve('ok');
            });
          });
        },
        signal,
      );
    await expect(call()).rejects.toBeInstanceOf(CircuitOpenError);
    expect(providerCalls).toBe(0);
    clock.advance(20_000);
    const calls = Array.from({ length: 5 }, () => call().catch((err: unknown) => err));
    await Promise.resolve();
    expect(providerCalls).toBe(2);
    for (const r of release) r();
    const outcomes = await Promise.all(calls);
    expect(outcomes.filter((o) => o === 'ok')).toHaveLength(2);
    expect(set.breakerSummary()['east/sonnet']?.state).toBe('Closed');
  });

  it.each([
    ['an open time already over', { name: 'east/sonnet', untilMs: 5_000 }],
    ['a backend the policy does not have', { name: 'north/sonnet', untilMs: 20_000 }],
    ['a name that is no provider breaker', { name: 'tool:lookup', untilMs: 20_000 }],
  ])('ignores %s', (_name, entry) => {
    const clock = new ManualClock(5_000);
    const set = new GuardSet<Backend>({ classifier: anthropicClassifier, doc: policy(), clock });
    set.rememberOpen([entry]);
    expect(set.breakerSummary()).toEqual({});
    expect(set.nextEdgeTimer).toBeUndefined();
  });
});
