/**
 * Small builders for the objects the operator tests apply: an agent that talks to the LLM
 * simulator, its provider-key Secret, and the two policies. Each takes only what a test
 * varies; everything else is a sensible fixed value.
 */
import type {
  AgentDeployment,
  AgentDeploymentSpec,
  CircuitBreakerPolicy,
  CircuitBreakerPolicySpec,
  RateLimitPolicy,
  RateLimitPolicySpec,
} from '../../contract/src/api/resources.ts';
import { GROUP_VERSION } from '../../contract/src/api/resources.ts';
import { FALLBACK_MODEL } from '../../contract/src/api/sampleModels.ts';

export const PROVIDER_SECRET = 'llm-provider-key';
export const PROVIDER_SECRET_KEY = 'api-key';
/** The model every fixture agent runs. */
export const MODEL = FALLBACK_MODEL;

export interface SecretManifest {
  apiVersion: 'v1';
  kind: 'Secret';
  metadata: { name: string };
  stringData: Record<string, string>;
}

/** The provider key every fixture agent reads; the simulator accepts any value. */
export function providerSecret(): SecretManifest {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: PROVIDER_SECRET },
    stringData: { [PROVIDER_SECRET_KEY]: 'sk-ant-test-not-a-real-key' },
  };
}

export interface AgentFixture {
  /** Base URL of the simulator the agent's runtime calls. */
  readonly providerURL: string;
  readonly replicas?: number;
  readonly circuitBreakerPolicy?: string;
  readonly rateLimitPolicy?: string;
  /** Merged over the fixture's spec last. */
  readonly spec?: Partial<AgentDeploymentSpec>;
}

export function agentDeployment(name: string, fixture: AgentFixture): AgentDeployment {
  return {
    apiVersion: GROUP_VERSION,
    kind: 'AgentDeployment',
    metadata: { name },
    spec: {
      model: { name: MODEL, maxTokens: 64 },
      systemPrompt: 'You are a test agent.',
      provider: {
        baseURL: fixture.providerURL,
        apiKeySecretRef: { name: PROVIDER_SECRET, key: PROVIDER_SECRET_KEY },
      },
      ...(fixture.circuitBreakerPolicy === undefined
        ? {}
        : { circuitBreakerPolicyRef: { name: fixture.circuitBreakerPolicy } }),
      ...(fixture.rateLimitPolicy === undefined
        ? {}
        : { rateLimitPolicyRef: { name: fixture.rateLimitPolicy } }),
      // One attempt per call, so each failed request is exactly one breaker failure.
      retry: { maxAttempts: 1 },
      timeout: '10s',
      replicas: fixture.replicas ?? 1,
      // A pod that is told to stop should not hold a test up.
      terminationDrainDuration: '0s',
      terminationGracePeriodSeconds: 2,
      ...fixture.spec,
    },
  };
}

/** Opens after `failureThreshold` consecutive failures and stays open for `openDuration`. */
export function circuitBreakerPolicy(
  name: string,
  spec: Partial<CircuitBreakerPolicySpec> = {},
): CircuitBreakerPolicy {
  return {
    apiVersion: GROUP_VERSION,
    kind: 'CircuitBreakerPolicy',
    metadata: { name },
    spec: {
      failureThreshold: 3,
      successThreshold: 1,
      openDuration: '2s',
      halfOpenMaxCalls: 1,
      failOn: ['ServerError', 'Overloaded', 'Timeout', 'ConnectionError'],
      mode: 'Enforce',
      ...spec,
    },
  };
}

export function rateLimitPolicy(
  name: string,
  spec: Partial<RateLimitPolicySpec> = {},
): RateLimitPolicy {
  return {
    apiVersion: GROUP_VERSION,
    kind: 'RateLimitPolicy',
    metadata: { name },
    spec: {
      requests: { perSecond: 60, burst: 120 },
      concurrency: { maxConcurrent: 20, maxQueue: 20, queueTimeout: '5s' },
      scope: 'PerReplica',
      onLimit: 'Reject',
      mode: 'Enforce',
      ...spec,
    },
  };
}
