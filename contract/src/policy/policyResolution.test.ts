import { describe, expect, it } from '@jest/globals';
import type { AgentDeployment, CircuitBreakerPolicy, RateLimitPolicy } from '../api/resources.ts';
import { PRIMARY_MODEL } from '../api/sampleModels.ts';
import { checkPolicyDocument } from './policyValidation.ts';
import { effectiveShare, resolvePolicy, resolveRateLimit } from './policyResolution.ts';

function agent(spec: Partial<AgentDeployment['spec']> = {}): AgentDeployment {
  return {
    apiVersion: 'breakwater.dev/v1alpha1',
    kind: 'AgentDeployment',
    metadata: { name: 'support', namespace: 'team-a', generation: 4 },
    spec: {
      model: { name: PRIMARY_MODEL },
      provider: { apiKeySecretRef: { name: 'anthropic', key: 'api-key' } },
      ...spec,
    },
  };
}

function rateLimitPolicy(spec: RateLimitPolicy['spec']): RateLimitPolicy {
  return {
    apiVersion: 'breakwater.dev/v1alpha1',
    kind: 'RateLimitPolicy',
    metadata: { name: 'rl' },
    spec,
  };
}

function breakerPolicy(spec: CircuitBreakerPolicy['spec']): CircuitBreakerPolicy {
  return {
    apiVersion: 'breakwater.dev/v1alpha1',
    kind: 'CircuitBreakerPolicy',
    metadata: { name: 'cb' },
    spec,
  };
}

describe('resolvePolicy', () => {
  it('applies the schema defaults to an agent that names no policies, and the result is valid', () => {
    const doc = resolvePolicy({ agent: agent() });
    expect(checkPolicyDocument(doc).ok).toBe(true);
    expect(doc).toMatchObject({
      agent: { namespace: 'team-a', name: 'support', generation: 4 },
      model: { name: PRIMARY_MODEL, fallbacks: [], maxTokens: 1024 },
      backends: [
        { name: 'default', baseURL: 'https://api.anthropic.com', apiKeyEnv: 'ANTHROPIC_API_KEY' },
      ],
      timeoutMs: 30_000,
      retry: { maxAttempts: 3, initialDelayMs: 500, maxDelayMs: 30_000 },
      circuitBreaker: {
        failureThreshold: 5,
        successThreshold: 2,
        openDurationMs: 60_000,
        mode: 'Enforce',
      },
      rateLimit: { scope: 'PerReplica', shareOf: 1, onLimit: 'Reject' },
    });
    expect(doc.circuitBreaker.failOn).not.toContain('RateLimited');
  });

  it('turns durations into milliseconds and keeps the breaker policy name', () => {
    const doc = resolvePolicy({
      agent: agent({ timeout: '1m30s' }),
      circuitBreakerPolicy: breakerPolicy({
        openDuration: '30s',
        maxOpenDuration: '5m',
        slowCall: { duration: '2s', thresholdPercent: 50 },
      }),
    });
    expect(doc.timeoutMs).toBe(90_000);
    expect(doc.circuitBreaker).toMatchObject({
      policyName: 'cb',
      openDurationMs: 30_000,
      maxOpenDurationMs: 300_000,
      slowCall: { durationMs: 2_000, thresholdPercent: 50 },
    });
  });

  it.each<[string, Record<string, unknown> | undefined, Record<string, unknown>]>([
    // Unset, the document leaves it out (the runtime reads that as None): default documents
    // keep their hash across the upgrade, and an older operator's documents stay valid.
    ['leaves it out when the policy says nothing', undefined, {}],
    ['keeps Remaining', { retryAfter: 'Remaining' }, { openRetryAfter: 'Remaining' }],
    [
      'carries a Bounded cap in milliseconds',
      { retryAfter: 'Bounded', maxRetryAfter: '5s' },
      { openRetryAfter: 'Bounded', openMaxRetryAfterMs: 5_000 },
    ],
  ])("resolves a breaker's open answer: %s", (_name, openAnswer, expected) => {
    const doc = resolvePolicy({
      agent: agent(),
      circuitBreakerPolicy: breakerPolicy(openAnswer === undefined ? {} : { openAnswer }),
    });
    expect(doc.circuitBreaker).toMatchObject(expected);
    if (openAnswer === undefined) expect(doc.circuitBreaker).not.toHaveProperty('openRetryAfter');
    expect(checkPolicyDocument(doc)).toMatchObject({ ok: true, doc });
  });

  it('resolves the stream limits: the idle timeout by default, a maximum only when asked for', () => {
    const plain = resolvePolicy({ agent: agent() });
    expect(plain.streamIdleTimeoutMs).toBe(60_000);
    expect(plain.maxStreamDurationMs).toBeUndefined();
    const limited = resolvePolicy({
      agent: agent({ streamIdleTimeout: '15s', maxStreamDuration: '10m' }),
    });
    expect(limited).toMatchObject({ streamIdleTimeoutMs: 15_000, maxStreamDurationMs: 600_000 });
    expect(checkPolicyDocument(limited)).toMatchObject({ ok: true, doc: limited });
  });

  it('writes debugEndpoints only when /debug is turned off, so default documents keep their hash', () => {
    expect(resolvePolicy({ agent: agent() })).not.toHaveProperty('debugEndpoints');
    expect(
      resolvePolicy({ agent: agent({ monitoring: { debugEndpoints: true } }) }),
    ).not.toHaveProperty('debugEndpoints');
    const off = resolvePolicy({ agent: agent({ monitoring: { debugEndpoints: false } }) });
    expect(off.debugEndpoints).toBe(false);
    expect(checkPolicyDocument(off)).toMatchObject({ ok: true, doc: off });
  });

  it('gives each listed backend its own key variable when it has its own secret', () => {
    const doc = resolvePolicy({
      agent: agent({
        backends: [
          { name: 'primary', baseURL: 'http://a', weight: 3 },
          { name: 'secondary', baseURL: 'http://b', apiKeySecretRef: { name: 's', key: 'k' } },
        ],
      }),
    });
    expect(doc.backends).toEqual([
      { name: 'primary', baseURL: 'http://a', apiKeyEnv: 'ANTHROPIC_API_KEY', weight: 3 },
      {
        name: 'secondary',
        baseURL: 'http://b',
        apiKeyEnv: 'BREAKWATER_BACKEND_1_API_KEY',
        weight: 1,
      },
    ]);
  });

  it('prefers the inline system prompt and otherwise takes the referenced text', () => {
    expect(resolvePolicy({ agent: agent(), systemPromptFromRef: 'from map' }).systemPrompt).toBe(
      'from map',
    );
    expect(
      resolvePolicy({ agent: agent({ systemPrompt: 'inline' }), systemPromptFromRef: 'x' })
        .systemPrompt,
    ).toBe('inline');
  });
});

