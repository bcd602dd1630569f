/** A complete, valid policy document for tests to vary from. */
import { FALLBACK_MODEL, PRIMARY_MODEL } from '../api/sampleModels.ts';
import { POLICY_DOCUMENT_VERSION, type PolicyDocument } from './policyDocument.ts';

export function samplePolicyDocument(): PolicyDocument {
  return {
    version: POLICY_DOCUMENT_VERSION,
    agent: { namespace: 'default', name: 'support-agent', generation: 1 },
    model: { name: PRIMARY_MODEL, fallbacks: [FALLBACK_MODEL], maxTokens: 1024 },
    systemPrompt: 'You are helpful.',
    backends: [
      {
        name: 'default',
        baseURL: 'http://127.0.0.1:8787',
        apiKeyEnv: 'ANTHROPIC_API_KEY',
        weight: 1,
      },
    ],
    loadBalancing: 'RoundRobin',
    cacheAffinity: 'Sticky',
    tools: [],
    timeoutMs: 30_000,
    streamIdleTimeoutMs: 60_000,
    retry: { maxAttempts: 3, initialDelayMs: 200, maxDelayMs: 5_000 },
    circuitBreaker: {
      policyName: 'production',
      failureThreshold: 5,
      successThreshold: 2,
      openDurationMs: 60_000,
      halfOpenMaxCalls: 1,
      failOn: ['ServerError', 'Overloaded', 'Timeout', 'ConnectionError'],
      override: { state: 'Auto' },
      mode: 'Enforce',
    },
    rateLimit: {
      policyName: 'production',
      scope: 'PerReplica',
      shareOf: 1,
      requests: { replicaPerSecond: 20, replicaBurst: 200 },
      concurrency: { replicaMaxConcurrent: 100, replicaMaxQueue: 100, queueTimeoutMs: 5_000 },
      adaptive: { honorRetryAfter: true, providerHeaders: true },
      onLimit: 'Reject',
      maxWaitMs: 0,
      mode: 'Enforce',
    },
    access: {},
    cache: { enabled: false, maxEntries: 1000, ttlMs: 300_000 },
    security: { promptInjection: 'Off' },
    audit: { enabled: false },
  };
}