describe('resolveRateLimit', () => {
  const production = rateLimitPolicy({
    requests: { perSecond: 20, burst: 200 },
    tokens: { inputPerMinute: 90_000 },
    concurrency: { maxConcurrent: 100, queueTimeout: '5s' },
  });

  it.each([
    {
      scope: 'PerReplica' as const,
      replicas: 5,
      rps: 20,
      burst: 200,
      concurrent: 100,
      input: 90_000,
    },
    { scope: 'Cluster' as const, replicas: 1, rps: 20, burst: 200, concurrent: 100, input: 90_000 },
    {
      scope: 'Cluster' as const,
      replicas: 3,
      rps: 6.667,
      burst: 66,
      concurrent: 33,
      input: 30_000,
    },
    { scope: 'Cluster' as const, replicas: 5, rps: 4, burst: 40, concurrent: 20, input: 18_000 },
    { scope: 'Cluster' as const, replicas: 0, rps: 20, burst: 200, concurrent: 100, input: 90_000 },
    { scope: 'Cluster' as const, replicas: 500, rps: 0.04, burst: 1, concurrent: 1, input: 180 },
  ])('$scope scope with $replicas ready replicas gives each $rps req/s, burst $burst', (row) => {
    const settings = resolveRateLimit(
      rateLimitPolicy({ ...production.spec, scope: row.scope }),
      row.replicas,
    );
    expect(settings.requests).toEqual({ replicaPerSecond: row.rps, replicaBurst: row.burst });
    expect(settings.concurrency?.replicaMaxConcurrent).toBe(row.concurrent);
    expect(settings.tokens?.replicaInputPerMinute).toBe(row.input);
  });

  it.each(['PerReplica', 'Cluster'] as const)(
    "shares a budget among the ready replicas in %s scope: a budget is the whole agent's",
    (scope) => {
      const budgets = [{ name: 'daily', period: 'Day' as const, usd: '10' }];
      const settings = resolveRateLimit(rateLimitPolicy({ ...production.spec, scope, budgets }), 3);
      expect(settings.spend?.shareOf).toBe(3);
      expect(settings.spend?.budgets[0]?.limitMicroUsd).toBe(10_000_000);
    },
  );

  it("refuses maxWait without onLimit Wait, and Wait without maxWait, in the schema's words", () => {
    expect(() =>
      resolveRateLimit(rateLimitPolicy({ requests: { perSecond: 5, burst: 5 }, maxWait: '2s' }), 1),
    ).toThrow('RateLimitPolicy spec.maxWait: maxWait applies only when onLimit is Wait');
    expect(() =>
      resolveRateLimit(
        rateLimitPolicy({ requests: { perSecond: 5, burst: 5 }, onLimit: 'Wait' }),
        1,
      ),
    ).toThrow('RateLimitPolicy spec.maxWait: maxWait is required when onLimit is Wait');
    const waits = resolveRateLimit(
      rateLimitPolicy({ requests: { perSecond: 5, burst: 5 }, onLimit: 'Wait', maxWait: '2s' }),
      1,
    );
    expect(waits.maxWaitMs).toBe(2_000);
  });

  it('reports the share as RateLimitPolicy status shows it', () => {
    const settings = resolveRateLimit(rateLimitPolicy({ ...production.spec, scope: 'Cluster' }), 4);
    expect(effectiveShare(settings)).toEqual({
      replicas: 4,
      requestsPerSecond: 5,
      burst: 50,
      inputTokensPerMinute: 22_500,
      maxConcurrent: 25,
      maxQueue: 25,
    });
  });

  it('keeps the undivided numbers for a store, the share as its fallback', () => {
    const settings = resolveRateLimit(
      rateLimitPolicy({
        ...production.spec,
        scope: 'Cluster',
        store: {
          redis: {
            address: 'redis.infra.svc:6379',
            passwordSecretRef: { name: 'redis', key: 'password' },
          },
        },
      }),
      3,
      'support-agent',
    );
    expect(settings.requests).toEqual({ replicaPerSecond: 6.667, replicaBurst: 66 });
    expect(settings.store).toEqual({
      redis: {
        address: 'redis.infra.svc:6379',
        passwordSecretRef: { name: 'redis', key: 'password' },
      },
      waitBudgetMs: 5,
      keyPrefix: 'breakwater:{default/rl/support-agent}',
      requests: { perSecond: 20, burst: 200 },
      tokens: { inputPerMinute: 90_000 },
    });
  });

  it.each([
    ['Replicas', 'Replicas', { acknowledge: 'Replicas' }],
    ['Primary as nothing (the default)', 'Primary', {}],
  ] as const)('carries a store acknowledged by %s', (_, acknowledge, carried) => {
    const settings = resolveRateLimit(
      rateLimitPolicy({
        ...production.spec,
        scope: 'Cluster',
        store: { redis: { address: 'redis:6379', acknowledge } },
      }),
      3,
      'support-agent',
    );
    expect(settings.store?.redis).toEqual({ address: 'redis:6379', ...carried });
  });

  it("carries a store's sentinels, their master's name and password instead of an address", () => {
    const sentinel = {
      masterName: 'breakwater',
      addresses: ['sentinel-0.infra.svc:26379', 'sentinel-1.infra.svc:26379'],
      passwordSecretRef: { name: 'sentinel', key: 'password' },
    };
    const settings = resolveRateLimit(
      rateLimitPolicy({
        ...production.spec,
        scope: 'Cluster',
        store: { redis: { sentinel, passwordSecretRef: { name: 'redis', key: 'password' } } },
      }),
      3,
      'support-agent',
    );
    expect(settings.store?.redis).toEqual({
      sentinel,
      passwordSecretRef: { name: 'redis', key: 'password' },
    });
  });

  it("carries a store's cluster nodes instead of an address", () => {
    const cluster = {
      addresses: ['redis-cluster-0.infra.svc:6379', 'redis-cluster-1.infra.svc:6379'],
    };
    const settings = resolveRateLimit(
      rateLimitPolicy({
        ...production.spec,
        scope: 'Cluster',
        store: { redis: { cluster, username: 'breakwater' } },
      }),
      3,
      'support-agent',
    );
    expect(settings.store?.redis).toEqual({ cluster, username: 'breakwater' });
  });

  it("renders the team's key prefix, the policy's, into every agent's document when a budget is per Policy", () => {
    const store = { redis: { address: 'redis:6379' } };
    const budgets = [
      { name: 'team', period: 'Month' as const, usd: '2000', per: 'Policy' as const },
      { name: 'own', period: 'Month' as const, usd: '500' },
    ];
    const policy = rateLimitPolicy({ ...production.spec, scope: 'Cluster', store, budgets });
    const [a, b] = ['a', 'b'].map((agent) => resolveRateLimit(policy, 2, agent).store);
    // Each agent's limits are its own; the team's accounts are the policy's.
    expect(a?.keyPrefix).toBe('breakwater:{default/rl/a}');
    expect(b?.keyPrefix).toBe('breakwater:{default/rl/b}');
    expect(a?.teamKeyPrefix).toBe('breakwater:{default/rl}');
    expect(b?.teamKeyPrefix).toBe(a?.teamKeyPrefix);
    // Without the operator's count of every agent's replicas, no share of the team's budget.
    expect(resolveRateLimit(policy, 2, 'a').spend?.budgets[0]).not.toHaveProperty('teamShareOf');
    // With it, every ready replica on the policy an equal share; per Agent budgets as before.
    const shared = resolveRateLimit(policy, 2, 'a', 5).spend?.budgets;
    expect(shared?.[0]?.teamShareOf).toBe(5);
    expect(shared?.[1]).not.toHaveProperty('teamShareOf');
    expect(resolveRateLimit(policy, 0, 'a', 0).spend?.budgets[0]?.teamShareOf).toBe(1);
    // No team budget: the document (and its hash) is as it was.
    const agentOnly = rateLimitPolicy({ ...production.spec, scope: 'Cluster', store });
    expect(resolveRateLimit(agentOnly, 2, 'a').store).not.toHaveProperty('teamKeyPrefix');
  });

  it('gives every agent on the policy one set of keys with sharing AllAgents', () => {
    const store = {
      redis: { address: 'redis:6379', tls: { enabled: true, serverName: 'redis.example' } },
      sharing: 'AllAgents' as const,
      waitBudget: '20ms',
    };
    const settings = resolveRateLimit(
      rateLimitPolicy({ ...production.spec, scope: 'Cluster', store }),
      2,
      'a',
    );
    expect(settings.store?.keyPrefix).toBe(
      resolveRateLimit(rateLimitPolicy({ ...production.spec, scope: 'Cluster', store }), 2, 'b')
        .store?.keyPrefix,
    );
    expect(settings.store).toMatchObject({
      redis: { tls: { serverName: 'redis.example' } },
      waitBudgetMs: 20,
    });
  });

  it.each([
    [
      'a YAML number for dollars',
      { usd: 5 },
      /^RateLimitPolicy spec\.budgets\[\]\.usd must be a string, e\.g\. "0\.25", got the number 5 /,
    ],
    [
      'dollars in another notation',
      { usd: '1e-3' },
      /^RateLimitPolicy spec\.budgets\[\]\.usd: invalid dollar amount "1e-3"/,
    ],
  ])(
    'refuses %s, naming the field as the manifest spells it (never read as micro-dollars)',
    (_case, budget, message) => {
      const budgets = [{ name: 'daily', period: 'Day', ...budget }] as unknown as NonNullable<
        RateLimitPolicy['spec']['budgets']
      >;
      expect(() => resolveRateLimit(rateLimitPolicy({ budgets }), 1)).toThrow(message);
    },
  );

  it('refuses a duration that is not a string, naming the field', () => {
    const spec = { onLimit: 'Wait', maxWait: 2 } as unknown as RateLimitPolicy['spec'];
    expect(() => resolveRateLimit(rateLimitPolicy(spec), 1)).toThrow(
      /^RateLimitPolicy spec\.maxWait must be a string, e\.g\. "30s", got the number 2 /,
    );
  });

  it('waits only when asked to, for at most maxWait', () => {
    expect(resolveRateLimit(rateLimitPolicy({ onLimit: 'Wait', maxWait: '2s' }), 1)).toMatchObject({
      onLimit: 'Wait',
      maxWaitMs: 2_000,
    });
    expect(resolveRateLimit(rateLimitPolicy({}), 1)).toMatchObject({
      onLimit: 'Reject',
      maxWaitMs: 0,
    });
  });
});
